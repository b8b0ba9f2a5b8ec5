/**
 * Runs one experiment end to end — the one path both `deno task reproduce` and the
 * notebooks take: resolves and validates its config, locates its data, checks and locks
 * the output folder (one run at a time, `lock.ts`) and guards what is in it, hands the
 * experiment a context (seed, progress, checkpoints, Ctrl-C signal, where trained models
 * go, its data folders), writes the results file atomically and keeps the trained models
 * beside it. Nothing a run produced is thrown away: a diverged metric is recorded as
 * non-finite, a result that fails validation is kept in `result.invalid.json`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  ConfigError,
  type ConfigOf,
  type ConfigSchema,
  type Preset,
  resolveConfig,
  savedConfig,
} from "./config.ts";
import { atomicWrite } from "../files/mod.ts";
import { CheckpointDir, CheckpointStore } from "./checkpoint.ts";
import { RunLock } from "./lock.ts";
import { writeDetails } from "./recorded.ts";
import { ModelStore } from "./models.ts";
import { gitCommit, machineInfo } from "./provenance.ts";
import {
  METALAB_VERSION,
  recordMetrics,
  RESULT_SCHEMA,
  type RunIdentity,
  type RunResult,
  sameRun,
  validateResult,
} from "./results.ts";
import type { DataNeed, Experiment, ProgressFn, StepFn, StoppedPhase } from "./types.ts";

/** Options of {@linkcode runExperiment}. */
export interface RunOptions {
  /** Preset to start from (default "quick"). */
  preset?: Preset;
  /** Config overrides, validated against the experiment's schema. */
  overrides?: Record<string, unknown>;
  /** Seed (default 0). */
  seed?: number;
  /** Output folder; results go to `<outDir>/<experiment>/`. Null: write nothing. */
  outDir?: string | null;
  /**
   * Continue from the last checkpoint of the same run. A run whose complete result is
   * there already is refused (read it with {@linkcode completedRun}). Not with `force`.
   */
  resume?: boolean;
  /**
   * Overwrite what the output folder holds: another run's results or checkpoints, an
   * unreadable results file, a complete run (trained again). Not with `resume`.
   */
  force?: boolean;
  /** Steps between checkpoints (default 100). */
  checkpointEvery?: number;
  /** Progress reporter (default: none). */
  progress?: ProgressFn;
  /** Called after every meta-step of every training phase (e.g. a notebook's live curve). */
  onStep?: StepFn;
  /**
   * Evaluate the models saved by an earlier run instead of training: a folder holding
   * `models/<label>/` (that run's experiment folder) or `<experiment>/models/<label>/` (its
   * output root). The config starts from the one the models were trained with; `overrides`
   * change it (e.g. test a 5-way model on 20-way episodes).
   */
  from?: string;
  /**
   * Data folders named by the caller, by data set name (`reproduce --data-dir DIR`:
   * `{ omniglot: DIR }`); a data set not named here is searched for where it usually is.
   * The folders used are recorded in the results file (`data`).
   */
  data?: Record<string, string>;
  /** Abort signal (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Wall-clock deadline (`Date.now()` ms): training stops after the step in progress, with
   * a checkpoint there, the run is evaluated as it stands and its result marked partial;
   * the checkpoints stay so that `resume` continues the schedule. Default: none.
   */
  deadline?: number;
  /** Where commentary goes (default: console.log). */
  log?: (message: string) => void;
}

/**
 * The output folder cannot take this run as things stand: it is not a usable folder, or it
 * holds another run's results, an unfinished run, an unreadable file or this run complete.
 */
export class OutputConflictError extends Error {
  override name = "OutputConflictError";
}

/** Where a result that failed validation is kept, beside `result.json`. */
export const INVALID_RESULT_FILE = "result.invalid.json";

/**
 * A run produced a result that does not match the schema. Its work is not lost: the result
 * is kept in {@linkcode INVALID_RESULT_FILE} (when the run writes files), the trained
 * models and the checkpoints stay.
 */
export class InvalidResultError extends Error {
  override name = "InvalidResultError";
  /**
   * @param problems what is wrong, one field each (from {@linkcode validateResult})
   * @param keptIn the file holding the result as produced, or null
   */
  constructor(message: string, readonly problems: string[], readonly keptIn: string | null) {
    super(message);
  }
}

/** What {@linkcode runExperiment} returns: the results file's content plus the typed result. */
export type ExperimentRun<R, C = Record<string, unknown>> = Omit<RunResult, "config"> & {
  /** The resolved config, typed by the experiment's schema. */
  config: C;
  /** The experiment's own typed result (fit curves, per-learner histories, …). */
  details: R;
};

/** What a run's file in the output folder holds: nothing, something unreadable, or a run. */
type StoredRun =
  | { kind: "none" }
  | { kind: "unreadable"; why: string }
  | { kind: "run"; run: RunIdentity & Record<string, unknown> };

/**
 * Reads `result.json` or `run.json`. A file that is not JSON, not an object or names no run
 * (experiment, preset, config, seed) is reported as unreadable, never thrown: what to do
 * about it (overwrite with force, or refuse saying so) is the caller's decision.
 */
async function readStoredRun(path: string): Promise<StoredRun> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { kind: "none" };
    return { kind: "unreadable", why: (e as Error).message };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { kind: "unreadable", why: `not JSON (${(e as Error).message})` };
  }
  const v = value as Record<string, unknown>;
  if (
    typeof v !== "object" || v === null || Array.isArray(v) || typeof v.experiment !== "string" ||
    typeof v.preset !== "string" || typeof v.config !== "object" || v.config === null ||
    typeof v.seed !== "number"
  ) {
    return { kind: "unreadable", why: "it names no run (experiment, preset, config and seed)" };
  }
  return { kind: "run", run: v as RunIdentity & Record<string, unknown> };
}

/**
 * Runs `experiment` and returns its result (also written to
 * `<outDir>/<name>/result.json`, with the trained models in `<outDir>/<name>/models/`,
 * unless `outDir` is null).
 *
 * @example
 * ```ts
 * const run = await runExperiment(sinusoidK5, { preset: "quick", seed: 1, outDir: null });
 * console.log(run.metrics, run.details.curves);
 * ```
 */
export async function runExperiment<S extends ConfigSchema, R>(
  experiment: Experiment<S, R>,
  options: RunOptions = {},
): Promise<ExperimentRun<R, ConfigOf<S>>> {
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  }
  if (options.resume && options.force) {
    throw new RangeError(
      "resume and force contradict each other: resume continues the checkpointed run in the " +
        "output folder, force discards what is there and starts over; pass one of them",
    );
  }
  const { preset, config } = await runConfig(experiment, options);
  const identity: RunIdentity = { experiment: experiment.name, preset, config, seed };
  const log = options.log ?? ((m: string) => console.log(m));
  const located = locateData(experiment, options.data);
  if (located.missing.length > 0) {
    throw new Error(
      `experiment "${experiment.name}" needs ${
        located.missing.map((m) => `${m.need.name} (${m.problem}; get it with: ${m.need.howToGet})`)
          .join(", ")
      }`,
    );
  }

  if (options.outDir !== undefined && options.outDir !== null && options.outDir.trim() === "") {
    throw new RangeError(
      `outDir must name a folder (or be null to write nothing), got ${
        JSON.stringify(options.outDir)
      }`,
    );
  }
  const dir = options.outDir ? `${options.outDir}/${experiment.name}` : null;
  if (options.from !== undefined && dir !== null && samePath(dir, options.from)) {
    throw new OutputConflictError(
      `--out would put the evaluation of ${options.from} into that same folder: choose another --out`,
    );
  }
  const data = located.found;
  if (dir === null) {
    return await execute({ experiment, options, identity, config, dir, data, log });
  }
  await checkOutputFolder(dir);
  // Held from the guard to the last file written, released on every way out.
  const lock = await RunLock.acquire(dir, { log });
  try {
    const checkpoints = await guardFolder(dir, identity, options, log);
    return await execute({ experiment, options, identity, config, dir, checkpoints, data, log });
  } finally {
    await lock.release();
  }
}

/** A run whose config, identity and output folder have been checked. */
interface PreparedRun<S extends ConfigSchema, R> {
  experiment: Experiment<S, R>;
  options: RunOptions;
  identity: RunIdentity;
  config: ConfigOf<S>;
  /** The experiment folder, or null: write nothing. */
  dir: string | null;
  checkpoints?: CheckpointDir;
  /** The data folders located for it, by data set name. */
  data: Record<string, string>;
  log: (message: string) => void;
}

/** Trains (or evaluates saved models), summarizes, validates and writes the result. */
async function execute<S extends ConfigSchema, R>(
  run: PreparedRun<S, R>,
): Promise<ExperimentRun<R, ConfigOf<S>>> {
  const { experiment, options, identity, config, dir, data, log } = run;
  const { seed, preset } = identity;
  const checkpoints = run.checkpoints ?? null;
  const startedAt = new Date();
  const t0 = performance.now();
  const resumedFrom = options.resume && checkpoints ? await peekSteps(checkpoints) : null;
  const stopped: StoppedPhase[] = [];
  const commit = gitCommit();
  const models = new ModelStore(
    experiment.name,
    identity,
    options.from === undefined ? dir : null,
    options.from ?? null,
    commit,
  );
  let details: R;
  try {
    details = await experiment.run(config, {
      seed,
      preset,
      progress: options.progress ?? (() => {}),
      onStep: options.onStep ?? (() => {}),
      models,
      checkpoints: options.from === undefined ? checkpoints : null,
      checkpointEvery: options.checkpointEvery ?? 100,
      signal: options.signal ?? new AbortController().signal,
      deadline: options.deadline ?? Infinity,
      onStopped: (phase) => stopped.push(phase),
      log,
      data,
    });
  } catch (e) {
    models.dispose(); // what was saved stays on disk
    throw e;
  }
  if (options.from !== undefined && models.loadedModels.length === 0) {
    models.dispose();
    throw new Error(`${experiment.name}: no saved model was evaluated from ${options.from}`);
  }
  const output = experiment.summarize(details, config);
  if (output.metrics.length === 0 && stopped.length > 0) {
    models.dispose();
    throw new Error(
      `${experiment.name}: the time limit came before any learner had trained; nothing was ` +
        `evaluated${dir ? " (its checkpoints are kept: --resume continues)" : ""}`,
    );
  }
  const partialNotes = stopped.map((p) =>
    p.step === 0
      ? `PARTIAL: ${p.label} not started (the time limit came first); --resume trains it.`
      : `PARTIAL: ${p.label} stopped by the time limit after ${p.step} of ${p.steps} steps ` +
        `(${(100 * p.step / p.steps).toFixed(1)}% of the schedule); its numbers are for that ` +
        `model. Continue with --resume.`
  );
  const evaluated = models.loadedModels.map((m) =>
    `evaluated the saved model ${m.dir} (${m.info.steps} of ${m.info.scheduleSteps} steps trained` +
    `${m.info.commit ? `, commit ${m.info.commit}` : ""}); nothing was trained in this run`
  );
  // A diverged metric is a result: recorded as non-finite, with a note; nothing else lost.
  const recorded = recordMetrics(output.metrics);
  const result: RunResult = {
    schema: RESULT_SCHEMA,
    ...identity,
    title: experiment.title,
    versions: {
      metalab: METALAB_VERSION,
      tfjs: tf.version.tfjs,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    },
    backend: tf.getBackend(),
    startedAt: startedAt.toISOString(),
    wallTimeS: (performance.now() - t0) / 1000,
    resumedFromStep: resumedFrom,
    partial: stopped,
    metrics: recorded.metrics,
    // A curve with nothing to draw (no training in an evaluation-only run) is left out.
    curves: output.curves.filter((c) => c.series.length > 0),
    notes: [...evaluated, ...partialNotes, ...recorded.notes, ...output.notes],
    machine: machineInfo(),
    commit,
    data,
    models: dir ? models.savedLabels.map((label) => `models/${label}`) : [],
    ...(options.from !== undefined ? { evaluatedFrom: options.from } : {}),
  };
  const problems = validateResult(result);
  if (problems.length > 0) {
    models.dispose(); // the trained models are on disk already
    // Never throw the run's work away: keep what it produced beside the checkpoints.
    const kept = dir ? `${dir}/${INVALID_RESULT_FILE}` : null;
    if (kept) await atomicWrite(kept, JSON.stringify(result, null, 2) + "\n");
    throw new InvalidResultError(
      `experiment "${experiment.name}" produced an invalid result: ${problems.join("; ")}` +
        (kept
          ? `; what it produced is kept in ${kept}` +
            (result.models?.length ? ` (the trained models in ${dir}/models/)` : "")
          : ""),
      problems,
      kept,
    );
  }
  if (dir) {
    // For notebooks where no models can be reloaded (no `learner` hook, or too big to ship);
    // only a run that cannot be shown otherwise notes that its details were not kept.
    const why = await writeDetails(dir, identity, commit, details);
    if (why !== null && !experiment.learner) result.notes.push(why);
    await atomicWrite(`${dir}/result.json`, JSON.stringify(result, null, 2) + "\n");
    await Deno.remove(`${dir}/${INVALID_RESULT_FILE}`).catch(() => {}); // superseded
    // A partial run keeps its checkpoints: --resume continues the schedule.
    if (stopped.length === 0) await checkpoints?.clear();
  }
  await models.finish(result.metrics);
  return { ...result, config, details };
}

/**
 * The output-folder guard, run while holding the folder's lock: refuses to overwrite
 * another run's results or an unreadable file unless forced, to resume another run's
 * checkpoints, to silently drop an unfinished run or retrain a complete one; records whose
 * run the folder now holds (`run.json`) and returns its checkpoints.
 */
async function guardFolder(
  dir: string,
  identity: RunIdentity,
  options: RunOptions,
  log: (message: string) => void,
): Promise<CheckpointDir> {
  const resultFile = `${dir}/result.json`;
  const previous = await readStoredRun(resultFile);
  if (previous.kind === "unreadable" && !options.force) {
    throw new OutputConflictError(
      `${resultFile} is unreadable (${previous.why}), so it cannot be told apart from ` +
        `another run's results: pass --force to overwrite it, or choose another --out`,
    );
  }
  if (previous.kind === "run" && !sameRun(previous.run, identity) && !options.force) {
    const p = previous.run;
    throw new OutputConflictError(
      `${dir} holds the results of another run (preset ${p.preset}, seed ${p.seed}, ` +
        `config ${JSON.stringify(p.config)}); choose another --out or pass --force`,
    );
  }
  const checkpoints = new CheckpointDir(dir);
  const runFile = `${dir}/run.json`;
  const started = await readStoredRun(runFile);
  if (options.resume && checkpoints.files().length === 0) {
    if (previous.kind === "run" && isComplete(previous.run, identity)) {
      // Retraining a finished run from step 0 could cost hours: never do it unasked.
      throw new OutputConflictError(
        `${dir} holds the complete result of this run (started ${previous.run.startedAt}): ` +
          `nothing to resume; its result is ${resultFile} (completedRun reads it), ` +
          `--force trains it again`,
      );
    }
    log(`${identity.experiment}: no checkpoint to resume in ${dir}: training from step 0`);
  }
  if (checkpoints.files().length > 0) {
    if (options.resume && started.kind !== "run") {
      throw new OutputConflictError(
        `cannot resume: ${runFile}, which says whose checkpoints are in ${dir}, is ` +
          (started.kind === "none" ? "missing" : `unreadable (${started.why})`) +
          `; run again with --force instead of --resume to start over, or choose another --out`,
      );
    }
    if (options.resume && started.kind === "run" && !sameRun(started.run, identity)) {
      throw new OutputConflictError(
        `cannot resume: the checkpoint in ${dir} belongs to another run ` +
          `(${JSON.stringify(started.run)}); rerun with its settings, or run again with ` +
          `--force instead of --resume to start over`,
      );
    }
    if (!options.resume && !options.force) {
      throw new OutputConflictError(
        `${dir} holds an unfinished run's checkpoint: pass --resume to continue it ` +
          `or --force to start over`,
      );
    }
    if (!options.resume) await checkpoints.clear();
  }
  await atomicWrite(runFile, JSON.stringify(identity, null, 2) + "\n");
  return checkpoints;
}

/** What {@linkcode locateData} found for an experiment's data needs. */
export interface LocatedData {
  /** The folder of each located data set, by name (what the results file records). */
  found: Record<string, string>;
  /** The needs that cannot be met, each with why. */
  missing: { need: DataNeed; problem: string; given?: string }[];
}

/**
 * Finds the data `experiment` needs: a folder the caller named (`given`, by data set name)
 * or the data set's usual place; for each that cannot be used, why (not downloaded, half
 * downloaded, a named folder without the files).
 *
 * @example
 * ```ts
 * const { found, missing } = locateData(omniglotMaml, { omniglot: "/data/omniglot" });
 * // found: { omniglot: "/data/omniglot" } when both archives are there
 * ```
 */
export function locateData(
  // deno-lint-ignore no-explicit-any
  experiment: Experiment<any, any>,
  given: Record<string, string> = {},
): LocatedData {
  const located: LocatedData = { found: {}, missing: [] };
  for (const need of experiment.needs) {
    const named = given[need.name];
    if (need.locate) {
      const { dir, problem } = need.locate(named);
      if (dir !== null) located.found[need.name] = dir;
      else located.missing.push({ need, problem: problem ?? "not found", given: named });
    } else if (!need.available()) {
      located.missing.push({ need, problem: "not found", given: named });
    }
  }
  return located;
}

/** Whether `stored` is the complete (not partial) result of the run `identity`. */
function isComplete(stored: Record<string, unknown>, identity: RunIdentity): boolean {
  return sameRun(stored as unknown as RunIdentity, identity) &&
    validateResult(stored).length === 0 &&
    ((stored as unknown as RunResult).partial ?? []).length === 0;
}

/**
 * The result of the run `options` describe when its output folder already holds it complete
 * (same experiment, preset, config and seed; not partial; no checkpoint of a later attempt
 * left), else null. What `reproduce --resume` shows instead of training a finished run again.
 *
 * @example
 * ```ts
 * const done = await completedRun(sinusoidK5, { preset: "quick", outDir: "results/quick" });
 * if (done) console.log(done.metrics);
 * ```
 */
export async function completedRun<S extends ConfigSchema>(
  // deno-lint-ignore no-explicit-any
  experiment: Experiment<S, any>,
  options: Pick<RunOptions, "preset" | "overrides" | "seed" | "outDir" | "from">,
): Promise<RunResult | null> {
  if (!options.outDir) return null;
  const dir = `${options.outDir}/${experiment.name}`;
  const { preset, config } = await runConfig(experiment, options);
  const identity: RunIdentity = {
    experiment: experiment.name,
    preset,
    config,
    seed: options.seed ?? 0,
  };
  const stored = await readStoredRun(`${dir}/result.json`);
  if (stored.kind !== "run" || !isComplete(stored.run, identity)) return null;
  if (new CheckpointDir(dir).files().length > 0) return null;
  return stored.run as unknown as RunResult;
}

/**
 * The preset and config a run uses — the one resolution both `reproduce` and the notebooks
 * go through: the preset's values (or, for an evaluation-only run, the values the saved
 * models were trained with) plus the overrides, each validated against the schema, then the
 * experiment's own check of combinations, all before any data loads.
 */
export async function runConfig<S extends ConfigSchema>(
  // deno-lint-ignore no-explicit-any
  experiment: Experiment<S, any>,
  options: Pick<RunOptions, "preset" | "overrides" | "from"> = {},
): Promise<{ preset: Preset; config: ConfigOf<S> }> {
  const { preset, config } = options.from === undefined
    ? {
      preset: options.preset ?? "quick" as Preset,
      config: resolveConfig(experiment.schema, options.preset ?? "quick", options.overrides ?? {}),
    }
    : savedConfig(
      experiment.schema,
      await ModelStore.trainedConfig(options.from, experiment.name),
      options.overrides,
    );
  const problems = experiment.check?.(config) ?? [];
  if (problems.length > 0) {
    throw new ConfigError(`${experiment.name}: impossible config: ${problems.join("; ")}`);
  }
  return { preset, config };
}

/**
 * Makes sure `path` can hold a run's files, before any work: creates it if needed, and
 * throws naming the path and the reason when it is a file, cannot be created or cannot be
 * written to (`reproduce` checks `--out` with this before it loads anything).
 *
 * @example
 * ```ts
 * await checkOutputFolder("results/quick"); // throws: "output folder results/quick is a file, not a folder"
 * ```
 */
export async function checkOutputFolder(path: string): Promise<void> {
  if (path.trim() === "") {
    throw new OutputConflictError(`the output folder must be a path, got ${JSON.stringify(path)}`);
  }
  try {
    if (!(await Deno.stat(path)).isDirectory) {
      throw new OutputConflictError(`output folder ${path} is a file, not a folder`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      if (e instanceof OutputConflictError) throw e;
      throw new OutputConflictError(
        `output folder ${path} cannot be used: ${(e as Error).message}`,
      );
    }
    try {
      await Deno.mkdir(path, { recursive: true });
    } catch (e) {
      throw new OutputConflictError(
        `output folder ${path} cannot be created: ${(e as Error).message}`,
      );
    }
  }
  // Permission bits do not tell (root, ACLs, read-only mounts): write a probe file.
  const probe = `${path}/.metalab-write-check-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(probe, "", { createNew: true });
  } catch (e) {
    throw new OutputConflictError(
      `output folder ${path} is not writable: ${(e as Error).message}`,
    );
  }
  await Deno.remove(probe);
}

function samePath(a: string, b: string): boolean {
  const norm = (p: string) => {
    try {
      return Deno.realPathSync(p);
    } catch {
      return p.replace(/\/+$/, "");
    }
  };
  return norm(a) === norm(b);
}

/** Total steps already done over the run's checkpoints (null when there are none). */
async function peekSteps(dir: CheckpointDir): Promise<number | null> {
  const files = dir.files();
  if (files.length === 0) return null;
  let steps = 0;
  for (const f of files) {
    const ckpt = await new CheckpointStore(f).load();
    if (ckpt) {
      steps += ckpt.step;
      tf.dispose(Object.values(ckpt.tensors));
    }
  }
  return steps;
}
