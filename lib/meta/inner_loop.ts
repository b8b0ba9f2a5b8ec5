/**
 * The inner loop of the gradient-based learners (MAML, ANIL, Meta-SGD, Reptile):
 * φ ← φ − α ⊙ ∇_φ [L(φ; D_i) + (μ/2)‖φ − θ‖²], run `steps` times on the adapted slice
 * `params.slice(adaptFrom)`. It is written with `tf.grads` inside, so when an outer
 * gradient is being recorded the update itself is differentiated (second-order MAML);
 * outside one it is plain SGD.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { accuracy, squaredDistance, taskLoss } from "./losses.ts";
import type { TaskTerms } from "./base.ts";
import type { Episode, FunctionalModel, LabelledSet, TaskKind } from "./types.ts";

/** Options of {@linkcode innerLoop}. */
export interface InnerLoopOptions {
  /** Number of SGD steps. */
  steps: number;
  /** Step size: one number, or one tensor per adapted parameter (Meta-SGD). */
  lr: number | tf.Tensor[];
  /** Index of the first adapted parameter (0: all, `model.headStart`: ANIL). */
  adaptFrom?: number;
  /** μ of the proximal term (μ/2)‖φ − θ‖² (iMAML); default 0. */
  innerProximal?: number;
  /** Forward pass in training mode (batch statistics); default true. */
  training?: boolean;
  /**
   * No outer gradient differentiates these steps again (first-order learners, test-time
   * adaptation): the model may use fused first-order layers (`ApplyOptions.firstOrderOnly`).
   * Default false, as second-order MAML needs.
   */
  firstOrderOnly?: boolean;
}

/** Runs the inner loop from `theta` on `support`; returns the adapted parameter list φ. */
export function innerLoop(
  model: FunctionalModel,
  kind: TaskKind,
  theta: tf.Tensor[],
  support: LabelledSet,
  { steps, lr, adaptFrom = 0, innerProximal = 0, training = true, firstOrderOnly = false }:
    InnerLoopOptions,
): tf.Tensor[] {
  if (Array.isArray(lr) && lr.length !== theta.length - adaptFrom) {
    throw new Error(
      `innerLoop: ${lr.length} learning-rate tensors for ${
        theta.length - adaptFrom
      } adapted parameters`,
    );
  }
  const fixed = theta.slice(0, adaptFrom);
  const anchor = theta.slice(adaptFrom);
  let adapted = anchor;
  for (let s = 0; s < steps; s++) {
    const loss = (...current: tf.Tensor[]) => {
      const out = model.apply([...fixed, ...current], support.x, { training, firstOrderOnly });
      const l = taskLoss(kind, out, support.y);
      return innerProximal > 0
        ? tf.add(l, tf.mul(innerProximal / 2, squaredDistance(current, anchor)))
        : l;
    };
    const previous = adapted;
    const update = () => {
      const grads = tf.grads(loss)(previous);
      return previous.map((p, i) => tf.sub(p, tf.mul(Array.isArray(lr) ? lr[i] : lr, grads[i])));
    };
    if (firstOrderOnly) {
      // Nothing differentiates through these steps: free each step's gradients and the
      // previous φ at once (never θ itself), so memory stays flat in the number of steps.
      adapted = tf.tidy(update);
      if (s > 0) tf.dispose(previous);
    } else {
      // Second order: the outer gradient needs every step's tensors; its scope frees them.
      adapted = update();
    }
  }
  return [...fixed, ...adapted];
}

/** An adapted model that predicts with fixed parameters φ (owns and frees them). */
export function parametricAdapted(
  model: FunctionalModel,
  phi: tf.Tensor[],
  training = true,
): { predict(x: tf.Tensor): tf.Tensor; dispose(): void } {
  return {
    predict: (x) => tf.tidy(() => model.apply(phi, x, { training })),
    dispose: () => tf.dispose(phi),
  };
}

/**
 * Scores adapted parameters φ on a task's query set: the query loss, the accuracy
 * (classification) and the distance ‖φ − θ‖² over the adapted part (`adapted` vs `anchor`),
 * the per-task pieces of the meta-objective that every gradient-based learner reports.
 */
export function adaptedQueryTerms(
  model: FunctionalModel,
  kind: TaskKind,
  phi: tf.Tensor[],
  task: Episode,
  options: { training: boolean; adapted: tf.Tensor[]; anchor: tf.Tensor[] },
): TaskTerms {
  // The query loss is differentiated once, also in second-order MAML (its outer gradient
  // flows back through this forward pass once, then into the inner loop's gradient), so the
  // fused first-order layers apply here.
  const out = model.apply(phi, task.query.x, { training: options.training, firstOrderOnly: true });
  return {
    loss: taskLoss(kind, out, task.query.y),
    proximal: squaredDistance(options.adapted, options.anchor),
    accuracy: kind === "classification" ? accuracy(out, task.query.y) : undefined,
  };
}
