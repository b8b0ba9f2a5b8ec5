/**
 * `deno task reproduce [NAME…] [--quick] [--out DIR] [--seed N] [--backend B] [--resume]
 * [--force] [--time-limit T] [--set key=value]… [--eval-only --from DIR] [--data-dir DIR]
 * [--list]`
 *
 * Runs the named experiments (all of them by default; those whose data is missing are
 * listed with the command that gets it), shows progress, writes one `result.json` per
 * run, the trained models beside it, and a self-contained HTML report of every run in the
 * output folder. Thin: parse, call `lib/experiments`, print.
 * @module
 */
import { parseArgs } from "./args.ts";
import { initBackend } from "../backend/mod.ts";
import {
  checkOutputFolder,
  completedRun,
  type ConfigField,
  type Experiment,
  EXPERIMENTS,
  findExperiment,
  formatResultMetric,
  locateData,
  ModelStore,
  parseOverrides,
  type Preset,
  readResults,
  runExperiment,
  type RunResult,
  writeReport,
} from "../experiments/mod.ts";
import { progressReporter } from "../progress/mod.ts";

const USAGE = `usage: deno task reproduce [NAME…] [options]

Runs MetaLab's experiments and writes results/<preset>/<name>/result.json, and report.html
covering every run in the output folder.

options:
  --quick            small configs (minutes); default is the full published schedules
  --out DIR          output folder (default results/quick or results/full)
  --seed N           seed (default 0)
  --backend B        auto | webgpu | wasm | native | cpu (default auto; native: wasm with
                     oneDNN convolutions, needs libdnnl2)
  --set key=value    override a config value (repeatable; applies to every named experiment)
  --resume           continue interrupted or partial runs from their last checkpoint
                     (a complete run is shown, not trained again)
  --time-limit T     stop training after T (90m, 2h, 3600s; a bare number is minutes),
                     evaluate the models as they stand, mark the results PARTIAL and
                     keep the checkpoints: --resume finishes the schedule later
  --force            overwrite what the output folder holds (another run's results or
                     checkpoints, an unreadable result.json); trains a complete run again
  --eval-only        evaluate saved models instead of training (needs --from)
  --from DIR         where the saved models are: an output folder of an earlier run
                     (results/full) or one experiment's folder in it; the config starts
                     from the one they were trained with (--set changes it); results go
                     to results/eval unless --out says otherwise
  --data-dir DIR     the folder holding the Omniglot archives (default: data/omniglot/,
                     then ../shared/data/omniglot/); result.json records the one used
  --list             list the experiments and their config knobs, then exit
  --help             this text`;

/** Why `--resume --force` is refused: the two say opposite things about what is there. */
const RESUME_AND_FORCE =
  "--resume and --force contradict each other: --resume continues the checkpointed run in " +
  "the output folder, --force discards what is there and starts over; pass one of them";

function describeField(key: string, f: ConfigField): string {
  const range = f.kind === "int" || f.kind === "number"
    ? `${f.kind} in [${f.min}, ${f.max}]`
    : f.kind === "numbers"
    ? `numbers in [${f.min}, ${f.max}]`
    : f.kind === "choice"
    ? f.choices.join("|")
    : "bool";
  return `    ${key.padEnd(16)} ${range.padEnd(24)} quick=${f.quick} full=${f.full}  ${f.doc}`;
}

/** What a `reproduce` command line asks for, before anything runs. */
export interface ReproducePlan {
  /** The experiments named (all of them when none is). */
  experiments: Experiment[];
  /** Whether they were named explicitly. */
  named: boolean;
  /** The preset. */
  preset: Preset;
  /** The seed. */
  seed: number;
  /** The output root. */
  outDir: string;
  /** `--set` values, per experiment: each gets the keys its schema has. */
  overrides: (experiment: Experiment) => Record<string, string>;
  /** Every `--set` value as given. */
  sets: Record<string, string>;
  /** Continue checkpoints. */
  resume: boolean;
  /** Overwrite. */
  force: boolean;
  /** The `--time-limit` deadline (`Date.now()` ms), or Infinity. */
  deadline: number;
  /** `--eval-only --from DIR`: the folder of saved models, else undefined. */
  from?: string;
  /** Data folders named on the command line, by data set name (`--data-dir`: omniglot). */
  data: Record<string, string>;
  /** The backend asked for. */
  backend: string;
}

/**
 * Parses a `reproduce` command line into a plan, refusing bad input with a message naming
 * it: an unknown option or experiment, a seed that is not a non-negative integer, a `--set`
 * key no chosen experiment has, `--eval-only` without `--from`. (The notebook-parity test
 * calls this too.)
 */
export function reproducePlan(argv: string[]): ReproducePlan & { help: boolean; list: boolean } {
  const { positional, flags } = parseArgs(argv, {
    quick: "bool",
    out: "string",
    seed: "string",
    backend: "string",
    set: "list",
    resume: "bool",
    force: "bool",
    "time-limit": "string",
    "eval-only": "bool",
    from: "string",
    "data-dir": "string",
    list: "bool",
    help: "bool",
  });
  const preset = flags.quick ? "quick" : "full";
  if (flags.resume && flags.force) throw new Error(RESUME_AND_FORCE);
  const seedText = flags.seed === undefined ? "0" : String(flags.seed);
  if (!/^\d+$/.test(seedText.trim()) || !Number.isSafeInteger(Number(seedText))) {
    throw new Error(`--seed must be a non-negative integer, got "${flags.seed}"`);
  }
  const seed = Number(seedText);
  const from = flags.from as string | undefined;
  if (flags["eval-only"] && from === undefined) {
    throw new Error("--eval-only needs --from DIR: the folder holding the saved models");
  }
  if (from !== undefined && !flags["eval-only"]) {
    throw new Error(`--from ${from} is for evaluating saved models: add --eval-only`);
  }
  if (flags.out !== undefined && String(flags.out).trim() === "") {
    throw new Error(`--out must name a folder, got ${JSON.stringify(flags.out)}`);
  }
  const outDir = (flags.out as string | undefined) ??
    (from !== undefined ? "results/eval" : `results/${preset}`);
  const dataDir = flags["data-dir"] as string | undefined;
  if (dataDir !== undefined && dataDir.trim() === "") {
    throw new Error(`--data-dir must name the folder holding the Omniglot archives, got ""`);
  }
  const timeLimit = flags["time-limit"] as string | undefined;
  const deadline = timeLimit === undefined ? Infinity : Date.now() + parseDuration(timeLimit);
  const sets = parseOverrides((flags.set as string[] | undefined) ?? []);
  const chosen = positional.length ? positional.map(findExperiment) : [...EXPERIMENTS];
  for (const key of Object.keys(sets)) {
    if (!chosen.some((e) => key in e.schema)) {
      throw new Error(
        `--set ${key}: no chosen experiment has this knob (see deno task reproduce --list)`,
      );
    }
  }
  return {
    experiments: chosen,
    named: positional.length > 0,
    preset,
    seed,
    outDir,
    // Overrides name keys of particular experiments; apply each where the key exists.
    overrides: (e) => Object.fromEntries(Object.entries(sets).filter(([k]) => k in e.schema)),
    sets,
    resume: Boolean(flags.resume),
    force: Boolean(flags.force),
    deadline,
    from,
    data: dataDir === undefined ? {} : { omniglot: dataDir },
    backend: (flags.backend as string | undefined) ?? "auto",
    help: Boolean(flags.help),
    list: Boolean(flags.list),
  };
}

async function main(): Promise<number> {
  const plan = reproducePlan(Deno.args);
  if (plan.help) {
    console.log(USAGE);
    return 0;
  }
  if (plan.list) {
    for (const e of EXPERIMENTS) {
      const data = e.needs.length ? `  [needs ${e.needs.map((n) => n.name).join(", ")}]` : "";
      console.log(`${e.name}${data}\n  ${e.title}`);
      for (const [k, f] of Object.entries(e.schema)) console.log(describeField(k, f));
    }
    return 0;
  }
  const { preset, seed, outDir, deadline, from } = plan;
  let chosen = plan.experiments;
  if (from !== undefined && !plan.named) {
    // Evaluate whatever was saved there; say what was not.
    const saved = chosen.filter((e) => ModelStore.labels(from, e.name).length > 0);
    if (saved.length === 0) {
      throw new Error(
        `--from ${from}: no saved models found (expected <experiment>/models/<learner>/ or models/<learner>/)`,
      );
    }
    chosen = saved;
  }
  const located = new Map(chosen.map((e) => [e, locateData(e, plan.data)]));
  // A folder the user named that cannot be used is an error, whatever else could run.
  const named = [...located.values()].flatMap((l) => l.missing).find((m) => m.given);
  if (named) throw new Error(`--data-dir ${named.given}: ${named.problem}`);
  const runnable = chosen.filter((e) => located.get(e)!.missing.length === 0);
  for (const e of chosen.filter((e) => !runnable.includes(e))) {
    const missing = located.get(e)!.missing;
    console.log(
      `skipping ${e.name}: needs ${
        missing.map((m) => `${m.need.name} (${m.problem})`).join(", ")
      } — get it with: ${missing.map((m) => m.need.howToGet).join("; ")}`,
    );
    if (plan.named) return 1; // explicitly asked for, cannot run
  }
  // An unusable output folder is an error before any data loads or any step trains.
  await checkOutputFolder(outDir);
  const backend = await initBackend(plan.backend);
  console.log(
    `MetaLab reproduce: ${runnable.length} experiment(s), ` +
      (from === undefined
        ? `preset ${preset}, seed ${seed}`
        : `evaluating the models saved in ${from} (with the config they were trained with)`) +
      `, backend ${backend.name}, output ${outDir}/`,
  );

  const controller = new AbortController();
  const onInterrupt = () => {
    if (controller.signal.aborted) Deno.exit(130);
    console.log("\ninterrupt: stopping at the next step (Ctrl-C again to quit at once)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);

  let failures = 0;
  try {
    for (const experiment of runnable) {
      if (Date.now() >= deadline) {
        console.log(`${experiment.name}: not started (the time limit has passed)`);
        continue;
      }
      const own = plan.overrides(experiment);
      if (plan.resume && from === undefined) {
        // A bad config fails here too; runExperiment reports it below like any failure.
        const done = await completedRun(experiment, { preset, seed, overrides: own, outDir })
          .catch(() => null);
        if (done) {
          console.log(
            `${experiment.name}: the run in ${outDir}/${experiment.name}/ is complete ` +
              `(started ${done.startedAt}); nothing to resume. Its result:`,
          );
          printMetrics(done);
          console.log(`  (--force trains it again)`);
          continue;
        }
      }
      const progress = progressReporter({ label: experiment.name });
      try {
        const result = await runExperiment(experiment, {
          preset,
          seed,
          overrides: own,
          outDir,
          resume: plan.resume,
          force: plan.force,
          from,
          data: plan.data,
          progress: (step, total, values) => progress.update(step, total, values),
          signal: controller.signal,
          deadline,
          log: (m) => progress.log(m),
        });
        await progress.done();
        printMetrics(result);
        console.log(`  wall time ${result.wallTimeS.toFixed(1)} s → ${outDir}/${experiment.name}/`);
        const partial = result.partial ?? [];
        if (partial.length > 0) {
          const reached = partial.map((p) => `${p.label} at step ${p.step} of ${p.steps}`);
          const sets = Object.entries(own).map(([k, v]) => ` --set ${k}=${v}`).join("");
          console.log(
            `  PARTIAL (time limit): ${reached.join(", ")}; finish with: deno task reproduce ` +
              `${experiment.name}${preset === "quick" ? " --quick" : ""}` +
              `${seed ? ` --seed ${seed}` : ""} --out ${outDir}${sets} --resume`,
          );
        }
      } catch (e) {
        await progress.done();
        if (controller.signal.aborted) {
          console.log(`${experiment.name}: ${(e as Error).message}`);
          return 130;
        }
        failures++;
        console.error(`${experiment.name} failed: ${(e as Error).message}`);
        // MetaLab's own errors are plain Errors that say what was wrong; anything else (a
        // RangeError, a TypeError) is a defect, and its stack is what a report needs.
        if (e instanceof Error && e.constructor !== Error) console.error(e.stack);
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  // The report covers every run in the folder, also those of earlier commands.
  const inFolder = await readResults(outDir);
  for (const why of inFolder.skipped) console.log(`not in the report: ${outDir}/${why}`);
  if (inFolder.results.length > 0) {
    const path = `${outDir}/report.html`;
    await writeReport(path, inFolder.results, { skipped: inFolder.skipped });
    const names = inFolder.results.map((r) => r.experiment).join(", ");
    console.log(`report: ${path} (${inFolder.results.length} run(s): ${names})`);
  }
  return failures > 0 ? 1 : 0;
}

/** Prints a result's metrics, one line each, with the published numbers. */
function printMetrics(result: RunResult): void {
  for (const m of result.metrics) {
    const pub = m.published
      ? `   (published ${m.published.value}${
        m.published.ci95 !== undefined ? ` ± ${m.published.ci95}` : ""
      }, ${m.published.source})`
      : "";
    console.log(`  ${m.name}: ${formatResultMetric(m)}${pub}`);
  }
}

/**
 * Milliseconds in a duration such as `90m`, `2h`, `3600s` or `45` (minutes), with an error
 * naming the value when it is not one.
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/.exec(text);
  const value = match ? Number(match[1]) : NaN;
  if (!match || !(value > 0)) {
    throw new Error(
      `--time-limit must be a positive duration like 90m, 2h or 3600s, got "${text}"`,
    );
  }
  const unit = { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h" ?? "m"];
  return value * unit;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(2);
  }
}
