/**
 * Functional batch normalisation built from primitive ops (mean, subtract, square, rsqrt),
 * so it is differentiable to any order on every backend.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The ε added to the variance, as in PyTorch's `nn.BatchNorm2d`. */
export const BATCH_NORM_EPSILON = 1e-5;

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
  epsilon = BATCH_NORM_EPSILON,
): tf.Tensor {
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
