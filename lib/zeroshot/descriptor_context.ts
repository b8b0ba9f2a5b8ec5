/**
 * A task's predictor from its description alone: a learned network g_ψ maps a task
 * descriptor d (for a sinusoid, its amplitude and phase) to the context c of a meta-trained
 * {@linkcode MetaClassifier} (CAVIA-style, Zintgraf et al. 2019), whose shared weights θ
 * stay fixed. CAVIA infers c from a support set by gradient steps from c = 0; here c comes
 * from d with no example at all (zero-shot), or g_ψ(d) is the *starting point* of those
 * steps (the descriptor as a prior, then adaptation):
 *
 *     zero-shot:  ŷ = f_θ(x; c = g_ψ(d))
 *     both:       c_0 = g_ψ(d),  c_{s+1} = c_s − α ∇_c L(f_θ(·; c_s); D_i)
 *
 * g_ψ is trained on meta-training tasks, end to end through the frozen f_θ: the loss is the
 * query MSE of f_θ(x; g_ψ(d)), so g_ψ learns whatever context does best on the task, not a
 * copy of the contexts CAVIA's inner loop happens to find.
 *
 * Why this can work for sinusoids: (A, b) determines the task exactly, and CAVIA's context
 * already encodes a task in a few numbers, so d → c is a smooth low-dimensional map. It fails
 * exactly where d stops determining the task: a noisy or incomplete descriptor (amplitude
 * without phase) gives one context for many functions.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mlp, type MlpModel } from "../models/mod.ts";
import type { Rng } from "../random/mod.ts";
import { type AdaptedModel, type LabelledSet, type MetaClassifier, taskLoss } from "../meta/mod.ts";

/** Options of {@linkcode DescriptorContext}. */
export interface DescriptorContextOptions {
  /** Seeded generator for g_ψ's initial weights. */
  rng: Rng;
  /** Length of a descriptor d. */
  descriptorSize: number;
  /** Hidden widths of g_ψ (default `[40, 40]`). */
  hidden?: number[];
  /** Adam's rate for ψ (default 1e-3). */
  lr?: number;
}

/** Descriptors and the query sets of T tasks, stacked, for {@linkcode DescriptorContext.step}. */
export interface DescribedBatch {
  /** Descriptors `[T, descriptorSize]`. */
  descriptors: tf.Tensor2D;
  /** Inputs `[T, n, 1]`. */
  x: tf.Tensor;
  /** Targets `[T, n, 1]`. */
  y: tf.Tensor;
}

/** Options of {@linkcode DescriptorContext.adapt}. */
export interface DescribedAdaptOptions {
  /** Gradient steps on the support set from g_ψ(d) (default 0: zero-shot). */
  steps?: number;
  /** Their step size (default: the MetaClassifier's inner rate). */
  lr?: number;
}

/**
 * The descriptor-conditioned model (see the module docs). It owns g_ψ; the MetaClassifier
 * stays the caller's (it is read, never updated).
 *
 * @example
 * ```ts
 * const mc = new MetaClassifier(mlp([1, 40, 40, 1]), {
 *   rng: new Rng(0), kind: "regression", inputShape: [1], outputs: 1, contextSize: 4,
 * });
 * // ... meta-train mc on sinusoid tasks ...
 * const zs = new DescriptorContext(mc, { rng: new Rng(1), descriptorSize: 2 });
 * zs.step({ descriptors, x, y }); // one Adam step of ψ on a batch of described tasks
 * const model = zs.adapt([0.3, -0.5]); // zero-shot: no support set
 * const yHat = model.predict(tf.tensor2d([[0], [1]])); // [2, 1]
 * model.dispose();
 * ```
 */
export class DescriptorContext {
  /** The meta-trained, task-conditioned model whose context g_ψ produces. */
  readonly learner: MetaClassifier;
  /** g_ψ as a functional MLP `[descriptorSize, hidden…, contextSize]`. */
  readonly encoder: MlpModel;
  /** ψ. */
  readonly params: tf.Variable[];
  /** Adam over ψ. */
  readonly optimizer: tf.Optimizer;
  /** Length of a descriptor. */
  readonly descriptorSize: number;

  /** Makes g_ψ for `learner`'s context (regression learners: the batched forward pass is used). */
  constructor(learner: MetaClassifier, options: DescriptorContextOptions) {
    const { descriptorSize } = options;
    if (!Number.isInteger(descriptorSize) || descriptorSize < 1) {
      throw new RangeError(
        `DescriptorContext: descriptorSize must be a positive integer, got ${descriptorSize}`,
      );
    }
    if (learner.kind !== "regression") {
      throw new Error(
        `DescriptorContext: expected a regression MetaClassifier, got kind "${learner.kind}"`,
      );
    }
    if (!learner.base.perExample) {
      // Training runs T tasks through `forwardBatched`, which needs a per-example base.
      throw new Error(
        `DescriptorContext: the MetaClassifier's base ${learner.base.name} is not per-example (an MLP is)`,
      );
    }
    this.learner = learner;
    this.descriptorSize = descriptorSize;
    this.encoder = mlp([descriptorSize, ...(options.hidden ?? [40, 40]), learner.contextSize]);
    this.params = this.encoder.init(options.rng).map((t) => {
      const v = tf.variable(t, true);
      t.dispose();
      return v;
    });
    this.optimizer = tf.train.adam(options.lr ?? 1e-3);
  }

  /** g_ψ(d) for descriptors `[T, descriptorSize]` → contexts `[T, contextSize]`. */
  contexts(descriptors: tf.Tensor, params: tf.Tensor[] = this.params): tf.Tensor2D {
    if (descriptors.rank !== 2 || descriptors.shape[1] !== this.descriptorSize) {
      throw new Error(
        `DescriptorContext: expected descriptors [T, ${this.descriptorSize}], got [${descriptors.shape}]`,
      );
    }
    return this.encoder.apply(params, descriptors) as tf.Tensor2D;
  }

  /** Query MSE of f_θ(x; g_ψ(d)) over a stacked batch, differentiable in `params` (ψ). */
  loss(batch: DescribedBatch, params: tf.Tensor[] = this.params): tf.Scalar {
    return tf.tidy(() => {
      const [tasks, n] = batch.x.shape;
      const flat = tf.reshape(batch.x, [tasks * n!, ...batch.x.shape.slice(2)]);
      const pred = this.learner.forwardBatched(
        this.learner.params,
        this.contexts(batch.descriptors, params),
        flat,
        n!,
      );
      return tf.mean(tf.square(tf.sub(pred, batch.y))) as tf.Scalar;
    });
  }

  /** One Adam step of ψ on `batch` (θ is not touched); returns the loss before the step. */
  step(batch: DescribedBatch): number {
    const { value, grads } = tf.variableGrads(() => this.loss(batch), this.params);
    this.optimizer.applyGradients(grads);
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  }

  /**
   * The predictor of the task described by `descriptor` (`null`: no description, start from
   * c = 0 as CAVIA does), refined by `steps` gradient steps of the context on `support`.
   */
  adapt(
    descriptor: ArrayLike<number> | null,
    support?: LabelledSet,
    options: DescribedAdaptOptions = {},
  ): AdaptedModel {
    const steps = options.steps ?? 0;
    if (!Number.isInteger(steps) || steps < 0) {
      throw new RangeError(`DescriptorContext.adapt: steps must be an integer ≥ 0, got ${steps}`);
    }
    if (steps > 0 && !support) {
      throw new Error(`DescriptorContext.adapt: ${steps} steps asked but no support set given`);
    }
    if (descriptor !== null && descriptor.length !== this.descriptorSize) {
      throw new RangeError(
        `DescriptorContext.adapt: expected a descriptor of length ${this.descriptorSize}, got ${descriptor.length}`,
      );
    }
    const lr = options.lr ?? this.learner.objective.config.innerLr;
    const theta = this.learner.params;
    const context = tf.tidy(() => {
      let c: tf.Tensor = descriptor === null
        ? tf.zeros([1, this.learner.contextSize])
        : this.contexts(tf.tensor2d(Array.from(descriptor), [1, this.descriptorSize]));
      for (let s = 0; s < steps; s++) {
        const [g] = tf.grads((ctx: tf.Tensor) =>
          taskLoss("regression", this.learner.forward(theta, ctx, support!.x), support!.y)
        )([c]);
        c = tf.sub(c, tf.mul(lr, g));
      }
      return c;
    });
    return {
      predict: (x) => this.learner.forward(theta, context, x),
      dispose: () => context.dispose(),
    };
  }

  /** Frees ψ and the optimiser's state. */
  dispose(): void {
    this.optimizer.dispose();
    tf.dispose(this.params);
  }
}
