/**
 * Which input pixels decided a prediction: gradient-based attributions of a class score to
 * the input.
 *
 * - **Input gradient** (Simonyan, Vedaldi & Zisserman 2014): ∂s_t(x)/∂x, the score's local
 *   sensitivity to each pixel.
 * - **SmoothGrad** (Smilkov et al. 2017): the input gradient averaged over noisy copies
 *   x + ε, ε ~ N(0, σ²), which removes much of its pixel-level noise.
 * - **Integrated gradients** (Sundararajan, Taly & Yan 2017, ICML): (x − x̄) ⊙ ∫₀¹ ∇s(x̄ +
 *   α(x − x̄)) dα from a baseline x̄ (blank paper, 0, for ink images); its attributions add
 *   up to s(x) − s(x̄) ("completeness"), so they say how much each pixel contributed.
 *
 * A *score function* maps a batch `[n, …]` to scores `[n, k]` (logits, or a regression's
 * outputs); the attribution of example i is for its own target class t_i. The gradient is
 * of Σ_i s_{t_i}(x)_i with respect to the whole batch: for a model whose examples do not
 * interact that is each example's own gradient; Conv-4's batch norm uses the batch's
 * statistics (at test time too), so there an example's attribution also carries its small
 * effect on the others' scores — the model as it is actually used.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";

/** Maps inputs `[n, …]` to scores `[n, k]` (e.g. an adapted model's `predict`). */
export type ScoreFn = (x: tf.Tensor) => tf.Tensor;

/** The targets as an int tensor `[n]`, checked against the batch size. */
function targetTensor(
  targets: ArrayLike<number> | tf.Tensor,
  n: number,
  what: string,
): tf.Tensor1D {
  const t = targets instanceof tf.Tensor
    ? tf.cast(tf.reshape(targets, [-1]), "int32") as tf.Tensor1D
    : tf.tensor1d(Array.from(targets), "int32");
  if (t.size !== n) {
    t.dispose();
    throw new RangeError(`${what}: ${t.size} targets for a batch of ${n} inputs`);
  }
  return t;
}

/** Σ_i scores[i, targets[i]] (the scalar whose gradient every method takes). */
function targetScore(score: ScoreFn, x: tf.Tensor, targets: tf.Tensor1D, what: string): tf.Scalar {
  const s = score(x);
  if (s.rank !== 2 || s.shape[0] !== x.shape[0]) {
    throw new Error(`${what}: the score function must return [${x.shape[0]}, k], got [${s.shape}]`);
  }
  return tf.sum(tf.mul(s, tf.oneHot(targets, s.shape[1] as number))) as tf.Scalar;
}

/** A scalar function of a batch of inputs (what an attribution explains). */
export type ObjectiveFn = (x: tf.Tensor) => tf.Scalar;

/**
 * The input gradient ∂s_{t_i}/∂x_i of each example's target score, shaped like `x`.
 * For a linear model s(x) = xW + b it is W's column t_i.
 *
 * @example
 * ```ts
 * const adapted = protonet.adapt(episode.support);
 * const grads = inputGradient((x) => adapted.predict(x), episode.query.x, episode.query.y);
 * ```
 */
export function inputGradient(
  score: ScoreFn,
  x: tf.Tensor,
  targets: ArrayLike<number> | tf.Tensor,
): tf.Tensor {
  return tf.tidy(() => {
    const t = targetTensor(targets, x.shape[0], "inputGradient");
    return objectiveGradient((input) => targetScore(score, input, t, "inputGradient"), x);
  });
}

/**
 * ∂objective/∂x for any scalar objective of a batch, shaped like `x`: e.g. how the query
 * set's log-likelihood depends on each pixel of the *support* images a ProtoNet's
 * prototypes are made of.
 */
export function objectiveGradient(objective: ObjectiveFn, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.grad(objective)(x));
}

/** Options of {@linkcode smoothGrad}. */
export interface SmoothGradOptions {
  /** Seeded generator of the noise. */
  rng: Rng;
  /** Noisy copies averaged (default 25; Smilkov et al. use 50). */
  samples?: number;
  /** σ as a fraction of the input's range max(x) − min(x) (default 0.15, their 10–20%). */
  noiseLevel?: number;
}

/**
 * SmoothGrad: the input gradient averaged over `samples` copies of `x` with Gaussian noise
 * of standard deviation `noiseLevel · (max x − min x)`. Same shape as `x`.
 */
export function smoothGrad(
  score: ScoreFn,
  x: tf.Tensor,
  targets: ArrayLike<number> | tf.Tensor,
  options: SmoothGradOptions,
): tf.Tensor {
  return tf.tidy(() => {
    const t = targetTensor(targets, x.shape[0], "smoothGrad");
    return objectiveSmoothGrad((input) => targetScore(score, input, t, "smoothGrad"), x, options);
  });
}

/** {@linkcode smoothGrad} of a scalar objective (see {@linkcode objectiveGradient}). */
export function objectiveSmoothGrad(
  objective: ObjectiveFn,
  x: tf.Tensor,
  { rng, samples = 25, noiseLevel = 0.15 }: SmoothGradOptions,
): tf.Tensor {
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`smoothGrad: samples must be a positive integer, got ${samples}`);
  }
  if (!(noiseLevel >= 0)) {
    throw new RangeError(`smoothGrad: noiseLevel must be ≥ 0, got ${noiseLevel}`);
  }
  return tf.tidy(() => {
    const range = tf.sub(tf.max(x), tf.min(x)).dataSync()[0];
    const sigma = noiseLevel * range;
    const grad = tf.grad(objective);
    let sum = tf.zerosLike(x);
    for (let s = 0; s < samples; s++) {
      const noise = new Float32Array(x.size);
      for (let i = 0; i < noise.length; i++) noise[i] = rng.normal(0, sigma);
      const g = grad(tf.add(x, tf.tensor(noise, x.shape)));
      const next = tf.add(sum, g);
      tf.dispose([sum, g]);
      sum = next;
    }
    return tf.div(sum, samples);
  });
}

/** Options of {@linkcode integratedGradients}. */
export interface IntegratedGradientsOptions {
  /**
   * The baseline x̄ (default zeros: blank paper for ink images). For a model that normalises
   * with the batch's statistics (Conv-4's batch norm) zeros is a poor baseline: scaling the
   * whole batch by t > 0 leaves its output unchanged except for t near 0, so the path from 0
   * is flat where the midpoint rule samples it and the sum misses s(x) − s(0). A baseline
   * that is not a scaled copy of x, e.g. the batch's mean image, keeps completeness.
   */
  baseline?: tf.Tensor;
  /** Points of the midpoint rule along the path (default 32). */
  steps?: number;
}

/**
 * Integrated gradients from `baseline` to `x` by the midpoint rule with `steps` points,
 * shaped like `x`. Their sum over all entries approximates Σ_i [s_{t_i}(x) − s_{t_i}(x̄)]
 * (exactly, for a model linear in its input).
 */
export function integratedGradients(
  score: ScoreFn,
  x: tf.Tensor,
  targets: ArrayLike<number> | tf.Tensor,
  options: IntegratedGradientsOptions = {},
): tf.Tensor {
  return tf.tidy(() => {
    const t = targetTensor(targets, x.shape[0], "integratedGradients");
    return objectiveIntegratedGradients(
      (input) => targetScore(score, input, t, "integratedGradients"),
      x,
      options,
    );
  });
}

/**
 * {@linkcode integratedGradients} of a scalar objective: sums to about
 * objective(x) − objective(baseline).
 */
export function objectiveIntegratedGradients(
  objective: ObjectiveFn,
  x: tf.Tensor,
  { baseline, steps = 32 }: IntegratedGradientsOptions = {},
): tf.Tensor {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`integratedGradients: steps must be a positive integer, got ${steps}`);
  }
  if (baseline && baseline.shape.join() !== x.shape.join()) {
    throw new RangeError(
      `integratedGradients: baseline [${baseline.shape}] must have the input's shape [${x.shape}]`,
    );
  }
  return tf.tidy(() => {
    const base = baseline ?? tf.zerosLike(x);
    const delta = tf.sub(x, base);
    const grad = tf.grad(objective);
    let sum = tf.zerosLike(x);
    for (let s = 0; s < steps; s++) {
      const alpha = (s + 0.5) / steps;
      const g = grad(tf.add(base, tf.mul(alpha, delta)));
      const next = tf.add(sum, g);
      tf.dispose([sum, g]);
      sum = next;
    }
    return tf.mul(delta, tf.div(sum, steps));
  });
}

/**
 * Attributions `[n, h, w, c]` (or `[n, h·w·c]` with `shape` `[h, w, c]`) as images to draw:
 * |attribution| summed over channels, each image scaled to [0, 1] by its own maximum.
 * Returns `{ data, shape: [n, h, w] }`, what `lib/plot`'s image grids take.
 */
export function saliencyImages(
  attributions: tf.Tensor,
  shape?: [number, number, number],
): { data: Float32Array; shape: [number, number, number] } {
  const [h, w, c] = shape ?? (attributions.shape.slice(1) as [number, number, number]);
  if (!(h > 0 && w > 0 && c > 0) || attributions.size !== attributions.shape[0] * h * w * c) {
    throw new RangeError(
      `saliencyImages: attributions [${attributions.shape}] are not [n, h, w, c] images ` +
        `(pass shape [h, w, c] for flat ones)`,
    );
  }
  const n = attributions.shape[0];
  const data = tf.tidy(() => {
    const a = tf.sum(tf.abs(tf.reshape(attributions, [n, h, w, c])), 3);
    const peak = tf.maximum(tf.max(a, [1, 2], true), 1e-12);
    return tf.div(a, peak).dataSync() as Float32Array;
  });
  return { data, shape: [n, h, w] };
}
