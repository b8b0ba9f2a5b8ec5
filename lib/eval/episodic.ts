/**
 * Episodic evaluation on new tasks: adapt on each task's support set, score on its query
 * set, and report the mean with a 95% confidence interval over many episodes (≥ 600 by
 * default, as in Finn et al. and Snell et al.).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { accuracy } from "../meta/mod.ts";
import type { MetaLearner, TaskKind } from "../meta/mod.ts";
import { meanSquaredError } from "../models/mod.ts";
import { disposeTask, type Episode } from "../tasks/mod.ts";

/** Mean, standard deviation and 95% half-width of a sample. */
export interface ConfidenceInterval {
  /** Sample mean. */
  mean: number;
  /** Standard deviation (population form, ddof = 0, as numpy's default used by the papers' code). */
  std: number;
  /**
   * Half-width of the 95% interval: 1.96 · std / √n; undefined for a single value, whose
   * spread one sample cannot tell (not 0: "± 0" would claim certainty).
   */
  ci95: number | undefined;
  /** Sample size. */
  n: number;
}

/**
 * mean ± 1.96·std/√n of `values` (normal approximation; std with ddof = 0). With one value
 * the interval is undefined (`ci95` undefined).
 */
export function confidenceInterval(values: ArrayLike<number>): ConfidenceInterval {
  const n = values.length;
  if (n === 0) throw new RangeError("confidenceInterval: no values");
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i] - mean) ** 2;
  const std = Math.sqrt(sq / n);
  return { mean, std, ci95: n > 1 ? (1.96 * std) / Math.sqrt(n) : undefined, n };
}

/**
 * When a few episodes dominate a mean (an adaptation that diverged on one task, say), a
 * sentence saying so — the median, the largest values and what the mean is without them —
 * else null. "Dominate": the mean is more than `factor` times the median (default 10: MSEs of tasks of different
 * amplitudes are skewed by nature, an order of magnitude is not). For
 * values where smaller is better and an outlier is large (MSE); accuracies cannot do this.
 */
export function describeHeavyTail(
  values: readonly number[],
  { factor = 10, show = 3 }: { factor?: number; show?: number } = {},
): string | null {
  const n = values.length;
  // A mean that is not finite is not skewed but diverged, and says so elsewhere (the
  // results file's DIVERGED note); sorting and subtracting infinities would say nonsense.
  if (n < 3 || values.some((v) => !Number.isFinite(v))) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (!(median > 0) || mean <= factor * median) return null;
  // The fewest largest values whose removal brings the mean within `factor` of the median.
  // The sums of the smallest values are accumulated upwards: subtracting a 1e20 outlier from
  // a 1e20 total would leave rounding noise, not the rest's sum.
  const below = new Float64Array(n + 1); // below[k]: the sum of the k smallest values
  for (let i = 0; i < n; i++) below[i + 1] = below[i] + sorted[i];
  let drop = 0;
  while (drop < n - 1 && below[n - drop] / (n - drop) > factor * median) drop++;
  const rest = below[n - drop];
  const largest = sorted.slice(n - drop).reverse().slice(0, show);
  const fmt = (v: number) =>
    Math.abs(v) >= 1e6 ? v.toExponential(2) : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
  return `mean ${fmt(mean)} is dominated by ${drop} of ${n} episodes (largest: ${
    largest.map(fmt).join(", ")
  }); median ${fmt(median)}, mean without ${drop === 1 ? "it" : "them"} ${fmt(rest / (n - drop))}`;
}

/** The result of {@linkcode evaluate}. */
export interface EvalResult extends ConfidenceInterval {
  /** `"accuracy"` (classification) or `"mse"` (regression). */
  metric: "accuracy" | "mse";
  /** Adaptation steps used at test time (undefined: the learner's default). */
  steps?: number;
  /** The per-episode values. */
  values: number[];
}

/** Options of {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Number of test episodes (default 600). */
  episodes?: number;
  /** Test-time adaptation steps (default: the learner's training value). */
  steps?: number;
  /** Test-time inner rate (default: the learner's training value). */
  lr?: number;
  /** Called after each episode with its index and value. */
  onEpisode?: (index: number, value: number) => void;
}

/** Scores one adapted episode: accuracy or MSE on its query set. */
export function scoreEpisode(
  learner: Pick<MetaLearner, "adapt" | "kind">,
  task: Episode,
  options: { steps?: number; lr?: number } = {},
): number {
  const adapted = learner.adapt(task.support, options);
  try {
    return tf.tidy(() => {
      const out = adapted.predict(task.query.x);
      const v = learner.kind === "classification"
        ? accuracy(out, task.query.y)
        : meanSquaredError(out, task.query.y);
      return v.dataSync()[0];
    });
  } finally {
    adapted.dispose();
  }
}

/**
 * Mean accuracy (or MSE) with a 95% CI over `episodes` new tasks drawn one at a time from
 * `sample` (which should draw from the meta-test split). Tasks are disposed after use.
 */
export function evaluate(
  learner: Pick<MetaLearner, "adapt" | "kind">,
  sample: () => Episode,
  options: EvaluateOptions = {},
): EvalResult {
  const { episodes = 600, steps, lr, onEpisode } = options;
  if (!Number.isInteger(episodes) || episodes < 1) {
    throw new RangeError(`evaluate: episodes must be an integer ≥ 1, got ${episodes}`);
  }
  const values: number[] = [];
  for (let i = 0; i < episodes; i++) {
    const task = sample();
    try {
      values.push(scoreEpisode(learner, task, { steps, lr }));
    } finally {
      disposeTask(task);
    }
    onEpisode?.(i, values[i]);
  }
  return { metric: metricFor(learner.kind), steps, values, ...confidenceInterval(values) };
}

/** The metric name of a task kind. */
export function metricFor(kind: TaskKind): "accuracy" | "mse" {
  return kind === "classification" ? "accuracy" : "mse";
}
