/**
 * `Exp`'s gradient, `dy·exp(x)`. Replaces tfjs's gradient, which reads the op's saved *output*:
 * tfjs records it on the tape before the op's own node, so an outer `tf.grads` finds no path
 * through it ("Cannot compute gradient of y=f(x)"). This one recomputes the output from the saved
 * input (one cheap extra op), so it differentiates again.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The gradient's registration entry. */
export const expGradConfig: tf.GradConfig = {
  kernelName: "Exp",
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    return { x: () => tf.mul(dy as tf.Tensor, tf.exp(x)) };
  },
};
