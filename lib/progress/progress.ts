/**
 * A progress reporter for long work (training, evaluation, downloads), which picks its
 * display from where it runs: a live single line in a terminal, plain periodic lines when
 * output is not a terminal (CI, logs), and an output updated in place in a notebook.
 * @module
 */
import { jupyterDisplay, newDisplayId, sendDisplay } from "../plot/jupyter.ts";
import type { JupyterDisplay } from "../plot/jupyter.ts";
import { escapeHtml } from "../plot/report.ts";
import { formatDuration, formatMetric, formatProgressLine, type ProgressState } from "./format.ts";

/** Where progress goes: `auto` chooses notebook, tty or plain from the environment. */
export type ProgressMode = "auto" | "tty" | "plain" | "notebook" | "silent";

/** Options of {@linkcode progress}. */
export interface ProgressOptions {
  /** Steps in all (a positive integer). */
  total: number;
  /** What is running (shown first on the line). */
  label?: string;
  /** Display kind (default `auto`). */
  mode?: ProgressMode;
  /** Where tty/plain text goes (default: standard output). */
  write?: (text: string) => void;
  /** Clock in ms (default `performance.now`); tests inject a fake one. */
  now?: () => number;
  /** Notebook API (default `Deno.jupyter` in the kernel); tests inject a fake one. */
  jupyter?: JupyterDisplay;
  /** Least time between two redraws of the live line or output, in ms (default 100; 250 in a notebook). */
  minIntervalMs?: number;
  /** Plain mode: print a line each time this fraction of the total is done (default 0.1). */
  plainFraction?: number;
  /** Plain mode: also print a line when this long has passed since the last (default 30000 ms). */
  plainIntervalMs?: number;
  /** Bar width in characters (default 24; 0 hides the bar). */
  barWidth?: number;
}

/** A running progress display. */
export interface Progress {
  /** Records that `step` steps (of `total`) are done, with the latest metrics. */
  update(step: number, metrics?: Record<string, number>): void;
  /** Marks the work done (step = total unless given), draws the final state, and flushes. */
  done(metrics?: Record<string, number>, step?: number): Promise<void>;
  /** The current state (step, metrics, elapsed, ETA). */
  state(): ProgressState;
  /** Redraws now, ignoring the throttle (e.g. after a log line interrupted the live line). */
  redraw(): void;
  /** The display actually used. */
  readonly mode: Exclude<ProgressMode, "auto">;
}

function isTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/** The display `auto` resolves to here: notebook in the kernel, tty on a terminal, else plain. */
export function detectMode(): Exclude<ProgressMode, "auto"> {
  if (jupyterDisplay()) return "notebook";
  return isTerminal() ? "tty" : "plain";
}

const encoder = new TextEncoder();
function writeStdout(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text));
}

/** The notebook output for a state: an HTML bar with a text/plain fallback. */
export function progressBundle(s: ProgressState, finished: boolean): Record<string, unknown> {
  const fraction = s.total > 0 ? Math.min(1, s.step / s.total) : 0;
  const metrics = Object.entries(s.metrics)
    .map(([k, v]) => `${escapeHtml(k)} <b>${formatMetric(v)}</b>`).join(" &nbsp; ");
  const html = `<div class="metalab-progress" style="font-family:monospace">` +
    `${
      escapeHtml(s.label)
    } <progress value="${s.step}" max="${s.total}" style="width:240px"></progress> ` +
    `${s.step}/${s.total} (${Math.floor(fraction * 100)}%) ${metrics} &nbsp; ` +
    `${formatDuration(s.elapsedMs)} elapsed, ${
      finished ? "done" : `ETA ${formatDuration(s.etaMs)}`
    }</div>`;
  return {
    "text/plain": formatProgressLine(s) + (finished ? " (done)" : ""),
    "text/html": html,
  };
}

/**
 * Starts a progress display. In a notebook, updates go out while the loop awaits
 * something (e.g. `await loss.data()`); a loop that never awaits shows them at its end.
 *
 * ```ts
 * const p = progress({ total: 1000, label: "MAML sinusoid" });
 * for (let step = 1; step <= 1000; step++) { const loss = trainStep(); p.update(step, { loss }); }
 * await p.done();
 * ```
 */
export function progress(options: ProgressOptions): Progress {
  const { total } = options;
  if (!Number.isInteger(total) || total <= 0) {
    throw new Error(`progress: total must be a positive integer, got ${total}`);
  }
  const mode = !options.mode || options.mode === "auto" ? detectMode() : options.mode;
  const api = mode === "notebook" ? options.jupyter ?? jupyterDisplay() : undefined;
  if (mode === "notebook" && !api) {
    throw new Error("progress: mode 'notebook' needs the Deno Jupyter kernel (or options.jupyter)");
  }
  const write = options.write ?? writeStdout;
  const now = options.now ?? (() => performance.now());
  const label = options.label ?? "progress";
  const minInterval = options.minIntervalMs ?? (mode === "notebook" ? 250 : 100);
  const plainFraction = options.plainFraction ?? 0.1;
  const plainInterval = options.plainIntervalMs ?? 30000;
  const barWidth = options.barWidth ?? 24;
  const displayId = newDisplayId("progress");

  const start = now();
  let step = 0;
  // The step the work started from: a resumed run's first update is its checkpoint's step
  // plus one, and its ETA must come from the steps done since then, not from step 0.
  let base: number | undefined;
  let metrics: Record<string, number> = {};
  let lastDraw = -Infinity;
  let nextPlainStep = 0;
  let shown = false;
  let finished = false;
  let chain: Promise<void> = Promise.resolve();
  let notebookError: unknown;

  const state = (): ProgressState => {
    const elapsedMs = now() - start;
    const done = step - (base ?? 0);
    const etaMs = done > 0 ? (elapsedMs / done) * Math.max(0, total - step) : NaN;
    return { label, step, total, metrics: { ...metrics }, elapsedMs, etaMs };
  };

  const draw = (final: boolean) => {
    const s = state();
    if (mode === "silent") return;
    if (mode === "tty") {
      write(`\r${formatProgressLine(s, barWidth)}\x1b[K${final ? "\n" : ""}`);
    } else if (mode === "plain") {
      write(`${formatProgressLine(s, 0)}${final ? " (done)" : ""}\n`);
    } else {
      const bundle = progressBundle(s, final);
      const update = shown;
      shown = true;
      chain = chain.then(() => sendDisplay(api!, bundle, { displayId, update }))
        .catch((e) => {
          notebookError = e;
        });
    }
  };

  return {
    mode,
    state,
    redraw() {
      if (!finished) {
        draw(false);
        lastDraw = now();
      }
    },
    update(newStep: number, newMetrics?: Record<string, number>) {
      if (finished) throw new Error(`progress "${label}": update after done()`);
      if (!Number.isFinite(newStep) || newStep < 0) {
        throw new Error(`progress "${label}": step must be a finite number ≥ 0, got ${newStep}`);
      }
      step = Math.min(newStep, total);
      base ??= Math.max(0, step - 1);
      if (newMetrics) metrics = { ...metrics, ...newMetrics };
      const t = now();
      if (mode === "plain") {
        // A line at the first update, then at each multiple of the chunk (or after a long
        // quiet gap); the last step is left to done(), which prints the final line.
        if (step < total && (step >= nextPlainStep || t - lastDraw >= plainInterval)) {
          draw(false);
          lastDraw = t;
          const chunk = Math.max(1, Math.ceil(plainFraction * total));
          nextPlainStep = (Math.floor(step / chunk) + 1) * chunk;
        }
      } else if (t - lastDraw >= minInterval) {
        draw(false);
        lastDraw = t;
      }
    },
    async done(finalMetrics?: Record<string, number>, finalStep?: number) {
      if (finished) return;
      if (finalMetrics) metrics = { ...metrics, ...finalMetrics };
      step = Math.min(finalStep ?? total, total);
      draw(true);
      finished = true;
      await chain;
      if (notebookError) {
        throw new Error(`progress "${label}": notebook display failed: ${notebookError}`);
      }
    },
  };
}
