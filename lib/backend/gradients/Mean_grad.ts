/**
 * `Mean`'s gradient, replacing tfjs's for speed (same numbers): `dy / n` tiled back over the
 * reduced axes in one op (`tiledReductionGradient`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { tiledReductionGradient } from "./shared.ts";

/** The gradient's registration entry. */
export const meanGradConfig: tf.GradConfig = {
  kernelName: "Mean",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const size = axes.reduce((n, a) => n * x.shape[a], 1);
    return {
      x: () => tiledReductionGradient(dy as tf.Tensor, x.shape, axes, (d) => tf.div(d, size)),
    };
  },
};
