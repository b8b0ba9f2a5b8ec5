/**
 * Pieces the experiments share when they turn a result into metrics and curves: a training
 * history as a thinned curve, and the published number a metric is compared against.
 * @module
 */
import type { TrainingHistory } from "../meta/mod.ts";
import { PUBLISHED, type PublishedNumber } from "../eval/mod.ts";
import type { Curve } from "./types.ts";

/** At most `max` evenly spaced points of a training history (keeps results files small). */
export function thin(
  history: TrainingHistory,
  key: "loss" | "accuracy",
  max = 400,
): { x: number[]; y: number[] } {
  const y = history[key];
  const stride = Math.max(1, Math.ceil(y.length / max));
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < y.length; i += stride) {
    // Mean over the stride: a readable curve instead of single noisy steps.
    const slice = y.slice(i, i + stride);
    xs.push(history.step[i] + 1);
    ys.push(slice.reduce((a, b) => a + b, 0) / slice.length);
  }
  return { x: xs, y: ys };
}

/** The meta-training loss or accuracy of several learners as one curve. */
export function trainingCurve(
  title: string,
  learners: Record<string, { history: TrainingHistory }>,
  key: "loss" | "accuracy",
): Curve {
  return {
    title,
    xLabel: "meta-step",
    yLabel: key === "loss" ? "meta-objective J(θ)" : "query accuracy (meta-train)",
    series: Object.entries(learners)
      .filter(([, r]) => r.history[key].length > 0)
      .map(([name, r]) => ({ name, ...thin(r.history, key) })),
  };
}

/** The published number under `key` of `lib/eval/published.ts`, scaled (e.g. ×100 for %). */
export function publishedNumber(key: string, scale = 1): PublishedNumber | undefined {
  const p = PUBLISHED[key];
  if (!p) return undefined;
  return {
    value: p.value * scale,
    ci95: p.ci95 === undefined ? undefined : p.ci95 * scale,
    source: p.source,
  };
}
