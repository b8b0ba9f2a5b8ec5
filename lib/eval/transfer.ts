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

import {
  checkFineTune,
  CHEN_FINE_TUNE,
  chenCosineScale,
  columnNorms,
  type FewShotHead,
  fineTuneHead,
  type FineTuneOptions,
  headLogits,
  type PretrainHead,
} from "./transfer_head.ts";

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
