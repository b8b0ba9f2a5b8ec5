/**
 * Merging a sweep: one table and one HTML report from the complete runs of a sweep folder.
 * For each setting, every metric's mean over seeds with a 95% interval across seeds
 * ({@linkcode seedInterval}) and the per-seed numbers; the best setting by one metric;
 * plots of that metric against each swept knob; and the runs that are missing, with why.
 * Only complete results are read (a partial or failed run is listed, never averaged in),
 * and a folder holding results of another experiment or preset is refused, not mixed.
 * @module
 */
import { atomicWrite } from "../files/mod.ts";
import type { ResultMetric, RunResult } from "../experiments/mod.ts";
import {
  barFigure,
  type CaptionedFigure,
  formatNumber,
  learningCurveFigure,
  PALETTE,
  type PlotlyFigure,
  type ReportTable,
  writeHtmlReport,
} from "../plot/mod.ts";
import { SweepFolderError } from "./folder.ts";
import type { SweepPlan } from "./plan.ts";
import { type SeedInterval, seedInterval } from "./seeds.ts";
import { type RunStatus, sweepStatus } from "./status.ts";

/** Schema identifier of `merged.json`. */
export const MERGE_SCHEMA = "metalab.sweep-merge/1";

/** One metric of one setting over its seeds. */
export interface MergedMetric {
  /** The metric's name, as the results name it. */
  name: string;
  /** Its unit. */
  unit: string;
  /** Whether higher is better. */
  higherIsBetter: boolean;
  /** Per seed: the value, null where it was not finite (a diverged run). */
  perSeed: { seed: number; value: number | null }[];
  /** Mean and 95% interval over the seeds with a finite value; null when none had one. */
  interval: SeedInterval | null;
}

/** One setting's merged numbers. */
export interface MergedSetting {
  /** Index into the plan's settings. */
  setting: number;
  /** Its swept values. */
  values: Record<string, string>;
  /** Seeds with a complete run. */
  seeds: number[];
  /** Every metric. */
  metrics: MergedMetric[];
}

/** What `merge` writes to `merged.json`. */
export interface SweepMerge {
  /** Always {@linkcode MERGE_SCHEMA}. */
  schema: typeof MERGE_SCHEMA;
  /** The sweep's name. */
  sweep: string;
  /** Its experiment. */
  experiment: string;
  /** Its preset. */
  preset: string;
  /** The metric that ranks the settings. */
  metric: string;
  /**
   * The best setting by that metric (null when no setting has a finite value of it), and
   * the settings whose 95% interval overlaps its own: those the sweep's seeds do not tell
   * apart from it.
   */
  best: {
    setting: number;
    values: Record<string, string>;
    interval: SeedInterval;
    overlapping: number[];
  } | null;
  /** The settings with at least one complete run, in plan order. */
  settings: MergedSetting[];
  /** Runs without a complete result: id, state and why. */
  missing: { id: string; state: string; detail: string }[];
  /** Runs complete. */
  complete: number;
  /** Runs in the plan. */
  total: number;
}

/** A sweep folder holding results that are not this sweep's experiment and preset. */
export class SweepMixError extends Error {
  override name = "SweepMixError";
}

/** Every result file under the folder's runs, to refuse another experiment's or preset's. */
async function foreignResults(dir: string, plan: SweepPlan): Promise<string[]> {
  const foreign: string[] = [];
  const entries = (path: string) => {
    try {
      return [...Deno.readDirSync(path)].filter((e) => e.isDirectory).map((e) => e.name).sort();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  };
  for (const run of entries(`${dir}/runs`)) {
    for (const sub of entries(`${dir}/runs/${run}`)) {
      const path = `${dir}/runs/${run}/${sub}/result.json`;
      let result: Partial<RunResult>;
      try {
        result = JSON.parse(await Deno.readTextFile(path));
      } catch {
        continue; // not a result (or unreadable: status lists the run as missing)
      }
      if (result.experiment !== plan.spec.experiment || result.preset !== plan.spec.preset) {
        foreign.push(`runs/${run}/${sub}/result.json (${result.experiment}, ${result.preset})`);
      }
    }
  }
  return foreign;
}

/** The ranking metric: the spec's, else the first with a published number, else the first. */
function rankingMetric(plan: SweepPlan, results: RunResult[]): string {
  const names = [...new Set(results.flatMap((r) => r.metrics.map((m) => m.name)))];
  if (plan.spec.metric !== undefined) {
    if (!names.includes(plan.spec.metric)) {
      throw new SweepFolderError(
        `the spec's metric "${plan.spec.metric}" is in none of the results; they have: ` +
          names.map((n) => `"${n}"`).join(", "),
      );
    }
    return plan.spec.metric;
  }
  return results[0].metrics.find((m) => m.published)?.name ?? names[0];
}

function mergeSetting(plan: SweepPlan, setting: number, done: RunStatus[]): MergedSetting {
  const results = done.map((d) => d.result!);
  const names = [...new Set(results.flatMap((r) => r.metrics.map((m) => m.name)))];
  const metrics = names.map((name): MergedMetric => {
    const first = results.flatMap((r) => r.metrics).find((m) => m.name === name) as ResultMetric;
    const perSeed = results.map((r) => ({
      seed: r.seed,
      value: r.metrics.find((m) => m.name === name)?.value ?? null,
    }));
    const finite = perSeed.map((p) => p.value).filter((v): v is number => v !== null);
    return {
      name,
      unit: first.unit,
      higherIsBetter: first.higherIsBetter,
      perSeed,
      interval: finite.length ? seedInterval(finite) : null,
    };
  });
  return { setting, values: plan.settings[setting], seeds: results.map((r) => r.seed), metrics };
}

/** A setting as one label: `innerLr=0.1, trainSteps=20` (or "the one setting"). */
export function settingLabel(values: Record<string, string>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(", ") : "(one setting)";
}

function intervalText(i: SeedInterval | null): string {
  if (!i) return "no finite value";
  return i.ci95 === undefined
    ? `${formatNumber(i.mean)} (1 seed: no interval)`
    : `${formatNumber(i.mean)} ± ${formatNumber(i.ci95)}`;
}

/**
 * Merges the complete runs of the sweep in `dir`.
 *
 * @example
 * ```ts
 * const merged = await mergeSweep("results/sweeps/lr");
 * console.log(merged.best?.values, merged.missing);
 * ```
 */
export async function mergeSweep(dir: string): Promise<SweepMerge> {
  const status = await sweepStatus(dir);
  const { plan } = status;
  const foreign = await foreignResults(dir, plan);
  if (foreign.length > 0) {
    throw new SweepMixError(
      `${dir} is a sweep of ${plan.spec.experiment} (${plan.spec.preset}) but also holds ` +
        `${foreign.join(", ")}: results of different experiments or presets are not merged; ` +
        `move them out of the sweep folder`,
    );
  }
  const done = status.runs.filter((r) => r.state === "done");
  const missing = status.runs.filter((r) => r.state !== "done")
    .map((r) => ({ id: r.run.id, state: r.state, detail: r.detail }));
  if (done.length === 0) {
    throw new SweepFolderError(
      `${dir}: no run is complete yet, nothing to merge (${missing.length} missing; ` +
        `deno task sweep status ${dir} says where each stands)`,
    );
  }
  const metric = rankingMetric(plan, done.map((d) => d.result!));
  const settings = plan.settings.map((_, s) => s)
    .filter((s) => done.some((d) => d.run.setting === s))
    .map((s) => mergeSetting(plan, s, done.filter((d) => d.run.setting === s)));
  let best: SweepMerge["best"] = null;
  for (const s of settings) {
    const m = s.metrics.find((m) => m.name === metric);
    if (!m?.interval) continue;
    const better = best === null ||
      (m.higherIsBetter
        ? m.interval.mean > best.interval.mean
        : m.interval.mean < best.interval.mean);
    if (better) {
      best = { setting: s.setting, values: s.values, interval: m.interval, overlapping: [] };
    }
  }
  if (best) {
    const b = best.interval;
    best.overlapping = settings.filter((s) => s.setting !== best!.setting).filter((s) => {
      const i = s.metrics.find((m) => m.name === metric)?.interval;
      if (!i) return false;
      // Without an interval (one seed) nothing is told apart: it counts as overlapping.
      if (i.ci95 === undefined || b.ci95 === undefined) return true;
      return Math.abs(i.mean - b.mean) <= i.ci95 + b.ci95;
    }).map((s) => s.setting);
  }
  return {
    schema: MERGE_SCHEMA,
    sweep: plan.spec.name,
    experiment: plan.spec.experiment,
    preset: plan.spec.preset,
    metric,
    best,
    settings,
    missing,
    complete: done.length,
    total: plan.runs.length,
  };
}

/** What the best setting's overlaps mean, as a clause (empty when it stands apart). */
function overlapText(m: SweepMerge): string {
  const n = m.best?.overlapping.length ?? 0;
  return n === 0 ? "" : ` (its 95% interval overlaps that of ${n} other setting(s): these ` +
    `seeds do not tell them apart; more seeds would)`;
}

/** The merge as plain-text lines (what `deno task sweep merge` prints). */
export function mergeText(m: SweepMerge): string[] {
  const metricOf = (s: MergedSetting) => s.metrics.find((x) => x.name === m.metric);
  const direction = metricOf(m.settings[0])?.higherIsBetter ? "higher" : "lower";
  const rows = m.settings.map((s) => {
    const x = metricOf(s);
    const seeds = x?.perSeed.map((p) =>
      `seed ${p.seed}: ${p.value === null ? "not finite" : formatNumber(p.value)}`
    )
      .join(", ") ?? "";
    return `  ${settingLabel(s.values).padEnd(36)} ${
      intervalText(x?.interval ?? null).padEnd(24)
    } ${seeds}`;
  });
  return [
    `sweep ${m.sweep}: ${m.experiment} (${m.preset}), ${m.complete} of ${m.total} runs complete`,
    `${m.metric} (${direction} is better), mean ± 95% interval across seeds (Student's t):`,
    ...rows,
    m.best
      ? `best: ${settingLabel(m.best.values)}: ${intervalText(m.best.interval)}${overlapText(m)}`
      : "best: none (no setting has a finite value)",
    ...(m.missing.length
      ? [
        `missing (${m.missing.length}):`,
        ...m.missing.map((x) => `  ${x.id}: ${x.state}: ${x.detail}`),
      ]
      : []),
  ];
}

/** Plots of the ranking metric against each swept knob (one series per value of the others). */
function knobFigures(plan: SweepPlan, m: SweepMerge): CaptionedFigure[] {
  const metricOf = (s: MergedSetting) => s.metrics.find((x) => x.name === m.metric);
  const knobs = Object.keys(plan.settings[0] ?? {});
  const figures: CaptionedFigure[] = [];
  for (const knob of knobs) {
    const others = (s: MergedSetting) =>
      settingLabel(Object.fromEntries(Object.entries(s.values).filter(([k]) => k !== knob)));
    const groups = [...new Set(m.settings.map(others))];
    const numeric = m.settings.every((s) => Number.isFinite(Number(s.values[knob])));
    const caption = `${m.metric} against ${knob}: mean over seeds with its 95% interval; ` +
      `points are the seeds`;
    if (numeric) {
      const curves = groups.map((g, i) => {
        const points = m.settings.filter((s) => others(s) === g && metricOf(s)?.interval)
          .sort((a, b) => Number(a.values[knob]) - Number(b.values[knob]));
        return {
          name: knobs.length > 1 ? g : m.metric,
          x: points.map((s) => Number(s.values[knob])),
          mean: points.map((s) => metricOf(s)!.interval!.mean),
          halfWidth: points.map((s) => metricOf(s)!.interval!.ci95 ?? 0),
          color: PALETTE[i % PALETTE.length],
          points,
        };
      }).filter((c) => c.x.length > 0);
      if (curves.length === 0) continue;
      const figure: PlotlyFigure = learningCurveFigure(curves, {
        title: `${m.metric} vs ${knob}`,
        xTitle: knob,
        yTitle: m.metric,
      });
      curves.forEach((c) => {
        const seeds = c.points.flatMap((s) =>
          metricOf(s)!.perSeed.filter((p) => p.value !== null)
            .map((p) => ({ x: Number(s.values[knob]), y: p.value as number }))
        );
        figure.data.push({
          type: "scatter",
          mode: "markers",
          name: `${c.name} (seeds)`,
          x: seeds.map((p) => p.x),
          y: seeds.map((p) => p.y),
          marker: { color: c.color, size: 7, opacity: 0.6 },
          showlegend: false,
        });
      });
      figures.push({ figure, caption });
    } else {
      const categories = [...new Set(m.settings.map((s) => s.values[knob]))];
      const series = groups.map((g) => {
        const at = (c: string) =>
          m.settings.find((s) => others(s) === g && s.values[knob] === c && metricOf(s)?.interval);
        return {
          name: knobs.length > 1 ? g : m.metric,
          values: categories.map((c) => metricOf(at(c)!)?.interval?.mean ?? 0),
          errors: categories.map((c) => metricOf(at(c)!)?.interval?.ci95 ?? 0),
        };
      }).filter((s) => s.values.length > 0);
      figures.push({
        figure: barFigure(categories, series, { title: `${m.metric} vs ${knob}`, xTitle: knob }),
        caption,
      });
    }
  }
  if (figures.length === 0) {
    // No knob swept (seeds only): the seeds' values of the one setting.
    const x = metricOf(m.settings[0])!;
    const seeds = x.perSeed.filter((p) => p.value !== null);
    figures.push({
      figure: barFigure(seeds.map((p) => `seed ${p.seed}`), [{
        name: m.metric,
        values: seeds.map((p) => p.value as number),
      }], { title: `${m.metric} per seed`, yTitle: m.metric }),
      caption: `${m.metric} of each seed; mean ${intervalText(x.interval)}`,
    });
  }
  return figures;
}

/**
 * Writes `merged.json` and the self-contained `report.html` into the sweep folder and
 * returns their paths.
 */
export async function writeMerge(
  dir: string,
  plan: SweepPlan,
  m: SweepMerge,
): Promise<{ json: string; html: string }> {
  const json = `${dir}/merged.json`;
  await atomicWrite(json, JSON.stringify(m, null, 2) + "\n");
  const metricOf = (s: MergedSetting) => s.metrics.find((x) => x.name === m.metric);
  const perSeed = (x: MergedMetric | undefined) =>
    x?.perSeed.map((p) => `${p.seed}: ${p.value === null ? "not finite" : formatNumber(p.value)}`)
      .join("; ") ?? "";
  const tables: ReportTable[] = [{
    title: `${m.metric} by setting (${
      metricOf(m.settings[0])?.higherIsBetter ? "higher" : "lower"
    } is better)`,
    header: ["setting", "mean", "± 95% (across seeds)", "seeds", "per seed"],
    rows: m.settings.map((s) => {
      const x = metricOf(s);
      return [
        settingLabel(s.values) + (m.best?.setting === s.setting ? "  ← best" : ""),
        x?.interval?.mean ?? "not finite",
        x?.interval?.ci95 ?? "—",
        s.seeds.length,
        perSeed(x),
      ];
    }),
  }, {
    title: "Every metric by setting",
    header: ["setting", "metric", "mean ± 95%", "per seed"],
    rows: m.settings.flatMap((s) =>
      s.metrics.map((x) => [settingLabel(s.values), x.name, intervalText(x.interval), perSeed(x)])
    ),
  }];
  if (m.missing.length > 0) {
    tables.push({
      title: `Missing runs (${m.missing.length} of ${m.total}): not in the numbers above`,
      header: ["run", "state", "why"],
      rows: m.missing.map((x) => [x.id, x.state, x.detail]),
    });
  }
  const html = await writeHtmlReport(`${dir}/report.html`, knobFigures(plan, m), {
    title: `Sweep ${m.sweep}: ${m.experiment} (${m.preset})`,
    text: [
      `${m.complete} of ${m.total} runs complete (${plan.settings.length} settings × ` +
      `${plan.spec.seeds.length} seeds: ${plan.spec.seeds.join(", ")}).` +
      (m.missing.length ? ` Missing: ${m.missing.map((x) => x.id).join(", ")}.` : ""),
      m.best
        ? `Best setting by ${m.metric}: ${settingLabel(m.best.values)}, ${
          intervalText(m.best.interval)
        }${overlapText(m)}.`
        : `No setting has a finite ${m.metric}.`,
      "Intervals are 95% across seeds: mean ± t(0.975, n−1)·s/√n over the seeds' values " +
      "(s the sample standard deviation); with one seed there is none. Only complete " +
      "results are read: a partial or failed run is listed as missing, not averaged in.",
    ],
    tables,
  });
  return { json, html };
}
