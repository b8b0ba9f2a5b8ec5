/**
 * Episode sampling as a chain of small task transforms, in the spirit of learn2learn's
 * `NWays`, `KShots`, `LoadData` and `RemapLabels`: each piece takes an episode plan and an
 * `Rng` and returns a new plan; {@linkcode loadEpisode} turns a finished plan into arrays.
 * @module
 */
import type { LabelledDataset } from "../datasets/mod.ts";
import type { Rng } from "../random/mod.ts";

/** A partially built episode: which classes, which examples, which labels. */
export interface EpisodePlan {
  /** Chosen dataset classes; the episode's i-th class is `classes[i]`. */
  classes: number[];
  /** For each chosen class, the chosen example indices (support first, then query). */
  examples: Int32Array[];
  /** Label used for each chosen class (dataset class index until remapped). */
  labels: number[];
}

/** One step of episode construction. */
export type TaskTransform = (plan: EpisodePlan, rng: Rng) => EpisodePlan;

/** An empty plan to start a chain from. */
export function emptyPlan(): EpisodePlan {
  return { classes: [], examples: [], labels: [] };
}

/** Chooses `n` distinct classes from `pool` (uniformly, in random order). */
export function nWays(pool: ArrayLike<number>, n: number): TaskTransform {
  return (_plan, rng) => {
    const picks = rng.choose(pool.length, n);
    const classes = picks.map((i) => pool[i]);
    return { classes, examples: [], labels: [...classes] };
  };
}

/**
 * Chooses a group (e.g. an Omniglot alphabet, from `ClassInfo.group`) uniformly among the
 * groups of `pool` with at least `n` classes, then `n` distinct classes of that group:
 * "within-alphabet" episodes, harder than episodes that mix alphabets. Throws at
 * construction when no group has `n` classes in the pool, or a class has no group.
 */
export function nWaysWithinGroup(
  dataset: LabelledDataset,
  pool: ArrayLike<number>,
  n: number,
): TaskTransform {
  const byGroup = new Map<string, number[]>();
  for (let i = 0; i < pool.length; i++) {
    const group = dataset.classes[pool[i]].group;
    if (group === undefined) {
      throw new RangeError(`class ${dataset.classes[pool[i]].id} has no group (e.g. alphabet)`);
    }
    const list = byGroup.get(group) ?? [];
    list.push(pool[i]);
    byGroup.set(group, list);
  }
  const eligible = [...byGroup.entries()].filter(([, classes]) => classes.length >= n);
  if (eligible.length === 0) {
    const largest = Math.max(0, ...[...byGroup.values()].map((c) => c.length));
    throw new RangeError(
      `ways=${n} is more than the classes of any one group (the largest has ${largest})`,
    );
  }
  return (_plan, rng) => {
    const [, classesOfGroup] = eligible[rng.int(eligible.length)];
    const classes = rng.choose(classesOfGroup.length, n).map((i) => classesOfGroup[i]);
    return { classes, examples: [], labels: [...classes] };
  };
}

/** Chooses `count` distinct examples of each chosen class (uniformly, in random order). */
export function kShots(dataset: LabelledDataset, count: number): TaskTransform {
  return (plan, rng) => {
    const examples = plan.classes.map((c) => {
      const all = dataset.classExamples[c];
      return Int32Array.from(rng.choose(all.length, count), (i) => all[i]);
    });
    return { ...plan, examples };
  };
}

/** Relabels the chosen classes 0 … N−1 in the order they were chosen. */
export function remapLabels(): TaskTransform {
  return (plan) => ({ ...plan, labels: plan.classes.map((_, i) => i) });
}

/** Applies `transforms` left to right, starting from an empty plan. */
export function composeTransforms(transforms: TaskTransform[]): (rng: Rng) => EpisodePlan {
  return (rng) => transforms.reduce((plan, t) => t(plan, rng), emptyPlan());
}

/** Flat arrays of one episode, class-major (see {@linkcode loadEpisode}). */
export interface EpisodeArrays {
  supportX: Float32Array;
  supportY: Int32Array;
  queryX: Float32Array;
  queryY: Int32Array;
  supportIndices: Int32Array;
  queryIndices: Int32Array;
}

/** Zeroed arrays for `supportRows` support and `queryRows` query examples of `itemSize` values. */
export function episodeArrays(
  supportRows: number,
  queryRows: number,
  itemSize: number,
): EpisodeArrays {
  return {
    supportX: new Float32Array(supportRows * itemSize),
    supportY: new Int32Array(supportRows),
    queryX: new Float32Array(queryRows * itemSize),
    queryY: new Int32Array(queryRows),
    supportIndices: new Int32Array(supportRows),
    queryIndices: new Int32Array(queryRows),
  };
}

/**
 * Copies a plan's examples into flat arrays: for each class, its first `shots` examples go
 * to the support set and the next `queries` to the query set, class-major. When `into` is
 * given, values are written there at the given offsets (used to fill a whole meta-batch
 * with one allocation and one tensor per array).
 */
export function loadEpisode(
  dataset: LabelledDataset,
  plan: EpisodePlan,
  shots: number,
  queries: number,
  into?: { arrays: EpisodeArrays; supportOffset: number; queryOffset: number },
): EpisodeArrays {
  const n = plan.classes.length;
  const size = dataset.itemSize;
  const arrays = into?.arrays ?? episodeArrays(n * shots, n * queries, size);
  let s = into?.supportOffset ?? 0; // row offsets
  let q = into?.queryOffset ?? 0;
  for (let i = 0; i < n; i++) {
    const ex = plan.examples[i];
    if (ex.length < shots + queries) {
      throw new RangeError(
        `plan has ${ex.length} examples for class ${plan.classes[i]}, needs ${shots + queries}`,
      );
    }
    for (let k = 0; k < shots; k++, s++) {
      dataset.writeExample(ex[k], arrays.supportX, s * size);
      arrays.supportY[s] = plan.labels[i];
      arrays.supportIndices[s] = ex[k];
    }
    for (let k = shots; k < shots + queries; k++, q++) {
      dataset.writeExample(ex[k], arrays.queryX, q * size);
      arrays.queryY[q] = plan.labels[i];
      arrays.queryIndices[q] = ex[k];
    }
  }
  return arrays;
}
