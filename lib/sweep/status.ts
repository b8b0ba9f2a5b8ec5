/**
 * Where each run of a sweep stands, from the runs' own files (result, checkpoints, log) and,
 * where a Slurm is reachable, its queue: done, partial (with the step it reached), failed
 * (with the last lines of its log), queued or running, not started. The files decide;
 * the queue only tells waiting and running runs apart, so status works after the jobs
 * have left the queue, without accounting (`sacct`), and on a machine with no Slurm.
 * @module
 */
import { CheckpointDir, completedRun, findExperiment, type RunResult } from "../experiments/mod.ts";
import { logFile, readPlan } from "./folder.ts";
import { runDir, type SweepPlan, type SweepRun } from "./plan.ts";
import { type QueuedJob, readSubmissions, slurmQueue } from "./slurm.ts";

/** A run's state. */
export type RunState = "done" | "partial" | "failed" | "running" | "queued" | "not started";

/** One run's state, with what supports it. */
export interface RunStatus {
  /** The run. */
  run: SweepRun;
  /** Its state. */
  state: RunState;
  /** One line: the step reached, the exit code, the queue's reason, … */
  detail: string;
  /** For a failed run: the last lines of its log. */
  logTail?: string[];
  /** For a done run: its result. */
  result?: RunResult;
}

/** A sweep folder's state: the plan and each run's status, in plan order. */
export interface SweepStatus {
  /** The plan. */
  plan: SweepPlan;
  /** Each run's status. */
  runs: RunStatus[];
  /** Whether a Slurm queue was asked (false: the files alone decided). */
  queueAsked: boolean;
}

/** Lines of a run's log: the last attempt's, and its exit code (null: none recorded). */
async function lastAttempt(path: string): Promise<{ lines: string[]; exit: number | null } | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const start = lines.findLastIndex((l) => l.startsWith("== start "));
  if (start < 0) return null;
  const attempt = lines.slice(start);
  const exitLine = attempt.findLast((l) => l.startsWith("== exit "));
  return { lines: attempt, exit: exitLine ? Number(exitLine.split(" ")[2]) : null };
}

/** The last `n` lines of an attempt that are the run's own output (not the markers). */
function tail(lines: string[], n = 6): string[] {
  return lines.filter((l) => !l.startsWith("== ")).slice(-n);
}

async function partialOf(dir: string): Promise<string | null> {
  try {
    const result = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
    const partial = result.partial as { label: string; step: number; steps: number }[] | undefined;
    if (partial && partial.length > 0) {
      return partial.map((p) => `${p.label} at step ${p.step} of ${p.steps}`).join(", ");
    }
  } catch {
    // No readable result: the checkpoints below say whether anything was kept.
  }
  return new CheckpointDir(dir).files().length > 0 ? "checkpointed, no result written yet" : null;
}

/** One run's status (see the module's documentation for what decides it). */
async function runStatus(
  dir: string,
  plan: SweepPlan,
  run: SweepRun,
  queued: QueuedJob | undefined,
): Promise<RunStatus> {
  const experiment = findExperiment(plan.spec.experiment);
  const out = runDir(dir, run);
  const done = await completedRun(experiment, {
    preset: plan.spec.preset,
    seed: run.seed,
    overrides: run.sets,
    outDir: out,
  }).catch(() => null);
  if (done) {
    return {
      run,
      state: "done",
      detail: `complete (${done.wallTimeS.toFixed(1)} s)`,
      result: done,
    };
  }
  if (queued) {
    const running = queued.state === "RUNNING" || queued.state === "COMPLETING";
    return {
      run,
      state: running ? "running" : "queued",
      detail: `Slurm: ${queued.state}${running ? "" : ` (${queued.reason})`}`,
    };
  }
  const partial = await partialOf(`${out}/${plan.spec.experiment}`);
  const attempt = await lastAttempt(logFile(dir, run.id));
  const kept = partial ? `; kept: ${partial} (resume continues it)` : "";
  if (attempt && attempt.exit !== 0) {
    return {
      run,
      state: "failed",
      detail: attempt.exit === null
        ? `stopped without an exit code (killed: time limit, memory, node?)${kept}`
        : `exit ${attempt.exit}${kept}`,
      logTail: tail(attempt.lines),
    };
  }
  if (partial) return { run, state: "partial", detail: partial };
  if (attempt) {
    return {
      run,
      state: "failed",
      detail: "exited 0 but left no complete result",
      logTail: tail(attempt.lines),
    };
  }
  return { run, state: "not started", detail: "no attempt logged" };
}

/**
 * The state of every run of the sweep in `dir`.
 *
 * @example
 * ```ts
 * const { runs } = await sweepStatus("results/sweeps/lr");
 * for (const r of runs) console.log(r.run.id, r.state, r.detail);
 * ```
 */
export async function sweepStatus(dir: string): Promise<SweepStatus> {
  const plan = await readPlan(dir);
  const submissions = await readSubmissions(dir);
  const queue = submissions.length > 0 ? await slurmQueue() : null;
  // A run's latest submission decides which queue entry is its own.
  const entryOf = (run: SweepRun): QueuedJob | undefined => {
    for (const s of [...submissions].reverse()) {
      const task = Object.entries(s.tasks).find(([, ids]) => ids.includes(run.id))?.[0];
      if (task !== undefined) return queue?.get(`${s.jobId}_${task}`);
    }
    return undefined;
  };
  const runs: RunStatus[] = [];
  for (const run of plan.runs) runs.push(await runStatus(dir, plan, run, entryOf(run)));
  return { plan, runs, queueAsked: queue !== null };
}

/** Counts of runs by state, in a fixed order (for one summary line). */
export function stateCounts(runs: RunStatus[]): [RunState, number][] {
  const order: RunState[] = ["done", "partial", "running", "queued", "failed", "not started"];
  return order.map((s) => [s, runs.filter((r) => r.state === s).length] as [RunState, number])
    .filter(([, n]) => n > 0);
}
