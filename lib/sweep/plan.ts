/**
 * A sweep's plan: every run of a spec (each setting of the grid × each seed), its folder,
 * its `reproduce` arguments and the scheduler task that runs it. Planning validates every
 * run the way `deno task reproduce` would, with the same errors (unknown experiment, a key
 * the experiment lacks, a value out of range, an impossible combination), so a bad spec is
 * refused before anything is submitted. The run → task mapping here is the only one: the
 * Slurm array and the Kubernetes Indexed Job both use it.
 * @module
 */
import { parseDuration, reproducePlan } from "../cli/reproduce.ts";
import { runConfig } from "../experiments/mod.ts";
import { setText, type SweepSpec } from "./spec.ts";

/** Schema identifier of a sweep folder's `sweep.json`. */
export const SWEEP_SCHEMA = "metalab.sweep/1";

/** One run of a sweep: one setting with one seed, in its own folder. */
export interface SweepRun {
  /** Position in the plan (setting-major, then seed). */
  index: number;
  /** Its folder's name under the sweep folder's `runs/` (unique; says setting and seed). */
  id: string;
  /** Which setting (index into {@linkcode SweepPlan.settings}). */
  setting: number;
  /** The seed. */
  seed: number;
  /** Every `--set` value the run gets: the setting's swept values, then the spec's fixed ones. */
  sets: Record<string, string>;
}

/** Every run of a spec, validated. */
export interface SweepPlan {
  /** Always {@linkcode SWEEP_SCHEMA}. */
  schema: typeof SWEEP_SCHEMA;
  /** The spec it was planned from. */
  spec: SweepSpec;
  /** The settings: swept knob → value (as `--set` writes it), in grid order. */
  settings: Record<string, string>[];
  /** The runs, `runs[i].index === i`. */
  runs: SweepRun[];
  /** Scheduler tasks: task t runs `runs[t·runsPerTask … (t+1)·runsPerTask − 1]`. */
  tasks: number;
}

/** Every combination of the grid's values, keys in the grid's order (one empty setting for no grid). */
function settingsOf(grid: SweepSpec["grid"]): Record<string, string>[] {
  let settings: Record<string, string>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    settings = settings.flatMap((s) => values.map((v) => ({ ...s, [key]: setText(v) })));
  }
  return settings;
}

/** A folder-name piece of a value: safe characters only (the index keeps ids unique). */
function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9.+-]+/g, "_").slice(0, 40);
}

/**
 * Plans a spec: its settings × seeds as runs, each checked as `reproduce` checks its
 * command line and config, throwing the first error with the run it concerns.
 *
 * @example
 * ```ts
 * const plan = await planSweep(await readSpec("sweeps/lr.json"));
 * for (const run of plan.runs) console.log(run.id, reproduceArgs(plan, run, "results/sweeps/lr"));
 * ```
 */
export async function planSweep(spec: SweepSpec): Promise<SweepPlan> {
  const settings = settingsOf(spec.grid);
  const fixed = Object.fromEntries(Object.entries(spec.set).map(([k, v]) => [k, setText(v)]));
  const runs: SweepRun[] = [];
  for (const [s, setting] of settings.entries()) {
    const sets = { ...setting, ...fixed };
    // The command line first (experiment, seed, keys), then the values, as reproduce does.
    const argv = commandArgs(spec, spec.seeds[0], sets);
    const where = Object.keys(setting).length
      ? ` (setting ${Object.entries(setting).map(([k, v]) => `${k}=${v}`).join(", ")})`
      : "";
    try {
      const parsed = reproducePlan(argv);
      await runConfig(parsed.experiments[0], {
        preset: spec.preset,
        overrides: parsed.overrides(parsed.experiments[0]),
      });
    } catch (e) {
      // The error as reproduce gives it (same class and words), plus the setting it is in.
      if (e instanceof Error) e.message += where;
      throw e;
    }
    for (const seed of spec.seeds) {
      const index = runs.length;
      const label = Object.entries(setting).map(([k, v]) => `${slug(k)}-${slug(v)}`);
      const id = [`r${String(index).padStart(3, "0")}`, ...label, `seed-${seed}`].join("_");
      runs.push({ index, id, setting: s, seed, sets });
    }
  }
  return {
    schema: SWEEP_SCHEMA,
    spec,
    settings,
    runs,
    tasks: Math.ceil(runs.length / spec.runsPerTask),
  };
}

function commandArgs(
  spec: SweepSpec,
  seed: number,
  sets: Record<string, string>,
  out?: string,
): string[] {
  return [
    spec.experiment,
    ...(spec.preset === "quick" ? ["--quick"] : []),
    "--seed",
    String(seed),
    ...(out === undefined ? [] : ["--out", out]),
    ...Object.entries(sets).flatMap(([k, v]) => ["--set", `${k}=${v}`]),
  ];
}

/**
 * The `deno task reproduce` arguments of one run writing into `sweepDir`: experiment,
 * preset, seed, `--out <sweepDir>/runs/<id>` and its `--set` values. (The scheduler adds
 * `--time-limit` and `--resume` or `--force`, see {@linkcode runTimeLimitS}.)
 */
export function reproduceArgs(plan: SweepPlan, run: SweepRun, sweepDir: string): string[] {
  return commandArgs(plan.spec, run.seed, run.sets, runDir(sweepDir, run));
}

/** The folder a run writes into: `<sweepDir>/runs/<id>` (no run writes into another's). */
export function runDir(sweepDir: string, run: SweepRun): string {
  return `${sweepDir}/runs/${run.id}`;
}

/** The scheduler task that runs plan index `index` (Slurm array index = Kubernetes completion index). */
export function taskOf(plan: SweepPlan, index: number): number {
  return Math.floor(index / plan.spec.runsPerTask);
}

/** The runs scheduler task `task` runs, in order. */
export function runsOfTask(plan: SweepPlan, task: number): SweepRun[] {
  if (!Number.isInteger(task) || task < 0 || task >= plan.tasks) {
    throw new RangeError(`task ${task} is not one of this sweep's tasks 0…${plan.tasks - 1}`);
  }
  const n = plan.spec.runsPerTask;
  return plan.runs.slice(task * n, (task + 1) * n);
}

/** Seconds a scheduler task may run: the spec's `time` (or `override`, e.g. `--time`). */
export function taskTimeS(plan: SweepPlan, override?: string): number {
  return Math.ceil(parseDuration(override ?? plan.spec.time) / 1000);
}

/**
 * The `--time-limit` of each run, in seconds: its share of the task's time less a margin
 * for loading, evaluating and writing after training stops (10% of the share, at least a
 * minute or half the share), so a task the scheduler would kill at its limit stops
 * itself first and leaves a checkpoint and a PARTIAL result that `resume` continues.
 */
export function runTimeLimitS(plan: SweepPlan, taskSeconds = taskTimeS(plan)): number {
  const share = taskSeconds / plan.spec.runsPerTask;
  const margin = Math.max(0.1 * share, Math.min(60, 0.5 * share));
  return Math.max(1, Math.floor(share - margin));
}
