/**
 * Plots: typed builders for Plotly figures, `show` for the Deno Jupyter kernel (Plotly
 * JSON bundle + offline HTML fallback), self-contained HTML reports, and a headless
 * Chromium check that a report's plots really render.
 *
 * ```ts
 * import { learningCurveFigure, show, writeHtmlReport } from "../lib/plot/mod.ts";
 * const fig = learningCurveFigure([{ name: "MAML", x: [0, 1, 2], mean: [1, 0.5, 0.3], halfWidth: [0.1, 0.1, 0.05] }]);
 * await show(fig); // in a notebook
 * await writeHtmlReport("results/report.html", [fig], { title: "Sinusoid" });
 * ```
 * @module
 */
export type { FigureOptions, PlotlyFigure, PlotlyTrace, TensorLike } from "./types.ts";
export {
  barFigure,
  formatNumber,
  heatmapFigure,
  learningCurveFigure,
  lineFigure,
  PALETTE,
  scatterFigure,
  tableFigure,
} from "./figures.ts";
export type {
  BandSeries,
  BarSeries,
  Cell,
  HeatmapOptions,
  Series,
  TableOptions,
} from "./figures.ts";
export {
  composedImageFigure,
  composeImages,
  imageGridFigure,
  readImages,
  wrapText,
} from "./images.ts";
export type { ImageGridOptions, Images, ImageStack } from "./images.ts";
export { inNotebook, jupyterDisplay, newDisplayId, sendDisplay } from "./jupyter.ts";
export type { JupyterDisplay, MimeBundle } from "./jupyter.ts";
export {
  describeFigure,
  figureBundle,
  figureHtml,
  PLOTLY_MIME,
  plotlyLoaderBundle,
  resetInlineState,
  show,
} from "./show.ts";
export type { ShowOptions } from "./show.ts";
export { escapeHtml, reportHtml, writeHtmlReport } from "./report.ts";
export type { CaptionedFigure, ReportOptions, ReportTable } from "./report.ts";
export { PLOTLY_VERSION, plotlySource } from "./plotly_source.ts";
export { findChromium, renderCheck } from "./render_check.ts";
export type { RenderCheckOptions, RenderedFigure, RenderResult } from "./render_check.ts";
export { pageCheck, type PageCheckResult, type PageLink } from "./page_check.ts";
