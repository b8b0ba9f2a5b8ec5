/**
 * Showing a figure in the Deno Jupyter kernel: an `application/vnd.plotly.v1+json` bundle
 * (rendered natively by JupyterLab with the Plotly extension, VS Code, nteract) plus a
 * `text/html` fallback that draws with plotly.js loaded from the npm package — inlined
 * with the first figure of the notebook, reused from `window.Plotly` by the later ones.
 * @module
 */
import {
  inNotebook,
  jupyterDisplay,
  type MimeBundle,
  newDisplayId,
  sendDisplay,
} from "./jupyter.ts";
import type { JupyterDisplay } from "./jupyter.ts";
import { plotlySource, scriptJson, scriptSafe } from "./plotly_source.ts";
import type { PlotlyFigure } from "./types.ts";

/** The Plotly MIME type Jupyter front-ends render natively. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Options of {@linkcode show} and {@linkcode figureBundle}. */
export interface ShowOptions {
  /**
   * Whether the HTML fallback carries plotly.js itself: `auto` (default) inlines it with
   * the first figure shown in this kernel session only; `always` / `never` force it.
   */
  inlinePlotly?: "auto" | "always" | "never";
  /** Show under this display id (so that a later `show(..., {update: true})` replaces it). */
  displayId?: string;
  /** Replace the output shown earlier under `displayId` instead of adding one. */
  update?: boolean;
  /** The kernel API (tests inject a fake; default `Deno.jupyter` when in the kernel). */
  jupyter?: JupyterDisplay;
}

let plotlyInlined = false;
let noteShown = false;

/** A one-line text description of a figure (the bundle's `text/plain`). */
export function describeFigure(fig: PlotlyFigure): string {
  const title = (fig.layout.title as { text?: string } | undefined)?.text;
  const types = [...new Set(fig.data.map((t) => t.type))].join(", ");
  return `Plotly figure${title ? ` "${title}"` : ""}: ${fig.data.length} trace(s) (${types})`;
}

/**
 * The HTML that draws `fig` into a new `<div>`; with `withPlotly` it also carries
 * plotly.js, else it waits (up to 30 s) for `window.Plotly` from an earlier output.
 */
export function figureHtml(
  fig: PlotlyFigure,
  withPlotly: boolean,
  divId = newDisplayId("plot"),
): string {
  const height = typeof fig.layout.height === "number" ? `${fig.layout.height}px` : "400px";
  const library = withPlotly ? `<script>${scriptSafe(plotlySource())}</script>\n` : "";
  return `<div id="${divId}" class="metalab-plot" style="width:100%;min-height:${height}"></div>
${library}<script>(function () {
  var fig = ${scriptJson(fig)};
  var el = document.getElementById(${JSON.stringify(divId)});
  function draw() { window.Plotly.newPlot(el, fig.data, fig.layout, fig.config || {}); }
  if (window.Plotly) { draw(); return; }
  var waited = 0;
  var timer = setInterval(function () {
    if (window.Plotly) { clearInterval(timer); draw(); }
    else if ((waited += 100) > 30000) {
      clearInterval(timer);
      el.textContent = "plotly.js is not loaded in this page: re-run the notebook's first plot " +
        "cell (it carries plotly.js), or show this figure with { inlinePlotly: 'always' }.";
    }
  }, 100);
})();</script>`;
}

/**
 * The MIME bundle for a figure: the Plotly JSON, an HTML fallback and a text line.
 * With `inlinePlotly: "auto"`, plotly.js is inlined only into the first bundle made in
 * this process (in a notebook: the first figure shown).
 */
export function figureBundle(fig: PlotlyFigure, options: ShowOptions = {}): MimeBundle {
  const mode = options.inlinePlotly ?? "auto";
  const withPlotly = mode === "always" || (mode === "auto" && !plotlyInlined);
  const bundle: MimeBundle = {
    [PLOTLY_MIME]: { data: fig.data, layout: fig.layout, config: fig.config ?? {} },
    "text/html": figureHtml(fig, withPlotly),
    "text/plain": describeFigure(fig),
  };
  if (withPlotly) plotlyInlined = true;
  return bundle;
}

/**
 * Shows a figure. In the Deno Jupyter kernel it displays the figure's bundle (see
 * {@linkcode figureBundle}) and returns `undefined`, so that a cell ending in
 * `await show(fig)` shows the figure and nothing else. Elsewhere it prints one note (once
 * per process) that figures show in notebooks and that `writeHtmlReport` saves them,
 * and returns the bundle (without plotly.js inlined).
 */
export async function show(
  fig: PlotlyFigure,
  options: ShowOptions = {},
): Promise<MimeBundle | undefined> {
  const api = options.jupyter ?? jupyterDisplay();
  if (!api) {
    if (!noteShown) {
      noteShown = true;
      console.log(
        `[plot] ${describeFigure(fig)} — not in a notebook, so not drawn; ` +
          "save figures with writeHtmlReport(path, figures) to view them in a browser",
      );
    }
    return figureBundle(fig, { ...options, inlinePlotly: "never" });
  }
  if (options.displayId && (options.inlinePlotly ?? "auto") === "auto" && !plotlyInlined) {
    // A figure shown under a display id is replaced by later updates, and plotly.js with
    // it; so plotly.js goes into an output of its own that stays in the notebook.
    await sendDisplay(api, plotlyLoaderBundle());
  }
  const bundle = figureBundle(fig, options);
  await sendDisplay(api, bundle, { displayId: options.displayId, update: options.update });
  return undefined;
}

/**
 * An output that only loads plotly.js into the page (for the HTML fallback of later
 * figures); marks plotly.js as inlined for this kernel session.
 */
export function plotlyLoaderBundle(): MimeBundle {
  plotlyInlined = true;
  return {
    "text/html": `<script>${scriptSafe(plotlySource())}</script>`,
    "text/plain": "(plotly.js loaded for this notebook's figures)",
  };
}

/** Forgets that plotly.js was inlined (for tests; a kernel restart does the same). */
export function resetInlineState(): void {
  plotlyInlined = false;
  noteShown = false;
}

export { inNotebook };
