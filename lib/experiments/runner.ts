/**
 * Runs one experiment end to end: resolves and validates its config, guards the output
 * folder, hands the experiment a context (seed, progress, checkpoints, Ctrl-C signal),
 * and writes the results file atomically.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ConfigSchema, type Preset, resolveConfig } from "./config.ts";
import { atomicWrite } from "../files/mod.ts";
import { CheckpointDir, CheckpointStore } from "./checkpoint.ts";
import {
  METALAB_VERSION,
  RESULT_SCHEMA,
  type RunIdentity,
  type RunResult,
  sameRun,
  validateResult,
} from "./results.ts";
import type { Experiment, ProgressFn, StoppedPhase } from "./types.ts";

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
  /** Continue from the last checkpoint of the same run. */
  resume?: boolean;
  /** Overwrite another run's results in the output folder. */
  force?: boolean;
  /** Steps between checkpoints (default 100). */
  checkpointEvery?: number;
  /** Progress reporter (default: none). */
  progress?: ProgressFn;
  /** Abort signal (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Wall-clock deadline (`Date.now()` ms): training stops after the step in progress, with
   * a checkpoint there, the run is evaluated as it stands and its result marked partial; the checkpoints stay
   * so that `resume` continues the schedule. Default: none.
   */
  deadline?: number;
  /** Where commentary goes (default: console.log). */
  log?: (message: string) => void;
}

/** The output folder already holds another run's results, or an unfinished run. */
export class OutputConflictError extends Error {
  override name = "OutputConflictError";
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new OutputConflictError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/**
 * Runs `experiment` and returns its result (also written to
 * `<outDir>/<name>/result.json` unless `outDir` is null).
 *
 * @example
 * ```ts
 * const result = await runExperiment(sinusoidMaml, { preset: "quick", seed: 1, outDir: null });
 * console.log(result.metrics);
 * ```
 */
export async function runExperiment<S extends ConfigSchema>(
  experiment: Experiment<S>,
  options: RunOptions = {},
): Promise<RunResult> {
  const preset = options.preset ?? "quick";
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  }
  const config = resolveConfig(experiment.schema, preset, options.overrides ?? {});
  const identity: RunIdentity = { experiment: experiment.name, preset, config, seed };
  const log = options.log ?? ((m: string) => console.log(m));
  const missing = experiment.needs.filter((n) => !n.available());
  if (missing.length > 0) {
    throw new Error(
      `experiment "${experiment.name}" needs ${
        missing.map((n) => `${n.name} (get it with: ${n.howToGet})`).join(", ")
      }`,
    );
  }

  const dir = options.outDir ? `${options.outDir}/${experiment.name}` : null;
  let checkpoints: CheckpointDir | null = null;
  if (dir) {
    const previous = await readJson(`${dir}/result.json`);
    if (previous && !sameRun(previous as unknown as RunIdentity, identity) && !options.force) {
      throw new OutputConflictError(
        `${dir} holds the results of another run (preset ${previous.preset}, seed ${previous.seed}, ` +
          `config ${JSON.stringify(previous.config)}); choose another --out or pass --force`,
      );
    }
    checkpoints = new CheckpointDir(dir);
    const runFile = `${dir}/run.json`;
    const started = await readJson(runFile);
    if (checkpoints.files().length > 0) {
      const same = started && sameRun(started as unknown as RunIdentity, identity);
      if (options.resume && !same) {
        throw new OutputConflictError(
          `cannot resume: the checkpoint in ${dir} belongs to another run ` +
            `(${JSON.stringify(started)}); rerun with its settings or pass --force to start over`,
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
  }

  const startedAt = new Date();
  const t0 = performance.now();
  const resumedFrom = options.resume && checkpoints ? await peekSteps(checkpoints) : null;
  const stopped: StoppedPhase[] = [];
  const output = await experiment.run(config, {
    seed,
    preset,
    progress: options.progress ?? (() => {}),
    checkpoints,
    checkpointEvery: options.checkpointEvery ?? 100,
    signal: options.signal ?? new AbortController().signal,
    deadline: options.deadline ?? Infinity,
    onStopped: (phase) => stopped.push(phase),
    log,
  });
  if (output.metrics.length === 0 && stopped.length > 0) {
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
    metrics: output.metrics,
    curves: output.curves,
    notes: [...partialNotes, ...output.notes],
  };
  const problems = validateResult(result);
  if (problems.length > 0) {
    throw new Error(`experiment "${experiment.name}" produced an invalid result: ${problems}`);
  }
  if (dir) {
    await atomicWrite(`${dir}/result.json`, JSON.stringify(result, null, 2) + "\n");
    // A partial run keeps its checkpoints: --resume continues the schedule.
    if (stopped.length === 0) await checkpoints?.clear();
  }
  return result;
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
