/**
 * N-way K-shot Q-query episodes over any labelled dataset, built by the task transforms
 * `nWays → kShots → remapLabels → loadEpisode`. The data stays in the dataset's one typed
 * array; an episode copies its rows into a `Float32Array` and makes one tensor per array,
 * and a meta-batch of T episodes is filled into one array as well.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ClassSplits, LabelledDataset, SplitName } from "../datasets/mod.ts";
import type { Rng } from "../random/mod.ts";
import type { ClassificationTask, EpisodeMeta, MetaBatch } from "./task.ts";
import {
  composeTransforms,
  type EpisodeArrays,
  episodeArrays,
  type EpisodePlan,
  kShots,
  loadEpisode,
  nWays,
  nWaysWithinGroup,
  remapLabels,
} from "./transforms.ts";
import { checkCount, checkEpisodeSpec, type EpisodeSpec } from "./validate.ts";

/** Options of {@linkcode EpisodeSampler}. */
export interface EpisodeSamplerOptions {
  /** Name used in error messages (default "split"). */
  splitName?: string;
  /**
   * Draw the N classes of an episode from one group (`ClassInfo.group`, the alphabet of an
   * Omniglot character) instead of the whole split. Default false.
   */
  withinGroup?: boolean;
}

/**
 * Samples classification episodes from the classes of one split.
 *
 * Episodes are class-major: support labels are `[0 … 0, 1 … 1, …]` (K of each) and query
 * labels likewise (Q of each). The same `Rng` state always gives the same episode.
 *
 * @example
 * ```ts
 * const sampler = new EpisodeSampler(splits.dataset, splits.train, {
 *   ways: 5, shots: 1, queries: 15,
 * });
 * const task = sampler.sample(new Rng(0)); // support.x [5, 28, 28, 1], query.x [75, 28, 28, 1]
 * ```
 */
export class EpisodeSampler {
  /** The dataset episodes are drawn from. */
  readonly dataset: LabelledDataset;
  /** The classes episodes may use. */
  readonly classes: Int32Array;
  /** Ways, shots and queries. */
  readonly spec: Readonly<EpisodeSpec>;
  #plan: (rng: Rng) => EpisodePlan;

  /** Validates the spec against the split before any sampling (see `checkEpisodeSpec`). */
  constructor(
    dataset: LabelledDataset,
    classes: ArrayLike<number>,
    spec: EpisodeSpec,
    options: EpisodeSamplerOptions = {},
  ) {
    checkEpisodeSpec(spec, dataset, classes, options.splitName ?? "split");
    this.dataset = dataset;
    this.classes = Int32Array.from(classes);
    this.spec = { ways: spec.ways, shots: spec.shots, queries: spec.queries };
    this.#plan = composeTransforms([
      options.withinGroup
        ? nWaysWithinGroup(dataset, this.classes, spec.ways)
        : nWays(this.classes, spec.ways),
      kShots(dataset, spec.shots + spec.queries),
      remapLabels(),
    ]);
  }

  /** A sampler for one split of `splits` (train, val or test). */
  static forSplit(
    splits: ClassSplits,
    split: SplitName,
    spec: EpisodeSpec,
    options: Omit<EpisodeSamplerOptions, "splitName"> = {},
  ): EpisodeSampler {
    return new EpisodeSampler(splits.dataset, splits[split], spec, {
      ...options,
      splitName: `${split} split`,
    });
  }

  /** Draws the plan (classes and examples) of one episode without loading any data. */
  plan(rng: Rng): EpisodePlan {
    return this.#plan(rng);
  }

  #meta(plan: EpisodePlan, arrays: EpisodeArrays, t: number): EpisodeMeta {
    const { ways, shots, queries } = this.spec;
    return {
      ways,
      shots,
      queries,
      classes: plan.classes,
      classIds: plan.classes.map((c) => this.dataset.classes[c].id),
      supportIndices: arrays.supportIndices.slice(t * ways * shots, (t + 1) * ways * shots),
      queryIndices: arrays.queryIndices.slice(t * ways * queries, (t + 1) * ways * queries),
    };
  }

  /** Samples the flat arrays of one episode (no tensors). */
  sampleArrays(rng: Rng): { arrays: EpisodeArrays; meta: EpisodeMeta } {
    const plan = this.#plan(rng);
    const arrays = loadEpisode(this.dataset, plan, this.spec.shots, this.spec.queries);
    return { arrays, meta: this.#meta(plan, arrays, 0) };
  }

  /** Samples one episode as tensors: x `[N·K, ...itemShape]`, y int32 `[N·K]`. */
  sample(rng: Rng): ClassificationTask {
    const { arrays, meta } = this.sampleArrays(rng);
    const { ways, shots, queries } = this.spec;
    const shape = this.dataset.itemShape;
    return {
      support: {
        x: tf.tensor(arrays.supportX, [ways * shots, ...shape], "float32"),
        y: tf.tensor1d(arrays.supportY, "int32"),
      },
      query: {
        x: tf.tensor(arrays.queryX, [ways * queries, ...shape], "float32"),
        y: tf.tensor1d(arrays.queryY, "int32"),
      },
      meta,
    };
  }

  /**
   * Samples `tasks` episodes as one stacked meta-batch: `support.x` `[T, N·K, ...itemShape]`,
   * `support.y` `[T, N·K]`, and likewise for the query set. Episode t is the one that
   * `sample` would have returned for the t-th call with the same `rng`.
   */
  sampleBatch(rng: Rng, tasks: number): MetaBatch<EpisodeMeta> {
    checkCount("tasks", tasks, 1);
    const { ways, shots, queries } = this.spec;
    const perS = ways * shots;
    const perQ = ways * queries;
    const arrays = episodeArrays(tasks * perS, tasks * perQ, this.dataset.itemSize);
    const plans: EpisodePlan[] = [];
    for (let t = 0; t < tasks; t++) {
      const plan = this.#plan(rng);
      plans.push(plan);
      loadEpisode(this.dataset, plan, shots, queries, {
        arrays,
        supportOffset: t * perS,
        queryOffset: t * perQ,
      });
    }
    const shape = this.dataset.itemShape;
    return {
      support: {
        x: tf.tensor(arrays.supportX, [tasks, perS, ...shape], "float32"),
        y: tf.tensor(arrays.supportY, [tasks, perS], "int32"),
      },
      query: {
        x: tf.tensor(arrays.queryX, [tasks, perQ, ...shape], "float32"),
        y: tf.tensor(arrays.queryY, [tasks, perQ], "int32"),
      },
      metas: plans.map((p, t) => this.#meta(p, arrays, t)),
    };
  }
}
