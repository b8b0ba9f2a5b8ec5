/**
 * A live training curve for notebooks: a Plotly line figure re-rendered in place (same
 * Jupyter display id) every few steps, so one output grows as training runs.
 * @module
 */
import { lineFigure } from "../plot/figures.ts";
import { jupyterDisplay, newDisplayId } from "../plot/jupyter.ts";
import type { JupyterDisplay } from "../plot/jupyter.ts";
import { show } from "../plot/show.ts";
import type { FigureOptions, PlotlyFigure } from "../plot/types.ts";

/** Options of {@linkcode liveCurve}. */
export interface LiveCurveOptions extends FigureOptions {
  /** Redraw every this many `push` calls (default 10). */
  every?: number;
  /** Notebook API (default `Deno.jupyter` in the kernel; outside it nothing is drawn). */
  jupyter?: JupyterDisplay;
}

/** A curve that grows as values are pushed. */
export interface LiveCurve {
  /** Adds one point per named series at `x` (e.g. the step); redraws every `every` pushes. */
  push(x: number, values: Record<string, number>): Promise<void>;
  /** Draws the final figure and returns it (e.g. to add it to a report). */
  done(): Promise<PlotlyFigure>;
  /** The figure with every point so far. */
  figure(): PlotlyFigure;
  /** Redraws done so far in the notebook (0 outside one). */
  readonly redraws: number;
}

/**
 * Starts a live curve. In the Deno Jupyter kernel the first redraw adds an output and
 * later ones replace it (`update_display_data`); outside a notebook points are only
 * collected, and {@linkcode LiveCurve.figure} returns the figure.
 */
export function liveCurve(options: LiveCurveOptions = {}): LiveCurve {
  const every = options.every ?? 10;
  if (!Number.isInteger(every) || every < 1) {
    throw new Error(`liveCurve: every must be a positive integer, got ${every}`);
  }
  const api = options.jupyter ?? jupyterDisplay();
  const displayId = newDisplayId("curve");
  const series = new Map<string, { x: number[]; y: number[] }>();
  let pushes = 0;
  let redraws = 0;

  const figure = (): PlotlyFigure =>
    lineFigure(
      series.size > 0
        ? [...series].map(([name, s]) => ({ name, x: s.x, y: s.y }))
        : [{ name: "(no data yet)", x: [], y: [] }],
      options,
    );

  const redraw = async () => {
    if (!api) return;
    await show(figure(), { jupyter: api, displayId, update: redraws > 0 });
    redraws += 1;
  };

  return {
    get redraws() {
      return redraws;
    },
    figure,
    async push(x: number, values: Record<string, number>) {
      for (const [name, v] of Object.entries(values)) {
        if (!series.has(name)) series.set(name, { x: [], y: [] });
        const s = series.get(name)!;
        s.x.push(x);
        s.y.push(v);
      }
      pushes += 1;
      if (pushes % every === 0) await redraw();
    },
    async done() {
      if (pushes % every !== 0 || redraws === 0) await redraw();
      return figure();
    },
  };
}
