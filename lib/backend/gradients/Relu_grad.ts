/**
 * `Relu`'s gradient, replacing tfjs's for speed (same numbers): tfjs's casts float32 to
 * float32 and multiplies by a Step; this one runs MetaLab's one-pass kernel
 * (`RELU_GRAD_KERNEL`) where the backend has it.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { RELU_GRAD_KERNEL } from "../kernel_names.ts";

/** `dy` where `x > 0`, else 0: MetaLab's one-pass kernel where the backend has it. */
export function reluGradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend())) {
    return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x }, {}) as tf.Tensor;
  }
  return tf.mul(dy, tf.step(x));
}

/** The gradient's registration entry. */
export const reluGradConfig: tf.GradConfig = {
  kernelName: "Relu",
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    return { x: () => reluGradient(dy as tf.Tensor, x) };
  },
};
