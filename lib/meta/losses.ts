/**
 * What the learners score a task with: the task loss of a kind (cross-entropy or MSE, both
 * defined in `lib/models/losses.ts` from primitive ops, so they differentiate to any order),
 * accuracy, and the squared norms and distances of the regularisers.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { meanSquaredError, softmaxCrossEntropy } from "../models/mod.ts";
import type { TaskKind } from "./types.ts";

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
  return kind === "classification"
    ? softmaxCrossEntropy(output, targets)
    : meanSquaredError(output, targets);
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
