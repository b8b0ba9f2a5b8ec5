/**
 * Losses built only from primitive ops, so they differentiate to second order, and the
 * second-order-safe pieces they are built of. Every learner in `lib/meta` scores with these.
 *
 * Why not `tf.losses.softmaxCrossEntropy` or `tf.logSoftmax`: tfjs implements both with
 * `tf.customGrad`, whose backward pass reads saved tensors that are not connected on an outer
 * gradient tape. Inside second-order MAML they give silently wrong meta-gradients (measured:
 * a directional meta-gradient of 0.306 where finite differences give −0.095; with this
 * module's loss, −0.094). Use these in any loss that an outer `tf.grads` differentiates again.
 *
 * They do not rely on `initBackend`'s repaired gradients (`lib/backend/register_gradients.ts`): the
 * max-shift and eˣ below carry their own second-order-safe gradients.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * max(x) over `axis` (kept) treated as a constant: its gradient is zero, and its forward pass
 * is not recorded on the tape. Used for the shift of log-softmax (which does not change the
 * value): differentiating `max` records an `equal` op, which has no gradient in stock tfjs, so
 * second-order gradients through a plain max-shift fail.
 */
export function constantMax(x: tf.Tensor, axis = -1): tf.Tensor {
  const f = tf.customGrad(
    ((input: tf.Tensor) => ({
      value: tf.max(input, axis, true),
      gradFunc: () => tf.zerosLike(input),
    })) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return f(x);
}

/**
 * eˣ whose gradient is computed from the saved *input* (eˣ·dy) rather than the saved output.
 * In stock tfjs 4.22 an op's saved output is a clone taped before the op itself, so it is
 * pruned from the tape and a gradient written with it cannot be differentiated again: the
 * second-order MAML gradient through `tf.exp` (also `tanh`, `sigmoid`) silently misses terms
 * (measured: 17.06 where finite differences give 35.62). `initBackend` now repairs this
 * globally; the losses here do not depend on that repair.
 *
 * @example
 * ```ts
 * const softplus = (z: tf.Tensor) => tf.log(tf.add(1, expFromInput(z))); // smooth to any order
 * ```
 */
export function expFromInput(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad(
    ((input: tf.Tensor, save: tf.GradSaveFunc) => {
      save([input]);
      return {
        value: tf.exp(input),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, expFromInput(saved[0])),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return f(x);
}

/** Numerically stable softmax over the last axis, differentiable to any order. */
export function softmax(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const e = expFromInput(tf.sub(logits, constantMax(logits, -1)));
    return tf.div(e, tf.sum(e, -1, true));
  });
}

/** Numerically stable log-softmax over the last axis, differentiable to any order. */
export function logSoftmax(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const z = tf.sub(logits, constantMax(logits, -1));
    return tf.sub(z, tf.log(tf.sum(expFromInput(z), -1, true)));
  });
}

/**
 * Targets as one row per example over `classes` classes: int32 class ids (any shape with one
 * id per row of `scores`) become one-hot rows; targets already shaped like `scores` (one-hot or
 * class probabilities) are used as they are.
 */
function targetRows(scores: tf.Tensor, labels: tf.Tensor, caller: string): tf.Tensor {
  if (labels.shape.join() === scores.shape.join()) return labels;
  const classes = scores.shape[scores.rank - 1];
  const rows = scores.size / classes;
  if (labels.size !== rows) {
    throw new Error(
      `${caller}: labels [${labels.shape}] do not match scores [${scores.shape}]: expected ` +
        `${rows} class ids or one-hot labels [${scores.shape}]`,
    );
  }
  return tf.oneHot(tf.cast(labels, "int32").reshape([-1]), classes).reshape(scores.shape);
}

/** −mean over rows of Σ_c targets_c · log p_c, with `caller` naming a shape error. */
function nll(logProbs: tf.Tensor, labels: tf.Tensor, caller: string): tf.Scalar {
  return tf.tidy(() => {
    const targets = targetRows(logProbs, labels, caller);
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, logProbs), -1))) as tf.Scalar;
  });
}

/**
 * Mean negative log-likelihood of `labels` under log-probabilities `logProbs` `[..., C]`:
 * −mean over rows of Σ_c labels_c · log p_c. `labels`: class ids (one per row) or one-hot rows.
 */
export function negativeLogLikelihood(logProbs: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return nll(logProbs, labels, "negativeLogLikelihood");
}

/**
 * Mean softmax cross-entropy of `logits` `[N, C]` (or `[..., C]`) against `labels`: class
 * indices `[N]` (int32) or one-hot rows `[N, C]` (float). The negative log-likelihood under
 * {@linkcode logSoftmax}, so differentiable to any order.
 *
 * @example
 * ```ts
 * const logits = tf.tensor2d([[2, 0, 0], [0, 3, 0]]);
 * softmaxCrossEntropy(logits, tf.tensor1d([0, 1], "int32")).print(); // ≈ 0.167
 * ```
 */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  if (logits.rank < 1) {
    throw new Error(`softmaxCrossEntropy: logits must be [N, C], got a scalar`);
  }
  return tf.tidy(() => nll(logSoftmax(logits), labels, "softmaxCrossEntropy"));
}

/**
 * Mean squared error between `predictions` and `targets` of the same size (targets are read
 * in the predictions' shape, so `[n]` targets score `[n, 1]` predictions).
 */
export function meanSquaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (predictions.size !== targets.size) {
    throw new Error(
      `meanSquaredError: sizes differ: predictions [${predictions.shape}], targets [${targets.shape}]`,
    );
  }
  return tf.tidy(() =>
    tf.mean(tf.square(tf.sub(predictions, targets.reshape(predictions.shape)))) as tf.Scalar
  );
}
