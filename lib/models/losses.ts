/**
 * Losses built only from primitive ops, so they differentiate to second order.
 *
 * Why not `tf.losses.softmaxCrossEntropy` or `tf.logSoftmax`: tfjs implements both with
 * `tf.customGrad`, whose backward pass reads saved tensors that are not connected on an outer
 * gradient tape. Inside second-order MAML they give silently wrong meta-gradients (measured:
 * a directional meta-gradient of 0.306 where finite differences give −0.095; with this
 * module's loss, −0.094). Use these in any loss that an outer `tf.grads` differentiates again.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Mean softmax cross-entropy between `logits` `[N, C]` and `labels`: one-hot `[N, C]`
 * (float) or class indices `[N]` (int32). Computed as `logSumExp(logits) − ⟨labels, logits⟩`.
 */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  if (logits.rank !== 2) {
    throw new Error(`softmaxCrossEntropy: logits must be [N, C], got [${logits.shape}]`);
  }
  return tf.tidy(() => {
    const oneHot = labels.rank === 1
      ? tf.oneHot(tf.cast(labels as tf.Tensor1D, "int32"), logits.shape[1] as number)
      : labels;
    if (oneHot.shape.join() !== logits.shape.join()) {
      throw new Error(
        `softmaxCrossEntropy: labels [${labels.shape}] do not match logits [${logits.shape}]`,
      );
    }
    const picked = tf.sum(tf.mul(oneHot, logits), 1);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), picked)) as tf.Scalar;
  });
}

/** Mean squared error between `predictions` and `targets` (same shape). */
export function meanSquaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (predictions.shape.join() !== targets.shape.join()) {
    throw new Error(
      `meanSquaredError: shapes differ: predictions [${predictions.shape}], targets [${targets.shape}]`,
    );
  }
  return tf.tidy(() => tf.mean(tf.squaredDifference(predictions, targets)) as tf.Scalar);
}
