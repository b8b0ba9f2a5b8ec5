/**
 * Transfer-learning baselines of few-shot classification (Chen, Liu, Kira, Wang & Huang 2019,
 * "A Closer Look at Few-shot Classification", ICLR): pretrain one classifier with ordinary
 * cross-entropy over all meta-training classes at once (no episodes), then, for each new
 * task, keep its feature extractor fixed and classify from the support set's features:
 *
 * - **Baseline**: a new linear head W·f(x) + b, trained on the support features;
 * - **Baseline++**: pretrained *and* fine-tuned with a cosine head, s · g_k · cos(f(x), w_k)
 *   (Chen et al.'s fixed scale s: 2 for ≤ 200 classes, 10 above; g_k a learned per-class norm,
 *   as their released code's `WeightNorm` has it; `learnedNorm: false` leaves it out);
 * - **nearest centroid**: no training at all, each class's mean feature as its prototype
 *   and the negative squared Euclidean distance as the logit (ProtoNet's rule on features
 *   that were not trained episodically, so a comparison with ProtoNet isolates the training).
 *
 * {@linkcode TransferBaseline} is a `MetaLearner`: `metaTrain` (and the experiments'
 * checkpointed training) pretrains it on the mini-batches of a {@linkcode ClassBatchSampler},
 * one batch per step, and `evaluate` scores its `adapt` on the same episodes as ProtoNet's
 * and MAML's. Chen et al.'s fine-tuning settings are {@linkcode CHEN_FINE_TUNE}.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LabelledDataset } from "../datasets/mod.ts";
import {
  accuracy,
  BaseMetaLearner,
  countWays,
  negativeSquaredDistances,
  type ObjectiveInput,
  prototypes,
  resolveObjective,
  type TaskSource,
  type TaskTerms,
} from "../meta/mod.ts";
import type {
  AdaptedModel,
  AdaptOptions,
  Episode,
  FunctionalModel,
  LabelledSet,
  MetaLearner,
} from "../meta/mod.ts";
import { softmaxCrossEntropy } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";

/** The head a classifier is pretrained with: linear (Baseline) or cosine (Baseline++). */
export type PretrainHead = "linear" | "cosine";

/** How a new task is classified from pretrained features. */
export type FewShotHead = "linear" | "cosine" | "centroid";

/** Options of the new head's training on a support set ({@linkcode fineTuneHead}). */
export interface FineTuneOptions {
  /** Passes over the support set (Chen et al.: 100). */
  epochs: number;
  /** Support examples per SGD step; the last batch of an epoch may be smaller (Chen et al.: 4). */
  batchSize: number;
  /** SGD rate (Chen et al.: 0.01). */
  lr: number;
  /** SGD momentum (Chen et al.: 0.9). */
  momentum: number;
  /** PyTorch's momentum dampening: buf ← m·buf + (1 − dampening)·g (Chen et al.: 0.9). */
  dampening: number;
  /** L2 weight decay added to the gradient, bias included (Chen et al.: 0.001). */
  weightDecay: number;
  /**
   * Seed of the head's initialisation and of the batch order. Every `adapt` call starts a
   * generator from it afresh, so an episode's result depends on the episode alone, not on
   * which episodes came before it.
   */
  seed: number;
}

/**
 * Chen et al.'s fine-tuning (their `baselinefinetune.py`): 100 epochs over the support set in
 * shuffled batches of 4, SGD with rate 0.01, momentum 0.9, dampening 0.9, weight decay 0.001.
 * An epoch is ⌈N·K / 4⌉ steps: 200 steps for 5-way 1-shot, 700 for 5-shot, 1,300 for 10-shot.
 */
export const CHEN_FINE_TUNE: Readonly<FineTuneOptions> = Object.freeze({
  epochs: 100,
  batchSize: 4,
  lr: 0.01,
  momentum: 0.9,
  dampening: 0.9,
  weightDecay: 0.001,
  seed: 0,
});

/**
 * Chen et al.'s cosine scale for a head of `classes` outputs: 2 for up to 200 classes, 10
 * above (their `distLinear`; a larger scale lets a many-class softmax become confident).
 */
export function chenCosineScale(classes: number): number {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`chenCosineScale: classes must be an integer ≥ 1, got ${classes}`);
  }
  return classes <= 200 ? 2 : 10;
}

/**
 * Baseline++'s logits: `scale · gain_k · cos(f_i, w_k)` for every feature row f_i of
 * `features` `[n, d]` and every column w_k of `weight` `[d, classes]`, each vector normalised
 * as Chen et al. normalise features, v / (‖v‖ + 1e-5). `gain` `[classes]` is the per-class
 * norm of their `WeightNorm` (absent: 1, the plain scaled cosine of the paper's text).
 * Differentiable in all inputs (built from primitive ops).
 *
 * @example
 * ```ts
 * // f = (3, 4), w_0 = (1, 0), w_1 = (0, 2): cosines 0.6 and 0.8, scaled by 2.
 * cosineLogits(tf.tensor2d([[3, 4]]), tf.tensor2d([[1, 0], [0, 2]]), 2).print(); // ≈ [[1.2, 1.6]]
 * ```
 */
export function cosineLogits(
  features: tf.Tensor,
  weight: tf.Tensor,
  scale: number,
  gain?: tf.Tensor,
): tf.Tensor2D {
  if (features.rank !== 2 || weight.rank !== 2 || features.shape[1] !== weight.shape[0]) {
    throw new Error(
      `cosineLogits: expected features [n, d] and weight [d, classes], got features ` +
        `[${features.shape}] and weight [${weight.shape}]`,
    );
  }
  if (gain && (gain.rank !== 1 || gain.shape[0] !== weight.shape[1])) {
    throw new Error(
      `cosineLogits: expected gain [${weight.shape[1]}] (one per class), got [${gain.shape}]`,
    );
  }
  return tf.tidy(() => {
    const rows = tf.div(features, tf.add(safeNorm(features, 1), COSINE_EPS));
    const columns = tf.div(weight, tf.add(safeNorm(weight, 0), COSINE_EPS));
    const cosines = tf.mul(scale, tf.matMul(rows, columns));
    return (gain ? tf.mul(cosines, gain) : cosines) as tf.Tensor2D;
  });
}

/** Chen et al.'s guard against a zero norm (`x.div(x_norm + 0.00001)`). */
const COSINE_EPS = 1e-5;

/**
 * ‖v‖ along `axis` (kept) whose gradient is 0, not NaN, at v = 0 (a feature vector that
 * ReLU zeroed entirely): √ of the squared norm floored at 1e-24, which changes no other value.
 */
function safeNorm(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-24));
}

/**
 * Logits of a head on `features` `[n, d]`: linear `[W, b]`, or cosine `[W]` / `[W, gain]`
 * ({@linkcode cosineLogits} at `scale`).
 */
export function headLogits(
  head: PretrainHead,
  params: tf.Tensor[],
  features: tf.Tensor,
  scale: number,
): tf.Tensor2D {
  if (head === "linear") {
    if (params.length !== 2) {
      throw new Error(`headLogits: a linear head has [kernel, bias], got ${params.length} tensors`);
    }
    return tf.tidy(() => tf.add(tf.matMul(features, params[0]), params[1]) as tf.Tensor2D);
  }
  if (params.length !== 1 && params.length !== 2) {
    throw new Error(
      `headLogits: a cosine head has [weight] or [weight, gain], got ${params.length} tensors`,
    );
  }
  return cosineLogits(features, params[0], scale, params[1]);
}

/** The per-column norms ‖w_k‖ of `weight` `[d, classes]`: a `WeightNorm` gain's initial value. */
export function columnNorms(weight: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.norm(weight, 2, 0) as tf.Tensor1D);
}

/**
 * The order in which {@linkcode fineTuneHead} visits `n` support examples over `epochs`
 * epochs: one shuffle per epoch, cut into batches of `batchSize` (the last one of an epoch
 * smaller when `batchSize` does not divide `n`), as PyTorch's loop over a permutation does.
 */
export function epochBatches(n: number, epochs: number, batchSize: number, rng: Rng): number[][] {
  const batches: number[][] = [];
  for (let e = 0; e < epochs; e++) {
    const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    for (let i = 0; i < n; i += batchSize) batches.push(order.slice(i, i + batchSize));
  }
  return batches;
}

/** Options of {@linkcode fineTuneHead}: the training, and the head's fixed scale and form. */
export interface HeadTraining extends FineTuneOptions {
  /** A cosine head's fixed scale (Chen et al.: {@linkcode chenCosineScale} of the ways). */
  scale: number;
  /** A cosine head with a learned per-class norm (default true, as Chen et al.'s code). */
  learnedNorm?: boolean;
}

/**
 * Trains a new head of `ways` outputs on fixed `features` `[n, d]` with int32 `labels`
 * `[n]`, as Chen et al. fine-tune (see {@linkcode CHEN_FINE_TUNE}): W initialised like
 * PyTorch's `nn.Linear` (U(±1/√d), the bias too; a cosine head's gain to ‖w_k‖, as
 * `WeightNorm` starts), then mini-batch SGD on the mean cross-entropy with PyTorch's
 * momentum rule: g ← ∇ + λ·p; buf ← g at the first step, else m·buf + (1 − dampening)·g;
 * p ← p − lr·buf. Returns the head's parameters (`[W, b]` linear, `[W, gain]` or `[W]`
 * cosine, W `[d, ways]`), which the caller owns.
 *
 * Written on plain arrays (float64) rather than tensors: a step on 4 rows of 64 features is
 * a few thousand multiply-adds, which tfjs spends ~3 ms dispatching (≈ 90 minutes over 600
 * episodes at 1, 5 and 10 shots for the two heads); here it takes microseconds. The tests
 * check it against the same steps taken with `tf.grads`.
 *
 * @example
 * ```ts
 * const head = fineTuneHead(features, labels, 5, "cosine", { ...CHEN_FINE_TUNE, scale: 2 });
 * const logits = headLogits("cosine", head, queryFeatures, 2);
 * ```
 */
export function fineTuneHead(
  features: tf.Tensor,
  labels: tf.Tensor,
  ways: number,
  head: PretrainHead,
  options: HeadTraining,
): tf.Tensor[] {
  const { epochs, batchSize, lr, momentum, dampening, weightDecay, seed, scale } = options;
  checkFineTune(options);
  if (features.rank !== 2 || labels.size !== features.shape[0]) {
    throw new Error(
      `fineTuneHead: expected features [n, d] and n labels, got features [${features.shape}] ` +
        `and labels [${labels.shape}]`,
    );
  }
  if (!Number.isInteger(ways) || ways < 1) {
    throw new RangeError(`fineTuneHead: ways must be an integer ≥ 1, got ${ways}`);
  }
  if (head === "cosine" && !(scale > 0 && Number.isFinite(scale))) {
    throw new RangeError(`fineTuneHead: a cosine head's scale must be > 0, got ${scale}`);
  }
  const [n, d] = features.shape as [number, number];
  const y = Int32Array.from(labels.dataSync());
  for (const label of y) {
    if (!(label >= 0 && label < ways)) {
      throw new RangeError(`fineTuneHead: label ${label} is outside 0 … ${ways - 1}`);
    }
  }
  const cosine = head === "cosine";
  // The rows as the head reads them: a cosine head sees each feature vector normalised.
  const x = Float64Array.from(features.dataSync());
  if (cosine) {
    for (let i = 0; i < n; i++) {
      let sq = 0;
      for (let j = 0; j < d; j++) sq += x[i * d + j] ** 2;
      const r = Math.sqrt(sq) + COSINE_EPS;
      for (let j = 0; j < d; j++) x[i * d + j] /= r;
    }
  }
  const rng = new Rng(seed);
  const bound = 1 / Math.sqrt(d);
  // The same draws, in the same order, as `torchDefaultUniform` for [d, ways] then [ways].
  const w = Float64Array.from(rng.uniformArray(d * ways, -bound, bound));
  const norms = new Float64Array(ways);
  const measure = () => {
    for (let k = 0; k < ways; k++) {
      let sq = 0;
      for (let j = 0; j < d; j++) sq += w[j * ways + k] ** 2;
      norms[k] = Math.sqrt(sq);
    }
  };
  // The second parameter: a linear head's bias, or a cosine head's gain (‖w_k‖ at first).
  let second: Float64Array | null = null;
  if (!cosine) second = Float64Array.from(rng.uniformArray(ways, -bound, bound));
  else if (options.learnedNorm ?? true) {
    measure();
    second = Float64Array.from(norms);
  }
  const params = second ? [w, second] : [w];
  const grads = params.map((p) => new Float64Array(p.length));
  const buffers = params.map((p) => new Float64Array(p.length));
  const wn = new Float64Array(d * ways); // a cosine head's normalised columns ŵ_k
  const c = new Float64Array(ways); // a row's cosines (cosine head) or logits before the bias
  const z = new Float64Array(ways);
  let first = true;
  for (const batch of epochBatches(n, epochs, batchSize, rng)) {
    if (cosine) {
      measure();
      for (let k = 0; k < ways; k++) {
        for (let j = 0; j < d; j++) wn[j * ways + k] = w[j * ways + k] / (norms[k] + COSINE_EPS);
      }
    }
    const weights = cosine ? wn : w;
    grads.forEach((g) => g.fill(0));
    for (const i of batch) {
      // Logits: linear x·w_k + b_k; cosine s · g_k · (x̂·ŵ_k).
      let max = -Infinity;
      for (let k = 0; k < ways; k++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += x[i * d + j] * weights[j * ways + k];
        c[k] = dot;
        z[k] = cosine ? scale * (second ? second[k] : 1) * dot : dot + second![k];
        max = Math.max(max, z[k]);
      }
      let total = 0;
      for (let k = 0; k < ways; k++) total += z[k] = Math.exp(z[k] - max);
      for (let k = 0; k < ways; k++) {
        // d(mean cross-entropy)/dz_ik = (softmax − one-hot) / batch size.
        const dz = (z[k] / total - (k === y[i] ? 1 : 0)) / batch.length;
        const dw = cosine ? scale * (second ? second[k] : 1) * dz : dz; // per unit of x̂·ŵ_k
        for (let j = 0; j < d; j++) grads[0][j * ways + k] += x[i * d + j] * dw;
        if (second) grads[1][k] += cosine ? scale * c[k] * dz : dz;
      }
    }
    if (cosine) {
      // Through ŵ = w / (r + ε), r = ‖w‖: dw = dŵ / (r + ε) − w (wᵀdŵ) / (r (r + ε)²).
      const g = grads[0];
      for (let k = 0; k < ways; k++) {
        const r = norms[k];
        let dot = 0;
        for (let j = 0; j < d; j++) dot += w[j * ways + k] * g[j * ways + k];
        const radial = r > 0 ? dot / (r * (r + COSINE_EPS) ** 2) : 0;
        for (let j = 0; j < d; j++) {
          g[j * ways + k] = g[j * ways + k] / (r + COSINE_EPS) - w[j * ways + k] * radial;
        }
      }
    }
    params.forEach((p, t) => {
      const g = grads[t];
      const buf = buffers[t];
      for (let q = 0; q < p.length; q++) {
        const step = g[q] + weightDecay * p[q];
        buf[q] = momentum === 0 || first ? step : momentum * buf[q] + (1 - dampening) * step;
        p[q] -= lr * buf[q];
      }
    });
    first = false;
  }
  const out: tf.Tensor[] = [tf.tensor2d(Float32Array.from(w), [d, ways])];
  if (second) out.push(tf.tensor1d(Float32Array.from(second)));
  return out;
}

function checkFineTune(o: FineTuneOptions): void {
  const integers = ["epochs", "batchSize"] as const;
  for (const key of integers) {
    const min = key === "epochs" ? 0 : 1;
    if (!Number.isInteger(o[key]) || o[key] < min) {
      throw new RangeError(`fine-tuning ${key} must be an integer ≥ ${min}, got ${o[key]}`);
    }
  }
  for (const key of ["lr", "momentum", "dampening", "weightDecay"] as const) {
    if (!Number.isFinite(o[key]) || o[key] < 0) {
      throw new RangeError(`fine-tuning ${key} must be a finite number ≥ 0, got ${o[key]}`);
    }
  }
  if (o.momentum >= 1 || o.dampening > 1) {
    throw new RangeError(
      `fine-tuning momentum must be < 1 and dampening ≤ 1, got momentum ${o.momentum}, ` +
        `dampening ${o.dampening}`,
    );
  }
}

/**
 * Mini-batches of ordinary supervised learning over `classes` of `dataset` (e.g. the 4,800
 * classes, 1,200 characters × 4 rotations, of Omniglot's training split): each sample is
 * `batchSize` examples drawn uniformly, with replacement across batches, from all examples of
 * those classes, labelled by the class's position in `classes` (0 … C − 1). As an `Episode`
 * its support set is the batch and its query set is empty, so it goes through `metaTrain`
 * and the experiments' checkpointed training like any task source.
 *
 * Drawing each batch on its own (not a shuffle per epoch) is what makes a run resumable
 * exactly: step t's batch depends on step t's generator alone. An "epoch" is then
 * `examples / batchSize` steps, the same number of examples seen as one pass.
 *
 * @example
 * ```ts
 * const batches = new ClassBatchSampler(splits.dataset, splits.train, 16);
 * batches.sample(new Rng(0)).support.x.shape; // [16, 28, 28, 1]
 * ```
 */
export class ClassBatchSampler implements TaskSource {
  /** The dataset the batches are read from. */
  readonly dataset: LabelledDataset;
  /** The classes, in label order. */
  readonly classes: Int32Array;
  /** Examples per batch. */
  readonly batchSize: number;
  /** Every example of the classes (dataset indices). */
  readonly examples: Int32Array;
  /** The label (class position) of each of `examples`. */
  readonly labels: Int32Array;

  /** Collects the examples of `classes`; throws when a class is unknown or has no examples. */
  constructor(dataset: LabelledDataset, classes: ArrayLike<number>, batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`ClassBatchSampler: batchSize must be an integer ≥ 1, got ${batchSize}`);
    }
    this.dataset = dataset;
    this.classes = Int32Array.from(classes);
    this.batchSize = batchSize;
    if (this.classes.length === 0) throw new RangeError("ClassBatchSampler: no classes");
    let total = 0;
    for (const c of this.classes) {
      if (!Number.isInteger(c) || c < 0 || c >= dataset.numClasses) {
        throw new RangeError(
          `ClassBatchSampler: class ${c} is outside ${dataset.name}'s ${dataset.numClasses} classes`,
        );
      }
      if (dataset.classExamples[c].length === 0) {
        throw new RangeError(`ClassBatchSampler: class ${dataset.classes[c].id} has no examples`);
      }
      total += dataset.classExamples[c].length;
    }
    this.examples = new Int32Array(total);
    this.labels = new Int32Array(total);
    let at = 0;
    this.classes.forEach((c, label) => {
      for (const e of dataset.classExamples[c]) {
        this.examples[at] = e;
        this.labels[at++] = label;
      }
    });
  }

  /** Number of classes (the pretraining head's outputs). */
  get numClasses(): number {
    return this.classes.length;
  }

  /** Steps of `batchSize` examples that see as many examples as one pass over the data. */
  get stepsPerEpoch(): number {
    return Math.ceil(this.examples.length / this.batchSize);
  }

  /** One mini-batch as an episode: support = the batch, query = empty. */
  sample(rng: Rng): Episode {
    const size = this.dataset.itemSize;
    const x = new Float32Array(this.batchSize * size);
    const y = new Int32Array(this.batchSize);
    for (let i = 0; i < this.batchSize; i++) {
      const pick = rng.int(this.examples.length);
      this.dataset.writeExample(this.examples[pick], x, i * size);
      y[i] = this.labels[pick];
    }
    const shape = this.dataset.itemShape;
    return {
      support: {
        x: tf.tensor(x, [this.batchSize, ...shape], "float32"),
        y: tf.tensor1d(y, "int32"),
      },
      query: {
        x: tf.tensor(new Float32Array(0), [0, ...shape], "float32"),
        y: tf.tensor1d(new Int32Array(0), "int32"),
      },
    };
  }
}

/** Options of {@linkcode TransferBaseline}. */
export interface TransferOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** The pretraining head: `"linear"` (Baseline, default) or `"cosine"` (Baseline++). */
  head?: PretrainHead;
  /** How a new task is classified (default: a new head of the pretraining head's kind). */
  fewShot?: FewShotHead;
  /**
   * Cosine heads (pretraining and new) with a learned per-class norm, as Chen et al.'s code
   * (`WeightNorm` in `distLinear`; default true); false: the plain scaled cosine.
   */
  learnedNorm?: boolean;
  /** The new head's training (default {@linkcode CHEN_FINE_TUNE}); unused by `"centroid"`. */
  fineTune?: Partial<FineTuneOptions>;
  /**
   * The pretraining objective or its options: Adam at `outerLr` (default 1e-3, as Chen et al.),
   * one mini-batch per step (`metaBatchSize` 1); inner-loop options are unused.
   */
  objective?: ObjectiveInput;
}

/** The learner name of a pretraining head and few-shot rule (Chen et al.'s names where they have one). */
export function transferName(head: PretrainHead, fewShot: FewShotHead): string {
  if (head === "linear" && fewShot === "linear") return "baseline";
  if (head === "cosine" && fewShot === "cosine") return "baseline++";
  if (head === "linear" && fewShot === "centroid") return "centroid";
  return `${head}-pretrained ${fewShot}`;
}

/** What evaluation needs of a learner: its name, its kind and `adapt`. */
export type FewShotClassifier = Pick<MetaLearner, "name" | "kind" | "adapt">;

/**
 * A classifier pretrained on all training classes with cross-entropy, which classifies a
 * new task from its fixed features (see the module docs). `model` is the pretraining network
 * with its head, e.g. `conv4({ inputShape: [28, 28, 1], outputs: 4800 })`: its body
 * (`params.slice(0, headStart)`) is the feature extractor. The head is linear (`head/kernel`,
 * `head/bias`, the bias starting at 0 as in Chen et al.'s `BaselineTrain`) or, for
 * Baseline++, cosine: the kernel read as class directions, and `head/gain` (starting at
 * ‖w_k‖) unless `learnedNorm` is false.
 *
 * @example
 * ```ts
 * const batches = new ClassBatchSampler(splits.dataset, splits.train, 16);
 * const baseline = new TransferBaseline(
 *   conv4({ inputShape: [28, 28, 1], outputs: batches.numClasses }),
 *   { rng: new Rng(0), head: "cosine" }, // Baseline++
 * );
 * await metaTrain(baseline, taskSampler(batches, new Rng(1)), { steps: 30_000 });
 * const test = EpisodeSampler.forSplit(splits, "test", { ways: 5, shots: 1, queries: 15 });
 * const rng = new Rng(2);
 * evaluate(baseline, () => test.sample(rng)).mean; // 5-way 1-shot accuracy
 * ```
 */
export class TransferBaseline extends BaseMetaLearner {
  /** The pretraining network (body and head). */
  readonly model: FunctionalModel;
  /** The pretraining head. */
  readonly head: PretrainHead;
  /** The few-shot rule of `adapt`. */
  readonly fewShot: FewShotHead;
  /** Whether cosine heads learn a per-class norm. */
  readonly learnedNorm: boolean;
  /** The new head's training. */
  readonly fineTune: Readonly<FineTuneOptions>;
  /** Pretraining classes (the head's outputs). */
  readonly classes: number;
  /** The pretraining head's cosine scale ({@linkcode chenCosineScale} of `classes`). */
  readonly scale: number;

  /** Makes the baseline over `model` (which must have a head). */
  constructor(model: FunctionalModel, options: TransferOptions) {
    const head = options.head ?? "linear";
    const fewShot = options.fewShot ?? head;
    const learnedNorm = options.learnedNorm ?? true;
    const kernel = model.paramSpecs[model.headStart];
    if (!kernel || kernel.shape.length !== 2) {
      throw new Error(
        `TransferBaseline: model ${model.name} needs a head (a [features, classes] kernel at ` +
          `headStart ${model.headStart}); build it with outputs = the number of training classes`,
      );
    }
    if (!["linear", "cosine"].includes(head)) {
      throw new RangeError(`TransferBaseline: head must be "linear" or "cosine", got "${head}"`);
    }
    if (!["linear", "cosine", "centroid"].includes(fewShot)) {
      throw new RangeError(
        `TransferBaseline: fewShot must be "linear", "cosine" or "centroid", got "${fewShot}"`,
      );
    }
    const h = model.headStart;
    const initial = model.init(options.rng);
    const body = initial.slice(0, h);
    const specs = model.paramSpecs.slice(0, h + 1).map((s) => s.name);
    let top: tf.Tensor[];
    if (head === "linear") {
      // Chen et al.'s BaselineTrain zeroes the bias: `classifier.bias.data.fill_(0)`.
      top = [initial[h], tf.zerosLike(initial[h + 1])];
      specs.push(model.paramSpecs[h + 1].name);
    } else {
      // distLinear has no bias; WeightNorm starts its gain at each class vector's norm.
      top = learnedNorm ? [initial[h], columnNorms(initial[h])] : [initial[h]];
      if (learnedNorm) specs.push("head/gain");
    }
    const unused = initial.slice(h).filter((t) => !top.includes(t));
    tf.dispose(unused);
    super(
      transferName(head, fewShot),
      "classification",
      [...body, ...top],
      specs,
      resolveObjective(options.objective, { innerSteps: 0, metaBatchSize: 1, outerLr: 0.001 }),
    );
    this.model = model;
    this.head = head;
    this.fewShot = fewShot;
    this.learnedNorm = learnedNorm;
    this.fineTune = Object.freeze({ ...CHEN_FINE_TUNE, ...(options.fineTune ?? {}) });
    checkFineTune(this.fineTune);
    this.classes = kernel.shape[1];
    this.scale = chenCosineScale(this.classes);
  }

  /** Features of `x` under body parameters `body` (batch statistics; differentiated once at most). */
  features(body: tf.Tensor[], x: tf.Tensor): tf.Tensor2D {
    return this.model.embed(body, x, { training: true, firstOrderOnly: true }) as tf.Tensor2D;
  }

  /** The pretraining logits `[n, classes]` of `x` for parameters `params`. */
  logits(params: tf.Tensor[], x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      const h = this.model.headStart;
      return headLogits(
        this.head,
        params.slice(h),
        this.features(params.slice(0, h), x),
        this.scale,
      );
    });
  }

  /** Cross-entropy over all classes on the batch (support and query pooled, empty sets skipped). */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const parts = [task.support, task.query].filter((s) => s.x.shape[0] > 0);
    if (parts.length === 0) throw new Error(`${this.name}: a pretraining batch with no examples`);
    const x = parts.length === 1 ? parts[0].x : tf.concat(parts.map((s) => s.x));
    const y = parts.length === 1 ? parts[0].y : tf.concat(parts.map((s) => s.y));
    const logits = this.logits(params, x);
    return { loss: softmaxCrossEntropy(logits, y), accuracy: accuracy(logits, y) };
  }

  /**
   * Classifies a new task from its support set with the fixed pretrained features:
   * a new head trained for `options.steps` epochs (default `fineTune.epochs`) at rate
   * `options.lr` (default `fineTune.lr`), or the class centroids (`"centroid"`: options unused).
   */
  adapt(support: LabelledSet, options: AdaptOptions = {}): AdaptedModel {
    return this.#adapt(this.fewShot, support, options);
  }

  /**
   * The same pretrained model with another few-shot rule, e.g. the nearest centroid on
   * Baseline's features. It shares this learner's parameters: dispose this one, not it.
   */
  withFewShot(fewShot: FewShotHead): FewShotClassifier {
    return {
      name: transferName(this.head, fewShot),
      kind: "classification",
      adapt: (support, options) => this.#adapt(fewShot, support, options),
    };
  }

  #adapt(fewShot: FewShotHead, support: LabelledSet, options: AdaptOptions = {}): AdaptedModel {
    const body = this.params.slice(0, this.model.headStart);
    const ways = countWays(support.y);
    const features = tf.tidy(() => this.features(body, support.x));
    let head: tf.Tensor[];
    let logits: (f: tf.Tensor) => tf.Tensor;
    try {
      if (fewShot === "centroid") {
        head = [prototypes(features, support.y, ways)];
        logits = (f) => negativeSquaredDistances(f, head[0]);
      } else {
        const scale = chenCosineScale(ways);
        head = fineTuneHead(features, support.y, ways, fewShot, {
          ...this.fineTune,
          epochs: options.steps ?? this.fineTune.epochs,
          lr: options.lr ?? this.fineTune.lr,
          scale,
          learnedNorm: this.learnedNorm,
        });
        logits = (f) => headLogits(fewShot, head, f, scale);
      }
    } finally {
      features.dispose();
    }
    return {
      predict: (x) => tf.tidy(() => logits(this.features(body, x))),
      dispose: () => tf.dispose(head),
    };
  }
}
