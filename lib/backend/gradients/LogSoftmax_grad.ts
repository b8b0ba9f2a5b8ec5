/**
 * `LogSoftmax`'s gradient, `dy − Σ dy·softmax(logits)`. Replaces tfjs's gradient, which reads the
 * op's saved *output*: tfjs records it on the tape before the op's own node, so an outer
 * `tf.grads` finds no path through it ("Cannot compute gradient of y=f(x)"). This one recomputes
 * the output from the saved input (one cheap extra op), so it differentiates again.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The gradient's registration entry. */
export const logSoftmaxGradConfig: tf.GradConfig = {
  kernelName: "LogSoftmax",
  inputsToSave: ["logits"],
  gradFunc: (dy, saved, attrs) => {
    const [logits] = saved;
    const { axis } = attrs as { axis: number };
    return {
      logits: () => {
        const softmax = tf.softmax(logits, axis);
        return tf.sub(dy as tf.Tensor, tf.mul(tf.sum(dy as tf.Tensor, axis, true), softmax));
      },
    };
  },
};
