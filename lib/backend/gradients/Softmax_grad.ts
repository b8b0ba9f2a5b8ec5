/**
 * `Softmax`'s gradient, `dy·y − Σ(dy·y)·y` with `y = softmax(logits)`. Replaces tfjs's gradient,
 * which reads the op's saved *output*: tfjs records it on the tape before the op's own node, so an
 * outer `tf.grads` finds no path through it ("Cannot compute gradient of y=f(x)"). This one
 * recomputes the output from the saved input (one cheap extra op), so it differentiates again.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The gradient's registration entry. */
export const softmaxGradConfig: tf.GradConfig = {
  kernelName: "Softmax",
  inputsToSave: ["logits"],
  gradFunc: (dy, saved, attrs) => {
    const [logits] = saved;
    const { dim } = attrs as { dim: number };
    return {
      logits: () => {
        const y = tf.softmax(logits, dim);
        const dyTimesY = tf.mul(dy as tf.Tensor, y);
        return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
      },
    };
  },
};
