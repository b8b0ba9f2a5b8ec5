/**
 * Reptile (Nichol, Achiam & Schulman 2018): run k steps of an inner optimiser on a task from
 * θ to get φ_i, then move θ toward the mean of the φ_i. Implemented as the pseudo-gradient
 * g = (1/n) Σ_i (θ − φ_i) (+ 2λθ for the L2 term) handed to the outer optimiser: with SGD
 * at rate ε this is exactly θ ← θ + ε (φ̄ − θ). No second-order terms, no query set needed
 * for the update (the query set is only scored for the reported loss).
 *
 * The inner loop is full-batch SGD by default. Nichol et al.'s Omniglot and Mini-ImageNet
 * settings are also available: Adam with β₁ = 0 as the inner optimiser (`innerOptimizer`),
 * mini-batches of the support set (`innerBatchSize`, `testInnerBatchSize`), and their
 * non-transductive evaluation (`transductive: false`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random/mod.ts";
import {
  BaseMetaLearner,
  type MetaGradient,
  type ObjectiveInput,
  resolveObjective,
  type TaskTerms,
} from "./base.ts";
import { adaptedQueryTerms, innerLoop, parametricAdapted } from "./inner_loop.ts";
import { squaredDistance, taskLoss } from "./losses.ts";
import type {
  AdaptedModel,
  AdaptOptions,
  Episode,
  FunctionalModel,
  LabelledSet,
  TaskKind,
} from "./types.ts";

/** Adam's constants for the inner loop (defaults: Nichol et al.'s β₁ = 0, TensorFlow's others). */
export interface InnerAdamOptions {
  /** Decay of the first moment (default 0: Nichol et al. use no momentum in the inner loop). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** ε̂ of TensorFlow's update, added to √v (default 1e-8). */
  epsilon?: number;
}

/** Options of {@linkcode Reptile}. */
export interface ReptileOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** Classification (default) or regression. */
  kind?: TaskKind;
  /**
   * The meta-objective or its options. Reptile's defaults: 5 inner steps, SGD outer
   * optimiser with ε = `outerLr` = 0.1 (override any of them). `innerLr` is the inner
   * optimiser's rate (SGD's step or Adam's α).
   */
  objective?: ObjectiveInput;
  /** Batch norm in training mode. Default true. */
  training?: boolean;
  /**
   * The inner optimiser: `"sgd"` (default) or `"adam"` (Nichol et al.; constants in
   * `innerAdam`). Adam's moments start at zero for every task.
   */
  innerOptimizer?: "sgd" | "adam";
  /** Adam's constants when `innerOptimizer` is `"adam"`. */
  innerAdam?: InnerAdamOptions;
  /**
   * Support examples per inner step during meta-training (default: the whole support set).
   * The batches follow Nichol et al.'s `_mini_batches`: the support set shuffled, pass after
   * pass, cut into batches of this size (so a batch larger than the set repeats examples).
   */
  innerBatchSize?: number;
  /** The same at adaptation (`adapt`; default: `innerBatchSize`). */
  testInnerBatchSize?: number;
  /**
   * Whether predictions on a query set share its batch statistics (default true, as every
   * learner here and Finn et al.'s code). False: Nichol et al.'s non-transductive protocol,
   * each query example is predicted in a batch of the support set plus itself alone.
   */
  transductive?: boolean;
  /** Seed of the inner mini-batch order (default 0); see {@linkcode Reptile.adaptParams}. */
  shuffleSeed?: number;
}

/**
 * `count` batches of `batchSize` indices into a set of `n`, Nichol et al.'s way: shuffled
 * passes over the set, one after another, cut into consecutive batches (a batch may straddle
 * two passes; one larger than `n` repeats examples).
 */
export function innerMiniBatches(
  n: number,
  batchSize: number,
  count: number,
  rng: Rng,
): number[][] {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`innerMiniBatches: the set must have ≥ 1 example, got ${n}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`innerMiniBatches: batchSize must be an integer ≥ 1, got ${batchSize}`);
  }
  const batches: number[][] = [];
  let pass: number[] = [];
  let at = 0;
  for (let b = 0; b < count; b++) {
    const batch: number[] = [];
    while (batch.length < batchSize) {
      if (at === pass.length) {
        pass = rng.shuffle(Array.from({ length: n }, (_, i) => i));
        at = 0;
      }
      batch.push(pass[at++]);
    }
    batches.push(batch);
  }
  return batches;
}

/** Reptile: first-order meta-learning by moving θ toward adapted weights. */
export class Reptile extends BaseMetaLearner {
  /** The functional model. */
  readonly model: FunctionalModel;
  /** Batch-norm mode. */
  readonly training: boolean;
  /** The inner optimiser. */
  readonly innerOptimizer: "sgd" | "adam";
  /** Adam's constants (used when `innerOptimizer` is `"adam"`). */
  readonly innerAdam: Readonly<Required<InnerAdamOptions>>;
  /** Support examples per inner step in meta-training (undefined: all of them). */
  readonly innerBatchSize: number | undefined;
  /** Support examples per inner step at adaptation (undefined: all of them). */
  readonly testInnerBatchSize: number | undefined;
  /** Whether query predictions share batch statistics. */
  readonly transductive: boolean;
  /** Seed of the inner mini-batch order. */
  readonly shuffleSeed: number;

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
    this.innerOptimizer = options.innerOptimizer ?? "sgd";
    if (this.innerOptimizer !== "sgd" && this.innerOptimizer !== "adam") {
      throw new RangeError(
        `Reptile: innerOptimizer must be "sgd" or "adam", got "${this.innerOptimizer}"`,
      );
    }
    this.innerAdam = Object.freeze({ beta1: 0, beta2: 0.999, epsilon: 1e-8, ...options.innerAdam });
    const { beta1, beta2, epsilon } = this.innerAdam;
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(epsilon > 0)) {
      throw new RangeError(
        `Reptile: innerAdam needs 0 ≤ beta1, beta2 < 1 and epsilon > 0, got beta1 ${beta1}, ` +
          `beta2 ${beta2}, epsilon ${epsilon}`,
      );
    }
    this.innerBatchSize = checkBatch("innerBatchSize", options.innerBatchSize);
    this.testInnerBatchSize = checkBatch(
      "testInnerBatchSize",
      options.testInnerBatchSize ?? options.innerBatchSize,
    );
    this.transductive = options.transductive ?? true;
    this.shuffleSeed = options.shuffleSeed ?? 0;
  }

  /**
   * φ from θ by the inner loop: `steps` steps (default `innerSteps`) of the inner optimiser
   * at rate `lr` (default `innerLr`) on batches of `batchSize` support examples (default: all
   * of them) drawn in the order of `rng` (default: a generator from `shuffleSeed` alone, so
   * adapting to a support set gives one answer however often it is asked).
   */
  adaptParams(
    theta: tf.Tensor[],
    support: LabelledSet,
    steps?: number,
    lr?: number,
    batchSize?: number,
    rng?: Rng,
  ): tf.Tensor[] {
    const c = this.objective.config;
    const k = steps ?? c.innerSteps;
    const rate = lr ?? c.innerLr;
    const n = support.x.shape[0];
    if (this.innerOptimizer === "sgd" && (batchSize === undefined || batchSize === n)) {
      // The full-batch SGD loop MAML's first-order variants share (and Reptile always had).
      return innerLoop(this.model, this.kind, theta, support, {
        steps: k,
        lr: rate,
        innerProximal: c.innerProximal,
        training: this.training,
        // Reptile moves θ towards φ: no gradient ever goes through the inner loop.
        firstOrderOnly: true,
      });
    }
    const batches = batchSize === undefined
      ? Array.from({ length: k }, () => null)
      : innerMiniBatches(n, batchSize, k, rng ?? new Rng(this.shuffleSeed));
    const { beta1, beta2, epsilon } = this.innerAdam;
    const adam = this.innerOptimizer === "adam";
    const count = theta.length;
    let phi = theta;
    let moments: tf.Tensor[] = adam ? [...theta, ...theta].map((p) => tf.zerosLike(p)) : [];
    batches.forEach((batch, s) => {
      const index = batch ? tf.tensor1d(batch, "int32") : null;
      // One step per scope, so that memory holds one step's tensors, not the whole loop's.
      const next = tf.tidy(() => {
        const x = index ? tf.gather(support.x, index) : support.x;
        const y = index ? tf.gather(support.y, index) : support.y;
        const g = tf.grads((...current: tf.Tensor[]) => {
          const out = this.model.apply(current, x, {
            training: this.training,
            firstOrderOnly: true,
          });
          const l = taskLoss(this.kind, out, y);
          return c.innerProximal > 0
            ? tf.add(l, tf.mul(c.innerProximal / 2, squaredDistance(current, theta)))
            : l;
        })(phi);
        if (!adam) return phi.map((p, i) => tf.sub(p, tf.mul(rate, g[i])));
        // TensorFlow's AdamOptimizer, which Nichol et al. ran: α_t = α √(1 − β₂ᵗ) / (1 − β₁ᵗ),
        // φ ← φ − α_t m / (√v + ε̂).
        const t = s + 1;
        const m = moments.slice(0, count).map((mi, i) =>
          tf.add(tf.mul(beta1, mi), tf.mul(1 - beta1, g[i]))
        );
        const v = moments.slice(count).map((vi, i) =>
          tf.add(tf.mul(beta2, vi), tf.mul(1 - beta2, tf.square(g[i])))
        );
        const step = (rate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
        const updated = phi.map((p, i) =>
          tf.sub(p, tf.mul(step, tf.div(m[i], tf.add(tf.sqrt(v[i]), epsilon))))
        );
        return [...updated, ...m, ...v];
      });
      index?.dispose();
      tf.dispose([...(phi === theta ? [] : phi), ...moments]);
      phi = next.slice(0, count);
      moments = next.slice(count);
    });
    tf.dispose(moments);
    return phi;
  }

  /** Query loss after adaptation (what Reptile's update indirectly lowers). */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const phi = this.adaptParams(params, task.support, undefined, undefined, this.innerBatchSize);
    return this.#queryTerms(params, phi, task);
  }

  /** Query loss, accuracy and ‖φ − θ‖² of adapted parameters φ. */
  #queryTerms(theta: tf.Tensor[], phi: tf.Tensor[], task: Episode): TaskTerms {
    return adaptedQueryTerms(this.model, this.kind, phi, task, {
      training: this.training,
      adapted: phi,
      anchor: theta,
    });
  }

  /**
   * The Reptile pseudo-gradient (see module docs); the reported loss is the query loss. Task
   * i of meta-step t draws its inner mini-batches from a generator seeded by (`shuffleSeed`,
   * t, i) alone, so a run resumed at step t repeats them exactly.
   */
  override metaGradients(tasks: Episode[]): MetaGradient {
    let i = 0;
    return this.directionGradients(tasks, (theta, task) => {
      const rng = new Rng((this.shuffleSeed * 1_000_003 + this.stepsTaken) * 1_009 + i++);
      const phi = this.adaptParams(
        theta,
        task.support,
        undefined,
        undefined,
        this.innerBatchSize,
        rng,
      );
      return {
        direction: theta.map((p, j) => tf.sub(p, phi[j])),
        terms: this.#queryTerms(theta, phi, task),
      };
    });
  }

  /**
   * Adapts θ with the inner loop (`options.steps` steps at `options.lr`, on batches of
   * `testInnerBatchSize`). Non-transductive (`transductive: false`): `predict` runs each
   * input row in a batch of the support set plus that row, and keeps that row's output.
   */
  adapt(support: LabelledSet, options: AdaptOptions = {}): AdaptedModel {
    const phi = tf.tidy(() =>
      this.adaptParams(this.params, support, options.steps, options.lr, this.testInnerBatchSize)
        .map((t) => t.clone())
    );
    if (this.transductive) return parametricAdapted(this.model, phi, this.training);
    const context = support.x.clone();
    const opts = { training: this.training };
    return {
      predict: (x) =>
        tf.tidy(() => {
          const rows = tf.split(x, x.shape[0]);
          const n = context.shape[0];
          return tf.concat(
            rows.map((row) =>
              tf.slice(this.model.apply(phi, tf.concat([context, row]), opts), n, 1)
            ),
          );
        }),
      dispose: () => tf.dispose([...phi, context]),
    };
  }
}

function checkBatch(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(`Reptile: ${name} must be an integer ≥ 1, got ${value}`);
  }
  return value;
}
