/**
 * Sweeps over seeds and settings on a cluster scheduler: a spec (experiment, preset, grid of
 * `--set` values, seeds, time per task) is planned into runs, validated as `reproduce`
 * validates a command line; the runs go to Slurm as one job array (plus a merge job after
 * it) or to Kubernetes as one Indexed Job, each run in its own folder via `deno task
 * reproduce --resume`; `status` says where each run stands, `resume` resubmits only what is
 * not done, and `merge` writes one table and one HTML report (mean over seeds with 95%
 * intervals, per-seed numbers, the best setting, plots against each knob).
 *
 * ```ts
 * import { mergeSweep, planSweep, readSpec, submitSlurm } from "./mod.ts";
 * const plan = await planSweep(await readSpec("sweeps/lr.json"));
 * await submitSlurm(plan, "results/sweeps/lr", [...Array(plan.tasks).keys()]);
 * // … later, or as the merge job does:
 * const merged = await mergeSweep("results/sweeps/lr");
 * ```
 * @module
 */
export { parseSpec, readSpec, setText, SpecError, type SpecValue, type SweepSpec } from "./spec.ts";
export {
  planSweep,
  reproduceArgs,
  runDir,
  runsOfTask,
  runTimeLimitS,
  SWEEP_SCHEMA,
  type SweepPlan,
  type SweepRun,
  taskOf,
  taskTimeS,
} from "./plan.ts";
export { logFile, planFile, readPlan, SweepFolderError, writePlan } from "./folder.ts";
export { compactRanges, shellQuote, taskScript, type TaskScriptOptions } from "./script.ts";
export {
  arrayScript,
  jobsFile,
  mergeScript,
  type QueuedJob,
  readSubmissions,
  slurmCommand,
  SlurmError,
  type SlurmOptions,
  slurmQueue,
  type Submission,
  submitSlurm,
} from "./slurm.ts";
export {
  type RunState,
  type RunStatus,
  stateCounts,
  type SweepStatus,
  sweepStatus,
} from "./status.ts";
export { type SeedInterval, seedInterval, t975 } from "./seeds.ts";
export {
  MERGE_SCHEMA,
  type MergedMetric,
  type MergedSetting,
  mergeSweep,
  mergeText,
  settingLabel,
  type SweepMerge,
  SweepMixError,
  writeMerge,
} from "./merge.ts";
export { k8sManifest, type K8sOptions } from "./k8s.ts";
export { type Resubmission, resumeSweep, submitPending } from "./resume.ts";
