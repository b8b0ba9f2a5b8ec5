/**
 * Parameter initialisers, drawn from an {@linkcode Rng} so one seed gives identical
 * parameters on every backend.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";

/**
 * PyTorch's default for `nn.Linear` and `nn.Conv2d` weights and biases:
 * `kaiming_uniform_(a=√5)`, i.e. U(−1/√fan_in, 1/√fan_in).
 */
export function torchDefaultUniform(rng: Rng, shape: number[], fanIn: number): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.uniformArray(size, -bound, bound), shape, "float32");
}

/** A tensor of the given shape filled with `value`. */
export function constant(shape: number[], value: number): tf.Tensor {
  return tf.fill(shape, value, "float32");
}
