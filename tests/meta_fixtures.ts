/**
 * Small synthetic task distributions for the meta-learner tests: fast, real learning
 * problems whose answer is not known in advance.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../lib/random/mod.ts";
import { conv4, expFromInput, softmaxCrossEntropy } from "../lib/models/mod.ts";
import type { Episode, FunctionalModel, TaskSampler } from "../lib/meta/mod.ts";

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

/**
 * A smooth MLP (softplus hidden units, written with the second-order-safe `expFromInput`) for
 * finite-difference checks: ReLU's kinks make finite differences unreliable.
 */
export function smoothMlp(sizes: number[]): FunctionalModel {
  const specs = sizes.slice(0, -1).flatMap((n, l) => [
    { name: `layer${l}/kernel`, shape: [n, sizes[l + 1]] },
    { name: `layer${l}/bias`, shape: [sizes[l + 1]] },
  ]);
  const layers = sizes.length - 1;
  const embed = (params: tf.Tensor[], x: tf.Tensor) =>
    tf.tidy(() => {
      let h = x;
      for (let l = 0; l < layers - 1; l++) {
        const z = tf.add(tf.matMul(h, params[2 * l]), params[2 * l + 1]);
        h = tf.log(tf.add(1, expFromInput(z)));
      }
      return h;
    });
  return {
    name: `smooth-mlp(${sizes.join("-")})`,
    paramSpecs: specs,
    headStart: 2 * (layers - 1),
    perExample: true,
    init: (rng: Rng) =>
      specs.map((s) =>
        tf.tensor(rng.normalArray(s.shape.reduce((a, b) => a * b, 1), 0, 0.5), s.shape)
      ),
    embed,
    apply: (params, x) =>
      tf.tidy(() =>
        tf.add(tf.matMul(embed(params, x), params[2 * (layers - 1)]), params[2 * layers - 1])
      ),
  };
}

/**
 * A small MAML problem: Conv-4 (8 filters, 32×32 input, so the last block still has 2×2
 * positions for batch norm), 5-way 1-shot, 2 queries per class, inner SGD step 0.4: the
 * second-order gradient checks of tests/gradients_test.ts and tests/native_backend_test.ts.
 */
export function conv4MamlProblem(seed: number) {
  const rng = new Rng(seed);
  const model = conv4({ inputShape: [32, 32, 1], outputs: 5, filters: 8 });
  const params = model.init(rng);
  const xs = tf.tensor(rng.normalArray(5 * 32 * 32), [5, 32, 32, 1]);
  const ys = tf.tensor1d([0, 1, 2, 3, 4], "int32");
  const xq = tf.tensor(rng.normalArray(10 * 32 * 32), [10, 32, 32, 1]);
  const yq = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], "int32");
  const innerLr = 0.4;
  const loss = (p: tf.Tensor[], x: tf.Tensor, y: tf.Tensor) =>
    softmaxCrossEntropy(model.apply(p, x), y);
  /** L(θ) = L_query(θ − α∇L_support(θ)): differentiating it gives second-order MAML. */
  const metaLoss = (p: tf.Tensor[]): tf.Scalar =>
    tf.tidy(() => {
      const g = tf.grads((...q: tf.Tensor[]) => loss(q, xs, ys))(p);
      return loss(p.map((t, i) => tf.sub(t, tf.mul(g[i], innerLr))), xq, yq);
    });
  /** First-order MAML: the query gradient at the adapted parameters, inner gradients held fixed. */
  const firstOrder = (p: tf.Tensor[]) =>
    tf.tidy(() => {
      const g = tf.grads((...q: tf.Tensor[]) => loss(q, xs, ys))(p);
      const adapted = p.map((t, i) => tf.sub(t, tf.mul(g[i], innerLr)));
      return tf.grads((...q: tf.Tensor[]) => loss(q, xq, yq))(adapted);
    });
  const dispose = () => tf.dispose([...params, xs, ys, xq, yq]);
  return { model, params, metaLoss, firstOrder, dispose, rng, loss, xs, ys };
}
