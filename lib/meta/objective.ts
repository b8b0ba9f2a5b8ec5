/**
 * The meta-objective as a first-class, inspectable object:
 *
 *     J(θ) = ⊕_i L(φ_i(θ); D'_i)  +  λ_l2 ‖θ‖²  +  λ_prox · (1/n) Σ_i ‖φ_i − θ‖²
 *
 * where ⊕ is the mean (default) or the sum over the n tasks of a meta-batch, and
 * φ_i = Adapt(θ, D_i) are the task-adapted parameters. The inner loop minimises
 * L(φ; D_i) + (μ/2)‖φ − θ‖² (μ = `innerProximal`, the iMAML proximal term that keeps
 * each φ_i near the meta-initialisation). The same object carries the optimisation knobs:
 * inner steps and rate, meta-batch size, outer optimiser and rate, gradient clipping.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { squaredNorm } from "./losses.ts";
import type { MetaLossTerms } from "./types.ts";

/** Plain options of the meta-objective and its optimisation. */
export interface MetaObjectiveConfig {
  /** How task losses combine over a meta-batch: `"mean"` (default) or `"sum"`. */
  reduction: "mean" | "sum";
  /** λ of the L2 term λ‖θ‖² on the meta-parameters (default 0). */
  l2: number;
  /** λ of the outer proximal term λ·mean_i ‖φ_i − θ‖² (default 0). */
  proximal: number;
  /** μ of the inner proximal term (μ/2)‖φ − θ‖² added to each support loss (iMAML; default 0). */
  innerProximal: number;
  /** Inner-loop SGD steps during meta-training (default 1). */
  innerSteps: number;
  /** Inner-loop SGD step size α (default 0.01). */
  innerLr: number;
  /** Tasks per meta-batch (default 4). */
  metaBatchSize: number;
  /** Outer optimiser (default `"adam"`). */
  optimizer: "adam" | "sgd";
  /** Outer learning rate β (default 0.001). */
  outerLr: number;
  /** Clip the meta-gradient to this global norm (default: no clipping). */
  clipNorm?: number;
}

/** Defaults of {@linkcode MetaObjectiveConfig}. */
export const DEFAULT_OBJECTIVE: Readonly<MetaObjectiveConfig> = Object.freeze({
  reduction: "mean",
  l2: 0,
  proximal: 0,
  innerProximal: 0,
  innerSteps: 1,
  innerLr: 0.01,
  metaBatchSize: 4,
  optimizer: "adam",
  outerLr: 0.001,
});

function checkConfig(c: MetaObjectiveConfig): void {
  const nonNegative = ["l2", "proximal", "innerProximal", "innerLr", "outerLr"] as const;
  for (const key of nonNegative) {
    if (!Number.isFinite(c[key]) || c[key] < 0) {
      throw new RangeError(`objective.${key} must be a finite number ≥ 0, got ${c[key]}`);
    }
  }
  if (!Number.isInteger(c.innerSteps) || c.innerSteps < 0) {
    throw new RangeError(`objective.innerSteps must be an integer ≥ 0, got ${c.innerSteps}`);
  }
  if (!Number.isInteger(c.metaBatchSize) || c.metaBatchSize < 1) {
    throw new RangeError(`objective.metaBatchSize must be an integer ≥ 1, got ${c.metaBatchSize}`);
  }
  if (c.reduction !== "mean" && c.reduction !== "sum") {
    throw new RangeError(`objective.reduction must be "mean" or "sum", got ${c.reduction}`);
  }
  if (c.optimizer !== "adam" && c.optimizer !== "sgd") {
    throw new RangeError(`objective.optimizer must be "adam" or "sgd", got ${c.optimizer}`);
  }
  if (c.clipNorm !== undefined && !(c.clipNorm > 0)) {
    throw new RangeError(`objective.clipNorm must be > 0 when set, got ${c.clipNorm}`);
  }
}

/**
 * The meta-objective: combines per-task losses and regularisers into J(θ), and makes the
 * outer optimiser. Learners call {@linkcode MetaObjective.combine}; notebooks print
 * {@linkcode MetaObjective.describe} and inspect the returned terms.
 *
 * @example
 * ```ts
 * const objective = new MetaObjective({ l2: 1e-4, innerSteps: 5, innerLr: 0.4 });
 * console.log(objective.describe());
 * ```
 */
export class MetaObjective {
  /** The full configuration (defaults filled in). */
  readonly config: Readonly<MetaObjectiveConfig>;

  /** Makes an objective; unspecified options take {@linkcode DEFAULT_OBJECTIVE}. */
  constructor(config: Partial<MetaObjectiveConfig> = {}) {
    const full = { ...DEFAULT_OBJECTIVE, ...config } as MetaObjectiveConfig;
    checkConfig(full);
    this.config = Object.freeze(full);
  }

  /** A copy with some options changed. */
  with(changes: Partial<MetaObjectiveConfig>): MetaObjective {
    return new MetaObjective({ ...this.config, ...changes });
  }

  /** The formula with this configuration's numbers, for printing. */
  describe(): string {
    const c = this.config;
    const op = c.reduction === "mean" ? "(1/n) Σ_i" : "Σ_i";
    const parts = [`${op} L(φ_i; D'_i)`];
    if (c.l2 > 0) parts.push(`${c.l2}·‖θ‖²`);
    if (c.proximal > 0) parts.push(`${c.proximal}·(1/n) Σ_i ‖φ_i − θ‖²`);
    const inner = `φ_i = ${c.innerSteps} SGD step(s), α = ${c.innerLr}, on L(φ; D_i)` +
      (c.innerProximal > 0 ? ` + (${c.innerProximal}/2)‖φ − θ‖²` : "");
    const outer = `${c.optimizer}(lr ${c.outerLr})` +
      (c.clipNorm ? `, clip ‖g‖ ≤ ${c.clipNorm}` : "") + `, ${c.metaBatchSize} tasks per step`;
    return `J(θ) = ${parts.join(" + ")};  ${inner};  outer: ${outer}`;
  }

  /** L2 term λ_l2 ‖θ‖² (a tensor; zero when λ_l2 = 0). */
  l2Term(theta: tf.Tensor[]): tf.Scalar {
    return tf.tidy(() =>
      this.config.l2 > 0 ? tf.mul(this.config.l2, squaredNorm(theta)) as tf.Scalar : tf.scalar(0)
    );
  }

  /**
   * Combines per-task query losses (and, optionally, per-task ‖φ_i − θ‖² and accuracies)
   * into the terms of J(θ). Differentiable in everything passed in.
   */
  combine(
    theta: tf.Tensor[],
    taskLosses: tf.Scalar[],
    proximalDistances: tf.Scalar[] = [],
    accuracies: tf.Scalar[] = [],
  ): MetaLossTerms {
    if (taskLosses.length === 0) throw new Error("objective.combine: the meta-batch is empty");
    const losses = tf.stack(taskLosses) as tf.Tensor1D;
    const data = (this.config.reduction === "mean" ? tf.mean(losses) : tf.sum(losses)) as tf.Scalar;
    const l2 = this.l2Term(theta);
    const proximal = this.config.proximal > 0 && proximalDistances.length > 0
      ? tf.mul(this.config.proximal, tf.mean(tf.stack(proximalDistances))) as tf.Scalar
      : tf.scalar(0);
    const total = tf.addN([data, l2, proximal]) as tf.Scalar;
    const accuracy = accuracies.length > 0 ? tf.mean(tf.stack(accuracies)) as tf.Scalar : undefined;
    return { data, l2, proximal, total, taskLosses: losses, accuracy };
  }

  /** A fresh outer optimiser as configured. */
  makeOptimizer(): tf.Optimizer {
    return this.config.optimizer === "adam"
      ? tf.train.adam(this.config.outerLr)
      : tf.train.sgd(this.config.outerLr);
  }
}

/** Thrown when a loss becomes NaN or ±Infinity; names the step so the run can be diagnosed. */
export class NonFiniteLossError extends Error {
  /** The meta-step at which the loss stopped being finite. */
  readonly step: number;
  /** The offending value. */
  readonly value: number;
  /** Makes the error for a step and value. */
  constructor(step: number, value: number, what = "meta-loss") {
    super(
      `${what} is ${value} at step ${step}: training stopped before applying this step ` +
        `(parameters and saved checkpoints are left as they were after step ${step - 1})`,
    );
    this.name = "NonFiniteLossError";
    this.step = step;
    this.value = value;
  }
}
