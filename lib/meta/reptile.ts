/**
 * Reptile (Nichol, Achiam & Schulman 2018): run k SGD steps on a task from θ to get φ_i,
 * then move θ toward the mean of the φ_i. Implemented as the pseudo-gradient
 * g = (1/n) Σ_i (θ − φ_i) (+ 2λθ for the L2 term) handed to the outer optimiser: with SGD
 * at rate ε this is exactly θ ← θ + ε (φ̄ − θ). No second-order terms, no query set needed
 * for the update (the query set is only scored for the reported loss).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";
import {
  BaseMetaLearner,
  type MetaGradient,
  type ObjectiveInput,
  resolveObjective,
  type TaskTerms,
} from "./base.ts";
import { adaptedQueryTerms, innerLoop, parametricAdapted } from "./inner_loop.ts";
import type {
  AdaptedModel,
  AdaptOptions,
  Episode,
  FunctionalModel,
  LabelledSet,
  TaskKind,
} from "./types.ts";

/** Options of {@linkcode Reptile}. */
export interface ReptileOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** Classification (default) or regression. */
  kind?: TaskKind;
  /**
   * The meta-objective or its options. Reptile's defaults: 5 inner steps, SGD outer
   * optimiser with ε = `outerLr` = 0.1 (override any of them).
   */
  objective?: ObjectiveInput;
  /** Batch norm in training mode. Default true. */
  training?: boolean;
}

/** Reptile: first-order meta-learning by moving θ toward adapted weights. */
export class Reptile extends BaseMetaLearner {
  /** The functional model. */
  readonly model: FunctionalModel;
  /** Batch-norm mode. */
  readonly training: boolean;

  /** Makes a Reptile learner over `model`. */
  constructor(model: FunctionalModel, options: ReptileOptions) {
    super(
      "reptile",
      options.kind ?? "classification",
      model.init(options.rng),
      model.paramSpecs.map((s) => s.name),
      resolveObjective(options.objective, { innerSteps: 5, optimizer: "sgd", outerLr: 0.1 }),
    );
    this.model = model;
    this.training = options.training ?? true;
  }

  /** φ from θ by the inner loop. */
  adaptParams(theta: tf.Tensor[], support: LabelledSet, steps?: number, lr?: number): tf.Tensor[] {
    const c = this.objective.config;
    return innerLoop(this.model, this.kind, theta, support, {
      steps: steps ?? c.innerSteps,
      lr: lr ?? c.innerLr,
      innerProximal: c.innerProximal,
      training: this.training,
      // Reptile moves θ towards φ: no gradient ever goes through the inner loop.
      firstOrderOnly: true,
    });
  }

  /** Query loss after adaptation (what Reptile's update indirectly lowers). */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    return this.#queryTerms(params, this.adaptParams(params, task.support), task);
  }

  /** Query loss, accuracy and ‖φ − θ‖² of adapted parameters φ. */
  #queryTerms(theta: tf.Tensor[], phi: tf.Tensor[], task: Episode): TaskTerms {
    return adaptedQueryTerms(this.model, this.kind, phi, task, {
      training: this.training,
      adapted: phi,
      anchor: theta,
    });
  }

  /** The Reptile pseudo-gradient (see module docs); the reported loss is the query loss. */
  override metaGradients(tasks: Episode[]): MetaGradient {
    return this.directionGradients(tasks, (theta, task) => {
      const phi = this.adaptParams(theta, task.support);
      return {
        direction: theta.map((p, i) => tf.sub(p, phi[i])),
        terms: this.#queryTerms(theta, phi, task),
      };
    });
  }

  /** Adapts θ with the inner loop. */
  adapt(support: LabelledSet, options: AdaptOptions = {}): AdaptedModel {
    const phi = tf.tidy(() =>
      this.adaptParams(this.params, support, options.steps, options.lr).map((t) => t.clone())
    );
    return parametricAdapted(this.model, phi, this.training);
  }
}
