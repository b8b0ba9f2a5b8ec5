/**
 * The seed's `MetaClassifier(base_model, meta_model)`, done right: a task-conditioned model.
 *
 * The seed conditioned a classifier on a task *identity*, which cannot say anything about a
 * task it has never seen. Here the task is represented by a context vector c_i that is
 * *inferred from the task's support set* by a few gradient steps, starting from c = 0
 * (CAVIA, Zintgraf et al. 2019). The shared weights — the `base_model` (an embedding network)
 * and the `meta_model` (a FiLM generator mapping c to a per-feature scale γ and shift β, then
 * a linear head) — are meta-learned in the outer loop, through the context's inner updates
 * (second order). A new task gets its own c from its own support set, so the model works on
 * tasks it has never seen:
 *
 *     h = base.embed(x);  [γ, β] = W_film c + b_film;
 *     ŷ = relu((h ⊙ (1 + γ) + β) W_1 + b_1) W_head + b_head
 *
 * The hidden layer after the modulation matters: with a fixed linear head right after a
 * per-feature FiLM, a task could only re-weight features, not re-route them to its own
 * labels (CAVIA likewise modulates an inner layer, not the last one).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { torchDefaultUniform } from "../models/mod.ts";
import type { Rng } from "../random/mod.ts";
import {
  BaseMetaLearner,
  type ObjectiveInput,
  resolveObjective,
  type StackedInnerLoop,
  type TaskTerms,
} from "./base.ts";
import { accuracy, squaredNorm, taskLoss } from "./losses.ts";
import type {
  AdaptedModel,
  AdaptOptions,
  Episode,
  FunctionalModel,
  LabelledSet,
  TaskKind,
} from "./types.ts";

/** Options of {@linkcode MetaClassifier}. */
export interface MetaClassifierOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** Shape of one input (without the batch dimension), e.g. `[1]` or `[28, 28, 1]`; used to size the FiLM layer. */
  inputShape: number[];
  /** Outputs of the head: N ways (classification) or 1 (regression). */
  outputs: number;
  /** Classification (default) or regression. */
  kind?: TaskKind;
  /** Non-linearity of the hidden layer after the modulation (default `tf.relu`). */
  hiddenActivation?: (x: tf.Tensor) => tf.Tensor;
  /** Width of the hidden layer after the modulation (default: the feature size). */
  hiddenSize?: number;
  /** Size of the task context vector c (default 32). */
  contextSize?: number;
  /**
   * The meta-objective or its options. Defaults for the context's inner loop (CAVIA's):
   * 1 step at rate 1.0 (the context starts at 0 and is small, so a large rate is safe).
   */
  objective?: ObjectiveInput;
  /** Batch norm in training mode. Default true. */
  training?: boolean;
  /**
   * Run a regression meta-batch as one batched computation when the base model is
   * per-example (an MLP): the shared weights see all tasks' examples at once and only the
   * contexts `[T, contextSize]` are per task. Default true.
   */
  batched?: boolean;
}

/** CAVIA-style task-conditioned model (see module docs). */
export class MetaClassifier extends BaseMetaLearner {
  /** The base model (its `embed` gives the features that are modulated). */
  readonly base: FunctionalModel;
  /** Size of the context vector. */
  readonly contextSize: number;
  /** Size of the base model's feature vector. */
  readonly featureSize: number;
  /** Batch-norm mode. */
  readonly training: boolean;
  /** Whether regression meta-batches may run batched (see {@linkcode MetaClassifierOptions}). */
  readonly batched: boolean;
  #bodyCount: number;
  #activation: (x: tf.Tensor) => tf.Tensor;

  /** Makes a task-conditioned learner around `base` (its head, if any, is not used). */
  constructor(base: FunctionalModel, options: MetaClassifierOptions) {
    const contextSize = options.contextSize ?? 32;
    if (!Number.isInteger(contextSize) || contextSize < 1) {
      throw new RangeError(
        `metaClassifier: contextSize must be a positive integer, got ${contextSize}`,
      );
    }
    if (!Number.isInteger(options.outputs) || options.outputs < 1) {
      throw new RangeError(
        `metaClassifier: outputs must be a positive integer, got ${options.outputs}`,
      );
    }
    const all = base.init(options.rng);
    const body = all.slice(0, base.headStart);
    tf.dispose(all.slice(base.headStart));
    const featureSize = tf.tidy(() =>
      base.embed(body, tf.zeros([2, ...options.inputShape]), { training: true }).shape[1] as number
    );
    const film = [
      torchDefaultUniform(options.rng, [contextSize, 2 * featureSize], contextSize),
      tf.zeros([2 * featureSize]),
    ];
    const hidden = options.hiddenSize ?? featureSize;
    const head = [
      torchDefaultUniform(options.rng, [featureSize, hidden], featureSize),
      torchDefaultUniform(options.rng, [hidden], featureSize),
      torchDefaultUniform(options.rng, [hidden, options.outputs], hidden),
      torchDefaultUniform(options.rng, [options.outputs], hidden),
    ];
    super(
      "metaclassifier",
      options.kind ?? "classification",
      [...body, ...film, ...head],
      [
        ...base.paramSpecs.slice(0, base.headStart).map((s) => `base/${s.name}`),
        "meta/film/kernel",
        "meta/film/bias",
        "meta/hidden/kernel",
        "meta/hidden/bias",
        "meta/head/kernel",
        "meta/head/bias",
      ],
      resolveObjective(options.objective, { innerSteps: 1, innerLr: 1.0 }),
    );
    this.base = base;
    this.contextSize = contextSize;
    this.featureSize = featureSize;
    this.training = options.training ?? true;
    this.batched = options.batched ?? true;
    this.#bodyCount = base.headStart;
    this.#activation = options.hiddenActivation ?? tf.relu;
  }

  /** The conditioned forward pass for context `context` `[1, contextSize]`. */
  forward(params: tf.Tensor[], context: tf.Tensor, x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const n = this.#bodyCount;
      const [filmW, filmB, hiddenW, hiddenB, headW, headB] = params.slice(n);
      const h = this.base.embed(params.slice(0, n), x, { training: this.training });
      const gb = tf.add(tf.matMul(context, filmW), filmB); // [1, 2D]
      const [gamma, beta] = tf.split(gb, 2, 1);
      const modulated = tf.add(tf.mul(h, tf.add(1, gamma)), beta);
      const z = this.#activation(tf.add(tf.matMul(modulated, hiddenW), hiddenB));
      return tf.add(tf.matMul(z, headW), headB);
    });
  }

  /**
   * The conditioned forward pass for T tasks at once: `contexts` `[T, contextSize]`, `x` the
   * tasks' examples concatenated, `n` per task (`[T·n, …]`); returns `[T, n, outputs]`.
   * Only for a per-example base model (see {@linkcode FunctionalModel.perExample}).
   */
  forwardBatched(params: tf.Tensor[], contexts: tf.Tensor, x: tf.Tensor, n: number): tf.Tensor {
    return tf.tidy(() => {
      const b = this.#bodyCount;
      const tasks = contexts.shape[0];
      const [filmW, filmB, hiddenW, hiddenB, headW, headB] = params.slice(b);
      const h = this.base.embed(params.slice(0, b), x, { training: this.training });
      const gb = tf.add(tf.matMul(contexts, filmW), filmB); // [T, 2D]
      const [gamma, beta] = tf.split(gb, 2, 1).map((t) => tf.expandDims(t, 1)); // [T, 1, D]
      const perTask = tf.reshape(h, [tasks, n, this.featureSize]);
      const modulated = tf.add(tf.mul(perTask, tf.add(1, gamma)), beta);
      const flat = tf.reshape(modulated, [tasks * n, this.featureSize]);
      const z = this.#activation(tf.add(tf.matMul(flat, hiddenW), hiddenB));
      const out = tf.add(tf.matMul(z, headW), headB);
      return tf.reshape(out, [tasks, n, -1]);
    });
  }

  /**
   * A regression meta-batch as one computation (`canBatch`, `batchedGradients`), for a
   * per-example base: the contexts `C` `[T, contextSize]` are the only per-task state, and
   * task t's loss depends on row t alone.
   */
  protected override stackedInnerLoop(): StackedInnerLoop | undefined {
    if (!this.batched || !this.base.perExample) return undefined;
    return {
      start: (_params, tasks) => [tf.zeros([tasks, this.contextSize])],
      predict: (params, [contexts], x) => {
        const [tasks, n] = x.shape;
        const flat = tf.reshape(x, [tasks * n!, ...x.shape.slice(2)]);
        return this.forwardBatched(params, contexts, flat, n!);
      },
    };
  }

  /** Infers the task context from a support set: `steps` gradient steps from c = 0. */
  inferContext(params: tf.Tensor[], support: LabelledSet, steps?: number, lr?: number): tf.Tensor {
    const c = this.objective.config;
    const rate = lr ?? c.innerLr;
    let context: tf.Tensor = tf.zeros([1, this.contextSize]);
    for (let s = 0; s < (steps ?? c.innerSteps); s++) {
      const [g] = tf.grads((ctx: tf.Tensor) => {
        const l = taskLoss(this.kind, this.forward(params, ctx, support.x), support.y);
        return c.innerProximal > 0 ? tf.add(l, tf.mul(c.innerProximal / 2, squaredNorm([ctx]))) : l;
      })([context]);
      context = tf.sub(context, tf.mul(rate, g));
    }
    return context;
  }

  /** Query loss with the context inferred from the support set; ‖c − 0‖² as the proximal distance. */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const context = this.inferContext(params, task.support);
    const out = this.forward(params, context, task.query.x);
    return {
      loss: taskLoss(this.kind, out, task.query.y),
      proximal: squaredNorm([context]),
      accuracy: this.kind === "classification" ? accuracy(out, task.query.y) : undefined,
    };
  }

  /** Infers the context of a (possibly never seen) task from its support set. */
  adapt(support: LabelledSet, options: AdaptOptions = {}): AdaptedModel {
    const context = tf.tidy(() =>
      this.inferContext(this.params, support, options.steps, options.lr)
    );
    return {
      predict: (x) => this.forward(this.params, context, x),
      dispose: () => context.dispose(),
    };
  }
}
