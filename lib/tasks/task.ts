/**
 * The task type. A task T_i has a training (support) set D_i, on which a learner adapts, and
 * a test (query) set D'_i, on which the adapted learner is scored; a task set is
 * T = {T_1 … T_n}. Tasks carry their metadata: the source classes of a classification
 * episode, or the generating parameters of a regression task.
 *
 * The {@linkcode Episode} (support and query sets) and {@linkcode LabelledSet} types defined
 * here are the ones every layer above uses (`lib/meta`'s learners take episodes).
 *
 * Classification episodes are class-major: support labels are `[0 × K, 1 × K, …, N−1 × K]`
 * and query labels `[0 × Q, 1 × Q, …]`, with examples in the same order.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A labelled set (support or query): inputs `x` and targets `y`. */
export interface LabelledSet {
  /** Inputs, `[count, ...itemShape]` (classification) or `[count, 1]` (regression). */
  x: tf.Tensor;
  /** Targets: int32 labels `[count]` (classification) or float32 `[count, 1]` (regression). */
  y: tf.Tensor;
}

/**
 * What a learner needs of a task: its support set D_i and its query set D'_i. Structural:
 * any object with these two sets is an episode (a {@linkcode Task} with its metadata, a
 * stacked {@linkcode MetaBatch}, or one built by hand in a test).
 */
export interface Episode {
  /** The training set D_i the learner adapts on. */
  support: LabelledSet;
  /** The test set D'_i the adapted learner is scored on. */
  query: LabelledSet;
}

/** A task: an {@linkcode Episode} with the metadata of where it came from. */
export interface Task<M> extends Episode {
  /** Where the task came from. */
  meta: M;
}

/** Metadata of an N-way K-shot Q-query classification episode. */
export interface EpisodeMeta {
  /** Number of classes N. */
  ways: number;
  /** Support examples per class K. */
  shots: number;
  /** Query examples per class Q. */
  queries: number;
  /** Dataset class index of each episode label (label i ↔ `classes[i]`). */
  classes: number[];
  /** Class ids (e.g. "Latin/character01@rot90"), in label order. */
  classIds: string[];
  /** Dataset example indices of the support set, in tensor order. */
  supportIndices: Int32Array;
  /** Dataset example indices of the query set, in tensor order. */
  queryIndices: Int32Array;
}

/** Metadata of a regression task: the generating parameters of its function. */
export interface RegressionMeta<P> {
  /** Name of the function family. */
  family: string;
  /** The parameters the task's function was generated with. */
  params: P;
}

/** An N-way K-shot Q-query classification task. */
export type ClassificationTask = Task<EpisodeMeta>;
/** A regression task with generating parameters `P`. */
export type RegressionTask<P> = Task<RegressionMeta<P>>;

/**
 * A meta-batch of T tasks of the same shape, stacked: `support.x` is `[T, N·K, ...]`,
 * `support.y` `[T, N·K]` (classification) or `[T, K, 1]` (regression), and `metas[t]`
 * describes task t. The samplers' `sampleBatch` fills one array per tensor.
 */
export interface MetaBatch<M> extends Episode {
  /** One metadata record per task, in batch order. */
  metas: M[];
}

/**
 * Disposes the tensors of an episode, a task, a meta-batch, or a list of them.
 *
 * @example
 * ```ts
 * const task = sampler.sample(rng);
 * // ... adapt and score ...
 * disposeTask(task);
 * disposeTask([sampler.sample(rng), sampler.sample(rng)]); // a list works too
 * ```
 */
export function disposeTask(tasks: Episode | readonly Episode[]): void {
  const list: readonly Episode[] = Array.isArray(tasks) ? tasks : [tasks as Episode];
  for (const t of list) tf.dispose([t.support.x, t.support.y, t.query.x, t.query.y]);
}

/**
 * Whether every episode's support and query sets have the same shapes as the first's: the
 * condition for stacking them ({@linkcode stackTasks}).
 */
export function sameShapes(tasks: readonly Episode[]): boolean {
  const key = (t: Episode) =>
    [t.support.x.shape, t.support.y.shape, t.query.x.shape, t.query.y.shape].join("|");
  return tasks.every((t) => key(t) === key(tasks[0]));
}

/**
 * Stacks T episodes of equal shapes into the {@linkcode MetaBatch} layout: `support.x`
 * `[T, ...support.x.shape]`, and likewise for the other three tensors. Returns new tensors
 * (the caller disposes them); the episodes are left as they are.
 *
 * @example
 * ```ts
 * const batch = stackTasks([a, b, c]); // support.x [3, K, 1] for regression tasks a, b, c
 * disposeTask(batch);
 * ```
 */
export function stackTasks(tasks: readonly Episode[]): Episode {
  if (tasks.length === 0) throw new RangeError("stackTasks: expected at least one episode, got 0");
  if (!sameShapes(tasks)) {
    const shapes = (t: Episode) =>
      `support x [${t.support.x.shape}] y [${t.support.y.shape}], ` +
      `query x [${t.query.x.shape}] y [${t.query.y.shape}]`;
    const odd = tasks.findIndex((t) => !sameShapes([tasks[0], t]));
    throw new Error(
      `stackTasks: episodes must have equal shapes; episode 0 has ${shapes(tasks[0])}, ` +
        `episode ${odd} has ${shapes(tasks[odd])}`,
    );
  }
  const stack = (pick: (t: Episode) => tf.Tensor) => tf.stack(tasks.map(pick));
  return {
    support: { x: stack((t) => t.support.x), y: stack((t) => t.support.y) },
    query: { x: stack((t) => t.query.x), y: stack((t) => t.query.y) },
  };
}
