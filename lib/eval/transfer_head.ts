/**
 * The few-shot heads of the transfer baselines (`transfer.ts`): what classifies a new task
 * from fixed pretrained features — a new linear head (Baseline) or cosine head (Baseline++)
 * trained on the support set with Chen et al.'s settings ({@linkcode CHEN_FINE_TUNE}), or the
 * class centroids — and the pretraining heads' logits.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
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

/** Refuses fine-tuning options that cannot work, naming the option. */
export function checkFineTune(o: FineTuneOptions): void {
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
