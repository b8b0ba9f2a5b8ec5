/**
 * Meta-SGD (Li et al. 2017): MAML whose inner step size is a learned tensor per parameter,
 * φ = θ − α ⊙ ∇_θ L(θ; D_i), with α meta-learned beside θ (exact second-order gradient).
 * The meta-parameters are θ followed by one α per parameter (named `<name>/lr`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";
import { BaseMetaLearner, type ObjectiveInput, resolveObjective, type TaskTerms } from "./base.ts";
import { adaptedQueryTerms, innerLoop, parametricAdapted } from "./inner_loop.ts";
import type {
  AdaptedModel,
  AdaptOptions,
  Episode,
  FunctionalModel,
  LabelledSet,
  TaskKind,
} from "./types.ts";

/** Options of {@linkcode MetaSgd}. */
export interface MetaSgdOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** Classification (default) or regression. */
  kind?: TaskKind;
  /** The meta-objective or its options; `innerLr` is the initial value of every α. */
  objective?: ObjectiveInput;
  /** Batch norm in training mode. Default true. */
  training?: boolean;
}

/** Meta-SGD: learned per-parameter inner rates. */
export class MetaSgd extends BaseMetaLearner {
  /** The functional model. */
  readonly model: FunctionalModel;
  /** Batch-norm mode. */
  readonly training: boolean;
  #count: number;

  /** Makes a Meta-SGD learner over `model`. */
  constructor(model: FunctionalModel, options: MetaSgdOptions) {
    const objective = resolveObjective(options.objective);
    const theta = model.init(options.rng);
    const rates = theta.map((t) => tf.fill(t.shape, objective.config.innerLr));
    super(
      "metasgd",
      options.kind ?? "classification",
      [...theta, ...rates],
      [...model.paramSpecs.map((s) => s.name), ...model.paramSpecs.map((s) => `${s.name}/lr`)],
      objective,
    );
    this.model = model;
    this.training = options.training ?? true;
    this.#count = theta.length;
  }

  /** θ (the model parameters) out of the meta-parameters. */
  theta(params: tf.Tensor[]): tf.Tensor[] {
    return params.slice(0, this.#count);
  }

  /** The learned rates α out of the meta-parameters. */
  rates(params: tf.Tensor[]): tf.Tensor[] {
    return params.slice(this.#count);
  }

  /** L2 applies to θ only (not to the rates). */
  protected override regularised(params: tf.Tensor[]): tf.Tensor[] {
    return this.theta(params);
  }

  /** φ from θ with the learned rates (`firstOrderOnly`: see `InnerLoopOptions`). */
  adaptParams(
    params: tf.Tensor[],
    support: LabelledSet,
    steps?: number,
    firstOrderOnly = false,
  ): tf.Tensor[] {
    const c = this.objective.config;
    return innerLoop(this.model, this.kind, this.theta(params), support, {
      steps: steps ?? c.innerSteps,
      lr: this.rates(params),
      innerProximal: c.innerProximal,
      training: this.training,
      firstOrderOnly,
    });
  }

  /** Query loss after adaptation with the learned rates. */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const phi = this.adaptParams(params, task.support);
    return adaptedQueryTerms(this.model, this.kind, phi, task, {
      training: this.training,
      adapted: phi,
      anchor: this.theta(params),
    });
  }

  /** Adapts with the learned rates (`options.lr` is ignored: the rates are learned). */
  adapt(support: LabelledSet, options: AdaptOptions = {}): AdaptedModel {
    const phi = tf.tidy(() =>
      // Test-time adaptation: nothing differentiates these steps again.
      this.adaptParams(this.params, support, options.steps, true).map((t) => t.clone())
    );
    return parametricAdapted(this.model, phi, this.training);
  }
}
