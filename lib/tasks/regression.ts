/**
 * Regression task distributions: each task is a function drawn from a family with known
 * generating parameters (e.g. a sinusoid's amplitude and phase), with K support and Q query
 * points drawn uniformly from the family's input range.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { FunctionFamily } from "../datasets/mod.ts";
import type { Rng } from "../random/mod.ts";
import type { MetaBatch, RegressionMeta, RegressionTask } from "./task.ts";
import { checkCount } from "./validate.ts";

/** Support and query sizes of a regression task. */
export interface RegressionSpec {
  /** Support points K (≥ 0). */
  shots: number;
  /** Query points Q (≥ 0). */
  queries: number;
}

/** Flat arrays of one regression task. */
export interface RegressionArrays<P> {
  params: P;
  supportX: Float32Array;
  supportY: Float32Array;
  queryX: Float32Array;
  queryY: Float32Array;
}

/**
 * Samples regression tasks from a function family. For each task the parameters are drawn
 * first, then the K support inputs, then the Q query inputs, all from the given `Rng`.
 *
 * @example
 * ```ts
 * const tasks = new RegressionTaskSampler(new SinusoidFamily(), { shots: 10, queries: 10 });
 * const batch = tasks.sampleBatch(new Rng(0), 25); // support.x [25, 10, 1]
 * batch.metas[0].params; // { amplitude, phase }
 * ```
 */
export class RegressionTaskSampler<P> {
  /** The function family. */
  readonly family: FunctionFamily<P>;
  /** Support and query sizes. */
  readonly spec: Readonly<RegressionSpec>;

  constructor(family: FunctionFamily<P>, spec: RegressionSpec) {
    checkCount("shots", spec.shots);
    checkCount("queries", spec.queries);
    if (spec.shots + spec.queries < 1) {
      throw new RangeError(`shots + queries must be ≥ 1, got ${spec.shots} + ${spec.queries}`);
    }
    this.family = family;
    this.spec = { shots: spec.shots, queries: spec.queries };
  }

  /** Samples one task as flat arrays (no tensors). */
  sampleArrays(rng: Rng): RegressionArrays<P> {
    const params = this.family.sampleParams(rng);
    const [lo, hi] = this.family.inputRange;
    const supportX = rng.uniformArray(this.spec.shots, lo, hi);
    const queryX = rng.uniformArray(this.spec.queries, lo, hi);
    return {
      params,
      supportX,
      supportY: this.family.evaluate(params, supportX),
      queryX,
      queryY: this.family.evaluate(params, queryX),
    };
  }

  /** Samples one task: x and y are `[K, 1]` (support) and `[Q, 1]` (query). */
  sample(rng: Rng): RegressionTask<P> {
    const a = this.sampleArrays(rng);
    const { shots: k, queries: q } = this.spec;
    return {
      support: { x: tf.tensor2d(a.supportX, [k, 1]), y: tf.tensor2d(a.supportY, [k, 1]) },
      query: { x: tf.tensor2d(a.queryX, [q, 1]), y: tf.tensor2d(a.queryY, [q, 1]) },
      meta: { family: this.family.name, params: a.params },
    };
  }

  /** Samples `tasks` tasks stacked: x and y `[T, K, 1]` and `[T, Q, 1]`. */
  sampleBatch(rng: Rng, tasks: number): MetaBatch<RegressionMeta<P>> {
    checkCount("tasks", tasks, 1);
    const { shots: k, queries: q } = this.spec;
    const sx = new Float32Array(tasks * k);
    const sy = new Float32Array(tasks * k);
    const qx = new Float32Array(tasks * q);
    const qy = new Float32Array(tasks * q);
    const metas: RegressionMeta<P>[] = [];
    for (let t = 0; t < tasks; t++) {
      const a = this.sampleArrays(rng);
      sx.set(a.supportX, t * k);
      sy.set(a.supportY, t * k);
      qx.set(a.queryX, t * q);
      qy.set(a.queryY, t * q);
      metas.push({ family: this.family.name, params: a.params });
    }
    return {
      support: { x: tf.tensor3d(sx, [tasks, k, 1]), y: tf.tensor3d(sy, [tasks, k, 1]) },
      query: { x: tf.tensor3d(qx, [tasks, q, 1]), y: tf.tensor3d(qy, [tasks, q, 1]) },
      metas,
    };
  }
}
