/**
 * ESZSL, "An embarrassingly simple approach to zero-shot learning" (Romera-Paredes & Torr
 * 2015, ICML): a bilinear compatibility score x V s between an example's features x ∈ R^d
 * and a class's attribute vector s ∈ R^a, with V fitted in closed form on the seen classes:
 *
 *     V = (XᵀX + γI)⁻¹ Xᵀ Y S (SᵀS + λI)⁻¹
 *
 * X `[m, d]` the seen examples' features (one row each; the paper writes its transpose),
 * Y `[m, z]` their labels as ±1 (1 in the true class's column, −1 elsewhere), S `[z, a]` the
 * seen classes' attributes (one row per class). A new class needs only its attribute row:
 * an example is given the class k maximising x V s_k. γ penalises V's size in feature space,
 * λ in attribute space (the paper's Ω with β = 0).
 *
 * What a dot-product score cannot do: if x V ≈ s_true (the ideal fit), the score of class k
 * is s_true · s_k, which for 0/1 attributes is the same for a class and for any class with
 * more attributes (a superset): [1, 0, 1] scores 2 against both [1, 0, 1] and [1, 1, 1]. A
 * distance to a predicted prototype (`AttributePrototypes`) tells them apart (tested).
 *
 * Plain arrays in float64: the matrices are small (d and a in the tens) and tfjs has no
 * linear solver; the two systems are symmetric positive definite, solved by Cholesky.
 * @module
 */

/** Regularisers of {@linkcode eszsl} (the paper's γ and λ; it cross-validates both over 10^{−3…3}). */
export interface EszslOptions {
  /** γ: ridge in feature space (> 0). */
  gamma: number;
  /** λ: ridge in attribute space (> 0). */
  lambda: number;
}

function checkMatrix(name: string, m: readonly (readonly number[])[], cols?: number): number {
  if (m.length === 0) throw new RangeError(`eszsl: ${name} has no rows`);
  const c = cols ?? m[0].length;
  m.forEach((row, i) => {
    if (row.length !== c) {
      throw new RangeError(`eszsl: ${name} row ${i} has ${row.length} values, expected ${c}`);
    }
    if (!row.every(Number.isFinite)) throw new RangeError(`eszsl: ${name} row ${i} is not finite`);
  });
  return c;
}

/** Solves A Z = B for symmetric positive definite A `[n, n]` (Cholesky), B `[n, k]`. */
export function solveSpd(
  a: readonly (readonly number[])[],
  b: readonly (readonly number[])[],
): number[][] {
  const n = a.length;
  const l = Array.from({ length: n }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      if (i === j) {
        if (!(s > 0)) {
          throw new RangeError(`solveSpd: matrix is not positive definite (pivot ${i} is ${s})`);
        }
        l[i][i] = Math.sqrt(s);
      } else l[i][j] = s / l[j][j];
    }
  }
  const k = b[0].length;
  const z = b.map((row) => Float64Array.from(row));
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) { // L u = b
      let s = z[i][c];
      for (let j = 0; j < i; j++) s -= l[i][j] * z[j][c];
      z[i][c] = s / l[i][i];
    }
    for (let i = n - 1; i >= 0; i--) { // Lᵀ z = u
      let s = z[i][c];
      for (let j = i + 1; j < n; j++) s -= l[j][i] * z[j][c];
      z[i][c] = s / l[i][i];
    }
  }
  return z.map((row) => Array.from(row));
}

function matMul(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number[][] {
  const inner = b.length;
  const cols = b[0].length;
  return a.map((row) => {
    const out = new Array<number>(cols).fill(0);
    for (let k = 0; k < inner; k++) {
      const v = row[k];
      if (v !== 0) { for (let j = 0; j < cols; j++) out[j] += v * b[k][j]; }
    }
    return out;
  });
}

function transpose(a: readonly (readonly number[])[]): number[][] {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

/**
 * Fits ESZSL's V `[d, a]` (see the module docs) from seen-class `features` `[m, d]`, their
 * class `labels` (0 … z−1, indices into `attributes`) and the seen classes' `attributes`
 * `[z, a]`.
 *
 * @example
 * ```ts
 * const v = eszsl(features, labels, digitAttributes(MNIST_SEEN_DIGITS), { gamma: 1, lambda: 1 });
 * const scores = eszslScores(v, testFeatures, digitAttributes(MNIST_UNSEEN_DIGITS)); // [n, 3]
 * ```
 */
export function eszsl(
  features: readonly (readonly number[])[],
  labels: ArrayLike<number>,
  attributes: readonly (readonly number[])[],
  options: EszslOptions,
): number[][] {
  const { gamma, lambda } = options;
  if (!(gamma > 0) || !(lambda > 0)) {
    throw new RangeError(`eszsl: gamma and lambda must be > 0, got ${gamma} and ${lambda}`);
  }
  const d = checkMatrix("features", features);
  const a = checkMatrix("attributes", attributes);
  const z = attributes.length;
  if (labels.length !== features.length) {
    throw new RangeError(`eszsl: ${features.length} feature rows but ${labels.length} labels`);
  }
  const y = Array.from(labels, (c, i) => {
    if (!Number.isInteger(c) || c < 0 || c >= z) {
      throw new RangeError(`eszsl: label ${i} is ${c}, expected an integer in [0, ${z})`);
    }
    return Array.from({ length: z }, (_, k) => (k === c ? 1 : -1));
  });
  const xt = transpose(features);
  const xtx = matMul(xt, features).map((row, i) => row.map((v, j) => v + (i === j ? gamma : 0)));
  const xtys = matMul(matMul(xt, y), attributes); // [d, a]
  const sts = matMul(transpose(attributes), attributes)
    .map((row, i) => row.map((v, j) => v + (i === j ? lambda : 0)));
  const left = solveSpd(xtx, xtys); // (XᵀX + γI)⁻¹ XᵀYS
  const v = transpose(solveSpd(sts, transpose(left))); // · (SᵀS + λI)⁻¹ (symmetric)
  if (v.length !== d || v[0].length !== a) throw new Error("eszsl: internal shape error");
  return v;
}

/** Compatibility scores x V s_k `[n, k]` of `features` `[n, d]` with classes `attributes` `[k, a]`. */
export function eszslScores(
  v: readonly (readonly number[])[],
  features: readonly (readonly number[])[],
  attributes: readonly (readonly number[])[],
): number[][] {
  checkMatrix("features", features, v.length);
  checkMatrix("attributes", attributes, v[0].length);
  return matMul(matMul(features, v), transpose(attributes));
}
