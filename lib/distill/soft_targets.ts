/**
 * Knowledge distillation's loss (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a
 * Neural Network", NIPS Deep Learning Workshop): a student learns from a teacher's *soft
 * targets* softmax(v/T) — the teacher's whole distribution over classes at temperature T —
 * as well as from the hard labels:
 *
 *   L = α · T² · KL(softmax(v/T) ‖ softmax(z/T)) + (1 − α) · CE(softmax(z), y)
 *
 * with z the student's logits, v the teacher's, y the labels.
 *
 * Why T: at T = 1 a confident teacher's distribution is nearly one-hot and carries little
 * more than the label; dividing the logits by T > 1 raises the small probabilities (that a
 * "2" looks a bit like a "7") to where the loss sees them.
 *
 * Why T²: the soft term's gradient with respect to a student logit is
 * (softmax(z/T)_i − softmax(v/T)_i) / T, and for large T both distributions are near uniform,
 * so that difference is itself ≈ ((z_i − z̄) − (v_i − v̄)) / (C·T): the gradient shrinks as
 * 1/T². Multiplying by T² keeps the soft term's gradient the same size whatever T is, so
 * changing T does not silently re-weight soft against hard targets (α alone does that). In
 * that limit T²·KL → (1 / 2C) · Σ_i ((z_i − z̄) − (v_i − v̄))²: distillation at high
 * temperature is matching the (mean-centred) logits, which Hinton et al. show is the
 * special case of Caruana et al.'s logit regression.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { logSoftmax, softmax, softmaxCrossEntropy } from "../models/mod.ts";

/** Options of {@linkcode distillationLoss}. */
export interface DistillationOptions {
  /** Temperature T > 0 of the soft targets (Hinton et al. use 1 … 20; default 4). */
  temperature?: number;
  /** Weight α ∈ [0, 1] of the soft term; 1 − α weighs the hard labels (default 0.5). */
  alpha?: number;
}

/** The options with their defaults, checked (an error names the bad value). */
export function distillationOptions(
  options: DistillationOptions = {},
): Required<DistillationOptions> {
  const temperature = options.temperature ?? 4;
  const alpha = options.alpha ?? 0.5;
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(
      `distillation: temperature must be a finite number > 0, got ${temperature}`,
    );
  }
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`distillation: alpha must be in [0, 1], got ${alpha}`);
  }
  return { temperature, alpha };
}

/**
 * Soft targets softmax(logits / T) over the last axis.
 *
 * @example
 * ```ts
 * softTargets(tf.tensor2d([[4, 0]]), 1).print(); // [[0.982, 0.018]]
 * softTargets(tf.tensor2d([[4, 0]]), 4).print(); // [[0.731, 0.269]]: the small one shows
 * ```
 */
export function softTargets(logits: tf.Tensor, temperature: number): tf.Tensor {
  distillationOptions({ temperature });
  return tf.tidy(() => softmax(tf.div(logits, temperature)));
}

/**
 * T² · KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over rows: the soft term of
 * {@linkcode distillationLoss}. The teacher's logits are read as constants: no gradient
 * reaches the teacher as long as the caller differentiates the student's parameters only
 * (as every learner in `lib/distill` does).
 */
export function softTargetLoss(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  temperature: number,
): tf.Scalar {
  distillationOptions({ temperature });
  if (studentLogits.shape.join() !== teacherLogits.shape.join()) {
    throw new Error(
      `softTargetLoss: student logits [${studentLogits.shape}] and teacher logits ` +
        `[${teacherLogits.shape}] must have the same shape`,
    );
  }
  return tf.tidy(() => {
    const logQ = logSoftmax(tf.div(teacherLogits, temperature));
    const logP = logSoftmax(tf.div(studentLogits, temperature));
    const kl = tf.sum(tf.mul(tf.exp(logQ), tf.sub(logQ, logP)), -1);
    return tf.mul(temperature * temperature, tf.mean(kl)) as tf.Scalar;
  });
}

/**
 * Hinton et al.'s distillation loss, α·T²·KL(teacher_T ‖ student_T) + (1 − α)·CE(student, y)
 * (see the module doc for why T²). `labels`: class ids `[N]` (int32) or one-hot rows. With
 * α = 0 it is plain cross-entropy; with α = 1 the labels are not used.
 *
 * @example
 * ```ts
 * const z = tf.tensor2d([[1, 0]]), v = tf.tensor2d([[0, 1]]);
 * distillationLoss(z, v, tf.tensor1d([0], "int32"), { temperature: 2, alpha: 0.5 }).print();
 * // 0.4015 = 0.5 · 4 · 0.12246 + 0.5 · 0.31326
 * ```
 */
export function distillationLoss(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  labels: tf.Tensor,
  options: DistillationOptions = {},
): tf.Scalar {
  const { temperature, alpha } = distillationOptions(options);
  return tf.tidy(() => {
    const hard = softmaxCrossEntropy(studentLogits, labels);
    if (alpha === 0) return hard;
    const soft = softTargetLoss(studentLogits, teacherLogits, temperature);
    if (alpha === 1) return soft;
    return tf.add(tf.mul(alpha, soft), tf.mul(1 - alpha, hard)) as tf.Scalar;
  });
}
