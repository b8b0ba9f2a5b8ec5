/**
 * Mini-batches of a fixed training split for supervised (and distilled) training, with the
 * teacher's logits computed once for the whole split instead of once per batch: a big teacher's
 * forward pass would otherwise cost more than the small student's whole step.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LabelledDataset } from "../datasets/mod.ts";
import type { TaskSource } from "../meta/mod.ts";
import type { Rng } from "../random/mod.ts";
import type { Episode } from "../tasks/mod.ts";
import type { Teacher } from "./classifier.ts";

/** Options of {@linkcode ExampleBatches}. */
export interface ExampleBatchesOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Inputs as rows `[N, itemSize]` (for an MLP) instead of `[N, …itemShape]` (default false). */
  flatten?: boolean;
  /** The teacher's logits of every example of `indices`, row by row (`indices.length × C`). */
  teacherLogits?: Float32Array;
  /**
   * Shift each image by up to this many pixels in x and y (uniform integers, zero fill; default
   * 0): Hinton et al.'s "jittered" inputs, which regularise a teacher. Needs `[H, W, C]` items.
   */
  jitter?: number;
}

/**
 * Mini-batches drawn uniformly (with replacement across batches) from the examples `indices`
 * of `dataset`, each as an episode whose support set is the batch and whose query set is
 * empty (as `lib/eval`'s `ClassBatchSampler`): one batch per step of `metaTrain` or the
 * experiments' checkpointed training, step t's batch depending on step t's generator alone,
 * so a resumed run is exact.
 *
 * Given `teacherLogits` it is also the {@linkcode Teacher} of the batches it drew: `logits(x)`
 * of a batch's `x` returns the precomputed rows of that batch's examples (looked up by the
 * tensor itself, so nothing is recomputed). Any other tensor is an error naming the cause.
 *
 * @example
 * ```ts
 * const logits = teacherLogits(teacherOf(teacher), mnist, trainIndices, { flatten: true });
 * const batches = new ExampleBatches(mnist, trainIndices, {
 *   batchSize: 100, flatten: true, teacherLogits: logits,
 * });
 * const student = new Classifier(mlp([784, 30, 30, 10]), { rng, teacher: batches });
 * ```
 */
export class ExampleBatches implements TaskSource, Teacher {
  /** The dataset the examples are read from. */
  readonly dataset: LabelledDataset;
  /** The examples (dataset indices) batches are drawn from. */
  readonly indices: Int32Array;
  /** Examples per batch. */
  readonly batchSize: number;
  /** Whether inputs are rows. */
  readonly flatten: boolean;
  /** Maximum shift in pixels. */
  readonly jitter: number;
  readonly #teacherLogits: Float32Array | undefined;
  readonly #classes: number;
  readonly #drawn = new WeakMap<tf.Tensor, Int32Array>();

  /** Batches of the examples `indices` of `dataset`; see {@linkcode ExampleBatchesOptions}. */
  constructor(
    dataset: LabelledDataset,
    indices: ArrayLike<number>,
    options: ExampleBatchesOptions,
  ) {
    const { batchSize, flatten = false, teacherLogits, jitter = 0 } = options;
    if (!Number.isInteger(jitter) || jitter < 0 || (jitter > 0 && dataset.itemShape.length !== 3)) {
      throw new RangeError(
        `ExampleBatches: jitter must be an integer ≥ 0 on [H, W, C] items, got ${jitter} on ` +
          `[${dataset.itemShape}]`,
      );
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`ExampleBatches: batchSize must be an integer ≥ 1, got ${batchSize}`);
    }
    this.indices = Int32Array.from(indices);
    if (this.indices.length === 0) throw new RangeError("ExampleBatches: no examples");
    for (const i of this.indices) {
      if (!Number.isInteger(i) || i < 0 || i >= dataset.numExamples) {
        throw new RangeError(
          `ExampleBatches: example ${i} is outside ${dataset.name}'s ${dataset.numExamples}`,
        );
      }
    }
    if (teacherLogits && teacherLogits.length % this.indices.length !== 0) {
      throw new RangeError(
        `ExampleBatches: ${teacherLogits.length} teacher logits for ${this.indices.length} ` +
          `examples: expected a multiple (examples × classes)`,
      );
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.flatten = flatten;
    this.jitter = jitter;
    this.#teacherLogits = teacherLogits;
    this.#classes = teacherLogits ? teacherLogits.length / this.indices.length : 0;
  }

  /** Steps of `batchSize` examples that see as many examples as one pass over them. */
  get stepsPerEpoch(): number {
    return Math.ceil(this.indices.length / this.batchSize);
  }

  /** One mini-batch as an episode: support = the batch, query = empty. */
  sample(rng: Rng): Episode {
    const picks = new Int32Array(this.batchSize);
    for (let i = 0; i < this.batchSize; i++) picks[i] = rng.int(this.indices.length);
    const shape = this.flatten ? [this.dataset.itemSize] : [...this.dataset.itemShape];
    const episode: Episode = {
      support: this.#read(picks, shape, rng),
      query: {
        x: tf.tensor(new Float32Array(0), [0, ...shape], "float32"),
        y: tf.tensor1d(new Int32Array(0), "int32"),
      },
    };
    if (this.#teacherLogits) this.#drawn.set(episode.support.x, picks);
    return episode;
  }

  /** The inputs and labels of positions `picks` (into `indices`). */
  #read(picks: Int32Array, shape: number[], rng: Rng): { x: tf.Tensor; y: tf.Tensor } {
    const size = this.dataset.itemSize;
    const x = new Float32Array(picks.length * size);
    const y = new Int32Array(picks.length);
    const image = this.jitter > 0 ? new Float32Array(size) : null;
    picks.forEach((p, i) => {
      const example = this.indices[p];
      if (image) {
        this.dataset.writeExample(example, image, 0);
        const s = this.jitter;
        shiftInto(
          image,
          x,
          i * size,
          this.dataset.itemShape,
          rng.int(2 * s + 1) - s,
          rng.int(2 * s + 1) - s,
        );
      } else {
        this.dataset.writeExample(example, x, i * size);
      }
      y[i] = this.dataset.labels[example];
    });
    return { x: tf.tensor(x, [picks.length, ...shape], "float32"), y: tf.tensor1d(y, "int32") };
  }

  /** The precomputed teacher logits of a batch this sampler drew (`x` its support inputs). */
  logits(x: tf.Tensor): tf.Tensor {
    const picks = this.#drawn.get(x);
    if (!this.#teacherLogits || !picks) {
      throw new Error(
        this.#teacherLogits
          ? `ExampleBatches.logits: [${x.shape}] is not the input of a batch this sampler drew`
          : "ExampleBatches.logits: made without teacherLogits, so it is no teacher",
      );
    }
    const c = this.#classes;
    const out = new Float32Array(picks.length * c);
    picks.forEach((p, i) => out.set(this.#teacherLogits!.subarray(p * c, (p + 1) * c), i * c));
    return tf.tensor2d(out, [picks.length, c]);
  }
}

/** Writes `image` `[H, W, C]` shifted by (dx, dy) pixels into `out` at `offset`, zeros where it left. */
function shiftInto(
  image: Float32Array,
  out: Float32Array,
  offset: number,
  [h, w, c]: readonly number[],
  dx: number,
  dy: number,
): void {
  for (let r = 0; r < h; r++) {
    const from = r - dy;
    if (from < 0 || from >= h) continue;
    for (let col = 0; col < w; col++) {
      const src = col - dx;
      if (src < 0 || src >= w) continue;
      for (let k = 0; k < c; k++) {
        out[offset + (r * w + col) * c + k] = image[(from * w + src) * c + k];
      }
    }
  }
}

/**
 * `teacher`'s logits of the examples `indices` of `dataset`, in batches of `batchSize`
 * (default 500), as one array (`indices.length × C`, row by row): what
 * {@linkcode ExampleBatches} serves in place of the teacher's forward pass.
 */
export function teacherLogits(
  teacher: Teacher,
  dataset: LabelledDataset,
  indices: ArrayLike<number>,
  { flatten = false, batchSize = 500 }: { flatten?: boolean; batchSize?: number } = {},
): Float32Array {
  const all = Int32Array.from(indices);
  const shape = flatten ? [dataset.itemSize] : [...dataset.itemShape];
  const size = dataset.itemSize;
  const parts: Float32Array[] = [];
  for (let start = 0; start < all.length; start += batchSize) {
    const rows = all.subarray(start, Math.min(all.length, start + batchSize));
    const x = new Float32Array(rows.length * size);
    rows.forEach((e, i) => dataset.writeExample(e, x, i * size));
    parts.push(tf.tidy(() => {
      const input = tf.tensor(x, [rows.length, ...shape], "float32");
      return teacher.logits(input).dataSync() as Float32Array;
    }));
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
