/**
 * The Plotly figure shapes MetaLab builds: a small, typed subset of Plotly's schema
 * (plus an open index signature, so any other Plotly attribute can be passed through).
 * @module
 */

/** One Plotly trace (scatter, bar, heatmap, table, …). */
export interface PlotlyTrace {
  /** Plotly trace type, e.g. `"scatter"`, `"bar"`, `"heatmap"`, `"table"`. */
  type: string;
  /** Legend name. */
  name?: string;
  /** Any other Plotly trace attribute. */
  [attribute: string]: unknown;
}

/** A Plotly figure: traces, layout and config, exactly what `Plotly.newPlot` takes. */
export interface PlotlyFigure {
  /** The traces, drawn in order. */
  data: PlotlyTrace[];
  /** Plotly layout (title, axes, size, …). */
  layout: Record<string, unknown>;
  /** Plotly config (e.g. `{ responsive: true }`). */
  config?: Record<string, unknown>;
}

/** Anything with a shape and its values in row-major order: a `tf.Tensor` fits. */
export interface TensorLike {
  /** Dimensions, outermost first. */
  shape: number[];
  /** Values in row-major order. */
  dataSync(): ArrayLike<number>;
}

/** Common options of the figure builders. */
export interface FigureOptions {
  /** Figure title. */
  title?: string;
  /** X-axis title. */
  xTitle?: string;
  /** Y-axis title. */
  yTitle?: string;
  /** Width in pixels (default: fill the container). */
  width?: number;
  /** Height in pixels (default 400). */
  height?: number;
  /** Use a log scale on the y-axis. */
  logY?: boolean;
}
