/**
 * The reproduction report: one self-contained HTML file (plotly.js inlined once, works
 * offline) with a table of our numbers against the published ones and every run's
 * training and evaluation curves — every run in the output folder, not only the last
 * command's ({@linkcode readResults}).
 * @module
 */
import {
  type Cell,
  learningCurveFigure,
  lineFigure,
  type PlotlyFigure,
  tableFigure,
  writeHtmlReport,
} from "../plot/mod.ts";
import { agreement } from "../eval/mod.ts";
import { type ResultMetric, type RunResult, validateResult } from "./results.ts";
import type { Curve, Metric } from "./types.ts";

/**
 * Whether `m` agrees with its published number: the two 95% intervals overlap. Null when
 * there is no published number; false for a metric that diverged (not finite).
 */
export function agreesWithPublished(m: Metric | ResultMetric): boolean | null {
  if (!m.published) return null;
  // A diverged metric (recorded as non-finite) agrees with nothing.
  if (m.value === null || !Number.isFinite(m.value)) return false;
  return agreement(m.value, m.ci95, m.published);
}

/**
 * A recorded metric as the report and `reproduce` print it: "0.512 ± 0.034 MSE"; a
 * non-finite one as "diverged (Infinity; 3 of 5 episodes)"; a mean over one episode, whose
 * interval is undefined, as "0.512 MSE, interval undefined (1 episode)" — never "± 0".
 *
 * @example
 * ```ts
 * formatResultMetric({ name: "acc", value: 96.52, ci95: 0.41, unit: "%", higherIsBetter: true }); // "96.5 ± 0.4 %"
 * ```
 */
export function formatResultMetric(m: ResultMetric): string {
  if (m.value === null) {
    const episodes = m.diverged === undefined
      ? ""
      : `; ${m.diverged}${m.episodes === undefined ? "" : ` of ${m.episodes}`} episodes`;
    return `diverged (${m.nonFinite ?? "not finite"}${episodes})`;
  }
  const digits = m.unit === "%" ? 1 : 3;
  const ci = m.ci95 === undefined ? "" : ` ± ${m.ci95.toFixed(digits)}`;
  const single = m.ci95 === undefined && m.episodes === 1 ? ", interval undefined (1 episode)" : "";
  return `${m.value.toFixed(digits)}${ci} ${m.unit}${single}`;
}

function fmt(value: number, ci: number | undefined, unit: string): string {
  const digits = unit === "%" ? 1 : 3;
  return ci === undefined
    ? value.toFixed(digits)
    : `${value.toFixed(digits)} ± ${ci.toFixed(digits)}`;
}

/** How a run is described in the table: preset, wall time, and how far a partial run got. */
export function runLabel(r: RunResult): string {
  const partial = (r.partial ?? []).map((p) => `${p.label} ${p.step}/${p.steps} steps`);
  return `${r.preset}${partial.length ? `, PARTIAL (${partial.join(", ")})` : ""}, ` +
    `${r.wallTimeS.toFixed(0)} s`;
}

/** The ours-vs-published table as rows (also used by notebooks). */
export function comparisonRows(results: RunResult[]): Cell[][] {
  const rows: Cell[][] = [];
  for (const r of results) {
    for (const m of r.metrics) {
      const agree = agreesWithPublished(m);
      rows.push([
        r.experiment,
        m.name,
        formatResultMetric(m),
        m.published ? `${fmt(m.published.value, m.published.ci95, m.unit)} ${m.unit}` : "—",
        agree === null ? "—" : agree ? "yes" : "no",
        m.published?.source ?? "",
        runLabel(r),
      ]);
    }
  }
  return rows;
}

/** The figure for one curve of a run. */
export function curveFigure(curve: Curve, experiment?: string): PlotlyFigure {
  const title = experiment ? `${experiment}: ${curve.title}` : curve.title;
  const withBands = curve.series.every((s) => s.band);
  return withBands
    ? learningCurveFigure(
      curve.series.map((s) => ({ name: s.name, x: s.x, mean: s.y, halfWidth: s.band! })),
      { title, xTitle: curve.xLabel, yTitle: curve.yLabel },
    )
    : lineFigure(
      curve.series.map((s) => ({
        name: s.name,
        x: s.x,
        y: s.y,
        mode: s.markers ? "markers" as const : "lines" as const,
      })),
      {
        title,
        xTitle: curve.xLabel,
        yTitle: curve.yLabel,
      },
    );
}

/** What {@linkcode readResults} found in an output folder. */
export interface FolderResults {
  /** The valid results, by experiment folder name. */
  results: RunResult[];
  /** Results files left out, each with why (`<folder>/result.json: unreadable (…)`). */
  skipped: string[];
}

/**
 * Every run's result in the output folder `outDir` (`<outDir>/<experiment>/result.json`),
 * sorted by folder name; files that cannot be read or fail {@linkcode validateResult} are
 * listed in `skipped` with the reason, never silently dropped.
 *
 * @example
 * ```ts
 * const { results, skipped } = await readResults("results/quick");
 * await writeReport("results/quick/report.html", results, { skipped });
 * ```
 */
export async function readResults(outDir: string): Promise<FolderResults> {
  const found: FolderResults = { results: [], skipped: [] };
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(outDir)].filter((e) => e.isDirectory);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return found;
    throw e;
  }
  for (const name of entries.map((e) => e.name).sort()) {
    const file = `${outDir}/${name}/result.json`;
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // not a run's folder, or none finished
      found.skipped.push(`${name}/result.json: unreadable (${(e as Error).message})`);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      found.skipped.push(`${name}/result.json: not JSON (${(e as Error).message})`);
      continue;
    }
    const problems = validateResult(value);
    if (problems.length > 0) {
      found.skipped.push(`${name}/result.json: not a valid result (${problems.join("; ")})`);
    } else found.results.push(value as RunResult);
  }
  return found;
}

/** Options of {@linkcode writeReport}. */
export interface WriteReportOptions {
  /** Results files that could not be included, with why (said at the top of the report). */
  skipped?: string[];
}

/** Writes the HTML report of `results` to `path` (atomically). */
export async function writeReport(
  path: string,
  results: RunResult[],
  options: WriteReportOptions = {},
): Promise<void> {
  const rows = comparisonRows(results);
  const table = tableFigure(
    ["experiment", "metric", "ours (95% CI)", "published", "agrees", "source", "run"],
    rows,
    // Cells wrap (sources, long metric names): give each row room for three lines.
    { title: "MetaLab reproductions: ours vs published", height: 140 + 62 * rows.length },
  );
  const figures = [table];
  for (const r of results) for (const c of r.curves) figures.push(curveFigure(c, r.experiment));
  const backends = [...new Set(results.map((r) => r.backend))].join(", ");
  await writeHtmlReport(path, figures, {
    title: "MetaLab reproduction report",
    text: [
      `Generated ${new Date().toISOString()} by deno task reproduce on backend ${backends}; ` +
      `MetaLab ${results[0]?.versions.metalab}, tfjs ${results[0]?.versions.tfjs}, ` +
      `Deno ${results[0]?.versions.deno}.`,
      "An entry agrees with the published number when the two 95% intervals overlap.",
      ...(options.skipped ?? []).map((why) => `Not in this report: ${why}.`),
      ...results.flatMap((r) => r.notes.map((n) => `${r.experiment}: ${n}`)),
    ],
  });
}
