/**
 * MAML (Finn, Abbeel & Levine 2017): learn an initialisation θ such that a few SGD steps on
 * a task's support set give parameters φ_i that do well on its query set.
 * The meta-gradient is exact (second order, through the inner loop's gradients) unless
 * `firstOrder` is set (FOMAML: dφ/dθ ≈ I, so ∇_θ ≈ ∇_φ L(φ; D')).
 * When the model has `applyBatched` and the tasks are regression tasks of equal shapes (the
 * sinusoid case), all tasks of a meta-batch run as one batched computation (`canBatch`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";
import {
  BaseMetaLearner,
  type MetaGradient,
  type ObjectiveInput,
  resolveObjective,
  type StackedInnerLoop,
  type TaskDirection,
  type TaskTerms,
} from "./base.ts";
import { adaptedQueryTerms, innerLoop, parametricAdapted } from "./inner_loop.ts";
import { squaredDistance } from "./losses.ts";
import type {
  AdaptedModel,
  AdaptOptions,
  Episode,
  FunctionalModel,
  LabelledSet,
  TaskKind,
} from "./types.ts";

/** The model's batched-over-tasks forward pass, when it has one (`lib/models`' MLP does). */
function batchedApply(
  model: FunctionalModel,
): ((params: tf.Tensor[], x: tf.Tensor) => tf.Tensor) | undefined {
  const m = model as FunctionalModel & {
    applyBatched?: (p: tf.Tensor[], x: tf.Tensor) => tf.Tensor;
  };
  return m.applyBatched ? m.applyBatched.bind(m) : undefined;
}

/** Options of {@linkcode Maml}. */
export interface MamlOptions {
  /** Seeded generator for the initial parameters (anything with `seed()`, `next()`, `normal()`). */
  rng: Rng;
  /** Classification (default) or regression. */
  kind?: TaskKind;
  /** The meta-objective or its options (inner steps / rate, λ, optimiser, ...). */
  objective?: ObjectiveInput;
  /** First-order approximation (FOMAML). Default false: exact second-order meta-gradient. */
  firstOrder?: boolean;
  /** Batch norm in training mode (batch statistics) in every pass, as in Finn et al.'s code. Default true. */
  training?: boolean;
  /** Use `applyBatched` for regression meta-batches when the model has it. Default true. */
  batched?: boolean;
}

/** MAML / FOMAML; also the base of ANIL (adapts only the head). */
export class Maml extends BaseMetaLearner {
  /** The functional model. */
  readonly model: FunctionalModel;
  /** First-order approximation in use. */
  readonly firstOrder: boolean;
  /** Index of the first parameter the inner loop adapts. */
  readonly adaptFrom: number;
  /** Batch-norm mode used in every pass. */
  readonly training: boolean;
  /** Whether batched regression is allowed. */
  readonly batched: boolean;

  /** Makes a MAML learner over `model`. */
  constructor(model: FunctionalModel, options: MamlOptions, name?: string, adaptFrom = 0) {
    const firstOrder = options.firstOrder ?? false;
    super(
      name ?? (firstOrder ? "fomaml" : "maml"),
      options.kind ?? "classification",
      model.init(options.rng),
      model.paramSpecs.map((s) => s.name),
      resolveObjective(options.objective),
    );
    this.model = model;
    this.firstOrder = firstOrder;
    this.adaptFrom = adaptFrom;
    this.training = options.training ?? true;
    this.batched = options.batched ?? true;
  }

  /**
   * φ_i from θ on a support set (differentiable when an outer gradient is recorded).
   * `firstOrderOnly` (default: the learner is first-order) when no outer gradient will
   * differentiate the steps again.
   */
  adaptParams(
    theta: tf.Tensor[],
    support: LabelledSet,
    steps?: number,
    lr?: number,
    firstOrderOnly = this.firstOrder,
  ): tf.Tensor[] {
    const c = this.objective.config;
    return innerLoop(this.model, this.kind, theta, support, {
      steps: steps ?? c.innerSteps,
      lr: lr ?? c.innerLr,
      adaptFrom: this.adaptFrom,
      innerProximal: c.innerProximal,
      training: this.training,
      firstOrderOnly,
    });
  }

  /** Query loss after adaptation, ‖φ − θ‖² and accuracy for one task. */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const phi = this.adaptParams(params, task.support);
    return this.queryTerms(params, phi, task);
  }

  /** Scores adapted parameters φ on the query set. */
  protected queryTerms(theta: tf.Tensor[], phi: tf.Tensor[], task: Episode): TaskTerms {
    return adaptedQueryTerms(this.model, this.kind, phi, task, {
      training: this.training,
      adapted: phi.slice(this.adaptFrom),
      anchor: theta.slice(this.adaptFrom),
    });
  }

  /** Meta-gradient: first-order, or exact second-order (batched when it can be; see module docs). */
  override metaGradients(tasks: Episode[]): MetaGradient {
    return this.firstOrder ? this.firstOrderGradients(tasks) : super.metaGradients(tasks);
  }

  /**
   * All tasks as one computation with θ tiled to `[T, ...]`, through the model's
   * `applyBatched`: for exact (second-order) MAML adapting every parameter, when enabled.
   */
  protected override stackedInnerLoop(): StackedInnerLoop | undefined {
    const apply = batchedApply(this.model);
    if (!this.batched || this.firstOrder || this.adaptFrom !== 0 || !apply) return undefined;
    return {
      start: (theta, tasks) =>
        theta.map((p) => tf.tile(tf.expandDims(p, 0), [tasks, ...p.shape.map(() => 1)])),
      predict: (_theta, phi, x) => apply(phi, x),
    };
  }

  /** FOMAML: Σ_i ∇_φ L(φ_i; D'_i) with φ_i computed without recording, plus ∇ of λ‖θ‖². */
  protected firstOrderGradients(tasks: Episode[]): MetaGradient {
    // Under dφ/dθ ≈ I the outer proximal term ‖φ − θ‖² has zero gradient; it is still reported.
    return this.directionGradients(tasks, (theta, task): TaskDirection => {
      const phi = this.adaptParams(theta, task.support);
      let accuracy: tf.Scalar | undefined;
      const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) => {
        const t = this.queryTerms(theta, p, task);
        if (t.accuracy) accuracy = tf.keep(t.accuracy);
        return t.loss;
      })(phi);
      const proximal = squaredDistance(phi.slice(this.adaptFrom), theta.slice(this.adaptFrom));
      return { direction: grads, terms: { loss: value as tf.Scalar, proximal, accuracy } };
    });
  }

  /** Adapts θ to a support set with `steps` SGD steps (default: the training value). */
  adapt(support: LabelledSet, options: AdaptOptions = {}): AdaptedModel {
    // Clone so that the adapted model owns its tensors (with 0 steps φ would alias θ).
    const phi = tf.tidy(() =>
      // Test-time adaptation: nothing differentiates these steps again.
      this.adaptParams(this.params, support, options.steps, options.lr, true).map((t) => t.clone())
    );
    return parametricAdapted(this.model, phi, this.training);
  }
}
