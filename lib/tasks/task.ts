/**
 * The task type. A task T_i has a training (support) set D_i, on which a learner adapts, and
 * a test (query) set D'_i, on which the adapted learner is scored; a task set is
 * T = {T_1 … T_n}. Tasks carry their metadata: the source classes of a classification
 * episode, or the generating parameters of a regression task.
 *
 * Classification episodes are class-major: support labels are `[0 × K, 1 × K, …, N−1 × K]`
 * and query labels `[0 × Q, 1 × Q, …]`, with examples in the same order.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** Inputs and targets of one set (support or query). */
export interface LabelledTensors {
  /** Inputs, `[count, ...itemShape]` (classification) or `[count, 1]` (regression). */
  x: tf.Tensor;
  /** Targets: int32 labels `[count]` (classification) or float32 `[count, 1]` (regression). */
  y: tf.Tensor;
}

/** A task: its support set D_i, its query set D'_i, and its metadata. */
export interface Task<M> {
  /** The training set D_i the learner adapts on. */
  support: LabelledTensors;
  /** The test set D'_i the adapted learner is scored on. */
  query: LabelledTensors;
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
 * `support.y` `[T, N·K]`, and `metas[t]` describes task t.
 */
export interface MetaBatch<M> {
  support: LabelledTensors;
  query: LabelledTensors;
  /** One metadata record per task, in batch order. */
  metas: M[];
}

/** Disposes the tensors of a task or a meta-batch. */
export function disposeTask(task: { support: LabelledTensors; query: LabelledTensors }): void {
  task.support.x.dispose();
  task.support.y.dispose();
  task.query.x.dispose();
  task.query.y.dispose();
}
