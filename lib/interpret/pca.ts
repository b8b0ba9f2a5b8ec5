/**
 * Principal component analysis to a few dimensions, for looking at an embedding space: the
 * directions of largest variance of a set of points, and the points' coordinates along them.
 * Exact (a Jacobi eigen-decomposition in float64 of the smaller of the covariance and the
 * Gram matrix), deterministic, and with a fixed sign per component, so a figure drawn twice
 * from the same points is the same figure.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A fitted PCA: project new points with {@linkcode projectPca}. */
export interface Pca {
  /** The mean point `[d]` (subtracted before projecting). */
  mean: number[];
  /** The principal directions, unit vectors `[k][d]`, largest variance first. */
  components: number[][];
  /** The variance of the fitted points along each component. */
  variance: number[];
  /** Each component's share of the points' total variance. */
  varianceRatio: number[];
  /** The fitted points' coordinates `[n][k]`. */
  projected: number[][];
}

/** Rows of a `[n, …]` tensor (flattened) or of a number matrix, as float64 rows. */
function rowsOf(points: tf.Tensor | number[][]): number[][] {
  if (points instanceof tf.Tensor) {
    const flat = tf.tidy(() => tf.reshape(points, [points.shape[0], -1]));
    const rows = flat.arraySync() as number[][];
    flat.dispose();
    return rows;
  }
  return points;
}

/**
 * Eigen-decomposition of a symmetric matrix `a` `[m × m]` (row-major, overwritten) by cyclic
 * Jacobi rotations: returns the eigenvalues and the eigenvectors as the columns of `v`.
 */
export function symmetricEigen(
  a: Float64Array,
  m: number,
): { values: number[]; vectors: number[][] } {
  const v = new Float64Array(m * m);
  for (let i = 0; i < m; i++) v[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < m; i++) {
      diag += a[i * m + i] ** 2;
      for (let j = i + 1; j < m; j++) off += a[i * m + j] ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = a[p * m + q];
        if (apq === 0) continue;
        const theta = (a[q * m + q] - a[p * m + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < m; k++) {
          const akp = a[k * m + p];
          const akq = a[k * m + q];
          a[k * m + p] = c * akp - s * akq;
          a[k * m + q] = s * akp + c * akq;
        }
        for (let k = 0; k < m; k++) {
          const apk = a[p * m + k];
          const aqk = a[q * m + k];
          a[p * m + k] = c * apk - s * aqk;
          a[q * m + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < m; k++) {
          const vkp = v[k * m + p];
          const vkq = v[k * m + q];
          v[k * m + p] = c * vkp - s * vkq;
          v[k * m + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = Array.from({ length: m }, (_, i) => a[i * m + i]);
  const vectors = Array.from(
    { length: m },
    (_, j) => Array.from({ length: m }, (_, i) => v[i * m + j]),
  );
  return { values, vectors };
}

/**
 * Fits a PCA with `k` components (default 2) to `points` `[n, d]` (a tensor, flattened per
 * row, or rows of numbers) and projects them. Each component's sign is chosen so that its
 * largest-magnitude entry is positive.
 *
 * @example
 * ```ts
 * const fit = pca(embeddings, 2);  // embeddings: [n, 64]
 * fit.projected;                   // [n][2] coordinates to scatter
 * fit.varianceRatio;               // how much of the spread the picture shows
 * projectPca(fit, prototypes);     // other points in the same picture
 * ```
 */
export function pca(points: tf.Tensor | number[][], k = 2): Pca {
  const rows = rowsOf(points);
  const n = rows.length;
  const d = n > 0 ? rows[0].length : 0;
  if (n < 2 || d < 1) {
    throw new RangeError(`pca: needs at least 2 points of dimension ≥ 1, got ${n} × ${d}`);
  }
  if (rows.some((r) => r.length !== d)) {
    throw new RangeError(`pca: every point must have ${d} coordinates (the first one's)`);
  }
  if (!Number.isInteger(k) || k < 1 || k > Math.min(n, d)) {
    throw new RangeError(`pca: k must be an integer in [1, ${Math.min(n, d)}], got ${k}`);
  }
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / n);
  const centred = rows.map((r) => r.map((v, j) => v - mean[j]));
  // Eigen-decompose the smaller matrix: the d × d covariance, or the n × n Gram matrix
  // (whose eigenvectors u give the principal directions Xᵀu / ‖Xᵀu‖).
  const useGram = n < d;
  const m = useGram ? n : d;
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) {
      let s = 0;
      if (useGram) { for (let t = 0; t < d; t++) s += centred[i][t] * centred[j][t]; }
      else for (let t = 0; t < n; t++) s += centred[t][i] * centred[t][j];
      a[i * m + j] = a[j * m + i] = s / (n - 1);
    }
  }
  const { values, vectors } = symmetricEigen(a, m);
  const order = values.map((_, i) => i).sort((i, j) => values[j] - values[i]).slice(0, k);
  const total = values.reduce((s, v) => s + Math.max(v, 0), 0);
  const components = order.map((i) => {
    let dir = useGram
      ? Array.from(
        { length: d },
        (_, t) => centred.reduce((s, r, row) => s + r[t] * vectors[i][row], 0),
      )
      : vectors[i];
    const norm = Math.sqrt(dir.reduce((s, v) => s + v * v, 0));
    dir = dir.map((v) => v / (norm || 1));
    const largest = dir.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
    return largest < 0 ? dir.map((v) => -v) : dir;
  });
  const variance = order.map((i) => Math.max(values[i], 0));
  const fit = {
    mean,
    components,
    variance,
    varianceRatio: variance.map((v) => (total > 0 ? v / total : 0)),
    projected: [] as number[][],
  };
  fit.projected = projectPca(fit, rows);
  return fit;
}

/** Coordinates of `points` `[m, d]` along a fitted PCA's components → `[m][k]`. */
export function projectPca(
  fit: Pick<Pca, "mean" | "components">,
  points: tf.Tensor | number[][],
): number[][] {
  const rows = rowsOf(points);
  const d = fit.mean.length;
  return rows.map((r, i) => {
    if (r.length !== d) {
      throw new RangeError(
        `projectPca: point ${i} has ${r.length} coordinates, the PCA was fitted on ${d}`,
      );
    }
    return fit.components.map((c) => c.reduce((s, cj, j) => s + cj * (r[j] - fit.mean[j]), 0));
  });
}
