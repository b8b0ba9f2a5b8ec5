/**
 * The sweep spec: what a sweep over seeds and settings runs, as a small JSON file. Checked
 * field by field when it is read, so a typo is an error naming the field before anything
 * is planned or submitted (the values themselves are checked by the experiment's schema
 * when the sweep is planned, see `plan.ts`).
 * @module
 */
import { parseDuration } from "../cli/reproduce.ts";
import type { Preset } from "../experiments/mod.ts";

/** A value of a config knob as a spec gives it (a list for a `numbers` knob). */
export type SpecValue = number | string | boolean | number[];

/** A sweep over seeds and settings of one experiment. */
export interface SweepSpec {
  /** The sweep's name (letters, digits, `.`, `_`, `-`): names its jobs and default folder. */
  name: string;
  /** The experiment, as `deno task reproduce --list` names it. */
  experiment: string;
  /** The preset every run starts from. */
  preset: Preset;
  /** Knob → the values to sweep; the settings are every combination, keys in this order. */
  grid: Record<string, SpecValue[]>;
  /** Knob → one value, the same in every run (e.g. a shorter schedule). */
  set: Record<string, SpecValue>;
  /** The seeds each setting runs with. */
  seeds: number[];
  /** Time limit of one scheduler task (`90m`, `2h`, `3600s`; a bare number is minutes). */
  time: string;
  /** Runs one task runs one after the other (default 1; more when runs take seconds). */
  runsPerTask: number;
  /** The metric that picks the best setting (default: the first with a published number). */
  metric?: string;
}

/** An invalid sweep spec: names the field and what it should be. */
export class SpecError extends Error {
  override name = "SpecError";
}

const FIELDS = [
  "name",
  "experiment",
  "preset",
  "grid",
  "set",
  "seeds",
  "time",
  "runsPerTask",
  "metric",
];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isValue(v: unknown): v is SpecValue {
  return typeof v === "number" || typeof v === "string" || typeof v === "boolean" ||
    (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number"));
}

/**
 * Checks a parsed spec object and fills in the defaults; `source` (a file name) is named in
 * errors and gives the default name.
 *
 * @example
 * ```ts
 * const spec = parseSpec({
 *   experiment: "sinusoid-k5", preset: "quick", grid: { innerLr: [0.01, 0.1] },
 *   seeds: [0, 1, 2], time: "30m",
 * }, "lr.json");
 * // spec.name === "lr", spec.runsPerTask === 1, spec.set is {}
 * ```
 */
export function parseSpec(value: unknown, source = "sweep"): SweepSpec {
  const where = `sweep spec ${source}`;
  const fail = (message: string): never => {
    throw new SpecError(`${where}: ${message}`);
  };
  if (!isObject(value)) return fail(`expected a JSON object, got ${JSON.stringify(value)}`);
  for (const key of Object.keys(value)) {
    if (!FIELDS.includes(key)) {
      fail(`unknown field "${key}"; known fields: ${FIELDS.join(", ")}`);
    }
  }
  const base = source.replace(/^.*\//, "").replace(/\.json$/, "");
  const name = value.name ?? base;
  if (typeof name !== "string" || !NAME.test(name)) {
    fail(`"name" must be letters, digits, ".", "_" or "-", got ${JSON.stringify(name)}`);
  }
  if (typeof value.experiment !== "string" || value.experiment === "") {
    fail(`"experiment" must name an experiment (deno task reproduce --list)`);
  }
  if (value.preset !== "quick" && value.preset !== "full") {
    fail(`"preset" must be "quick" or "full", got ${JSON.stringify(value.preset)}`);
  }
  const grid = value.grid ?? {};
  if (!isObject(grid)) return fail(`"grid" must be an object of knob → list of values`);
  for (const [k, values] of Object.entries(grid)) {
    if (!Array.isArray(values) || values.length === 0 || !values.every(isValue)) {
      fail(`grid.${k} must be a non-empty list of values, got ${JSON.stringify(values)}`);
    }
  }
  const set = value.set ?? {};
  if (!isObject(set)) return fail(`"set" must be an object of knob → value`);
  for (const [k, v] of Object.entries(set)) {
    if (!isValue(v)) fail(`set.${k} must be a number, string, boolean or list of numbers`);
    if (k in grid) fail(`${k} is both in "grid" and in "set"; give it in one of them`);
  }
  const seeds = value.seeds;
  if (
    !Array.isArray(seeds) || seeds.length === 0 ||
    !seeds.every((s) => Number.isSafeInteger(s) && s >= 0)
  ) {
    fail(`"seeds" must be a non-empty list of non-negative integers, got ${JSON.stringify(seeds)}`);
  }
  if (new Set(seeds as number[]).size !== (seeds as number[]).length) {
    fail(`"seeds" lists a seed twice: ${JSON.stringify(seeds)}`);
  }
  if (typeof value.time !== "string" && typeof value.time !== "number") {
    fail(`"time" must be a duration such as "90m", "2h" or "3600s"`);
  }
  try {
    parseDuration(String(value.time));
  } catch {
    fail(`"time" must be a positive duration like 90m, 2h or 3600s, got "${value.time}"`);
  }
  const runsPerTask = value.runsPerTask ?? 1;
  if (!Number.isSafeInteger(runsPerTask) || (runsPerTask as number) < 1) {
    fail(`"runsPerTask" must be a positive integer, got ${JSON.stringify(runsPerTask)}`);
  }
  if (value.metric !== undefined && typeof value.metric !== "string") {
    fail(`"metric" must be a metric's name, got ${JSON.stringify(value.metric)}`);
  }
  return {
    name: name as string,
    experiment: value.experiment as string,
    preset: value.preset as Preset,
    grid: grid as Record<string, SpecValue[]>,
    set: set as Record<string, SpecValue>,
    seeds: seeds as number[],
    time: String(value.time),
    runsPerTask: runsPerTask as number,
    ...(value.metric === undefined ? {} : { metric: value.metric as string }),
  };
}

/** Reads and checks the spec file at `path` (JSON). */
export async function readSpec(path: string): Promise<SweepSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new SpecError(`sweep spec ${path}: cannot be read: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SpecError(`sweep spec ${path}: not valid JSON: ${(e as Error).message}`);
  }
  return parseSpec(value, path);
}

/** A spec value as `--set key=value` writes it (a list as `0.1,0.2`). */
export function setText(value: SpecValue): string {
  return Array.isArray(value) ? value.join(",") : String(value);
}
