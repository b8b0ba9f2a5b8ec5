/**
 * Builders for the figures MetaLab draws: line/scatter plots with several series,
 * learning curves with mean ± confidence bands, bar charts, heatmaps and result tables.
 * Each returns a plain {@linkcode PlotlyFigure}; nothing here draws or touches the DOM.
 * @module
 */
import type { FigureOptions, PlotlyFigure, PlotlyTrace } from "./types.ts";

/** One series of a line or scatter figure. */
export interface Series {
  /** Legend name. */
  name: string;
  /** X values (default 0, 1, 2, …). */
  x?: ArrayLike<number>;
  /** Y values. */
  y: ArrayLike<number>;
  /** `lines` (default for {@linkcode lineFigure}), `markers` or `lines+markers`. */
  mode?: "lines" | "markers" | "lines+markers";
  /** Dashed line (e.g. for a baseline or a published number). */
  dash?: boolean;
  /** Line colour (default: the i-th of {@linkcode PALETTE}); give series that belong together one colour. */
  color?: string;
}

/** Qualitative colours (Plotly's default cycle), used to match a band to its line. */
export const PALETTE = [
  "#636efa",
  "#ef553b",
  "#00cc96",
  "#ab63fa",
  "#ffa15a",
  "#19d3f3",
  "#ff6692",
  "#b6e880",
  "#ff97ff",
  "#fecb52",
] as const;

/** Throws a clear error when a value is not a finite number array of the expected length. */
function toNumbers(values: ArrayLike<number>, what: string, length?: number): number[] {
  const out = Array.from(values, Number);
  if (length !== undefined && out.length !== length) {
    throw new Error(`${what}: expected ${length} values, got ${out.length}`);
  }
  return out;
}

function baseLayout(options: FigureOptions): Record<string, unknown> {
  const layout: Record<string, unknown> = {
    height: options.height ?? 400,
    margin: { l: 60, r: 20, t: options.title ? 50 : 20, b: 50 },
    xaxis: { title: { text: options.xTitle ?? "" } },
    yaxis: { title: { text: options.yTitle ?? "" }, type: options.logY ? "log" : "linear" },
  };
  if (options.title) layout.title = { text: options.title };
  if (options.width) layout.width = options.width;
  return layout;
}

function seriesTrace(s: Series, i: number, defaultMode: Series["mode"]): PlotlyTrace {
  const y = toNumbers(s.y, `series "${s.name}" y`);
  const x = s.x ? toNumbers(s.x, `series "${s.name}" x`, y.length) : y.map((_, k) => k);
  const mode = s.mode ?? defaultMode;
  return {
    type: "scatter",
    name: s.name,
    x,
    y,
    mode,
    line: { color: s.color ?? PALETTE[i % PALETTE.length], dash: s.dash ? "dash" : "solid" },
    marker: { color: s.color ?? PALETTE[i % PALETTE.length], size: 6 },
  };
}

/** A figure of several line series (e.g. loss curves, fitted functions). */
export function lineFigure(series: Series[], options: FigureOptions = {}): PlotlyFigure {
  if (series.length === 0) throw new Error("lineFigure: give at least one series");
  return {
    data: series.map((s, i) => seriesTrace(s, i, "lines")),
    layout: baseLayout(options),
    config: { responsive: true, displaylogo: false },
  };
}

/** A figure of several point series (e.g. support points next to a fitted curve). */
export function scatterFigure(series: Series[], options: FigureOptions = {}): PlotlyFigure {
  if (series.length === 0) throw new Error("scatterFigure: give at least one series");
  return {
    data: series.map((s, i) => seriesTrace(s, i, "markers")),
    layout: baseLayout(options),
    config: { responsive: true, displaylogo: false },
  };
}

/** One learning curve: a mean and a symmetric half-width (e.g. a 95% CI) at each x. */
export interface BandSeries {
  /** Legend name. */
  name: string;
  /** X values (steps, episodes, λ, …). */
  x: ArrayLike<number>;
  /** Mean at each x. */
  mean: ArrayLike<number>;
  /** Half-width of the band at each x (the band is mean ± halfWidth; omitted: a line only). */
  halfWidth?: ArrayLike<number>;
  /** Colour of line and band (default: the i-th of {@linkcode PALETTE}). */
  color?: string;
  /** Dashed line (e.g. the meta-train curve beside a meta-test band of the same colour). */
  dash?: boolean;
}

function rgba(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** The two edge traces of a shaded band around `mean` (upper edge, then lower edge filled to it). */
function bandTraces(
  name: string,
  x: number[],
  mean: number[],
  half: number[],
  color: string,
  group: string,
): PlotlyTrace[] {
  const edge = (sign: number) => mean.map((m, k) => m + sign * half[k]);
  return [
    {
      type: "scatter",
      name: `${name} upper`,
      x,
      y: edge(1),
      mode: "lines",
      line: { width: 0, color },
      hoverinfo: "skip",
      showlegend: false,
      legendgroup: group,
    },
    {
      type: "scatter",
      name: `${name} band`,
      x,
      y: edge(-1),
      mode: "lines",
      line: { width: 0, color },
      fill: "tonexty",
      fillcolor: rgba(color, 0.2),
      hoverinfo: "skip",
      showlegend: false,
      legendgroup: group,
    },
  ];
}

/**
 * Learning curves with shaded mean ± half-width bands: for each series a filled band
 * (upper edge, then lower edge filled to it) and the mean line on top, in one colour.
 */
export function learningCurveFigure(
  curves: BandSeries[],
  options: FigureOptions = {},
): PlotlyFigure {
  if (curves.length === 0) throw new Error("learningCurveFigure: give at least one curve");
  const data: PlotlyTrace[] = [];
  curves.forEach((c, i) => {
    const x = toNumbers(c.x, `curve "${c.name}" x`);
    const mean = toNumbers(c.mean, `curve "${c.name}" mean`, x.length);
    const color = c.color ?? PALETTE[i % PALETTE.length];
    const group = `curve${i}`;
    if (c.halfWidth !== undefined) {
      const half = toNumbers(c.halfWidth, `curve "${c.name}" halfWidth`, x.length);
      if (half.some((h) => h < 0)) throw new Error(`curve "${c.name}": halfWidth must be ≥ 0`);
      data.push(...bandTraces(c.name, x, mean, half, color, group));
    }
    data.push({
      type: "scatter",
      name: c.name,
      x,
      y: mean,
      mode: "lines",
      line: { color, width: 2, dash: c.dash ? "dash" : "solid" },
      legendgroup: group,
    });
  });
  return {
    data,
    layout: baseLayout(options),
    config: { responsive: true, displaylogo: false },
  };
}

/** One group of bars (e.g. one method across several settings). */
export interface BarSeries {
  /** Legend name. */
  name: string;
  /** Bar heights, one per category. */
  values: ArrayLike<number>;
  /** Optional symmetric error bars (e.g. 95% CI half-widths). */
  errors?: ArrayLike<number>;
}

/** A grouped bar chart over named categories, with optional error bars. */
export function barFigure(
  categories: string[],
  series: BarSeries[],
  options: FigureOptions = {},
): PlotlyFigure {
  if (series.length === 0) throw new Error("barFigure: give at least one series");
  return {
    data: series.map((s, i) => {
      const trace: PlotlyTrace = {
        type: "bar",
        name: s.name,
        x: categories,
        y: toNumbers(s.values, `bars "${s.name}"`, categories.length),
        marker: { color: PALETTE[i % PALETTE.length] },
      };
      if (s.errors) {
        trace.error_y = {
          type: "data",
          array: toNumbers(s.errors, `bars "${s.name}" errors`, categories.length),
          visible: true,
        };
      }
      return trace;
    }),
    layout: { ...baseLayout(options), barmode: "group" },
    config: { responsive: true, displaylogo: false },
  };
}

/** Options of {@linkcode heatmapFigure}. */
export interface HeatmapOptions extends FigureOptions {
  /** Column labels. */
  xLabels?: string[];
  /** Row labels. */
  yLabels?: string[];
  /** Plotly colour scale name (default `Viridis`). */
  colorscale?: string;
  /** Write each value in its cell. */
  annotate?: boolean;
}

/** A heatmap of a matrix given as rows (row 0 is drawn at the top). */
export function heatmapFigure(
  rows: ArrayLike<number>[],
  options: HeatmapOptions = {},
): PlotlyFigure {
  if (rows.length === 0) throw new Error("heatmapFigure: the matrix has no rows");
  const width = rows[0].length;
  const z = rows.map((r, i) => toNumbers(r, `heatmap row ${i}`, width));
  const trace: PlotlyTrace = {
    type: "heatmap",
    z,
    colorscale: options.colorscale ?? "Viridis",
  };
  if (options.xLabels) trace.x = options.xLabels;
  if (options.yLabels) trace.y = options.yLabels;
  if (options.annotate) {
    trace.text = z.map((r) => r.map((v) => formatNumber(v)));
    trace.texttemplate = "%{text}";
  }
  const layout = baseLayout(options);
  layout.yaxis = { ...(layout.yaxis as object), autorange: "reversed" };
  return { data: [trace], layout, config: { responsive: true, displaylogo: false } };
}

/** Formats a number for a table or an annotation: 4 significant digits, no trailing noise. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(4)).toString();
}

/** A table cell: text or a number (formatted with {@linkcode formatNumber}). */
export type Cell = string | number | null | undefined;

/** Options of {@linkcode tableFigure}. */
export interface TableOptions {
  /** Table title. */
  title?: string;
  /** Height in pixels (default: fits the rows). */
  height?: number;
}

/** A results table (e.g. ours vs published) as a Plotly table trace. */
export function tableFigure(
  header: string[],
  rows: Cell[][],
  options: TableOptions = {},
): PlotlyFigure {
  if (header.length === 0) throw new Error("tableFigure: the header is empty");
  rows.forEach((r, i) => {
    if (r.length !== header.length) {
      throw new Error(`tableFigure: row ${i} has ${r.length} cells, the header ${header.length}`);
    }
  });
  const columns = header.map((_, c) =>
    rows.map((r) => {
      const v = r[c];
      return typeof v === "number" ? formatNumber(v) : (v ?? "");
    })
  );
  return {
    data: [{
      type: "table",
      header: {
        values: header,
        align: "left",
        fill: { color: "#e8eaf6" },
        font: { size: 13 },
      },
      cells: { values: columns, align: "left", font: { size: 12 }, height: 26 },
    }],
    layout: {
      title: options.title ? { text: options.title } : undefined,
      height: options.height ??
        Math.min(800, 90 + (options.title ? 40 : 0) + 28 * (rows.length + 1)),
      margin: { l: 10, r: 10, t: options.title ? 50 : 10, b: 10 },
    },
    config: { displaylogo: false },
  };
}
