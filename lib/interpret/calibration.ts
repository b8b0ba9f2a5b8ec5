/**
 * Calibration of a classifier's confidence (Guo, Pleiss, Sun & Weinberger 2017, ICML): a
 * predictor is calibrated when, of the predictions it makes with confidence p, a fraction p
 * is right. The reliability diagram bins predictions by confidence (the top class's
 * probability) and compares each bin's accuracy with its mean confidence; the expected
 * calibration error is the bins' gap weighted by their size,
 *
 *     ECE = Σ_b (|B_b| / n) · |acc(B_b) − conf(B_b)|,
 *
 * and the maximum calibration error (MCE) the largest gap of a non-empty bin.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** One bin of a reliability diagram. */
export interface ReliabilityBin {
  /** Lower edge of the confidence interval (exclusive, except for the first bin). */
  lower: number;
  /** Upper edge (inclusive). */
  upper: number;
  /** Predictions in the bin. */
  count: number;
  /** Their mean confidence (NaN for an empty bin). */
  confidence: number;
  /** The fraction of them that is right (NaN for an empty bin). */
  accuracy: number;
}

/** What {@linkcode calibration} measures. */
export interface Calibration {
  /** Expected calibration error, in [0, 1]. */
  ece: number;
  /** Maximum calibration error over the non-empty bins, in [0, 1]. */
  mce: number;
  /** Overall accuracy. */
  accuracy: number;
  /** Overall mean confidence (above `accuracy`: over-confident). */
  confidence: number;
  /** Predictions measured. */
  count: number;
  /** The reliability diagram's bins, equal widths over [0, 1]. */
  bins: ReliabilityBin[];
}

/**
 * Calibration of predictions given as each one's confidence (in [0, 1]) and whether it was
 * right, in `bins` equal-width bins (default 10, Guo et al.'s 15 is also common).
 *
 * @example
 * ```ts
 * const c = calibration([0.9, 0.8, 0.6, 0.95], [true, true, false, true]);
 * c.ece;  // the confidence–accuracy gap, weighted by bin size
 * c.bins; // the reliability diagram
 * ```
 */
export function calibration(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  bins = 10,
): Calibration {
  const n = confidences.length;
  if (n === 0) throw new RangeError("calibration: no predictions");
  if (correct.length !== n) {
    throw new RangeError(`calibration: ${n} confidences but ${correct.length} correctness flags`);
  }
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`calibration: bins must be a positive integer, got ${bins}`);
  }
  const count = new Array(bins).fill(0);
  const confSum = new Array(bins).fill(0);
  const rightSum = new Array(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const p = confidences[i];
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(
        `calibration: confidence ${i} is ${p}, expected a probability in [0, 1]`,
      );
    }
    // (lower, upper] bins; a confidence of exactly 0 goes to the first.
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1));
    count[b]++;
    confSum[b] += p;
    if (correct[i]) rightSum[b]++;
  }
  let ece = 0;
  let mce = 0;
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const conf = count[b] ? confSum[b] / count[b] : NaN;
    const acc = count[b] ? rightSum[b] / count[b] : NaN;
    if (count[b]) {
      const gap = Math.abs(acc - conf);
      ece += (count[b] / n) * gap;
      mce = Math.max(mce, gap);
    }
    out.push({
      lower: b / bins,
      upper: (b + 1) / bins,
      count: count[b],
      confidence: conf,
      accuracy: acc,
    });
  }
  return {
    ece,
    mce,
    accuracy: rightSum.reduce((s, v) => s + v, 0) / n,
    confidence: confSum.reduce((s, v) => s + v, 0) / n,
    count: n,
    bins: out,
  };
}

/**
 * The confidence (top softmax probability) of each row of `logits` `[n, k]` and whether its
 * top class is `labels`' (int labels `[n]`): the inputs of {@linkcode calibration}, for
 * predictions of several episodes to be pooled before binning.
 */
export function confidencesOf(
  logits: tf.Tensor,
  labels: tf.Tensor,
): { confidences: number[]; correct: boolean[] } {
  if (logits.rank !== 2 || labels.size !== logits.shape[0]) {
    throw new RangeError(
      `confidencesOf: expected logits [n, k] and n labels, got [${logits.shape}] and ${labels.size} labels`,
    );
  }
  const [conf, pred] = tf.tidy(() => {
    const p = tf.softmax(logits);
    return [tf.max(p, 1), tf.argMax(p, 1)];
  });
  const confidences = Array.from(conf.dataSync() as Float32Array);
  const predicted = pred.dataSync();
  const y = labels.dataSync();
  tf.dispose([conf, pred]);
  return { confidences, correct: confidences.map((_, i) => predicted[i] === Math.round(y[i])) };
}
