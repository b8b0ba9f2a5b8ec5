/**
 * A sweep's folder: `sweep.json` (its plan), `runs/<id>/` (one `reproduce` output folder
 * per run, written by that run only), `logs/<id>.log` (each run's output, appended by every
 * attempt), `jobs/` (the scheduler scripts written and `jobs.json`, what was submitted), and
 * after a merge `merged.json` and `report.html`.
 * @module
 */
import { atomicWrite } from "../files/mod.ts";
import { stableJson } from "../experiments/results.ts";
import { SWEEP_SCHEMA, type SweepPlan } from "./plan.ts";

/** A sweep folder that cannot be used as asked: names the folder and why. */
export class SweepFolderError extends Error {
  override name = "SweepFolderError";
}

/** The plan file of a sweep folder. */
export function planFile(dir: string): string {
  return `${dir}/sweep.json`;
}

/** A run's log file. */
export function logFile(dir: string, id: string): string {
  return `${dir}/logs/${id}.log`;
}

/** What identifies a plan's runs (not its time limit or how many runs share a task). */
function runsIdentity(plan: SweepPlan): string {
  return stableJson({
    experiment: plan.spec.experiment,
    preset: plan.spec.preset,
    runs: plan.runs.map(({ id, seed, sets }) => ({ id, seed, sets })),
  });
}

/**
 * Writes `plan` as the folder's `sweep.json`, or keeps the one there when it plans the same
 * runs. A folder holding another sweep is refused: its runs would be mixed with these.
 */
export async function writePlan(dir: string, plan: SweepPlan): Promise<void> {
  const existing = await readPlan(dir).catch((e) => {
    if (e instanceof SweepFolderError && /no sweep\.json/.test(e.message)) return null;
    throw e;
  });
  if (existing) {
    if (runsIdentity(existing) !== runsIdentity(plan)) {
      throw new SweepFolderError(
        `${dir} holds another sweep (${existing.spec.name}: ${existing.spec.experiment} ` +
          `${existing.spec.preset}, ${existing.runs.length} runs) whose runs differ from ` +
          `these; give this sweep its own --out folder`,
      );
    }
    if (existing.spec.runsPerTask === plan.spec.runsPerTask) return;
  }
  await atomicWrite(planFile(dir), JSON.stringify(plan, null, 2) + "\n");
}

/** Reads a sweep folder's plan, with an error naming the folder when it has none. */
export async function readPlan(dir: string): Promise<SweepPlan> {
  let text: string;
  try {
    text = await Deno.readTextFile(planFile(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new SweepFolderError(
        `${dir} is not a sweep folder (no sweep.json): give the folder that ` +
          `deno task sweep slurm (or k8s, or plan --out) wrote`,
      );
    }
    throw new SweepFolderError(`${planFile(dir)} cannot be read: ${(e as Error).message}`);
  }
  let plan: SweepPlan;
  try {
    plan = JSON.parse(text);
  } catch (e) {
    throw new SweepFolderError(`${planFile(dir)} is not valid JSON: ${(e as Error).message}`);
  }
  if (plan?.schema !== SWEEP_SCHEMA || !Array.isArray(plan.runs)) {
    throw new SweepFolderError(
      `${planFile(dir)} is not a sweep plan (expected schema "${SWEEP_SCHEMA}", got ` +
        `${JSON.stringify(plan?.schema)})`,
    );
  }
  return plan;
}

/** Reads a JSON file, or returns `fallback` when it does not exist. */
export async function readJson<T>(path: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return fallback;
    throw new SweepFolderError(`${path} cannot be read: ${(e as Error).message}`);
  }
}

/** The absolute form of `path` (relative to the working folder). */
export function absolute(path: string): string {
  const p = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return p.replace(/\/+$/, "").replace(/\/\.\//g, "/") || "/";
}
