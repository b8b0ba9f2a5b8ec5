/**
 * The results file of one run (`<out>/<experiment>/result.json`) and its schema check.
 * The file holds everything needed to judge and reproduce the run: config, seed,
 * versions, backend, wall time, metrics with 95% CIs and the published numbers.
 * @module
 */
import type { Curve, Metric, StoppedPhase } from "./types.ts";
import type { Preset } from "./config.ts";
import type { MachineInfo } from "./provenance.ts";

/** Schema identifier written into every results file. */
export const RESULT_SCHEMA = "metalab.result/1";

/** The identity of a run: two runs with the same identity give the same numbers. */
export interface RunIdentity {
  /** Experiment name. */
  experiment: string;
  /** Preset the config started from. */
  preset: Preset;
  /** The resolved config. */
  config: Record<string, unknown>;
  /** The seed. */
  seed: number;
}

/** How a number that is not finite is named in a results file (JSON has no NaN or ±Infinity). */
export type NonFinite = "NaN" | "Infinity" | "-Infinity";

/**
 * A metric as a results file holds it. A mean that came out NaN or ±Infinity (a diverged
 * adaptation) is a result too: `value` is null and `nonFinite` says which it was, with
 * no `ci95`; see {@linkcode recordMetrics}.
 */
export interface ResultMetric extends Omit<Metric, "value"> {
  /** The measured value; null when it was not finite. */
  value: number | null;
  /** What a null `value` was. Absent for a finite value. */
  nonFinite?: NonFinite;
}

/** The content of a results file. */
export interface RunResult extends RunIdentity {
  /** Always {@linkcode RESULT_SCHEMA}. */
  schema: typeof RESULT_SCHEMA;
  /** Experiment title. */
  title: string;
  /** Versions of what produced the numbers. */
  versions: { metalab: string; tfjs: string; deno: string; v8: string; typescript: string };
  /** The tfjs backend the run used. */
  backend: string;
  /** ISO time the run started. */
  startedAt: string;
  /** Wall time in seconds (this session only if resumed). */
  wallTimeS: number;
  /** The step a resumed run continued from, or null. */
  resumedFromStep: number | null;
  /**
   * Training phases a time limit stopped early (empty: the full schedule ran). A partial
   * run's numbers are for the model as it stood; its checkpoints are kept for `--resume`.
   * Absent in files written before this field existed (read as complete).
   */
  partial?: StoppedPhase[];
  /** Headline numbers (non-finite ones as value null plus `nonFinite`). */
  metrics: ResultMetric[];
  /** Curves for plots. */
  curves: Curve[];
  /** Remarks. */
  notes: string[];
  /** The machine it ran on (absent in files written before this field existed). */
  machine?: MachineInfo;
  /** The project's git commit (`-dirty`: with uncommitted changes), or null when unknown. */
  commit?: string | null;
  /**
   * The trained models kept beside this file, as paths relative to it
   * (`models/<label>`); empty for a run that wrote nothing or evaluated saved models.
   */
  models?: string[];
  /** For an evaluation-only run: the folder whose saved models were evaluated. */
  evaluatedFrom?: string;
  /**
   * The data folders the run read, by data set name (e.g. `{ omniglot: "/abs/path" }`);
   * empty for data that ships with the project. Absent in files written before this field.
   */
  data?: Record<string, string>;
}

/**
 * How many of `values` (per-episode scores) are not finite, or undefined when all are: the
 * `diverged` field of a {@linkcode Metric}.
 */
export function divergedEpisodes(values: readonly number[]): number | undefined {
  const n = values.filter((v) => !Number.isFinite(v)).length;
  return n > 0 ? n : undefined;
}

/** The name of a value that is not finite, as results files write it. */
export function nonFiniteName(value: number): NonFinite {
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

/**
 * An experiment's metrics as a results file records them, with a note for each that is
 * not what it seems. A mean that is NaN or ±Infinity (JSON cannot hold either) becomes
 * `value: null` plus `nonFinite`, with a note naming the metric (which names the learner and
 * its test steps) and how many episodes diverged; an interval that overflowed while its
 * mean did not is left out, and said so. Everything else is kept as it is.
 *
 * @example
 * ```ts
 * const { metrics, notes } = recordMetrics([
 *   { name: "maml, MSE after 10 steps", value: Infinity, unit: "MSE", episodes: 5, diverged: 2, higherIsBetter: false },
 * ]);
 * // metrics[0]: { …, value: null, nonFinite: "Infinity" }
 * // notes[0]: "DIVERGED: maml, MSE after 10 steps is Infinity: 2 of 5 evaluation episodes gave no finite MSE; …"
 * ```
 */
export function recordMetrics(metrics: readonly Metric[]): {
  metrics: ResultMetric[];
  notes: string[];
} {
  const notes: string[] = [];
  const recorded = metrics.map((m): ResultMetric => {
    const { ci95, ...rest } = m;
    if (!Number.isFinite(m.value)) {
      const nonFinite = nonFiniteName(m.value);
      const over = m.episodes === undefined ? "" : ` of ${m.episodes}`;
      const which = m.diverged === undefined
        ? m.episodes === undefined ? "" : ` over ${m.episodes} evaluation episodes`
        : `: ${m.diverged}${over} evaluation episodes gave no finite ${m.unit}`;
      notes.push(
        `DIVERGED: ${m.name} is ${nonFinite}${which}; recorded as value null, nonFinite ` +
          `"${nonFinite}" (the other numbers and the trained models are kept)`,
      );
      return { ...rest, value: null, nonFinite };
    }
    if (ci95 !== undefined && !Number.isFinite(ci95)) {
      // Over one episode there is no interval to speak of (NaN for undefined, not a fault).
      if (m.episodes === 1) return rest;
      notes.push(
        `${m.name}: its 95% interval is ${nonFiniteName(ci95)} (the spread of its episodes ` +
          `overflowed) and is left out`,
      );
      return rest;
    }
    return m;
  });
  return { metrics: recorded, notes };
}

/** The version of MetaLab written into results. */
export const METALAB_VERSION = "0.1.0";

const NON_FINITE: readonly NonFinite[] = ["NaN", "Infinity", "-Infinity"];

/** Problems found in a results object (empty when it matches the schema). */
export function validateResult(value: unknown): string[] {
  const problems: string[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObj(value)) return ["result is not a JSON object"];
  const need = (key: string, check: (v: unknown) => boolean, what: string) => {
    if (!check(value[key])) problems.push(`"${key}" must be ${what}`);
  };
  const isNum = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  const isStr = (v: unknown) => typeof v === "string" && v.length > 0;
  need("schema", (v) => v === RESULT_SCHEMA, `"${RESULT_SCHEMA}"`);
  need("experiment", isStr, "a non-empty string");
  need("title", isStr, "a non-empty string");
  need("preset", (v) => v === "quick" || v === "full", `"quick" or "full"`);
  need("config", isObj, "an object");
  need("seed", (v) => Number.isInteger(v), "an integer");
  need("backend", isStr, "a non-empty string");
  need("startedAt", (v) => isStr(v) && !Number.isNaN(Date.parse(v as string)), "an ISO date");
  need("wallTimeS", (v) => isNum(v) && (v as number) >= 0, "a non-negative number");
  need(
    "versions",
    (v) => isObj(v) && ["metalab", "tfjs", "deno"].every((k) => isStr(v[k])),
    "an object with metalab, tfjs and deno versions",
  );
  need("notes", (v) => Array.isArray(v) && v.every(isStr), "an array of strings");
  if (value.data !== undefined) {
    need(
      "data",
      (v) => isObj(v) && Object.values(v).every(isStr),
      "an object of data folders by data set name",
    );
  }
  if (value.partial !== undefined) {
    need(
      "partial",
      (v) =>
        Array.isArray(v) &&
        v.every((p) =>
          isObj(p) && isStr(p.label) && Number.isInteger(p.step) && Number.isInteger(p.steps) &&
          (p.step as number) >= 0 && (p.step as number) < (p.steps as number)
        ),
      "an array of {label, step, steps} with 0 ≤ step < steps",
    );
  }
  if (!Array.isArray(value.metrics) || value.metrics.length === 0) {
    problems.push(`"metrics" must be a non-empty array`);
  } else {
    value.metrics.forEach((m, i) => {
      if (!isObj(m)) return problems.push(`metrics[${i}] is not an object`);
      if (!isStr(m.name)) problems.push(`metrics[${i}].name must be a string`);
      if (m.value === null) {
        if (!NON_FINITE.includes(m.nonFinite as NonFinite)) {
          problems.push(
            `metrics[${i}].value is null, so metrics[${i}].nonFinite must say what it was ` +
              `(${NON_FINITE.map((n) => `"${n}"`).join(", ")}), got ${JSON.stringify(m.nonFinite)}`,
          );
        }
      } else if (!isNum(m.value)) {
        problems.push(
          `metrics[${i}].value must be a finite number (or null with nonFinite), got ${
            typeof m.value === "number" ? m.value : JSON.stringify(m.value)
          }`,
        );
      } else if (m.nonFinite !== undefined) {
        problems.push(`metrics[${i}].nonFinite is only for a null value, got ${m.value}`);
      }
      if (
        m.diverged !== undefined &&
        !(Number.isInteger(m.diverged) && (m.diverged as number) > 0 &&
          (m.episodes === undefined || (m.diverged as number) <= (m.episodes as number)))
      ) {
        problems.push(`metrics[${i}].diverged must be a number of episodes (1 to episodes)`);
      }
      if (m.ci95 !== undefined && !(isNum(m.ci95) && (m.ci95 as number) >= 0)) {
        problems.push(`metrics[${i}].ci95 must be a non-negative number`);
      }
      if (typeof m.higherIsBetter !== "boolean") {
        problems.push(`metrics[${i}].higherIsBetter must be a boolean`);
      }
      if (m.published !== undefined) {
        const p = m.published;
        if (!isObj(p) || !isNum(p.value) || !isStr(p.source)) {
          problems.push(`metrics[${i}].published must have a numeric value and a source`);
        }
      }
    });
  }
  if (!Array.isArray(value.curves)) problems.push(`"curves" must be an array`);
  else {
    value.curves.forEach((c, i) => {
      if (!isObj(c) || !Array.isArray(c.series)) {
        return problems.push(`curves[${i}] must have series`);
      }
      c.series.forEach((s: unknown, j: number) => {
        if (
          !isObj(s) || !Array.isArray(s.x) || !Array.isArray(s.y) || s.x.length !== s.y.length
        ) {
          problems.push(`curves[${i}].series[${j}] must have x and y of equal length`);
        }
      });
    });
  }
  return problems;
}

/** Whether two run identities are the same run (same experiment, preset, config, seed). */
export function sameRun(a: RunIdentity, b: RunIdentity): boolean {
  return a.experiment === b.experiment && a.preset === b.preset && a.seed === b.seed &&
    stableJson(a.config) === stableJson(b.config);
}

/** JSON with sorted keys, so equal configs serialise equally. */
export function stableJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
        : v,
  );
}
