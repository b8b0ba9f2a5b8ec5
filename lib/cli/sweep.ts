/**
 * `deno task sweep plan|slurm|status|resume|merge|k8s …`: sweeps over seeds and settings of
 * one experiment on a cluster scheduler (Slurm job arrays, Kubernetes Indexed Jobs), merged
 * into one report. Thin: parse, call `lib/sweep`, print.
 * @module
 */
import { parseArgs } from "./args.ts";
import {
  k8sManifest,
  mergeSweep,
  mergeText,
  planSweep,
  readPlan,
  readSpec,
  reproduceArgs,
  type Resubmission,
  resumeSweep,
  runTimeLimitS,
  settingLabel,
  type SlurmOptions,
  stateCounts,
  submitPending,
  sweepStatus,
  taskOf,
  taskTimeS,
  writeMerge,
  writePlan,
} from "../sweep/mod.ts";
import { atomicWrite } from "../files/mod.ts";
import { parseDuration } from "./reproduce.ts";

const USAGE = `usage: deno task sweep COMMAND …

  plan SPEC [--out DIR]           the runs of a spec (count, each one's command and folder);
                                  refuses an invalid spec with reproduce's errors
  slurm SPEC [--out DIR] [--partition P] [--time T] [--cpus N] [--mem M] [--force]
                                  submits one Slurm job array (one task per runsPerTask runs)
                                  and a merge job after it; runs already done are skipped
                                  unless --force
  status DIR                      per run: done, partial (its step), failed (its log's end),
                                  queued or running, not started
  resume DIR [--partition P] [--time T] [--cpus N] [--mem M] [--force]
                                  resubmits only the runs that are not done; partial ones
                                  continue from their checkpoints
  merge DIR                       one table (merged.json) and report.html: per setting, the
                                  mean over seeds with a 95% interval, per-seed numbers, the
                                  best setting, plots against each knob; lists missing runs
  k8s SPEC [--out DIR] [--image I] [--claim PVC] [--mount PATH] [--parallelism N]
           [--cpus C] [--mem M] [--time T] [--force]
                                  writes a Kubernetes Indexed Job manifest (DIR/k8s-job.json)

SPEC is a JSON file: {"experiment": "sinusoid-k5", "preset": "quick",
  "grid": {"innerLr": [0.01, 0.1]}, "set": {"trainSteps": 500}, "seeds": [0, 1, 2],
  "time": "30m", "runsPerTask": 1, "metric": "K=5 maml, MSE after 1 step"}
DIR defaults to results/sweeps/<name> (name: the spec's, else its file name).`;

const FLAGS = {
  out: "string",
  partition: "string",
  time: "string",
  cpus: "string",
  mem: "string",
  force: "bool",
  image: "string",
  claim: "string",
  mount: "string",
  parallelism: "string",
  help: "bool",
} as const;

function positiveInt(flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(String(value)) || n < 1) {
    throw new Error(`--${flag} must be a positive integer, got "${value}"`);
  }
  return n;
}

function printSubmission(dir: string, r: Resubmission): void {
  if (r.done.length > 0) {
    console.log(`${r.done.length} run(s) already done, not run again (--force runs them again)`);
  }
  if (!r.submission) {
    console.log(
      `every run of ${dir} is done; nothing submitted (merge: deno task sweep merge ${dir})`,
    );
    return;
  }
  const s = r.submission;
  const tasks = Object.keys(s.tasks);
  console.log(
    `submitted array job ${s.jobId} (${tasks.length} task(s), ${r.redo.length} run(s)) and ` +
      `merge job ${s.mergeJobId} (after the array ends, whichever way)`,
  );
  console.log(`  script: ${s.scripts.array}`);
  console.log(
    `  watch:  squeue -j ${s.jobId},${s.mergeJobId}   or   deno task sweep status ${dir}`,
  );
  console.log(`  report: ${dir}/report.html once merge job ${s.mergeJobId} has run`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { positional, flags } = parseArgs(rest, FLAGS);
  if (!command || command === "--help" || flags.help) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const target = positional[0];
  if (!target || positional.length > 1) {
    throw new Error(
      `sweep ${command} needs one ${
        /^(status|resume|merge)$/.test(command) ? "DIR" : "SPEC"
      }, got ${positional.length ? positional.join(" ") : "none"}\n${USAGE}`,
    );
  }
  const time = flags.time as string | undefined;
  if (time !== undefined) {
    try {
      parseDuration(time);
    } catch {
      throw new Error(`--time must be a positive duration like 90m, 2h or 3600s, got "${time}"`);
    }
  }
  // Slurm counts CPUs; Kubernetes takes quantities such as 500m (read below for k8s).
  const slurm = (): SlurmOptions => ({
    partition: flags.partition as string | undefined,
    time,
    cpus: positiveInt("cpus", flags.cpus),
    mem: flags.mem as string | undefined,
  });
  const force = Boolean(flags.force);
  switch (command) {
    case "plan":
    case "slurm":
    case "k8s": {
      const plan = await planSweep(await readSpec(target));
      const dir = (flags.out as string | undefined) ?? `results/sweeps/${plan.spec.name}`;
      if (command === "plan") {
        const settings = plan.settings.length;
        console.log(
          `sweep ${plan.spec.name}: ${plan.runs.length} run(s) of ${plan.spec.experiment} ` +
            `(${plan.spec.preset}): ${settings} setting(s) × ${plan.spec.seeds.length} seed(s), ` +
            `${plan.tasks} scheduler task(s) of ${plan.spec.runsPerTask} run(s), ` +
            `${taskTimeS(plan, time)} s each (each run --time-limit ${
              runTimeLimitS(plan, taskTimeS(plan, time))
            }s)`,
        );
        for (const run of plan.runs) {
          console.log(
            `  [task ${taskOf(plan, run.index)}] ${run.id}: ${
              settingLabel(plan.settings[run.setting])
            }, seed ${run.seed}`,
          );
          console.log(`    deno task reproduce ${reproduceArgs(plan, run, dir).join(" ")}`);
        }
        if (flags.out !== undefined) {
          await writePlan(dir, plan);
          console.log(`plan written to ${dir}/sweep.json`);
        }
        return 0;
      }
      if (command === "slurm") {
        printSubmission(dir, await submitPending(plan, dir, { ...slurm(), force }));
        return 0;
      }
      await writePlan(dir, plan);
      const manifest = k8sManifest(plan, {
        image: flags.image as string | undefined,
        claim: flags.claim as string | undefined,
        mountPath: flags.mount as string | undefined,
        parallelism: positiveInt("parallelism", flags.parallelism),
        cpus: flags.cpus as string | undefined,
        mem: flags.mem as string | undefined,
        time,
        force,
      });
      const path = `${dir}/k8s-job.json`;
      await atomicWrite(path, JSON.stringify(manifest, null, 2) + "\n");
      console.log(
        `wrote ${path}: an Indexed Job of ${plan.tasks} completion(s) (${plan.runs.length} runs); ` +
          `index i runs task i of ${dir}/sweep.json, as Slurm's array index does`,
      );
      console.log(
        `  submit: kubectl apply -f ${path}   watch: kubectl get pods -l metalab/sweep=${plan.spec.name}`,
      );
      return 0;
    }
    case "status": {
      const { plan, runs, queueAsked } = await sweepStatus(target);
      console.log(
        `sweep ${plan.spec.name} (${target}): ${runs.length} runs: ` +
          stateCounts(runs).map(([s, n]) => `${n} ${s}`).join(", ") +
          (queueAsked ? "" : " (no Slurm queue asked: from the runs' files alone)"),
      );
      for (const r of runs) {
        console.log(`  ${r.run.id}: ${r.state}: ${r.detail}`);
        for (const line of r.logTail ?? []) console.log(`      | ${line}`);
      }
      return runs.some((r) => r.state === "failed") ? 1 : 0;
    }
    case "resume": {
      printSubmission(
        target,
        await resumeSweep(target, { ...slurm(), ...(force ? { force } : {}) }),
      );
      return 0;
    }
    case "merge": {
      const merged = await mergeSweep(target);
      const { json, html } = await writeMerge(target, await readPlan(target), merged);
      for (const line of mergeText(merged)) console.log(line);
      console.log(`table: ${json}\nreport: ${html}`);
      // Written either way; a non-zero exit says the report is not the whole sweep.
      return merged.missing.length > 0 ? 1 : 0;
    }
    default:
      throw new Error(
        `unknown sweep command "${command}"; known commands: plan, slurm, status, resume, merge, k8s`,
      );
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(2);
  }
}
