/**
 * `Sum`'s gradient, replacing tfjs's for speed (same numbers): `dy` tiled back over the
 * reduced axes in one op (`tiledReductionGradient`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { tiledReductionGradient } from "./shared.ts";

/** The gradient's registration entry. */
export const sumGradConfig: tf.GradConfig = {
  kernelName: "Sum",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    return {
      // The gradient is float32 whatever dy's dtype, as tfjs's is.
      x: () => tiledReductionGradient(dy as tf.Tensor, x.shape, axes, (d) => tf.cast(d, "float32")),
    };
  },
};
