/**
 * The gradient of MetaLab's one-pass ReLU gradient (`RELU_GRAD_KERNEL`), so that ReLU stays
 * differentiable to any order: the kernel is linear in `dy` (with the same mask) and flat in
 * `x`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { RELU_GRAD_KERNEL } from "../kernel_names.ts";
import { reluGradient } from "./Relu_grad.ts";

/** The gradient's registration entry. */
export const reluGradGradConfig: tf.GradConfig = {
  kernelName: RELU_GRAD_KERNEL,
  inputsToSave: ["x"],
  gradFunc: (g, saved) => {
    const [x] = saved;
    return { dy: () => reluGradient(g as tf.Tensor, x), x: () => tf.zerosLike(x) };
  },
};
