/**
 * One self-contained HTML report: text, tables and figures, with plotly.js inlined once,
 * so it opens offline in any browser. Written atomically (temp file, then rename).
 * @module
 */
import { formatNumber } from "./figures.ts";
import type { Cell } from "./figures.ts";
import { PLOTLY_VERSION, plotlySource, scriptJson, scriptSafe } from "./plotly_source.ts";
import type { PlotlyFigure } from "./types.ts";
import { atomicWrite } from "../files/mod.ts";

/** A table in a report (plain HTML, readable even without JavaScript). */
export interface ReportTable {
  /** Caption above the table. */
  title?: string;
  /** Column names. */
  header: string[];
  /** Rows of cells; numbers are formatted to 4 significant digits. */
  rows: Cell[][];
}

/** A figure with an optional caption below it. */
export interface CaptionedFigure {
  /** The figure. */
  figure: PlotlyFigure;
  /** Text shown below the figure. */
  caption?: string;
}

/** Options of {@linkcode writeHtmlReport}. */
export interface ReportOptions {
  /** Page title and heading. */
  title: string;
  /** Paragraphs shown under the heading (plain text, HTML-escaped). */
  text?: string | string[];
  /** Tables shown before the figures. */
  tables?: ReportTable[];
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/**
 * The script placed first in every report: it records uncaught errors and failed
 * `console.error` calls into a visible `#metalab-errors` box, so a reader (and
 * `renderCheck`) sees when a plot failed instead of an empty space.
 */
export const ERROR_CAPTURE_SCRIPT = `<script>(function () {
  var errors = [];
  window.__metalabErrors = errors;
  function record(message) {
    errors.push(String(message));
    var box = document.getElementById("metalab-errors");
    if (box) { box.hidden = false; box.textContent = errors.join("\\n"); }
  }
  window.addEventListener("error", function (e) {
    record("error: " + (e.message || (e.target && (e.target.src || e.target.href)) || e));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { record("unhandled rejection: " + e.reason); });
  var original = console.error;
  console.error = function () {
    record("console.error: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();</script>`;

function tableHtml(table: ReportTable): string {
  const cell = (v: Cell) => escapeHtml(typeof v === "number" ? formatNumber(v) : (v ?? ""));
  const head = table.header.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = table.rows.map((r, i) => {
    if (r.length !== table.header.length) {
      throw new Error(
        `report table "${
          table.title ?? ""
        }": row ${i} has ${r.length} cells, the header ${table.header.length}`,
      );
    }
    return `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join("")}</tr>`;
  }).join("\n");
  const caption = table.title ? `<caption>${escapeHtml(table.title)}</caption>` : "";
  return `<table>${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** The report as one HTML string (see {@linkcode writeHtmlReport}). */
export function reportHtml(
  figures: (PlotlyFigure | CaptionedFigure)[],
  options: ReportOptions,
): string {
  if (!options?.title) throw new Error("writeHtmlReport: options.title is required");
  const items = figures.map((f) => ("figure" in f ? f : { figure: f as PlotlyFigure }));
  items.forEach((item, i) => {
    if (!Array.isArray(item.figure?.data)) {
      throw new Error(`writeHtmlReport: figure ${i} has no data array (not a Plotly figure)`);
    }
  });
  const paragraphs = (typeof options.text === "string" ? [options.text] : options.text ?? [])
    .map((p) => `<p>${escapeHtml(p)}</p>`).join("\n");
  const tables = (options.tables ?? []).map(tableHtml).join("\n");
  const divs = items.map((item, i) =>
    `<figure><div id="fig-${i}" class="metalab-plot"></div>${
      item.caption ? `<figcaption>${escapeHtml(item.caption)}</figcaption>` : ""
    }</figure>`
  ).join("\n");
  const specs = items.map((item) => ({
    data: item.figure.data,
    layout: item.figure.layout,
    config: { displaylogo: false, ...(item.figure.config ?? {}), responsive: true },
  }));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="MetaLab lib/plot (plotly.js ${escapeHtml(PLOTLY_VERSION)})">
<title>${escapeHtml(options.title)}</title>
${ERROR_CAPTURE_SCRIPT}
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }
th { background: #e8eaf6; }
figure { margin: 1.5em 0; }
figcaption { color: #555; font-size: 0.9em; }
#metalab-errors { background: #fee; color: #900; padding: 0.5em; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>${escapeHtml(options.title)}</h1>
<pre id="metalab-errors" hidden></pre>
${paragraphs}
${tables}
${divs}
<script>${scriptSafe(plotlySource())}</script>
<script>(function () {
  var figures = ${scriptJson(specs)};
  var pending = figures.map(function (fig, i) {
    return window.Plotly.newPlot("fig-" + i, fig.data, fig.layout, fig.config);
  });
  Promise.all(pending).then(function () { document.body.setAttribute("data-plots-ready", String(figures.length)); });
})();</script>
</body>
</html>
`;
}

/**
 * Writes figures, tables and text into ONE self-contained HTML file at `path` (plotly.js
 * inlined once; no network needed to view it). The file is written to a temporary name
 * in the same folder and renamed, so a reader never sees half a report. Creates the
 * folder if needed. Returns the absolute path written.
 */
export async function writeHtmlReport(
  path: string,
  figures: (PlotlyFigure | CaptionedFigure)[],
  options: ReportOptions,
): Promise<string> {
  const html = reportHtml(figures, options);
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  try {
    await atomicWrite(absolute, html);
  } catch (e) {
    throw new Error(`writeHtmlReport: could not write ${absolute}: ${(e as Error).message}`);
  }
  return absolute;
}
