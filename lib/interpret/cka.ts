/**
 * Linear centred kernel alignment (CKA; Kornblith, Norouzi, Lee & Hinton 2019, ICML): how
 * similar two representations of the same n examples are, as a number in [0, 1] that does
 * not change under an orthogonal transform or an isotropic scaling of either representation
 * (so two layers that differ by a rotation of their feature space count as the same), but
 * does change under an arbitrary invertible linear map (unlike CCA, which a network's
 * width can fool).
 *
 * With X `[n, p]` and Y `[n, q]` (rows: the same examples), columns centred,
 *
 *     CKA(X, Y) = ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F · ‖Yᵀ Y‖_F),
 *
 * computed here through the n × n Gram matrices K = X Xᵀ, L = Y Yᵀ centred on both sides
 * (H K H with H = I − 11ᵀ/n): CKA = ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F), the same number, and
 * cheap when a layer has many more features than there are examples (a Conv-4 block's
 * 14 × 14 × 64 feature map on a few dozen images).
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A representation of n examples: a tensor `[n, …]` (flattened per example) or rows of numbers. */
export type Representation = tf.Tensor | number[][];

/** The n × n Gram matrix X Xᵀ of a representation, in float64. */
function gram(x: Representation, what: string): { n: number; k: Float64Array } {
  const data = tf.tidy(() => {
    const t = x instanceof tf.Tensor ? x : tf.tensor2d(x);
    if (t.rank < 1 || t.shape[0] < 2) {
      throw new RangeError(
        `linearCka: ${what} must hold at least 2 examples (rows), got shape [${t.shape}]`,
      );
    }
    const flat = tf.reshape(t, [t.shape[0], -1]);
    // Centre in float32 first: a representation with a large mean would otherwise lose its
    // variation to rounding in the Gram matrix (centring it afterwards cannot bring it back).
    const centred = tf.sub(flat, tf.mean(flat, 0, true));
    return tf.matMul(centred, centred, false, true).dataSync();
  });
  const n = Math.round(Math.sqrt(data.length));
  return { n, k: Float64Array.from(data) };
}

/** H K H for H = I − 11ᵀ/n (in place). */
function centreGram(k: Float64Array, n: number): Float64Array {
  const rowMean = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += k[i * n + j];
    rowMean[i] = s / n;
    total += s;
  }
  const mean = total / (n * n);
  // K is symmetric, so its column means are its row means.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) k[i * n + j] += mean - rowMean[i] - rowMean[j];
  }
  return k;
}

function frobeniusDot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Linear CKA between two representations of the same examples (see the module doc): 1 for
 * representations equal up to an orthogonal transform, a scaling and a translation; near 0
 * for unrelated ones. A representation with no variation across the examples has no CKA
 * with anything: that is an error naming it.
 *
 * @example
 * ```ts
 * const x = tf.randomNormal([50, 10]);
 * linearCka(x, tf.mul(x, 3)); // 1 (isotropic scaling)
 * linearCka(x, tf.randomNormal([50, 10])); // small
 * ```
 */
export function linearCka(x: Representation, y: Representation): number {
  const gx = gram(x, "x");
  const gy = gram(y, "y");
  if (gx.n !== gy.n) {
    throw new RangeError(
      `linearCka: x and y must describe the same examples, got ${gx.n} and ${gy.n} rows`,
    );
  }
  const k = centreGram(gx.k, gx.n);
  const l = centreGram(gy.k, gy.n);
  const kk = frobeniusDot(k, k);
  const ll = frobeniusDot(l, l);
  for (const [name, v] of [["x", kk], ["y", ll]] as const) {
    if (!(v > 0)) {
      throw new RangeError(
        `linearCka: ${name} does not vary across the ${gx.n} examples (every row the same): ` +
          `CKA is undefined`,
      );
    }
  }
  return frobeniusDot(k, l) / Math.sqrt(kk * ll);
}
