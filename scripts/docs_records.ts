/**
 * The committed records behind the generated docs: one small JSON file per run
 * (`docs/records/results/<experiment>[--<variant>].json`, a compact summary of its
 * `result.json` plus the command, machine, commit and provenance) and one per benchmark
 * measurement (`docs/records/bench/<date-or-name>.json`, the `deno task bench` records plus
 * machine, date, commit, provenance and the PyTorch side where measured). Their types, their
 * checks (a missing or invalid field is refused, naming the file and the field), reading
 * them, and making them from a result or bench file.
 *
 * It imports the results file's schema check, never an experiment's runtime: reading records
 * does not load tfjs.
 *
 * @example
 * ```ts
 * import { readRecords } from "./docs_records.ts";
 * const { results, bench } = await readRecords(); // throws naming a bad file and field
 * ```
 * @module
 */
import { validateResult } from "../lib/experiments/results.ts";
import type { BenchRecord } from "../lib/bench/types.ts";

/** The schema of a committed results record. */
export const RESULTS_RECORD_SCHEMA = "metalab.results-record/1";
/** The schema of a committed benchmark record. */
export const BENCH_RECORD_SCHEMA = "metalab.bench-record/1";

/** The project root (this file lives in scripts/). */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Default folder of the records. */
export const RECORDS_DIR = `${ROOT}/docs/records`;
/** Default folder of the generated docs. */
export const DOCS_DIR = `${ROOT}/docs`;

/** The machine a run or measurement used; null where it was not recorded. */
export interface Machine {
  /** Logical cores. */
  cores: number | null;
  /** CPU model. */
  cpu: string | null;
  /** Operating system. */
  os: string | null;
  /** wasm threads the backend ran on. */
  wasmThreads: number | null;
  /** Total memory in GiB, when known. */
  memoryGiB?: number | null;
  /** Anything else that matters for the timings (e.g. other jobs sharing the cores). */
  description?: string;
}

/** One headline number, as in a results file (`Metric` of lib/experiments). */
export interface RecordMetric {
  name: string;
  /** Null when the run's mean was not finite (a diverged adaptation); see `nonFinite`. */
  value: number | null;
  /** What a null value was: "NaN", "Infinity" or "-Infinity". */
  nonFinite?: "NaN" | "Infinity" | "-Infinity";
  ci95?: number;
  unit: string;
  episodes?: number;
  higherIsBetter: boolean;
  published?: { value: number; ci95?: number; source: string };
}

/** A committed summary of one run: `docs/records/results/<experiment>[--<variant>].json`. */
export interface ResultsRecord {
  schema: typeof RESULTS_RECORD_SCHEMA;
  experiment: string;
  title: string;
  /** The command that reproduces the run. */
  command: string;
  preset: "quick" | "full";
  seed: number;
  /** The resolved config, or null when the run's result.json was not kept. */
  config: Record<string, unknown> | null;
  /** Steps one learner's whole schedule has (the config's trainSteps), or null. */
  scheduleSteps: number | null;
  /** Training phases a time limit stopped early (empty: the whole schedule ran). */
  partial: { label: string; step: number; steps: number }[];
  /** Wall time of the run in seconds, or null when not recorded. */
  wallTimeS: number | null;
  /** Training time alone in seconds, or null when not recorded. */
  trainingTimeS: number | null;
  machine: Machine;
  backend: string;
  versions: Record<string, string> | null;
  startedAt: string | null;
  /** The project's git commit the run used, when known. */
  commit: string | null;
  metrics: RecordMetric[];
  notes: string[];
  /** How this record came to be (from which file, by which command, or transcribed from where). */
  provenance: string;
}

/** One case of a benchmark record: a `BenchRecord`, with numbers null where not recorded. */
export interface BenchEntry extends Omit<BenchRecord, "medianMs" | "minMs" | "steps"> {
  medianMs: number | null;
  minMs: number | null;
  steps: number | null;
  /** A spread over repeated runs instead of one median, [low, high] ms. */
  rangeMs?: [number, number];
  /** The median is approximate ("~0.1 s"). */
  approximate?: boolean;
}

/** A committed benchmark measurement: `docs/records/bench/<date-or-name>.json`. */
export interface BenchDocRecord {
  schema: typeof BENCH_RECORD_SCHEMA;
  /** Day of the measurement (YYYY-MM-DD or an ISO time), or null when not recorded. */
  date: string | null;
  command: string;
  machine: Machine;
  commit: string | null;
  tfjs: string | null;
  records: BenchEntry[];
  /** The PyTorch side, where measured: milliseconds per case name. */
  pytorch:
    | { version: string; threads: number | null; statistic: string; cases: PyTorchCase[] }
    | null;
  notes: string[];
  provenance: string;
}

/** One PyTorch figure. */
export interface PyTorchCase {
  name: string;
  ms: number;
}

/** A record with the file it came from (its name without `.json` is its id). */
export interface Loaded<T> {
  file: string;
  id: string;
  record: T;
}

// ---------------------------------------------------------------------------------------
// Validation: a record with a missing or invalid field is refused, naming file and field.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isNullOr = (check: (v: unknown) => boolean) => (v: unknown) => v === null || check(v);
const isNonNeg = (v: unknown) => isNum(v) && v >= 0;
const isInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
/** A git commit as results files write it: `-dirty` when the tree had uncommitted changes. */
const COMMIT = /^[0-9a-f]{7,40}(-dirty)?$/;

/** Checks `obj[key]`; pushes "field: what it must be (got …)" when it is missing or wrong. */
function field(
  problems: string[],
  obj: Obj,
  path: string,
  key: string,
  check: (v: unknown) => boolean,
  what: string,
) {
  const name = path ? `${path}.${key}` : key;
  if (!(key in obj)) problems.push(`"${name}" is missing (expected ${what})`);
  else if (!check(obj[key])) {
    problems.push(`"${name}" must be ${what}, got ${JSON.stringify(obj[key])}`);
  }
}

function machineProblems(problems: string[], v: unknown, path: string) {
  if (!isObj(v)) return problems.push(`"${path}" must be an object`);
  field(problems, v, path, "cores", isNullOr(isInt), "a number of cores or null");
  field(problems, v, path, "cpu", isNullOr(isStr), "a CPU model or null");
  field(problems, v, path, "os", isNullOr(isStr), "an OS name or null");
  field(problems, v, path, "wasmThreads", isNullOr(isInt), "a number of threads or null");
  if ("memoryGiB" in v) field(problems, v, path, "memoryGiB", isNullOr(isNonNeg), "GiB or null");
  if ("description" in v) field(problems, v, path, "description", isStr, "a string");
}

function refuse(file: string, problems: string[]): never {
  throw new Error(`${file}: invalid record: ${problems.join("; ")}`);
}

/** Returns `value` as a results record, or throws naming `file` and every bad field. */
export function validateResultsRecord(value: unknown, file: string): ResultsRecord {
  if (!isObj(value)) refuse(file, ["not a JSON object"]);
  const p: string[] = [];
  const f = (key: string, check: (v: unknown) => boolean, what: string) =>
    field(p, value, "", key, check, what);
  f("schema", (v) => v === RESULTS_RECORD_SCHEMA, `"${RESULTS_RECORD_SCHEMA}"`);
  f("experiment", isStr, "an experiment name");
  f("title", isStr, "a title");
  f("command", isStr, "the command that reproduces the run");
  f("preset", (v) => v === "quick" || v === "full", `"quick" or "full"`);
  f("seed", isInt, "a non-negative integer");
  f("config", isNullOr(isObj), "the resolved config or null");
  f("scheduleSteps", isNullOr(isInt), "a number of steps or null");
  f(
    "partial",
    (v) =>
      Array.isArray(v) &&
      v.every((s) =>
        isObj(s) && isStr(s.label) && isInt(s.step) && isInt(s.steps) &&
        (s.step as number) < (s.steps as number)
      ),
    "an array of {label, step, steps} with step < steps",
  );
  f("wallTimeS", isNullOr(isNonNeg), "seconds or null");
  f("trainingTimeS", isNullOr(isNonNeg), "seconds or null");
  if ("machine" in value) machineProblems(p, value.machine, "machine");
  else p.push(`"machine" is missing (expected {cores, cpu, os, wasmThreads})`);
  f("backend", isStr, "a backend name");
  f("versions", isNullOr((v) => isObj(v) && Object.values(v).every(isStr)), "versions or null");
  f("startedAt", isNullOr((v) => isStr(v) && !Number.isNaN(Date.parse(v))), "an ISO time or null");
  f(
    "commit",
    isNullOr((v) => isStr(v) && COMMIT.test(v)),
    "a git commit (hex, maybe -dirty) or null",
  );
  f("notes", (v) => Array.isArray(v) && v.every(isStr), "an array of strings");
  f("provenance", isStr, "how the record came to be");
  if (!Array.isArray(value.metrics) || value.metrics.length === 0) {
    p.push(`"metrics" must be a non-empty array`);
  } else {
    value.metrics.forEach((m: unknown, i: number) => {
      const at = `metrics[${i}]`;
      if (!isObj(m)) return p.push(`"${at}" must be an object`);
      field(p, m, at, "name", isStr, "a name");
      if (m.value === null) {
        field(
          p,
          m,
          at,
          "nonFinite",
          (v) => ["NaN", "Infinity", "-Infinity"].includes(v as string),
          `"NaN", "Infinity" or "-Infinity" (the value is null)`,
        );
      } else field(p, m, at, "value", isNum, "a finite number");
      field(p, m, at, "unit", isStr, "a unit");
      field(p, m, at, "higherIsBetter", (v) => typeof v === "boolean", "a boolean");
      if ("ci95" in m) field(p, m, at, "ci95", isNonNeg, "a non-negative number");
      if ("episodes" in m) field(p, m, at, "episodes", isInt, "a number of episodes");
      if ("published" in m) {
        field(
          p,
          m,
          at,
          "published",
          (v) =>
            isObj(v) && isNum(v.value) && isStr(v.source) &&
            (v.ci95 === undefined || isNonNeg(v.ci95)),
          "{value, ci95?, source}",
        );
      }
    });
  }
  const id = basename(file).replace(/\.json$/, "");
  if (
    isStr(value.experiment) && id !== value.experiment && !id.startsWith(value.experiment + "--")
  ) {
    p.push(
      `the file name must be "${value.experiment}[--<variant>].json", got "${basename(file)}"`,
    );
  }
  if (p.length) refuse(file, p);
  return value as unknown as ResultsRecord;
}

/** Returns `value` as a benchmark record, or throws naming `file` and every bad field. */
export function validateBenchRecord(value: unknown, file: string): BenchDocRecord {
  if (!isObj(value)) refuse(file, ["not a JSON object"]);
  const p: string[] = [];
  const f = (key: string, check: (v: unknown) => boolean, what: string) =>
    field(p, value, "", key, check, what);
  f("schema", (v) => v === BENCH_RECORD_SCHEMA, `"${BENCH_RECORD_SCHEMA}"`);
  f("date", isNullOr((v) => isStr(v) && !Number.isNaN(Date.parse(v))), "a date or null");
  f("command", isStr, "the command that measured it");
  if ("machine" in value) machineProblems(p, value.machine, "machine");
  else p.push(`"machine" is missing (expected {cores, cpu, os, wasmThreads})`);
  f(
    "commit",
    isNullOr((v) => isStr(v) && COMMIT.test(v)),
    "a git commit (hex, maybe -dirty) or null",
  );
  f("tfjs", isNullOr(isStr), "a tfjs version or null");
  f("notes", (v) => Array.isArray(v) && v.every(isStr), "an array of strings");
  f("provenance", isStr, "how the record came to be");
  if (!Array.isArray(value.records) || value.records.length === 0) {
    p.push(`"records" must be a non-empty array`);
  } else {
    value.records.forEach((r: unknown, i: number) => {
      const at = `records[${i}]`;
      if (!isObj(r)) return p.push(`"${at}" must be an object`);
      field(p, r, at, "suite", isStr, "a suite name");
      field(p, r, at, "name", isStr, "a case name");
      field(p, r, at, "backend", isNullOr(isStr), "a backend or null");
      field(p, r, at, "medianMs", isNullOr(isNonNeg), "milliseconds or null");
      field(p, r, at, "minMs", isNullOr(isNonNeg), "milliseconds or null");
      field(p, r, at, "steps", isNullOr(isInt), "a number of steps or null");
      for (const key of ["targetMs", "referenceMs"]) {
        if (key in r) field(p, r, at, key, isNonNeg, "milliseconds");
      }
      if ("rangeMs" in r) {
        field(
          p,
          r,
          at,
          "rangeMs",
          (v) => Array.isArray(v) && v.length === 2 && v.every(isNonNeg) && v[0] <= v[1],
          "[low, high] milliseconds",
        );
      }
      if (r.medianMs === null && !("rangeMs" in r) && isObj(r) && "medianMs" in r) {
        p.push(`"${at}.medianMs" is null and no rangeMs says what was measured`);
      }
    });
  }
  if (!("pytorch" in value)) p.push(`"pytorch" is missing (expected the PyTorch side or null)`);
  else if (value.pytorch !== null) {
    const t = value.pytorch;
    if (!isObj(t)) p.push(`"pytorch" must be an object or null`);
    else {
      field(p, t, "pytorch", "version", isStr, "a PyTorch version");
      field(p, t, "pytorch", "threads", isNullOr(isInt), "a number of threads or null");
      field(p, t, "pytorch", "statistic", isStr, 'what the figures are ("median", …)');
      field(
        p,
        t,
        "pytorch",
        "cases",
        (v) => Array.isArray(v) && v.every((c) => isObj(c) && isStr(c.name) && isNonNeg(c.ms)),
        "an array of {name, ms}",
      );
    }
  }
  if (p.length) refuse(file, p);
  return value as unknown as BenchDocRecord;
}

// ---------------------------------------------------------------------------------------
// Reading and writing records.

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

async function readJson(file: string): Promise<unknown> {
  const text = await Deno.readTextFile(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

async function jsonFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".json")) names.push(entry.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // By id (the name without .json, so "x" comes before "x--variant"), in code-point order, not
  // the locale's: the docs must come out the same everywhere.
  const id = (n: string) => n.slice(0, -".json".length);
  return names.sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0))
    .map((n) => `${dir}/${n}`);
}

/** Every record under `recordsDir` (results/ and bench/), validated, in file-name order. */
export async function readRecords(recordsDir = RECORDS_DIR): Promise<{
  results: Loaded<ResultsRecord>[];
  bench: Loaded<BenchDocRecord>[];
}> {
  const load = async <T>(sub: string, check: (v: unknown, file: string) => T) => {
    const out: Loaded<T>[] = [];
    for (const file of await jsonFiles(`${recordsDir}/${sub}`)) {
      out.push({
        file,
        id: basename(file).replace(/\.json$/, ""),
        record: check(await readJson(file), file),
      });
    }
    return out;
  };
  return {
    results: await load("results", validateResultsRecord),
    bench: await load("bench", validateBenchRecord),
  };
}

/** The record file of a run: `<experiment>[--<variant>].json`. */
export function resultsRecordName(experiment: string, variant?: string): string {
  if (variant !== undefined && !/^[a-z0-9][a-z0-9.-]*$/.test(variant)) {
    throw new Error(`variant must be lower-case letters, digits, "." and "-", got "${variant}"`);
  }
  return `${experiment}${variant ? `--${variant}` : ""}.json`;
}

/** What `docs add` needs beside the result file. */
export interface FromResultOptions {
  /** The result.json's path, written into the provenance. */
  source: string;
  /** The command that reproduces the run (default: rebuilt from experiment, preset, seed). */
  command?: string;
  /** The git commit the run used (default: the result file's `commit`, else null). */
  commit?: string;
  /** The machine, used when the result file has no `machine` field. */
  machine: Machine;
}

/**
 * A results record from a result.json (checked against its schema first): the compact summary
 * (no curves), the command, the machine, the commit when known, and the provenance.
 */
export function recordFromResult(result: unknown, options: FromResultOptions): ResultsRecord {
  const problems = validateResult(result);
  if (problems.length) {
    throw new Error(`${options.source}: not a valid result file: ${problems.join("; ")}`);
  }
  const r = result as Obj & {
    experiment: string;
    title: string;
    preset: "quick" | "full";
    seed: number;
    config: Obj;
    partial?: ResultsRecord["partial"];
    wallTimeS: number;
    backend: string;
    versions: Record<string, string>;
    startedAt: string;
    metrics: RecordMetric[];
    notes: string[];
  };
  const fromFile: string[] = [];
  let command = options.command ?? (isStr(r.command) ? r.command : undefined);
  if (!command) {
    command = `deno task reproduce ${r.experiment}${r.preset === "quick" ? " --quick" : ""}${
      r.seed ? ` --seed ${r.seed}` : ""
    }`;
    fromFile.push("command rebuilt from experiment, preset and seed (config holds the values run)");
  }
  let machine = options.machine;
  if (isObj(r.machine)) {
    const m = r.machine;
    machine = {
      cores: isInt(m.cores) ? m.cores as number : null,
      cpu: isStr(m.cpu) ? m.cpu : null,
      os: isStr(m.os) ? m.os : null,
      wasmThreads: isInt(m.wasmThreads) ? m.wasmThreads as number : null,
    };
    if (isNonNeg(m.memoryGiB)) machine.memoryGiB = m.memoryGiB as number;
  } else fromFile.push("machine: the one that ran `docs add` (the result file names none)");
  const commit = options.commit ?? (isStr(r.commit) ? r.commit : null);
  const trainSteps = r.config.trainSteps;
  return {
    schema: RESULTS_RECORD_SCHEMA,
    experiment: r.experiment,
    title: r.title,
    command,
    preset: r.preset,
    seed: r.seed,
    config: r.config,
    scheduleSteps: isInt(trainSteps) ? trainSteps as number : null,
    partial: r.partial ?? [],
    wallTimeS: r.wallTimeS,
    trainingTimeS: null,
    machine,
    backend: r.backend,
    versions: r.versions,
    startedAt: r.startedAt,
    commit,
    metrics: r.metrics.map((m) => ({
      name: m.name,
      value: m.value,
      nonFinite: m.nonFinite,
      ci95: m.ci95,
      unit: m.unit,
      episodes: m.episodes,
      higherIsBetter: m.higherIsBetter,
      published: m.published,
    })),
    notes: r.notes,
    provenance: `written by \`deno task docs add\` from ${options.source}` +
      (fromFile.length ? `; ${fromFile.join("; ")}` : ""),
  };
}

/** What `docs add-bench` needs beside the bench file. */
export interface FromBenchOptions {
  /** The bench.json's path, written into the provenance. */
  source: string;
  /** The command that measured it (default: `deno task bench`). */
  command?: string;
  /** The git commit the measurement used, when known. */
  commit?: string;
  /** The CPU model (bench.json does not name it). */
  cpu?: string | null;
  /** The PyTorch side, where it was measured beside this run. */
  pytorch?: BenchDocRecord["pytorch"];
}

/** A benchmark record from the `results/bench.json` that `deno task bench` writes. */
export function recordFromBench(report: unknown, options: FromBenchOptions): BenchDocRecord {
  const r = report as Obj;
  const bad = (what: string) => new Error(`${options.source}: not a bench file: ${what}`);
  if (!isObj(r)) throw bad("not a JSON object");
  if (!isStr(r.date) || Number.isNaN(Date.parse(r.date))) throw bad(`"date" must be an ISO time`);
  if (!Array.isArray(r.records) || r.records.length === 0) {
    throw bad(`"records" must be a non-empty array`);
  }
  const m = isObj(r.machine) ? r.machine : {};
  const records = r.records as BenchRecord[];
  // The wasm thread count is per case (extra.threads); the machine gets it when all agree.
  const threads = [
    ...new Set(records.filter((c) => c.backend === "wasm").map((c) => c.extra?.threads)),
  ];
  const command = options.command ?? "deno task bench";
  return {
    schema: BENCH_RECORD_SCHEMA,
    date: r.date,
    command,
    machine: {
      cores: isInt(m.cpus) ? m.cpus as number : null,
      cpu: options.cpu ?? null,
      os: isStr(m.os) ? `${m.os}${isStr(m.arch) ? ` ${m.arch}` : ""}` : null,
      wasmThreads: threads.length === 1 && isInt(threads[0]) ? threads[0] as number : null,
    },
    commit: options.commit ?? null,
    tfjs: isStr(r.tfjs) ? r.tfjs : null,
    records: records.map((c) => ({ ...c })),
    pytorch: options.pytorch ?? null,
    notes: [],
    provenance: `written by \`deno task docs add-bench\` from ${options.source}` +
      (options.command ? "" : "; command: the default, as the bench file does not say"),
  };
}
