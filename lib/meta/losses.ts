/**
 * Task losses written from primitive ops only, so that they stay differentiable to any
 * order (second-order MAML differentiates through their gradients; tfjs's built-in losses
 * go through `customGrad`, whose gradients are not themselves differentiated reliably).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TaskKind } from "./types.ts";

/**
 * max(x) over `axis` (kept) treated as a constant: its gradient is zero, and its forward pass
 * is not recorded on the tape. Used for the shift of log-softmax (which does not change the
 * value): differentiating `max` records an `equal` op, which has no gradient in tfjs, so
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
 * exp(x) whose gradient is computed from the saved *input* (exp(x)·dy) rather than the saved
 * output. In stock tfjs 4.22 an op's saved output is a clone taped before the op itself, so
 * it is pruned from the tape and a gradient written with it cannot be differentiated again:
 * the second-order MAML gradient through `tf.exp` (also `tanh`, `sigmoid`) silently misses
 * terms (measured: 17.06 where finite differences give 35.62). `initBackend` now repairs
 * this globally; this loss does not depend on that repair.
 */
export function exp2(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad(
    ((input: tf.Tensor, save: tf.GradSaveFunc) => {
      save([input]);
      return {
        value: tf.exp(input),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, exp2(saved[0])),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return f(x);
}

/** Numerically stable log-softmax over the last axis, differentiable to any order. */
export function logSoftmax(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const z = tf.sub(logits, constantMax(logits, -1));
    return tf.sub(z, tf.log(tf.sum(exp2(z), -1, true)));
  });
}

/** Mean softmax cross-entropy of `logits` `[n, ways]` against int32 `labels` `[n]`. */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const ways = logits.shape[logits.shape.length - 1];
    const oneHot = tf.oneHot(tf.cast(labels, "int32").reshape([-1]), ways).reshape(logits.shape);
    const logProbs = logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logProbs), -1))) as tf.Scalar;
  });
}

/** Mean squared error between predictions and targets of the same size. */
export function mseLoss(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.mean(tf.square(tf.sub(predictions, targets.reshape(predictions.shape)))) as tf.Scalar
  );
}

/** Fraction of rows whose arg-max equals the label. */
export function accuracy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.mean(
      tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(labels, "int32").reshape([-1])), "float32"),
    ) as tf.Scalar
  );
}

/** The task loss for a kind: cross-entropy for classification, MSE for regression. */
export function taskLoss(kind: TaskKind, output: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return kind === "classification" ? crossEntropy(output, targets) : mseLoss(output, targets);
}

/** Squared L2 norm Σ_j ‖t_j‖² of a list of tensors. */
export function squaredNorm(tensors: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (tensors.length === 0) return tf.scalar(0);
    return tf.addN(tensors.map((t) => tf.sum(tf.square(t)))) as tf.Scalar;
  });
}

/** Squared L2 distance Σ_j ‖a_j − b_j‖² between two parameter lists of the same shapes. */
export function squaredDistance(a: tf.Tensor[], b: tf.Tensor[]): tf.Scalar {
  if (a.length !== b.length) {
    throw new Error(`squaredDistance: lists differ in length (${a.length} vs ${b.length})`);
  }
  return tf.tidy(() => squaredNorm(a.map((t, i) => tf.sub(t, b[i]))));
}
