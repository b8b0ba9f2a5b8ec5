/**
 * The spread of a result across seeds. A sweep has few seeds (3 to 10), where the normal
 * approximation's 1.96 would make the interval too narrow by a factor of up to 6 (n = 2);
 * so the 95% interval here is Student's t: mean ± t(0.975, n−1) · s / √n, with the sample
 * standard deviation s (n − 1 in the denominator). (Episode intervals in lib/eval keep the
 * papers' 1.96 over hundreds of episodes.)
 * @module
 */

/** t(0.975, df) for df = 1…30 (the usual table, 3 decimals). */
const T975 = [
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.160,
  2.145,
  2.131,
  2.120,
  2.110,
  2.101,
  2.093,
  2.086,
  2.080,
  2.074,
  2.069,
  2.064,
  2.060,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042,
];

/** The 0.975 quantile of Student's t with `df` degrees of freedom (a table, then Cornish–Fisher). */
export function t975(df: number): number {
  if (!Number.isInteger(df) || df < 1) {
    throw new RangeError(`t975: degrees of freedom must be a positive integer, got ${df}`);
  }
  if (df <= T975.length) return T975[df - 1];
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2);
}

/** A mean over seeds and its 95% half-width (undefined for one seed: one value has no spread). */
export interface SeedInterval {
  /** Mean over the seeds. */
  mean: number;
  /** Half-width of the 95% t interval; undefined when n = 1. */
  ci95: number | undefined;
  /** Sample standard deviation (n − 1); undefined when n = 1. */
  std: number | undefined;
  /** Number of seeds. */
  n: number;
}

/**
 * Mean and 95% interval of one number measured with several seeds.
 *
 * @example
 * ```ts
 * seedInterval([0.50, 0.54, 0.46]); // { mean: 0.5, std: 0.04, ci95: 4.303 · 0.04 / √3 ≈ 0.0994, n: 3 }
 * ```
 */
export function seedInterval(values: readonly number[]): SeedInterval {
  const n = values.length;
  if (n === 0) throw new RangeError("seedInterval: no values");
  if (values.some((v) => !Number.isFinite(v))) {
    throw new RangeError(`seedInterval: values must be finite, got ${JSON.stringify(values)}`);
  }
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: undefined, std: undefined, n };
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, std, ci95: (t975(n - 1) * std) / Math.sqrt(n), n };
}
