/**
 * Text for progress displays: durations, bars and the one-line status.
 * @module
 */

/** `m:ss` below an hour, `h:mm:ss` above; `--:--` for an unknown (non-finite) duration. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "--:--";
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** A text bar of `width` cells, `fraction` of them filled (clamped to [0, 1]). */
export function textBar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${".".repeat(width - full)}]`;
}

/** Formats a metric value: 4 significant digits, scientific notation for tiny/huge values. */
export function formatMetric(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

/** Everything a progress line shows. */
export interface ProgressState {
  /** What is running. */
  label: string;
  /** Steps completed. */
  step: number;
  /** Steps in all. */
  total: number;
  /** Latest metrics (loss, accuracy, …). */
  metrics: Record<string, number>;
  /** Milliseconds since the start. */
  elapsedMs: number;
  /** Estimated milliseconds left (NaN when unknown). */
  etaMs: number;
}

/** The status line: `label [####....] 40/100 40% loss 0.1234 | 0:12 elapsed, ETA 0:18`. */
export function formatProgressLine(s: ProgressState, barWidth = 24): string {
  const fraction = s.total > 0 ? s.step / s.total : 0;
  const metrics = Object.entries(s.metrics).map(([k, v]) => `${k} ${formatMetric(v)}`).join(" ");
  const parts = [
    s.label,
    barWidth > 0 ? textBar(fraction, barWidth) : "",
    `${s.step}/${s.total}`,
    `${Math.floor(fraction * 100)}%`,
    metrics,
  ].filter((p) => p !== "");
  return `${parts.join(" ")} | ${formatDuration(s.elapsedMs)} elapsed, ETA ${
    formatDuration(s.etaMs)
  }`;
}
