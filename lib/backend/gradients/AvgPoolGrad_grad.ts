/**
 * The gradient of `AvgPoolGrad`, which tfjs 4.22 does not register: without it a second
 * derivative through avgPool stops. `AvgPoolGrad(dy, x)` is linear in `dy`; its transpose is
 * `avgPool` itself.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Pad, Pair } from "./shared.ts";

/** The gradient's registration entry. */
export const avgPoolGradGradConfig: tf.GradConfig = {
  kernelName: "AvgPoolGrad",
  inputsToSave: ["dy", "input"],
  gradFunc: (g, saved, attrs) => {
    const [, input] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { filterSize, strides, pad } = attrs as {
      filterSize: Pair;
      strides: Pair;
      pad: Pad;
    };
    return {
      dy: () =>
        tf.avgPool(
          g as tf.Tensor as tf.Tensor4D,
          filterSize,
          strides,
          pad as "valid" | "same" | number,
        ),
      input: () => tf.zerosLike(input),
    };
  },
};
