/**
 * Progress for long work: a live line in a terminal, plain periodic lines in CI, an
 * output updated in place in a notebook; and a live training curve for notebooks.
 * @module
 */
export { detectMode, progress, progressBundle } from "./progress.ts";
export type { Progress, ProgressMode, ProgressOptions } from "./progress.ts";
export { formatDuration, formatMetric, formatProgressLine, textBar } from "./format.ts";
export type { ProgressState } from "./format.ts";
export { progressReporter } from "./reporter.ts";
export type { ProgressReporter, ReporterOptions } from "./reporter.ts";
export { liveCurve } from "./live_curve.ts";
export type { LiveCurve, LiveCurveOptions } from "./live_curve.ts";
