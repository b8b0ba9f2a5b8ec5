/**
 * The gradient of `Conv2DBackpropFilter`, which tfjs 4.22 does not register: without it a
 * second derivative through conv2d (second-order MAML on Conv-4) stops.
 *
 * `Conv2DBackpropFilter(x, dy) = dW` is bilinear in `x` and `dy`. For an upstream `G`
 * (filter-shaped): `∂/∂dy = conv2d(x, G)` (the forward conv with `G` as its filter) and
 * `∂/∂x = conv2dTranspose(dy, G)` (the input gradient of that conv). Both are ordinary ops
 * with gradients of their own, so a third order flows too.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Pad, Pair, Rounding } from "./shared.ts";

/** The gradient's registration entry. */
export const conv2DBackpropFilterGradConfig: tf.GradConfig = {
  kernelName: "Conv2DBackpropFilter",
  inputsToSave: ["x", "dy"],
  gradFunc: (g, saved, attrs) => {
    const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, dataFormat, dimRoundingMode } = attrs as {
      strides: Pair;
      pad: Pad;
      dataFormat?: "NHWC" | "NCHW";
      dimRoundingMode?: Rounding;
    };
    if (dataFormat === "NCHW") {
      throw new Error("gradient of Conv2DBackpropFilter: only NHWC is supported");
    }
    const G = g as tf.Tensor4D;
    return {
      x: () =>
        tf.conv2dTranspose(
          dy,
          G,
          x.shape,
          strides,
          pad as "valid" | "same" | number,
          dimRoundingMode,
        ),
      dy: () => tf.conv2d(x, G, strides, pad, "NHWC", 1, dimRoundingMode),
    };
  },
};
