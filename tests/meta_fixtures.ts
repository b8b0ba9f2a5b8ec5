/**
 * Small synthetic task distributions for the meta-learner tests: fast, real learning
 * problems whose answer is not known in advance.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../lib/random/mod.ts";
import type { Episode, TaskSampler } from "../lib/meta/mod.ts";

/**
 * N-way classification of Gaussian clusters in `dim` dimensions: each task draws N fresh
 * class centres ~ N(0, 2²I); points are centre + N(0, 1) noise. A learner must adapt to the
 * new centres from the K support points (class-major labels, like the Omniglot sampler).
 */
export function clusterTask(
  rng: Rng,
  { ways = 5, shots = 1, queries = 5, dim = 8 } = {},
): Episode {
  const centres = Array.from({ length: ways }, () => rng.normalArray(dim, 0, 2));
  const make = (per: number) => {
    const x = new Float32Array(ways * per * dim);
    const y = new Int32Array(ways * per);
    for (let c = 0; c < ways; c++) {
      for (let k = 0; k < per; k++) {
        const row = c * per + k;
        y[row] = c;
        for (let d = 0; d < dim; d++) x[row * dim + d] = centres[c][d] + rng.normal();
      }
    }
    return { x: tf.tensor2d(x, [ways * per, dim]), y: tf.tensor1d(y, "int32") };
  };
  return { support: make(shots), query: make(queries) };
}

/** A meta-batch sampler of {@linkcode clusterTask}s. */
export function clusterSampler(
  rng: Rng,
  options: Parameters<typeof clusterTask>[1] = {},
): TaskSampler {
  return (n) => Array.from({ length: n }, () => clusterTask(rng, options));
}
