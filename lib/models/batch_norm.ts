/**
 * Functional batch normalisation. By default it is built from primitive ops (mean, subtract,
 * square, rsqrt), so it is differentiable to any order on every backend. Callers that
 * differentiate at most once (`firstOrderOnly`) get a fused version where the backend has
 * MetaLab's `BatchNormGrad` kernel (wasm): the same forward, and a gradient computed in two
 * passes over the activations instead of the dozen that autodiff of the primitives takes.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BATCH_NORM_FORWARD_KERNEL, BATCH_NORM_GRAD_KERNEL } from "../backend/kernel_names.ts";

/** The ε added to the variance, as in PyTorch's `nn.BatchNorm2d`. */
export const BATCH_NORM_EPSILON = 1e-5;

/** Options of {@linkcode batchNorm}. */
export interface BatchNormOptions {
  /** Added to the variance (default {@linkcode BATCH_NORM_EPSILON}). */
  epsilon?: number;
  /**
   * The result is differentiated at most once (default false): use the fused gradient where
   * the active backend has it. Second-order MAML must leave this off.
   */
  firstOrderOnly?: boolean;
}

/**
 * Normalises `x` over every axis but the last (channels) with the statistics of this batch,
 * then scales by `gamma` and shifts by `beta` (both `[C]`).
 *
 * Statistics: always the current batch's (biased variance), in training and at test time,
 * with no running averages. This is the transductive choice that MAML's reference code and
 * learn2learn make for episodic training: an episode's support (or query) set is normalised
 * with its own statistics.
 */
export function batchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  options: BatchNormOptions | number = {},
): tf.Tensor {
  const { epsilon = BATCH_NORM_EPSILON, firstOrderOnly = false } = typeof options === "number"
    ? { epsilon: options }
    : options;
  const backend = tf.getBackend();
  if (
    firstOrderOnly && tf.getKernel(BATCH_NORM_GRAD_KERNEL, backend) &&
    tf.getKernel(BATCH_NORM_FORWARD_KERNEL, backend)
  ) {
    return fusedBatchNorm(x, gamma, beta, epsilon);
  }
  return tf.tidy(() => {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const mean = tf.mean(x, axes, true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), axes, true);
    // Fold gamma into the per-channel scale: one [C] multiply instead of two full-size ones.
    const scale = tf.mul(tf.rsqrt(tf.add(variance, epsilon)), gamma);
    return tf.add(tf.mul(centred, scale), beta);
  });
}

/**
 * Batch norm with the gradient of `y = γ·x̂ + β`, `x̂ = (x − μ)·s`, `s = 1/σ`, written out:
 * `dβ = Σ dy`, `dγ = s·Σ dy·(x − μ)`, `dx = k·(dy − dβ/M − x̂·dγ/M)` with `k = γ·s`, over the
 * M rows of each channel. The forward saves `x − μ` (not x̂: one full-size multiply less).
 */
function fusedBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number) {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [centred, invStd, k, value] = tf.tidy(() => {
      const axes = xIn.shape.slice(0, -1).map((_, i) => i);
      const centred = tf.sub(xIn, tf.mean(xIn, axes, true));
      const [y, s, kk] = tf.engine().runKernel(
        BATCH_NORM_FORWARD_KERNEL,
        { centred, gamma: g, beta: b },
        { epsilon },
      ) as tf.Tensor[];
      return [centred, s, kk, y];
    });
    save([centred, invStd, k]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [c, s, kk] = saved;
        return tf.engine().runKernel(
          BATCH_NORM_GRAD_KERNEL,
          { dy, centred: c, invStd: s, k: kk },
          {},
        ) as tf.Tensor[];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor;
}
