/**
 * What MetaLab's gradients share: the attribute types of the conv and pool kernels, and the
 * reductions' gradient as one tile.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A conv or pool padding, as tfjs's ops accept it. */
export type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
/** How tfjs rounds an output size that does not come out whole. */
export type Rounding = "floor" | "round" | "ceil";
/** A size or stride: one number for both spatial axes, or `[height, width]`. */
export type Pair = number | [number, number];

/** `[height, width]` of a {@linkcode Pair}. */
export function pair(v: Pair): [number, number] {
  return typeof v === "number" ? [v, v] : v;
}

/**
 * The gradient of a reduction over `axes` of a tensor of shape `xShape`, as one `tile` of the
 * upstream `dy`: `dy` reshaped to the reduction's kept-dims shape, passed through `scale`
 * (while it is still small), and tiled back to `xShape`. tfjs's versions of the `Mean` and
 * `Sum` gradients materialise a ones tensor and multiply (and divide): three full-size passes
 * per batch-norm statistic.
 */
export function tiledReductionGradient(
  dy: tf.Tensor,
  xShape: number[],
  axes: number[],
  scale: (kept: tf.Tensor) => tf.Tensor,
): tf.Tensor {
  const kept = xShape.map((d, i) => (axes.includes(i) ? 1 : d));
  const reps = xShape.map((d, i) => (axes.includes(i) ? d : 1));
  return tf.tile(scale(tf.reshape(dy, kept)), reps);
}
