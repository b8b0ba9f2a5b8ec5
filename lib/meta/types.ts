/**
 * The shared vocabulary of MetaLab's meta-learners: the {@linkcode MetaLearner} interface
 * every algorithm implements, what adaptation returns, and what a meta-step reports.
 *
 * Episodes (a support set D_i and a query set D'_i) are `lib/tasks`' `Episode` and
 * `LabelledSet`, structural types (any object with `support` and `query` tensors works);
 * models are `lib/models`' functional models. Both are re-exported here for the learners.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Episode, LabelledSet } from "../tasks/mod.ts";
import type { MetaObjective } from "./objective.ts";

/** Classification (cross-entropy, accuracy) or regression (mean squared error). */
export type TaskKind = "classification" | "regression";

export type { ApplyOptions, FunctionalModel, ParamSpec } from "../models/mod.ts";
export type { Episode, LabelledSet } from "../tasks/mod.ts";

/** A model adapted to one task: predicts on new inputs of that task. Dispose when done. */
export interface AdaptedModel {
  /** Logits `[n, ways]` (classification) or predictions `[n, 1]` (regression). */
  predict(x: tf.Tensor): tf.Tensor;
  /** Frees the task-specific tensors (adapted parameters, prototypes, ...). */
  dispose(): void;
}

/** Options of test-time adaptation. */
export interface AdaptOptions {
  /** Inner-loop steps (default: the learner's training value). */
  steps?: number;
  /** Inner-loop step size (default: the learner's training value). */
  lr?: number;
}

/** Numbers reported for one meta-step. */
export interface StepStats {
  /** The meta-step index (0-based). */
  step: number;
  /** Total meta-objective value (data term + regularisation). */
  loss: number;
  /** The data term alone (mean or sum of query losses). */
  dataLoss: number;
  /** Mean query accuracy over the meta-batch (classification only). */
  accuracy?: number;
  /** Global norm of the meta-gradient before clipping. */
  gradNorm: number;
}

/**
 * The interface every meta-learning algorithm implements (MAML, Reptile, ProtoNets, ...):
 * adapt on a support set and predict on a query set; compute the meta-objective over a
 * meta-batch; apply one outer-optimiser step.
 */
export interface MetaLearner {
  /** Algorithm name, e.g. `"maml"`. */
  readonly name: string;
  /** Classification or regression. */
  readonly kind: TaskKind;
  /** The meta-parameters θ the outer optimiser updates. */
  readonly params: tf.Variable[];
  /** A readable name per meta-parameter (same order as `params`). */
  readonly paramNames: string[];
  /** The meta-objective: its `config` gives, e.g., the meta-batch size `metaTrain` uses. */
  readonly objective: MetaObjective;
  /** The outer optimiser (`metaTrain` sets its learning rate for an `lrSchedule`). */
  readonly optimizer: tf.Optimizer;
  /** Adapts to one task from its support set (no meta-gradient is recorded). */
  adapt(support: LabelledSet, options?: AdaptOptions): AdaptedModel;
  /**
   * The meta-objective over a meta-batch for meta-parameters `params` (differentiable in
   * `params`): returns the scalar total; see {@linkcode MetaLossTerms} for the parts.
   */
  metaLoss(params: tf.Tensor[], tasks: Episode[]): tf.Scalar;
  /** One outer-optimiser step on a meta-batch. */
  metaStep(tasks: Episode[]): StepStats;
  /** Frees the meta-parameters and optimiser state. */
  dispose(): void;
}

/** The parts of the meta-objective for one meta-batch, as tensors. */
export interface MetaLossTerms {
  /** Σ or mean of the task (query) losses. */
  data: tf.Scalar;
  /** λ_l2 · ‖θ‖². */
  l2: tf.Scalar;
  /** λ_prox · mean_i ‖φ_i − θ‖² (zero for learners without an inner loop). */
  proximal: tf.Scalar;
  /** data + l2 + proximal. */
  total: tf.Scalar;
  /** Query loss of each task, `[tasks]`. */
  taskLosses: tf.Tensor1D;
  /** Mean query accuracy (classification). */
  accuracy?: tf.Scalar;
}

/** Produces `count` fresh tasks (a meta-batch); bind the seeded generator when you make it. */
export type TaskSampler = (count: number) => Episode[];
