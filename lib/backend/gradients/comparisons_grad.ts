/**
 * Gradients of the comparisons (`Equal`, `Greater`, …), which tfjs 4.22 does not register.
 * They are piecewise constant: zero gradients. tfjs's `Max` gradient uses `Equal`, so without
 * these a second derivative through `logSumExp` fails.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The comparison kernels, by name. */
export const COMPARISONS = ["Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"];

/** Zero gradients for both operands of the comparison `kernelName`. */
function zeroGradients(kernelName: string): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ["a", "b"],
    gradFunc: (_dy, saved) => {
      const [a, b] = saved;
      return { a: () => tf.zerosLike(a), b: () => tf.zerosLike(b) };
    },
  };
}

/** The gradients' registration entries, one per comparison. */
export const comparisonGradConfigs: tf.GradConfig[] = COMPARISONS.map(zeroGradients);
