/**
 * Sweeps (lib/sweep, `deno task sweep`): specs and plans refused with reproduce's own
 * errors, the run → task mapping that Slurm arrays and Kubernetes Indexed Jobs share
 * (checked by executing the scripts they run), intervals across seeds, and one sweep end to
 * end on a real single-node Slurm (scripts/slurm_local.sh): 2 settings × 2 seeds, one run
 * made to fail, status reporting it, resume finishing it, merge's report rendered in
 * Chromium. The Slurm test runs only where Slurm and munge are installed and we are root
 * (CI installs them); elsewhere it is ignored, and says why.
 */
import assert from "node:assert/strict";
import { runCli } from "../lib/testing/mod.ts";
import { reproducePlan } from "../lib/cli/reproduce.ts";
import { findExperiment, runConfig, validateResult } from "../lib/experiments/mod.ts";
import { findChromium, renderCheck } from "../lib/plot/mod.ts";
import {
  arrayScript,
  compactRanges,
  k8sManifest,
  mergeSweep,
  parseSpec,
  planSweep,
  readPlan,
  reproduceArgs,
  runsOfTask,
  runTimeLimitS,
  seedInterval,
  SpecError,
  submitPending,
  type SweepMerge,
  SweepMixError,
  type SweepPlan,
  sweepStatus,
  t975,
  writePlan,
} from "../lib/sweep/mod.ts";

const sweep = (args: string[], env: Record<string, string> = {}) =>
  runCli("lib/cli/sweep.ts", args, env);

/** A tiny quick sweep: each run trains a few steps and evaluates 5 tasks (seconds). */
const TINY = {
  experiment: "sinusoid-k5",
  preset: "quick",
  grid: { innerLr: [0.01, 0.02] },
  set: { trainSteps: 20, metaClassifierSteps: 20, evalEpisodes: 5 },
  seeds: [0, 1],
  time: "2m",
};

/** The message a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected a rejection");
}

Deno.test("sweep spec: each malformed field is refused, naming the field and what it should be", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...TINY, seed: [0] }, /unknown field "seed"; known fields: name, experiment, preset/],
    [{ ...TINY, preset: "fast" }, /"preset" must be "quick" or "full", got "fast"/],
    [{ ...TINY, seeds: [] }, /"seeds" must be a non-empty list of non-negative integers/],
    [{ ...TINY, seeds: [0, -1] }, /"seeds" must be a non-empty list of non-negative integers/],
    [{ ...TINY, seeds: [1, 1] }, /"seeds" lists a seed twice: \[1,1\]/],
    [
      { ...TINY, time: "soon" },
      /"time" must be a positive duration like 90m, 2h or 3600s, got "soon"/,
    ],
    [{ ...TINY, grid: { innerLr: [] } }, /grid\.innerLr must be a non-empty list of values/],
    [{ ...TINY, set: { innerLr: 0.1 } }, /innerLr is both in "grid" and in "set"/],
    [{ ...TINY, runsPerTask: 0 }, /"runsPerTask" must be a positive integer, got 0/],
    [{ ...TINY, name: "a b" }, /"name" must be letters, digits/],
    [{ ...TINY, experiment: undefined }, /"experiment" must name an experiment/],
  ];
  for (const [spec, message] of bad) {
    assert.throws(() => parseSpec(spec, "specs/lr.json"), (e: Error) => {
      assert.ok(e instanceof SpecError, e.name);
      assert.match(e.message, /^sweep spec specs\/lr\.json: /);
      assert.match(e.message, message);
      return true;
    });
  }
  const spec = parseSpec(TINY, "specs/lr.json");
  assert.equal(spec.name, "lr", "named after its file");
  assert.equal(spec.runsPerTask, 1);
});

Deno.test("sweep plan: an invalid run is refused with the error reproduce gives for it", async () => {
  const plan = (over: Record<string, unknown>) =>
    rejection(planSweep(parseSpec({ ...TINY, ...over }, "t.json")));
  // Unknown experiment and unknown knob: reproduce's command-line errors, word for word.
  const reproduceError = (argv: string[]) => {
    try {
      reproducePlan(argv);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error("reproduce accepted it");
  };
  assert.equal(
    await plan({ experiment: "nope" }),
    `${reproduceError(["nope"])} (setting innerLr=0.01)`,
  );
  assert.match(
    await plan({ experiment: "nope" }),
    /unknown experiment "nope"; known experiments: sinusoid-k5/,
  );
  assert.equal(
    await plan({ grid: { noSuchKnob: [1] } }),
    `${reproduceError(["sinusoid-k5", "--set", "noSuchKnob=1"])} (setting noSuchKnob=1)`,
  );
  // A value out of range: the config error reproduce's run gives, and the setting it is in.
  const range = await rejection(
    runConfig(findExperiment("sinusoid-k5"), { preset: "quick", overrides: { trainSteps: "-3" } }),
  );
  assert.match(range, /invalid config value trainSteps="-3": expected an integer in \[1, /);
  assert.equal(
    await plan({ grid: { trainSteps: [20, -3] }, set: { evalEpisodes: 5 } }),
    `${range} (setting trainSteps=-3)`,
  );
  assert.match(
    await plan({ set: { innerLr: 0.01, metaBatchSize: 0 }, grid: {} }),
    /invalid config value metaBatchSize="0"/,
  );
});

Deno.test("sweep plan: settings × seeds in grid order, one folder each, and the tasks that run them", async () => {
  const plan = await planSweep(parseSpec({
    ...TINY,
    grid: { innerLr: [0.01, 0.1], metaBatchSize: [5, 10] },
    seeds: [3, 7],
    runsPerTask: 3,
  }, "grid.json"));
  assert.deepEqual(plan.settings, [
    { innerLr: "0.01", metaBatchSize: "5" },
    { innerLr: "0.01", metaBatchSize: "10" },
    { innerLr: "0.1", metaBatchSize: "5" },
    { innerLr: "0.1", metaBatchSize: "10" },
  ]);
  assert.equal(plan.runs.length, 8);
  assert.deepEqual(plan.runs.map((r) => [r.setting, r.seed]), [
    [0, 3],
    [0, 7],
    [1, 3],
    [1, 7],
    [2, 3],
    [2, 7],
    [3, 3],
    [3, 7],
  ]);
  assert.equal(new Set(plan.runs.map((r) => r.id)).size, 8, "ids are unique");
  assert.equal(plan.runs[5].id, "r005_innerLr-0.1_metaBatchSize-5_seed-7");
  assert.deepEqual(reproduceArgs(plan, plan.runs[5], "/s"), [
    "sinusoid-k5",
    "--quick",
    "--seed",
    "7",
    "--out",
    "/s/runs/r005_innerLr-0.1_metaBatchSize-5_seed-7",
    "--set",
    "innerLr=0.1",
    "--set",
    "metaBatchSize=5",
    "--set",
    "trainSteps=20",
    "--set",
    "metaClassifierSteps=20",
    "--set",
    "evalEpisodes=5",
  ]);
  // 8 runs, 3 per task: tasks of 3, 3 and 2 runs.
  assert.equal(plan.tasks, 3);
  assert.deepEqual([0, 1, 2].map((t) => runsOfTask(plan, t).map((r) => r.index)), [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7],
  ]);
  assert.throws(() => runsOfTask(plan, 3), /task 3 is not one of this sweep's tasks 0…2/);
  // Each run stops itself before the task's limit: its share less a margin.
  assert.equal(runTimeLimitS(plan, 3 * 3600), 3240);
  assert.equal(runTimeLimitS({ ...plan, spec: { ...plan.spec, runsPerTask: 1 } }, 120), 60);
  assert.deepEqual(compactRanges([5, 0, 1, 2, 7, 8]), "0-2,5,7-8");
});

Deno.test("sweep intervals across seeds: Student's t with the sample deviation, none for one seed", () => {
  const i = seedInterval([0.5, 0.54, 0.46]);
  assert.ok(Math.abs(i.mean - 0.5) < 1e-12);
  assert.ok(Math.abs(i.std! - 0.04) < 1e-12);
  assert.ok(Math.abs(i.ci95! - 4.303 * 0.04 / Math.sqrt(3)) < 1e-12);
  assert.equal(seedInterval([2]).ci95, undefined);
  assert.equal(t975(1), 12.706);
  assert.ok(Math.abs(t975(40) - 2.021) < 0.001, `${t975(40)}`);
  assert.ok(Math.abs(t975(1000) - 1.962) < 0.001);
  assert.throws(() => seedInterval([1, NaN]), /values must be finite/);
});

/** Runs a task script with bash and a stand-in Deno that records each run's arguments. */
async function runTask(
  script: string,
  env: Record<string, string>,
  dir: string,
): Promise<{ code: number; calls: string[][]; stderr: string }> {
  const record = `${dir}/calls.jsonl`;
  await Deno.writeTextFile(record, "");
  // The stand-in fails its run when the arguments name seed 99 (to see a failure go on).
  const stub = `${dir}/deno-stub.sh`;
  await Deno.writeTextFile(
    stub,
    // One line per call, its arguments separated by the unit separator (no argument has one).
    `#!/bin/bash\n{ printf '%s\\x1f' "$@"; echo; } >> ${record}\n` +
      `for a in "$@"; do [ "$a" = 99 ] && exit 1; done\nexit 0\n`,
  );
  await Deno.chmod(stub, 0o755);
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    env: { ...env, METALAB_SWEEP_DENO: stub },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const calls = (await Deno.readTextFile(record)).split("\n").filter(Boolean)
    .map((l) => l.split("\x1f").slice(0, -1));
  return { code: out.code, calls, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("sweep k8s manifest: an Indexed Job whose index i runs task i of the plan, as Slurm's array index does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metalab-sweep-k8s-" });
  try {
    const plan: SweepPlan = await planSweep(parseSpec({
      ...TINY,
      grid: { innerLr: [0.01, 0.02, 0.05] },
      seeds: [0, 99],
      runsPerTask: 4,
      time: "1h",
    }, "k8s.json"));
    assert.equal(plan.tasks, 2, "6 runs, 4 per task");
    const mount = `${dir}/volume`;
    await Deno.mkdir(mount);
    const job = k8sManifest(plan, {
      image: "registry.example/metalab:1",
      mountPath: mount,
      root: dir,
      cpus: "2",
    });
    // deno-lint-ignore no-explicit-any
    const spec = (job as any).spec;
    assert.equal(job.kind, "Job");
    assert.equal(spec.completionMode, "Indexed");
    assert.equal(spec.completions, plan.tasks);
    const pod = spec.template.spec;
    assert.equal(pod.activeDeadlineSeconds, 3600, "the task's time, as Slurm's --time");
    assert.equal(pod.containers[0].image, "registry.example/metalab:1");
    assert.deepEqual(pod.containers[0].resources, { requests: { cpu: "2" } });
    assert.equal(pod.containers[0].volumeMounts[0].mountPath, mount);
    const [shell, flag, script] = pod.containers[0].command;
    assert.deepEqual([shell, flag], ["bash", "-c"]);
    // Slurm's array script for the same plan, run by hand on SLURM_ARRAY_TASK_ID.
    const slurm = arrayScript(plan, mount, [0, 1], { time: "1h" });
    assert.match(slurm, /^#SBATCH --array=0-1$/m);
    assert.match(slurm, /^#SBATCH --time=60$/m);
    for (let index = 0; index < plan.tasks; index++) {
      const expected = runsOfTask(plan, index).map((run) => [
        "run",
        "--allow-all",
        "lib/cli/reproduce.ts",
        ...reproduceArgs(plan, run, mount),
        "--time-limit",
        `${runTimeLimitS(plan)}s`,
        "--resume",
      ]);
      const k8s = await runTask(script, {
        JOB_COMPLETION_INDEX: String(index),
        PATH: Deno.env.get("PATH")!,
      }, dir);
      assert.deepEqual(k8s.calls, expected, `completion index ${index}`);
      // One run failing (seed 99) fails the task, after its other runs ran.
      assert.equal(k8s.code, 1, k8s.stderr);
      const array = await runTask(
        slurm,
        { SLURM_ARRAY_TASK_ID: String(index), PATH: Deno.env.get("PATH")! },
        dir,
      );
      assert.deepEqual(array.calls, expected, `array index ${index}`);
    }
    // The pod leaves the plan in the volume, so status and merge work where it is mounted.
    assert.deepEqual(await readPlan(mount), plan);
    const log = await Deno.readTextFile(`${mount}/logs/${plan.runs[0].id}.log`);
    assert.match(log, /^== start \S+ on \S+ task 0 job /m);
    assert.match(log, /^== exit 0 /m);
    // An index the plan does not have is an error, not a silent success.
    const stray = await runTask(
      script,
      { JOB_COMPLETION_INDEX: "2", PATH: Deno.env.get("PATH")! },
      dir,
    );
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /task 2 is not one of this script's tasks \(0-1\)/);
    // Fault injection: the named run fails once, without running, then runs.
    const first = plan.runs[0].id;
    const env = {
      JOB_COMPLETION_INDEX: "0",
      METALAB_SWEEP_FAIL_ONCE: first,
      PATH: Deno.env.get("PATH")!,
    };
    const once = await runTask(script, env, dir);
    assert.equal(once.calls.length, 3, "the other runs of the task still ran");
    assert.match(
      await Deno.readTextFile(`${mount}/logs/${first}.log`),
      /fails on purpose, once[^]*== exit 3 /,
    );
    assert.equal(
      (await runTask(script, env, dir)).calls.length,
      4,
      "and on the next attempt it runs",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sweep CLI: plan prints every run's command; a bad spec exits 2 before anything is written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metalab-sweep-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/tiny.json`, JSON.stringify(TINY));
    let r = await sweep(["plan", `${dir}/tiny.json`, "--out", `${dir}/out`]);
    assert.equal(r.code, 0, r.text);
    assert.match(
      r.text,
      /sweep tiny: 4 run\(s\) of sinusoid-k5 \(quick\): 2 setting\(s\) × 2 seed\(s\), 4 scheduler task\(s\)/,
    );
    assert.match(
      r.text,
      /deno task reproduce sinusoid-k5 --quick --seed 1 --out \S+\/out\/runs\/r003_innerLr-0\.02_seed-1 --set innerLr=0\.02/,
    );
    assert.equal((await readPlan(`${dir}/out`)).runs.length, 4);
    // Another sweep's plan in that folder is refused.
    await Deno.writeTextFile(`${dir}/other.json`, JSON.stringify({ ...TINY, seeds: [5] }));
    r = await sweep(["plan", `${dir}/other.json`, "--out", `${dir}/out`]);
    assert.equal(r.code, 2);
    assert.match(r.text, /holds another sweep \(tiny: sinusoid-k5 quick, 4 runs\)/);
    await Deno.writeTextFile(
      `${dir}/bad.json`,
      JSON.stringify({ ...TINY, grid: { metaBatchSize: [0] } }),
    );
    r = await sweep(["slurm", `${dir}/bad.json`, "--out", `${dir}/bad`]);
    assert.equal(r.code, 2);
    assert.match(
      r.text,
      /error: invalid config value metaBatchSize="0": expected an integer in \[1, /,
    );
    await assert.rejects(Deno.stat(`${dir}/bad`), Deno.errors.NotFound);
    r = await sweep(["status", `${dir}/nowhere`]);
    assert.equal(r.code, 2);
    assert.match(r.text, /nowhere is not a sweep folder \(no sweep\.json\)/);
    r = await sweep(["frobnicate", "x"]);
    assert.match(r.text, /unknown sweep command "frobnicate"; known commands: plan, slurm/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sweep status from the runs' own files: partial with its step, failed with its log's end, not started", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metalab-sweep-files-" });
  try {
    // 100,000 steps in a 2 s task: the run stops itself at its 1 s limit with a checkpoint.
    const plan = await planSweep(parseSpec({
      ...TINY,
      grid: {},
      set: { trainSteps: 100000, metaClassifierSteps: 20, evalEpisodes: 5 },
      seeds: [0, 1, 2],
      time: "2s",
    }, "files.json"));
    assert.equal(runTimeLimitS(plan), 1);
    await writePlan(dir, plan);
    // The array script run by hand for tasks 0 and 1 (no scheduler), run 1 failing once.
    const script = arrayScript(plan, dir, [0, 1]);
    const env = { METALAB_SWEEP_FAIL_ONCE: plan.runs[1].id };
    for (const task of ["0", "1"]) {
      const out = await new Deno.Command("bash", {
        args: ["-c", script],
        env: { ...env, SLURM_ARRAY_TASK_ID: task },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, task === "0" ? 0 : 1, new TextDecoder().decode(out.stderr));
    }
    const { runs, queueAsked } = await sweepStatus(dir);
    assert.equal(queueAsked, false, "nothing was submitted: the files alone decide");
    assert.deepEqual(runs.map((r) => r.state), ["partial", "failed", "not started"]);
    assert.match(
      runs[0].detail,
      /^maml at step [1-9]\d* of 100000, pretrained at step 0 of 100000, metaclassifier at step 0 of 20$/,
    );
    assert.equal(runs[1].detail, "exit 3");
    assert.match(runs[1].logTail!.join("\n"), /fails on purpose, once/);
    await assert.rejects(mergeSweep(dir), /no run is complete yet, nothing to merge \(3 missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether this machine can run a real single-node Slurm for the test, and if not why. */
function slurmAvailability(): string | null {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root (slurmd and munged need it here)";
  const path = (Deno.env.get("PATH") ?? "") + ":/usr/sbin:/sbin";
  for (const bin of ["slurmctld", "slurmd", "munged", "sbatch", "squeue"]) {
    if (
      !path.split(":").some((d) => {
        try {
          return Deno.statSync(`${d}/${bin}`).isFile;
        } catch {
          return false;
        }
      })
    ) return `${bin} not installed (apt-get install slurm-wlm munge)`;
  }
  return null;
}

const NO_SLURM = slurmAvailability();
if (NO_SLURM) {
  console.log(`sweep_test: SKIPPING the end-to-end Slurm sweep: ${NO_SLURM}`);
}

/** Polls `squeue` until none of `jobs` is pending or running (or `timeoutMs` passes). */
async function waitForJobs(jobs: string[], env: Record<string, string>, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const out = await new Deno.Command("squeue", {
      args: ["-h", "-o", "%A", "-j", jobs.join(",")],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const listed = new TextDecoder().decode(out.stdout).trim();
    if (out.code === 0 && listed === "") return;
    if (out.code !== 0 && /Invalid job id/.test(new TextDecoder().decode(out.stderr))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`jobs ${jobs.join(",")} still in Slurm's queue after ${timeoutMs / 1000} s`);
}

const jobIds = (text: string) => {
  const m = /submitted array job (\d+) .* merge job (\d+)/.exec(text);
  assert.ok(m, text);
  return [m[1], m[2]];
};

Deno.test({
  name:
    "sweep on a real Slurm: 2 settings × 2 seeds, one run failing once, status, resume, merge, report",
  ignore: NO_SLURM !== null,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "metalab-sweep-slurm-" });
    // munged runs as the munge user, who must reach its folder inside this one.
    await Deno.chmod(dir, 0o755);
    // A cluster of the test's own, on ports of its own, beside any other on this machine.
    const cluster = `${dir}/slurm`;
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const local = (command: string) =>
      new Deno.Command("bash", {
        args: ["scripts/slurm_local.sh", command],
        cwd: new URL("..", import.meta.url).pathname,
        env: { METALAB_SLURM_DIR: cluster, METALAB_SLURM_PORT: port },
        stdout: "piped",
        stderr: "piped",
      }).output();
    try {
      const started = await local("start");
      const said = new TextDecoder().decode(started.stdout) +
        new TextDecoder().decode(started.stderr);
      assert.equal(started.code, 0, said);
      assert.match(said, /running under .*1 node, \d+ CPUs/);
      const env = { SLURM_CONF: `${cluster}/slurm.conf` };

      await Deno.writeTextFile(`${dir}/tiny.json`, JSON.stringify(TINY));
      const out = `${dir}/sweep`;
      const plan = await planSweep(parseSpec(TINY, `${dir}/tiny.json`));
      const failing = plan.runs[1].id;
      let r = await sweep(["slurm", `${dir}/tiny.json`, "--out", out], {
        ...env,
        METALAB_SWEEP_FAIL_ONCE: failing,
      });
      assert.equal(r.code, 0, r.text);
      assert.match(r.text, /submitted array job \d+ \(4 task\(s\), 4 run\(s\)\) and merge job \d+/);
      // While its runs are in the queue, nothing of the sweep is submitted a second time.
      Deno.env.set("SLURM_CONF", env.SLURM_CONF);
      try {
        await assert.rejects(
          submitPending(plan, out),
          /run\(s\) of \S+ are still in Slurm's queue \(r00\d_\S+: Slurm: (PENDING|RUNNING)/,
        );
      } finally {
        Deno.env.delete("SLURM_CONF");
      }
      await waitForJobs(jobIds(r.text), env, 60_000);

      r = await sweep(["status", out], env);
      assert.equal(r.code, 1, "a failed run: status exits 1\n" + r.text);
      assert.match(r.text, /4 runs: 3 done, 1 failed/);
      assert.match(
        r.text,
        new RegExp(
          `${failing}: failed: exit 3\\n\\s+\\| METALAB_SWEEP_FAIL_ONCE=${failing}: this run fails on purpose`,
        ),
      );
      // The merge job ran after the failed array and reported what was missing.
      let merged: SweepMerge = JSON.parse(await Deno.readTextFile(`${out}/merged.json`));
      assert.equal(merged.complete, 3);
      assert.deepEqual(merged.missing.map((m) => [m.id, m.state]), [[failing, "failed"]]);

      r = await sweep(["resume", out], env);
      assert.equal(r.code, 0, r.text);
      assert.match(r.text, /3 run\(s\) already done, not run again/);
      assert.match(r.text, /submitted array job \d+ \(1 task\(s\), 1 run\(s\)\)/);
      await waitForJobs(jobIds(r.text), env, 60_000);
      r = await sweep(["status", out], env);
      assert.equal(r.code, 0, r.text);
      assert.match(r.text, /4 runs: 4 done/);
      r = await sweep(["resume", out], env);
      assert.match(
        r.text,
        /every run of \S+ is done; nothing submitted/,
        "a done run is not run again",
      );

      // Each run wrote its own folder only, with its own seed and setting.
      for (const run of plan.runs) {
        assert.deepEqual([...Deno.readDirSync(`${out}/runs/${run.id}`)].map((e) => e.name).sort(), [
          "report.html",
          "sinusoid-k5",
        ]);
        const result = JSON.parse(
          await Deno.readTextFile(`${out}/runs/${run.id}/sinusoid-k5/result.json`),
        );
        assert.deepEqual(validateResult(result), []);
        assert.equal(result.seed, run.seed);
        assert.equal(String(result.config.innerLr), run.sets.innerLr);
        assert.equal(result.config.trainSteps, 20);
      }

      // The second merge job's table: every run, the means and intervals of the seeds' numbers.
      merged = JSON.parse(await Deno.readTextFile(`${out}/merged.json`));
      assert.equal(merged.complete, 4);
      assert.deepEqual(merged.missing, []);
      assert.equal(merged.metric, "K=5 maml, MSE after 1 step");
      for (const s of merged.settings) {
        const m = s.metrics.find((x) => x.name === merged.metric)!;
        const values = await Promise.all(
          plan.runs.filter((run) => run.setting === s.setting).map(async (run) => {
            const result = JSON.parse(
              await Deno.readTextFile(`${out}/runs/${run.id}/sinusoid-k5/result.json`),
            );
            return result.metrics.find((x: { name: string }) => x.name === merged.metric)
              .value as number;
          }),
        );
        assert.deepEqual(m.perSeed.map((p) => p.value), values);
        const mean = (values[0] + values[1]) / 2;
        assert.ok(Math.abs(m.interval!.mean - mean) < 1e-9);
        const sd = Math.abs(values[0] - values[1]) / Math.SQRT2;
        assert.ok(Math.abs(m.interval!.ci95! - 12.706 * sd / Math.SQRT2) < 1e-9);
      }
      const means = merged.settings.map((s) =>
        s.metrics.find((x) => x.name === merged.metric)!.interval!.mean
      );
      assert.equal(merged.best!.setting, means.indexOf(Math.min(...means)), "lower MSE is better");
      // The settings it cannot be told apart from: those whose interval overlaps its own.
      const at = (s: number) =>
        merged.settings[s].metrics.find((x) => x.name === merged.metric)!.interval!;
      const best = at(merged.best!.setting);
      assert.deepEqual(
        merged.best!.overlapping,
        merged.settings.map((s) => s.setting).filter((s) =>
          s !== merged.best!.setting &&
          Math.abs(at(s).mean - best.mean) <= at(s).ci95! + best.ci95!
        ),
      );

      // By hand, as the merge job runs it: the table printed, the report written.
      r = await sweep(["merge", out], env);
      assert.equal(r.code, 0, r.text);
      assert.match(r.text, /sweep tiny: sinusoid-k5 \(quick\), 4 of 4 runs complete/);
      assert.match(r.text, /innerLr=0\.01 +\S+ ± \S+ +seed 0: \S+, seed 1: \S+/);
      assert.match(r.text, /^best: innerLr=0\.0[12]: /m);
      if (findChromium()) {
        const rendered = await renderCheck(`${out}/report.html`);
        assert.deepEqual(rendered.errors, []);
        assert.ok(rendered.expected >= 1, "a plot against innerLr");
        assert.ok(rendered.ok, JSON.stringify(rendered.figures));
      } else {
        console.log("chromium not installed: the sweep report's rendering not checked");
      }
      const html = await Deno.readTextFile(`${out}/report.html`);
      assert.match(html, /K=5 maml, MSE after 1 step by setting/);
      assert.match(html, /← best/);

      // Another experiment's result in the folder: refused, not mixed in.
      const foreign = `${out}/runs/${plan.runs[0].id}/sinusoid-k10`;
      await Deno.mkdir(foreign);
      const copy = JSON.parse(
        await Deno.readTextFile(`${out}/runs/${plan.runs[0].id}/sinusoid-k5/result.json`),
      );
      await Deno.writeTextFile(
        `${foreign}/result.json`,
        JSON.stringify({ ...copy, experiment: "sinusoid-k10" }),
      );
      await assert.rejects(mergeSweep(out), (e: Error) => {
        assert.ok(e instanceof SweepMixError);
        assert.match(
          e.message,
          /also holds runs\/r000_innerLr-0\.01_seed-0\/sinusoid-k10\/result\.json \(sinusoid-k10, quick\): results of different experiments or presets are not merged/,
        );
        return true;
      });
      await Deno.writeTextFile(
        `${foreign}/result.json`,
        JSON.stringify({ ...copy, preset: "full" }),
      );
      await assert.rejects(
        mergeSweep(out),
        /\(sinusoid-k5, full\): results of different experiments or presets/,
      );
      // And a folder of another sweep is refused before anything is submitted.
      const other = await planSweep(parseSpec({ ...TINY, seeds: [4] }, "other.json"));
      await assert.rejects(writePlan(out, other), /holds another sweep/);
    } finally {
      const stopped = await local("stop");
      assert.equal(stopped.code, 0, new TextDecoder().decode(stopped.stderr));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
