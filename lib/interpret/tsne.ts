/**
 * t-SNE (van der Maaten & Hinton 2008, "Visualizing data using t-SNE", JMLR 9): a 2-D map of
 * a set of points that keeps each point's near neighbours near, for looking at an embedding
 * space beside {@linkcode pca}.
 *
 * This is **exact** t-SNE — every pairwise affinity and the full gradient, O(n²) per iteration
 * in float64 over plain arrays — not the Barnes-Hut approximation (van der Maaten 2014): the
 * points MetaLab draws are one or a few episodes (tens to a few hundred embeddings), where the
 * n² sums take milliseconds and an approximation would only add error and a parameter (θ).
 * No npm package fitted: `tsne-js` 1.0.3 and `tsne` 1.0.1 (a port of Karpathy's tsnejs) draw
 * their initial maps from `Math.random`, so a map cannot be reproduced from a seed; `umap-js`
 * 1.4.0 (PAIR) takes a random source, but it is UMAP, whose affinities and objective are not
 * t-SNE's. Here the only randomness is the initial map, drawn from a {@linkcode Rng}: one
 * seed, one map.
 *
 * The optimisation follows the paper and its reference implementation (`tsne.py`), with the
 * constants of the now-standard schedule (scikit-learn's): perplexity-calibrated conditional
 * affinities by binary search on each point's precision, symmetrised; a Student-t kernel with
 * one degree of freedom in the map; gradient descent with momentum 0.5 and early exaggeration
 * 12 (P multiplied by 12) for the first 250 iterations, then momentum 0.8; per-coordinate gains
 * (+0.2 when the gradient's sign differs from the last update's, ×0.8 otherwise, at least
 * 0.01); the map re-centred after every step.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random/mod.ts";
import { pearson } from "./adaptation.ts";

/** Options of {@linkcode tsne}; every one has the standard default. */
export interface TsneOptions {
  /**
   * The effective number of neighbours each point's affinities are spread over: `exp(H_i)`,
   * H_i the entropy in nats of its conditional distribution (the paper's `2^H` in bits), in
   * [1, n − 1]. Default `min(30, (n − 1) / 3)`.
   */
  perplexity?: number;
  /** Dimensions of the map (default 2). */
  dims?: number;
  /** Gradient steps (default 1000). */
  iterations?: number;
  /**
   * Step size. Default `max(n / (4 · exaggeration), 50)`, the size-scaled rate of Belkina et
   * al. (2019) that scikit-learn uses; the paper's fixed 100–500 overshoots on an episode's
   * few dozen points.
   */
  learningRate?: number;
  /** The factor on P during the first {@linkcode TsneOptions.exaggerationIterations} steps (12). */
  exaggeration?: number;
  /** Steps with exaggerated P and momentum 0.5 (default 250, at most `iterations`). */
  exaggerationIterations?: number;
  /** The source of the initial map, `N(0, 10⁻⁴)` per coordinate (default `new Rng(0)`). */
  rng?: Rng;
  /** Record KL(P‖Q) every this many steps into {@linkcode Tsne.klHistory} (default 50). */
  klEvery?: number;
}

/** A fitted t-SNE map. */
export interface Tsne {
  /** The map's coordinates `[n][dims]`, centred at the origin. */
  embedding: number[][];
  /** KL(P‖Q) of the final map (with the true, not exaggerated, P). */
  kl: number;
  /** KL(P‖Q) after step 0 and every `klEvery` steps, and after the last. */
  klHistory: { iteration: number; kl: number }[];
  /** The symmetric joint affinities `p_ij` the map was fitted to (they sum to 1). */
  p: number[][];
  /** Each point's calibrated precision β_i = 1 / (2σ_i²) on squared distances. */
  beta: number[];
  /** The perplexity used. */
  perplexity: number;
}

/** Rows of a `[n, …]` tensor (flattened) or of a number matrix, validated as finite. */
function rowsOf(points: tf.Tensor | number[][], who: string): number[][] {
  let rows: number[][];
  if (points instanceof tf.Tensor) {
    const flat = tf.tidy(() => tf.reshape(points, [points.shape[0] ?? 0, -1]));
    rows = flat.arraySync() as number[][];
    flat.dispose();
  } else rows = points;
  const n = rows.length;
  const d = n > 0 ? rows[0].length : 0;
  if (n < 2 || d < 1) {
    throw new RangeError(`${who}: needs at least 2 points of dimension ≥ 1, got ${n} × ${d}`);
  }
  rows.forEach((r, i) => {
    if (r.length !== d) {
      throw new RangeError(
        `${who}: every point must have ${d} coordinates (the first one's), point ${i} has ${r.length}`,
      );
    }
    const j = r.findIndex((v) => !Number.isFinite(v));
    if (j >= 0) {
      throw new RangeError(`${who}: point ${i} has a non-finite coordinate ${j}: ${r[j]}`);
    }
  });
  return rows;
}

/** Squared Euclidean distances `[n][n]`. */
function squaredDistances(rows: number[][]): number[][] {
  const n = rows.length;
  const out = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let t = 0; t < rows[i].length; t++) s += (rows[i][t] - rows[j][t]) ** 2;
      out[i][j] = out[j][i] = s;
    }
  }
  return out;
}

function checkPerplexity(perplexity: number, n: number, who: string): void {
  if (!Number.isFinite(perplexity) || perplexity < 1 || perplexity > n - 1) {
    throw new RangeError(
      `${who}: perplexity must be in [1, n − 1] = [1, ${n - 1}] for ${n} points ` +
        `(a uniform distribution over the other points has perplexity n − 1), got ${perplexity}`,
    );
  }
}

/**
 * The conditional affinities `p_{j|i} ∝ exp(−β_i ‖x_i − x_j‖²)` (`p_{i|i} = 0`) of each point,
 * with each β_i found by binary search so that the row's perplexity `exp(H_i)`, with the
 * Shannon entropy H_i in nats, equals `perplexity` (to a relative 10⁻⁸).
 *
 * @example
 * ```ts
 * const { p, beta } = conditionalAffinities(points, 5);
 * // −Σ_j p[i][j] log p[i][j] ≈ log 5 for every row i
 * ```
 */
export function conditionalAffinities(
  points: tf.Tensor | number[][],
  perplexity: number,
): { p: number[][]; beta: number[] } {
  const rows = rowsOf(points, "conditionalAffinities");
  const n = rows.length;
  checkPerplexity(perplexity, n, "conditionalAffinities");
  const dist = squaredDistances(rows);
  const target = Math.log(perplexity);
  const p: number[][] = [];
  const beta: number[] = [];
  for (let i = 0; i < n; i++) {
    // Distances minus the row's smallest: the same normalised row, without exp underflowing
    // to 0 for every j when the points are far apart.
    const others = dist[i].filter((_, j) => j !== i);
    const shift = Math.min(...others);
    const d = dist[i].map((v) => v - shift);
    const row = new Array<number>(n).fill(0);
    /** Fills `row` for precision b and returns its entropy. */
    const entropy = (b: number): number => {
      let sum = 0;
      let weighted = 0;
      for (let j = 0; j < n; j++) {
        row[j] = j === i ? 0 : Math.exp(-b * d[j]);
        sum += row[j];
        weighted += row[j] * d[j];
      }
      for (let j = 0; j < n; j++) row[j] /= sum;
      return Math.log(sum) + (b * weighted) / sum;
    };
    // The reference search: double β while the entropy is too high, halve it while too low,
    // bisect once both bounds are known. Entropy falls monotonically in β.
    let b = 1;
    let lo = 0;
    let hi = Infinity;
    for (let tries = 0; tries < 200; tries++) {
      const h = entropy(b);
      if (Math.abs(h - target) < 1e-8 * Math.max(1, target)) break;
      if (h > target) {
        lo = b;
        b = hi === Infinity ? b * 2 : (b + hi) / 2;
      } else {
        hi = b;
        b = (b + lo) / 2;
      }
    }
    entropy(b);
    p.push(row);
    beta.push(b);
  }
  return { p, beta };
}

/**
 * The symmetric joint affinities of t-SNE, `p_ij = (p_{j|i} + p_{i|j}) / 2n`: every point
 * then carries at least 1/2n of the mass, so an outlier still has a place in the map.
 */
export function jointAffinities(points: tf.Tensor | number[][], perplexity: number): number[][] {
  return symmetrise(conditionalAffinities(points, perplexity).p);
}

function symmetrise(conditional: number[][]): number[][] {
  const n = conditional.length;
  return conditional.map((row, i) => row.map((v, j) => (v + conditional[j][i]) / (2 * n)));
}

/**
 * The map's joint similarities under a Student-t kernel with one degree of freedom,
 * `q_ij = (1 + ‖y_i − y_j‖²)⁻¹ / Σ_{k≠l} (1 + ‖y_k − y_l‖²)⁻¹`, `q_ii = 0`. Its heavy tail is
 * what lets moderately distant points sit far apart in 2-D (the "crowding problem").
 */
export function studentQ(map: number[][]): number[][] {
  const { num, z } = studentNumerators(map);
  return num.map((row) => row.map((v) => v / z));
}

/** The kernel's numerators `(1 + ‖y_i − y_j‖²)⁻¹` (0 on the diagonal) and their sum Z. */
function studentNumerators(map: number[][]): { num: number[][]; z: number } {
  const n = map.length;
  const num = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let t = 0; t < map[i].length; t++) s += (map[i][t] - map[j][t]) ** 2;
      num[i][j] = num[j][i] = 1 / (1 + s);
      z += 2 * num[i][j];
    }
  }
  return { num, z };
}

/** KL(P‖Q) = Σ_{i≠j} p_ij log(p_ij / q_ij) of a map, for joint affinities `p`. */
export function tsneKl(p: number[][], map: number[][]): number {
  checkSquare(p, map, "tsneKl");
  const q = studentQ(map);
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    for (let j = 0; j < p.length; j++) {
      if (i !== j && p[i][j] > 0) kl += p[i][j] * Math.log(p[i][j] / Math.max(q[i][j], 1e-300));
    }
  }
  return kl;
}

/**
 * The gradient of KL(P‖Q) with respect to the map,
 * `∂C/∂y_i = 4 Σ_j (p_ij − q_ij)(y_i − y_j)(1 + ‖y_i − y_j‖²)⁻¹` (the paper's equation 5).
 */
export function tsneGradient(p: number[][], map: number[][]): number[][] {
  checkSquare(p, map, "tsneGradient");
  return gradient(p, map, 1);
}

function checkSquare(p: number[][], map: number[][], who: string): void {
  if (p.length !== map.length || p.some((r) => r.length !== map.length)) {
    throw new RangeError(
      `${who}: P must be ${map.length} × ${map.length} (one row and column per map point), ` +
        `got ${p.length} × ${p[0]?.length ?? 0}`,
    );
  }
}

/** The gradient with P multiplied by `exaggeration` (1: the true gradient). */
function gradient(p: number[][], map: number[][], exaggeration: number): number[][] {
  const n = map.length;
  const dims = map[0].length;
  const { num, z } = studentNumerators(map);
  const grad = Array.from({ length: n }, () => new Array<number>(dims).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const w = 4 * (exaggeration * p[i][j] - num[i][j] / z) * num[i][j];
      for (let t = 0; t < dims; t++) grad[i][t] += w * (map[i][t] - map[j][t]);
    }
  }
  return grad;
}

function positiveInteger(value: number, name: string, min = 1): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`tsne: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  return value;
}

/**
 * Fits an exact t-SNE map of `points` `[n, d]` (a tensor, flattened per row, or rows of
 * numbers). Deterministic per `rng` seed. Distances between clusters and the clusters' sizes
 * in the map mean little (Wattenberg et al. 2016); which points are neighbours means much.
 *
 * @example
 * ```ts
 * const fit = tsne(embeddings, { perplexity: 5, rng: new Rng(0) }); // embeddings: [n, 64]
 * fit.embedding;   // [n][2] coordinates to scatter
 * fit.kl;          // how much of the neighbourhood structure the map loses, in nats
 * ```
 */
export function tsne(points: tf.Tensor | number[][], options: TsneOptions = {}): Tsne {
  const rows = rowsOf(points, "tsne");
  const n = rows.length;
  const perplexity = options.perplexity ?? Math.max(1, Math.min(30, (n - 1) / 3));
  checkPerplexity(perplexity, n, "tsne");
  const dims = positiveInteger(options.dims ?? 2, "dims");
  const iterations = positiveInteger(options.iterations ?? 1000, "iterations");
  const klEvery = positiveInteger(options.klEvery ?? 50, "klEvery");
  const exaggeration = options.exaggeration ?? 12;
  const learningRate = options.learningRate ?? Math.max(n / (4 * exaggeration), 50);
  for (const [name, v] of [["exaggeration", exaggeration], ["learningRate", learningRate]]) {
    if (!Number.isFinite(v as number) || (v as number) <= 0) {
      throw new RangeError(`tsne: ${name} must be a positive number, got ${v}`);
    }
  }
  const early = Math.min(
    positiveInteger(options.exaggerationIterations ?? 250, "exaggerationIterations", 0),
    iterations,
  );
  const rng = options.rng ?? new Rng(0);

  const { p: conditional, beta } = conditionalAffinities(rows, perplexity);
  const p = symmetrise(conditional);
  const map = Array.from(
    { length: n },
    () => Array.from({ length: dims }, () => rng.normal(0, 1e-4)),
  );
  const update = Array.from({ length: n }, () => new Array<number>(dims).fill(0));
  const gains = Array.from({ length: n }, () => new Array<number>(dims).fill(1));
  const klHistory: { iteration: number; kl: number }[] = [];
  for (let it = 0; it < iterations; it++) {
    const exploring = it < early;
    const momentum = exploring ? 0.5 : 0.8;
    const grad = gradient(p, map, exploring ? exaggeration : 1);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < dims; t++) {
        // Gains as in tsne.py: grow a coordinate's step while the gradient keeps pointing
        // against the last update (a long valley), shrink it when it flips.
        gains[i][t] = (grad[i][t] > 0) !== (update[i][t] > 0)
          ? gains[i][t] + 0.2
          : Math.max(gains[i][t] * 0.8, 0.01);
        update[i][t] = momentum * update[i][t] - learningRate * gains[i][t] * grad[i][t];
        map[i][t] += update[i][t];
      }
    }
    // Re-centre: KL is invariant to translation, and a drifting map would lose precision.
    for (let t = 0; t < dims; t++) {
      const mean = map.reduce((s, r) => s + r[t], 0) / n;
      for (const r of map) r[t] -= mean;
    }
    if (it % klEvery === 0 || it === iterations - 1) {
      klHistory.push({ iteration: it, kl: tsneKl(p, map) });
    }
  }
  return { embedding: map, kl: klHistory[klHistory.length - 1].kl, klHistory, p, beta, perplexity };
}

/** Each point's `k` nearest others (Euclidean), as a set of indices. */
function nearestSets(rows: number[][], k: number): Set<number>[] {
  const dist = squaredDistances(rows);
  return dist.map((row, i) =>
    new Set(
      row.map((d, j) => [d, j] as const).filter(([, j]) => j !== i)
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k).map(([, j]) => j),
    )
  );
}

function pairedRows(
  high: tf.Tensor | number[][],
  low: tf.Tensor | number[][],
  who: string,
): [number[][], number[][]] {
  const a = rowsOf(high, who);
  const b = rowsOf(low, who);
  if (a.length !== b.length) {
    throw new RangeError(
      `${who}: the two sets must have one row per point, got ${a.length} and ${b.length}`,
    );
  }
  return [a, b];
}

/**
 * What a map keeps of the neighbourhoods: for each point, the share of its `k` nearest
 * neighbours among `high`'s points (e.g. the 64-D embeddings) that are also among its `k`
 * nearest in `low` (the 2-D map), averaged over the points. 1 when every neighbourhood
 * survives; about k / (n − 1) for a map that keeps none. t-SNE optimises for this.
 *
 * @example
 * ```ts
 * neighbourOverlap(embeddings, tsne(embeddings).embedding, 5); // e.g. 0.8
 * ```
 */
export function neighbourOverlap(
  high: tf.Tensor | number[][],
  low: tf.Tensor | number[][],
  k = 5,
): number {
  const [a, b] = pairedRows(high, low, "neighbourOverlap");
  if (!Number.isInteger(k) || k < 1 || k > a.length - 1) {
    throw new RangeError(
      `neighbourOverlap: k must be an integer in [1, ${a.length - 1}], got ${k}`,
    );
  }
  const na = nearestSets(a, k);
  const nb = nearestSets(b, k);
  return na.reduce((s, set, i) => s + [...set].filter((j) => nb[i].has(j)).length / k, 0) /
    a.length;
}

/**
 * What a map keeps of the distances: the Pearson correlation between the n(n − 1)/2 pairwise
 * Euclidean distances of `high`'s points and of `low`'s. A linear projection such as PCA
 * keeps the large distances (between clusters); t-SNE does not try to.
 */
export function distanceCorrelation(
  high: tf.Tensor | number[][],
  low: tf.Tensor | number[][],
): number {
  const [a, b] = pairedRows(high, low, "distanceCorrelation");
  const da = squaredDistances(a);
  const db = squaredDistances(b);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      x.push(Math.sqrt(da[i][j]));
      y.push(Math.sqrt(db[i][j]));
    }
  }
  return pearson(x, y);
}
