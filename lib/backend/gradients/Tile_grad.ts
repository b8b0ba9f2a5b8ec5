/**
 * `Tile`'s gradient, replacing tfjs's for speed where the tile is a broadcast (every tiled
 * axis has size 1): a sum over those axes, one reduction. tfjs's version adds up one slice
 * per repetition, tens of thousands of ops for a batch-norm-sized broadcast. Other tiles keep
 * tfjs's gradient.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The gradient's registration entry, falling back to `original` (tfjs's) for general tiles. */
export function tileGradConfig(original: tf.GradConfig | undefined): tf.GradConfig {
  return {
    kernelName: "Tile",
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { reps } = attrs as { reps: number[] };
      const axes = reps.map((r, i) => (r > 1 ? i : -1)).filter((i) => i >= 0);
      if (axes.every((a) => x.shape[a] === 1)) {
        return { x: () => tf.reshape(tf.sum(dy as tf.Tensor, axes, true), x.shape) };
      }
      if (!original) throw new Error("no gradient for a general Tile");
      return original.gradFunc(dy, saved, attrs);
    },
  };
}
