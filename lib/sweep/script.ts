/**
 * The shell script a scheduler task runs: it maps the task's index to its runs through the
 * plan ({@linkcode runsOfTask}) and runs each with `reproduce`, appending to the run's own
 * log. Slurm array tasks (`SLURM_ARRAY_TASK_ID`) and Kubernetes Indexed Job pods
 * (`JOB_COMPLETION_INDEX`) run this same script, so index i runs the same runs on both.
 *
 * Every run gets `--resume` (or `--force` when asked): a resubmitted run continues from its
 * checkpoint and a complete one is shown, not trained again. The log records each attempt's
 * start and exit code, which is how `status` tells a failed run from a running one.
 *
 * Fault injection, for testing the failure path end to end: when `METALAB_SWEEP_FAIL_ONCE`
 * names a run id in the task's environment, that run fails with exit code 3 the first time
 * it is attempted (a marker file beside its log records that it did), and runs normally on
 * any later attempt.
 * @module
 */
import { reproduceArgs, runsOfTask, type SweepPlan } from "./plan.ts";

/** How a task script finds things and what its runs get. */
export interface TaskScriptOptions {
  /** The sweep folder as the task sees it (absolute). */
  sweepDir: string;
  /** The project folder as the task sees it (absolute): `reproduce` runs from there. */
  root: string;
  /** The Deno binary as the task sees it (`METALAB_SWEEP_DENO` overrides it at run time). */
  deno: string;
  /** The environment variable holding the task index. */
  indexVar: string;
  /** Each run's `--time-limit`, in seconds. */
  timeLimitS: number;
  /** `--force`: train complete runs again (default: `--resume`). */
  force?: boolean;
  /** Which tasks the script knows (default: all of the plan's). */
  tasks?: number[];
}

/** A word quoted for bash (single quotes). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=,+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The bash body of a scheduler task (no scheduler header): a `case` on the index with one
 * branch per task, each running that task's runs in order. Exits 0 when all its runs
 * exited 0, else 1.
 *
 * @example
 * ```ts
 * const body = taskScript(plan, {
 *   sweepDir: "/scratch/lr", root: "/home/me/metalab", deno: "/usr/local/bin/deno",
 *   indexVar: "SLURM_ARRAY_TASK_ID", timeLimitS: 3300,
 * });
 * ```
 */
export function taskScript(plan: SweepPlan, o: TaskScriptOptions): string {
  const tasks = o.tasks ?? Array.from({ length: plan.tasks }, (_, t) => t);
  const mode = o.force ? "--force" : "--resume";
  const branches = tasks.map((t) => {
    const lines = runsOfTask(plan, t).map((run) =>
      `    run ${shellQuote(run.id)} ${
        [...reproduceArgs(plan, run, o.sweepDir), "--time-limit", `${o.timeLimitS}s`, mode]
          .map(shellQuote).join(" ")
      } || failed=1`
    );
    return `  ${t})\n${lines.join("\n")}\n    ;;`;
  });
  const q = shellQuote;
  return `# MetaLab sweep ${plan.spec.name}: ${plan.spec.experiment} (${plan.spec.preset}), ` +
    `task \$${o.indexVar} runs the runs below (sweep.json lists them all).
set -u
SWEEP=${q(o.sweepDir)}
DENO="\${METALAB_SWEEP_DENO:-${o.deno}}"
TASK="\${${o.indexVar}:?${o.indexVar} is not set: this script is a scheduler task}"
cd ${q(o.root)} || exit 2
export NO_COLOR=1
mkdir -p "$SWEEP/logs"
run() { # run id, then reproduce's arguments
  local id=$1 log="$SWEEP/logs/$1.log" code
  shift
  echo "== start $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) task $TASK job \${SLURM_JOB_ID:-\${HOSTNAME:-?}}" >>"$log"
  if [ "\${METALAB_SWEEP_FAIL_ONCE:-}" = "$id" ] && [ ! -e "$SWEEP/logs/$id.failed-once" ]; then
    : >"$SWEEP/logs/$id.failed-once"
    echo "METALAB_SWEEP_FAIL_ONCE=$id: this run fails on purpose, once (fault injection)" >>"$log"
    code=3
  else
    # = deno task reproduce …, without depending on the task runner's lookup.
    "$DENO" run --allow-all lib/cli/reproduce.ts "$@" >>"$log" 2>&1
    code=$?
  fi
  echo "== exit $code $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"
  return "$code"
}
failed=0
case "$TASK" in
${branches.join("\n")}
  *)
    echo "task $TASK is not one of this script's tasks (${compactRanges(tasks)})" >&2
    exit 2
    ;;
esac
exit "$failed"
`;
}

/** Indices as ranges: `[0, 1, 2, 5]` → `0-2,5` (Slurm's `--array` syntax). */
export function compactRanges(indices: number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}
