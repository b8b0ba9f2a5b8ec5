/**
 * Submitting what is left: the scheduler tasks holding runs that are not done, and only
 * those. A partial run continues from its checkpoint (every run gets `reproduce --resume`);
 * a done run in a resubmitted task is shown, not trained again. Runs Slurm still holds are
 * never submitted twice: two jobs in one run folder would fight over it.
 * @module
 */
import { readPlan, writePlan } from "./folder.ts";
import { type SweepPlan, taskOf } from "./plan.ts";
import {
  readSubmissions,
  SlurmError,
  type SlurmOptions,
  type Submission,
  submitSlurm,
} from "./slurm.ts";
import { type RunStatus, sweepStatus } from "./status.ts";

/** What a (re)submission did. */
export interface Resubmission {
  /** The submission, or null when every run was done (nothing submitted). */
  submission: Submission | null;
  /** The runs it submits again (not done), with their state before. */
  redo: RunStatus[];
  /** Runs already done, left alone. */
  done: RunStatus[];
}

/**
 * Writes (or checks) the plan in `dir` and submits the tasks of its runs that are not done
 * (all of them with `force`, which trains done runs again).
 *
 * @example
 * ```ts
 * const { submission, redo } = await submitPending(plan, "results/sweeps/lr", { cpus: 2 });
 * ```
 */
export async function submitPending(
  plan: SweepPlan,
  dir: string,
  options: SlurmOptions & { force?: boolean } = {},
): Promise<Resubmission> {
  await writePlan(dir, plan);
  const status = await sweepStatus(dir);
  const busy = status.runs.filter((r) => r.state === "queued" || r.state === "running");
  if (busy.length > 0) {
    throw new SlurmError(
      `${busy.length} run(s) of ${dir} are still in Slurm's queue (${
        busy.map((r) => `${r.run.id}: ${r.detail}`).join("; ")
      }): wait for them (deno task sweep status ${dir}) or scancel them, then resume`,
    );
  }
  const done = status.runs.filter((r) => r.state === "done");
  const redo = options.force ? status.runs : status.runs.filter((r) => r.state !== "done");
  if (redo.length === 0) return { submission: null, redo, done };
  const tasks = [...new Set(redo.map((r) => taskOf(plan, r.run.index)))];
  const submission = await submitSlurm(plan, dir, tasks, options);
  return { submission, redo, done: options.force ? [] : done };
}

/**
 * `deno task sweep resume DIR`: submits again the runs of the sweep in `dir` that are not
 * done, asking Slurm for what the last submission asked unless `options` says otherwise.
 */
export async function resumeSweep(
  dir: string,
  options: SlurmOptions & { force?: boolean } = {},
): Promise<Resubmission> {
  const plan = await readPlan(dir);
  const last = (await readSubmissions(dir)).at(-1);
  const asked = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return submitPending(plan, dir, { ...(last?.options ?? {}), ...asked });
}
