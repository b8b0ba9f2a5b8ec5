/**
 * Slurm: one job array per submission (one array task per scheduler task of the plan, the
 * array index being the task index), plus a merge job that runs after the array has
 * ended whichever way (`afterany`: with `afterok`, one failed run would leave the merge
 * pending forever as `DependencyNeverSatisfied`). What was submitted is recorded in the
 * sweep folder's `jobs/jobs.json`, which `status` and `resume` read.
 * @module
 */
import { atomicWrite } from "../files/mod.ts";
import { absolute, readJson } from "./folder.ts";
import { runsOfTask, runTimeLimitS, type SweepPlan, taskTimeS } from "./plan.ts";
import { compactRanges, shellQuote, taskScript } from "./script.ts";

/** What an array task asks Slurm for (all optional: the cluster's defaults otherwise). */
export interface SlurmOptions {
  /** `--partition`. */
  partition?: string;
  /** `--time` of each array task, as a duration (`90m`, `2h`); default the spec's `time`. */
  time?: string;
  /** `--cpus-per-task`. */
  cpus?: number;
  /** `--mem` (Slurm's syntax: `4G`, `800M`). */
  mem?: string;
}

/** One submission: the array job, its merge job and the runs each array task runs. */
export interface Submission {
  /** Always "slurm". */
  scheduler: "slurm";
  /** The array job's id. */
  jobId: string;
  /** The merge job's id. */
  mergeJobId: string;
  /** Array index (the plan's task index) → the ids of the runs it runs. */
  tasks: Record<string, string[]>;
  /** What was asked of Slurm (a resume asks the same unless told otherwise). */
  options: SlurmOptions;
  /** Whether runs were forced (`--force`) rather than resumed. */
  force: boolean;
  /** The scripts submitted. */
  scripts: { array: string; merge: string };
  /** ISO time of the submission. */
  submittedAt: string;
}

/** A Slurm command that failed or is missing: names the command and what it said. */
export class SlurmError extends Error {
  override name = "SlurmError";
}

/** Where the submissions of a sweep folder are recorded. */
export function jobsFile(dir: string): string {
  return `${dir}/jobs/jobs.json`;
}

/** The submissions recorded in a sweep folder, oldest first. */
export function readSubmissions(dir: string): Promise<Submission[]> {
  return readJson<Submission[]>(jobsFile(dir), []);
}

/** Runs a Slurm command, returning its standard output; throws a {@linkcode SlurmError}. */
export async function slurmCommand(command: string, args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SlurmError(
        `${command} not found: is Slurm installed and on PATH? (a single-node Slurm on this ` +
          `machine: deno task slurm:local start, then export SLURM_CONF as it says)`,
      );
    }
    throw e;
  }
  const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  if (out.code !== 0) {
    throw new SlurmError(
      `${command} ${args.join(" ")} failed (exit ${out.code}): ${
        text(out.stderr) || text(out.stdout)
      }`,
    );
  }
  return text(out.stdout);
}

/** Slurm's `--time` in whole minutes (never under 1). */
function slurmMinutes(seconds: number): number {
  return Math.max(1, Math.ceil(seconds / 60));
}

/** Where a task script finds the project and Deno: this checkout and this Deno. */
function here(): { root: string; deno: string } {
  return {
    root: new URL("../..", import.meta.url).pathname.replace(/\/$/, ""),
    deno: Deno.execPath(),
  };
}

function checkPath(dir: string): void {
  if (/\s/.test(dir)) {
    throw new SlurmError(
      `the sweep folder ${JSON.stringify(dir)} has white space in its path, which #SBATCH ` +
        `lines cannot hold; choose another --out`,
    );
  }
}

/**
 * The array job's script: `#SBATCH` lines (job name, `--array` of the given tasks, time,
 * output files, the resources asked for), then {@linkcode taskScript} on `SLURM_ARRAY_TASK_ID`.
 */
export function arrayScript(
  plan: SweepPlan,
  sweepDir: string,
  tasks: number[],
  options: SlurmOptions & { force?: boolean } = {},
): string {
  const dir = absolute(sweepDir);
  checkPath(dir);
  const seconds = taskTimeS(plan, options.time);
  const header = [
    "#!/bin/bash",
    `#SBATCH --job-name=metalab-${plan.spec.name}`,
    `#SBATCH --array=${compactRanges(tasks)}`,
    `#SBATCH --time=${slurmMinutes(seconds)}`,
    `#SBATCH --output=${dir}/jobs/slurm-%A_%a.out`,
    "#SBATCH --open-mode=append",
    ...(options.partition ? [`#SBATCH --partition=${options.partition}`] : []),
    ...(options.cpus ? [`#SBATCH --cpus-per-task=${options.cpus}`] : []),
    ...(options.mem ? [`#SBATCH --mem=${options.mem}`] : []),
  ];
  return `${header.join("\n")}\n${
    taskScript(plan, {
      sweepDir: dir,
      ...here(),
      indexVar: "SLURM_ARRAY_TASK_ID",
      timeLimitS: runTimeLimitS(plan, seconds),
      force: options.force,
      tasks,
    })
  }`;
}

/** The merge job's script: `deno task sweep merge DIR` once the array has ended. */
export function mergeScript(plan: SweepPlan, sweepDir: string, options: SlurmOptions = {}): string {
  const dir = absolute(sweepDir);
  checkPath(dir);
  const { root, deno } = here();
  return [
    "#!/bin/bash",
    `#SBATCH --job-name=metalab-${plan.spec.name}-merge`,
    "#SBATCH --time=10",
    `#SBATCH --output=${dir}/jobs/slurm-%j-merge.out`,
    ...(options.partition ? [`#SBATCH --partition=${options.partition}`] : []),
    `cd ${shellQuote(root)} || exit 2`,
    "export NO_COLOR=1",
    `exec "\${METALAB_SWEEP_DENO:-${deno}}" run --allow-all lib/cli/sweep.ts merge ${
      shellQuote(dir)
    }`,
    "",
  ].join("\n");
}

/**
 * Writes the array and merge scripts into `<sweepDir>/jobs/`, submits both with `sbatch`
 * (the merge `--dependency=afterany:<array>`) and records the submission. `tasks`: the
 * plan's task indices to run.
 *
 * @example
 * ```ts
 * const s = await submitSlurm(plan, "results/sweeps/lr", [0, 1, 2, 3], { partition: "gpu" });
 * console.log(`array ${s.jobId}, merge ${s.mergeJobId}`);
 * ```
 */
export async function submitSlurm(
  plan: SweepPlan,
  sweepDir: string,
  tasks: number[],
  options: SlurmOptions & { force?: boolean } = {},
): Promise<Submission> {
  if (tasks.length === 0) throw new SlurmError("nothing to submit: no tasks given");
  const dir = absolute(sweepDir);
  const earlier = await readSubmissions(dir);
  const n = earlier.length + 1;
  const scripts = {
    array: `${dir}/jobs/array-${n}.sbatch`,
    merge: `${dir}/jobs/merge-${n}.sbatch`,
  };
  await atomicWrite(scripts.array, arrayScript(plan, dir, tasks, options));
  await atomicWrite(scripts.merge, mergeScript(plan, dir, options));
  const jobId = (await slurmCommand("sbatch", ["--parsable", scripts.array])).split(";")[0];
  const mergeJobId = (await slurmCommand("sbatch", [
    "--parsable",
    `--dependency=afterany:${jobId}`,
    scripts.merge,
  ])).split(";")[0];
  const { force = false, ...asked } = options;
  const submission: Submission = {
    scheduler: "slurm",
    jobId,
    mergeJobId,
    tasks: Object.fromEntries(tasks.map((t) => [String(t), runsOfTask(plan, t).map((r) => r.id)])),
    options: asked,
    force,
    scripts,
    submittedAt: new Date().toISOString(),
  };
  await atomicWrite(jobsFile(dir), JSON.stringify([...earlier, submission], null, 2) + "\n");
  return submission;
}

/** A job (or array task) Slurm still holds: its state and the reason it waits. */
export interface QueuedJob {
  /** `PENDING`, `RUNNING`, `COMPLETING`, … */
  state: string;
  /** Why it waits (`Resources`, `Dependency`, …; `None` when running). */
  reason: string;
}

/**
 * The jobs `squeue` lists (pending, running, completing), by id: `<array>_<index>` for
 * array tasks, one entry each. Null when `squeue` is missing or fails (no scheduler to ask:
 * status then goes by the runs' own files alone).
 */
export async function slurmQueue(): Promise<Map<string, QueuedJob> | null> {
  let text: string;
  try {
    text = await slurmCommand("squeue", ["-h", "-r", "-o", "%i|%T|%r"]);
  } catch {
    return null;
  }
  const queue = new Map<string, QueuedJob>();
  for (const line of text.split("\n").filter((l) => l.trim())) {
    const [id, state, reason] = line.trim().split("|");
    queue.set(id, { state, reason });
  }
  return queue;
}
