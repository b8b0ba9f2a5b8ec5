/**
 * Nothing lost, nothing silently wrong (issue 10, the runner and the CLI): what `reproduce`
 * and `runExperiment` do when a careless or hostile user gives them an unusable output
 * folder, a corrupt results file, contradicting flags, a run that is already complete, a
 * folder another run is writing into, a metric that diverged, one evaluation episode, or a
 * half-downloaded data folder. Where the case is about the CLI, the real command runs as a
 * subprocess, with tiny schedules so that each case takes a second or two.
 */
import assert from "node:assert/strict";
import { runCli } from "../lib/testing/mod.ts";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import {
  type Experiment,
  FolderInUseError,
  INVALID_RESULT_FILE,
  InvalidResultError,
  OutputConflictError,
  recordMetrics,
  runExperiment,
  sinusoidK5,
  validateResult,
} from "../lib/experiments/mod.ts";
import { reproducePlan } from "../lib/cli/reproduce.ts";
import { confidenceInterval, evaluate } from "../lib/eval/mod.ts";
import { OMNIGLOT_ARCHIVES, searchOmniglot } from "../lib/datasets/mod.ts";
import { formatResultMetric } from "../lib/experiments/mod.ts";
import { recordFromResult, validateResultsRecord } from "../scripts/docs_records.ts";
import { formatMetric as docsMetric } from "../scripts/docs_gen.ts";

await initBackend("wasm");

const root = new URL("..", import.meta.url).pathname;

/** Tiny schedules: a sinusoid-k5 run in about a second. */
const TINY = [
  "--quick",
  "--set",
  "trainSteps=5",
  "--set",
  "metaClassifierSteps=5",
  "--set",
  "evalEpisodes=5",
];

/** Runs `deno task reproduce ARGS` (wasm backend) and returns its exit code and output. */
const reproduce = (args: string[]) =>
  runCli("lib/cli/reproduce.ts", ["--backend", "wasm", ...args]);

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `metalab-${prefix}-` });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--resume --force is refused as a contradiction, saying which flag does what", async () => {
  const contradiction =
    /--resume and --force contradict each other: --resume continues the checkpointed run .* --force discards what is there and starts over; pass one of them/;
  assert.throws(() => reproducePlan(["sinusoid-k5", "--resume", "--force"]), contradiction);
  await withTempDir("resume-force", async (out) => {
    const r = await reproduce(["sinusoid-k5", ...TINY, "--out", out, "--resume", "--force"]);
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, contradiction);
    assert.doesNotMatch(r.text, /pass --force/, "never the advice the user has just followed");
    assert.deepEqual([...Deno.readDirSync(out)], [], "nothing ran");
    await assert.rejects(
      runExperiment(sinusoidK5, { outDir: out, resume: true, force: true, log: () => {} }),
      /resume and force contradict each other/,
    );
  });
});

/** A folder this process cannot write into: a read-only temp folder, or as root `/sys`. */
async function unwritableFolder(scratch: string): Promise<string | null> {
  if (Deno.uid() !== 0) {
    const dir = `${scratch}/read-only`;
    await Deno.mkdir(dir, { mode: 0o500 });
    return dir;
  }
  // Root writes through permission bits; sysfs refuses even root.
  try {
    return Deno.statSync("/sys").isDirectory ? "/sys" : null;
  } catch {
    return null;
  }
}

Deno.test("--out that is empty, a file, under a file or unwritable is an error before any work", async () => {
  await withTempDir("bad-out", async (scratch) => {
    const rootReport = (() => {
      try {
        return Deno.statSync("/report.html").mtime?.getTime() ?? 0;
      } catch {
        return null;
      }
    })();
    let r = await reproduce(["sinusoid-k5", ...TINY, "--out", ""]);
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, /--out must name a folder, got ""/);
    assert.doesNotMatch(
      r.text,
      /backend|sinusoid-k5 1\//,
      "refused before the backend or training",
    );
    assert.equal(
      (() => {
        try {
          return Deno.statSync("/report.html").mtime?.getTime() ?? 0;
        } catch {
          return null;
        }
      })(),
      rootReport,
      "no report.html written at /",
    );

    const file = `${scratch}/a-file`;
    await Deno.writeTextFile(file, "keep me");
    r = await reproduce(["sinusoid-k5", ...TINY, "--out", file]);
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, new RegExp(`output folder ${file} is a file, not a folder`));
    assert.equal(await Deno.readTextFile(file), "keep me");

    r = await reproduce(["sinusoid-k5", ...TINY, "--out", `${file}/sub`]);
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, new RegExp(`output folder ${file}/sub cannot be used: `));

    const readOnly = await unwritableFolder(scratch);
    if (readOnly === null) {
      console.log("no unwritable folder on this machine: that case is not checked");
    } else {
      r = await reproduce(["sinusoid-k5", ...TINY, "--out", readOnly]);
      assert.equal(r.code, 2, r.text);
      assert.match(r.text, new RegExp(`output folder ${readOnly} is not writable: `));
      assert.doesNotMatch(r.text, /sinusoid-k5 1\//, "nothing trained");
    }

    await assert.rejects(
      runExperiment(sinusoidK5, { outDir: "", log: () => {} }),
      /outDir must name a folder \(or be null to write nothing\), got ""/,
    );
    assert.deepEqual(
      [...Deno.readDirSync(scratch)].map((e) => e.name).sort(),
      readOnly?.startsWith(scratch) ? ["a-file", "read-only"] : ["a-file"],
    );
  });
});

/** The tiny schedules of {@linkcode TINY} as runExperiment overrides. */
const TINY_OVERRIDES = { trainSteps: 5, metaClassifierSteps: 5, evalEpisodes: 5 };

/** result.json of `experiment` under `out`, parsed. */
async function resultFile(out: string, experiment = "sinusoid-k5") {
  return JSON.parse(await Deno.readTextFile(`${out}/${experiment}/result.json`));
}

Deno.test("a corrupt result.json does not block its folder: --force overwrites it, without it the error says what to do", async () => {
  await withTempDir("corrupt-result", async (out) => {
    let r = await reproduce(["sinusoid-k5", ...TINY, "--out", out]);
    assert.equal(r.code, 0, r.text);
    const file = `${out}/sinusoid-k5/result.json`;
    await Deno.writeTextFile(file, `{"schema": "metalab.result/1", "metrics": [`); // cut off
    r = await reproduce(["sinusoid-k5", ...TINY, "--out", out]);
    assert.equal(r.code, 1, r.text);
    assert.match(
      r.text,
      new RegExp(
        `${file} is unreadable \\(not JSON .*\\), so it cannot be told apart from another ` +
          `run's results: pass --force to overwrite it, or choose another --out`,
      ),
    );
    assert.doesNotMatch(r.text, /sinusoid-k5 1\//, "nothing trained");
    r = await reproduce(["sinusoid-k5", ...TINY, "--out", out, "--force"]);
    assert.equal(r.code, 0, r.text);
    assert.deepEqual(validateResult(await resultFile(out)), [], "overwritten with a good one");

    // JSON that names no run is no better than a broken file.
    await Deno.writeTextFile(file, "[]");
    await assert.rejects(
      runExperiment(sinusoidK5, { outDir: out, overrides: TINY_OVERRIDES, log: () => {} }),
      (e) =>
        e instanceof OutputConflictError &&
        /result\.json is unreadable \(it names no run \(experiment, preset, config and seed\)\)/
          .test(e.message),
    );
    // A run.json that cannot be read blocks a resume with the same advice.
    await Deno.remove(file);
    await Deno.writeTextFile(`${out}/sinusoid-k5/checkpoint-maml.ckpt`, "x");
    await Deno.writeTextFile(`${out}/sinusoid-k5/run.json`, "{");
    await assert.rejects(
      runExperiment(sinusoidK5, {
        outDir: out,
        overrides: TINY_OVERRIDES,
        resume: true,
        log: () => {},
      }),
      /cannot resume: .*run\.json, which says whose checkpoints are in .* is unreadable \(not JSON/,
    );
  });
});

Deno.test("--resume on a finished run says it is complete and shows its result without training; --force retrains", async () => {
  await withTempDir("resume-done", async (out) => {
    let r = await reproduce(["sinusoid-k5", ...TINY, "--out", out]);
    assert.equal(r.code, 0, r.text);
    const file = `${out}/sinusoid-k5/result.json`;
    const before = await Deno.readTextFile(file);
    const first = JSON.parse(before);
    r = await reproduce(["sinusoid-k5", ...TINY, "--out", out, "--resume"]);
    assert.equal(r.code, 0, r.text);
    assert.match(
      r.text,
      new RegExp(
        `sinusoid-k5: the run in ${out}/sinusoid-k5/ is complete \\(started ${first.startedAt}\\); ` +
          `nothing to resume\\. Its result:`,
      ),
    );
    for (const m of first.metrics) {
      assert.ok(r.text.includes(`  ${m.name}: ${m.value.toFixed(3)}`), `shows ${m.name}`);
    }
    assert.match(r.text, /--force trains it again/);
    assert.doesNotMatch(r.text, /sinusoid-k5 \d+\/5/, "no training step ran");
    assert.equal(await Deno.readTextFile(file), before, "the result is left as it was");
    assert.match(r.text, /report: /, "the report still covers it");

    r = await reproduce(["sinusoid-k5", ...TINY, "--out", out, "--force"]);
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /sinusoid-k5 5\/5/, "--force trains again");
    assert.notEqual((await resultFile(out)).startedAt, first.startedAt);

    // The library never retrains a finished run silently either.
    await assert.rejects(
      runExperiment(sinusoidK5, {
        outDir: out,
        overrides: TINY_OVERRIDES,
        resume: true,
        log: () => {},
      }),
      (e) =>
        e instanceof OutputConflictError &&
        /holds the complete result of this run .*nothing to resume/.test(e.message),
    );
  });
});

Deno.test("report.html covers every result in the output folder, not only the last command's", async () => {
  await withTempDir("report-all", async (out) => {
    let r = await reproduce(["sinusoid-k5", ...TINY, "--out", out]);
    assert.equal(r.code, 0, r.text);
    r = await reproduce(["sinusoid-k10", ...TINY, "--out", out]);
    assert.equal(r.code, 0, r.text);
    await Deno.mkdir(`${out}/broken`);
    await Deno.writeTextFile(`${out}/broken/result.json`, "{");
    r = await reproduce(["sinusoid-k10", ...TINY, "--out", out, "--resume"]);
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /report: \S+report\.html \(2 run\(s\): sinusoid-k10, sinusoid-k5\)/);
    assert.match(r.text, /not in the report: \S+\/broken\/result\.json: not JSON/);
    const html = await Deno.readTextFile(`${out}/report.html`);
    for (const e of ["sinusoid-k5", "sinusoid-k10"]) {
      assert.ok(html.includes(`${e}: sinusoid meta-training`), `${e}'s curves are in the report`);
      const { metrics } = await resultFile(out, e);
      assert.ok(html.includes(metrics[0].name), `${e}'s metrics are in the table`);
    }
    assert.ok(html.includes("Not in this report: broken/result.json: not JSON"));
  });
});

Deno.test("a second run into a folder in use is refused naming the other run's PID; the lock goes when a run ends, also on Ctrl-C; a stale lock is taken over", async () => {
  await withTempDir("lock", async (out) => {
    const lockFile = `${out}/sinusoid-k5/run.lock`;
    // A run that would take minutes (the time limit is only a safety net).
    const first = new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "--allow-all", "lib/cli/reproduce.ts", "--backend", "wasm", "sinusoid-k5"],
        ...["--quick", "--set", "trainSteps=100000", "--time-limit", "60s", "--out", out],
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const firstOutput = first.output(); // read as it comes, so a full pipe never blocks it
    const deadline = Date.now() + 30_000;
    while (!(await exists(lockFile)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      const holder = JSON.parse(await Deno.readTextFile(lockFile));
      assert.equal(holder.pid, first.pid, "the lock names the run holding it");
      const second = await reproduce(["sinusoid-k5", ...TINY, "--out", out]);
      assert.equal(second.code, 1, second.text);
      assert.match(
        second.text,
        new RegExp(
          `sinusoid-k5 failed: ${out}/sinusoid-k5 is in use by another run \\(PID ${first.pid}, ` +
            `started [^)]+\\); wait for it to finish or choose another --out`,
        ),
      );
      assert.doesNotMatch(second.text, /sinusoid-k5 1\/5/, "the second run trained nothing");
    } finally {
      first.kill("SIGINT");
    }
    const interrupted = await firstOutput;
    assert.equal(interrupted.code, 130, new TextDecoder().decode(interrupted.stdout));
    assert.equal(await exists(lockFile), false, "an interrupted run removes its lock");

    // A run that was killed leaves its lock behind; its process is gone, so it is stale.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    await Deno.writeTextFile(
      lockFile,
      JSON.stringify({ pid: gone.pid, hostname: Deno.hostname(), startedAt: "earlier" }),
    );
    const r = await reproduce(["sinusoid-k5", ...TINY, "--out", out, "--force"]);
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, new RegExp(`taking over the stale lock \\S+ of PID ${gone.pid} `));
    assert.equal(await exists(lockFile), false, "and removed it at the end");
    assert.deepEqual(validateResult(await resultFile(out)), []);

    // A lock with this very PID that this process never took: a dead run's, PID reused.
    await Deno.writeTextFile(
      lockFile,
      JSON.stringify({ pid: Deno.pid, hostname: Deno.hostname(), startedAt: "before a restart" }),
    );
    const logged: string[] = [];
    await runExperiment(sinusoidK5, {
      outDir: out,
      overrides: TINY_OVERRIDES,
      log: (m) => logged.push(m),
    });
    assert.ok(logged.some((m) => m.startsWith("taking over the stale lock")), logged.join("\n"));
    assert.equal(await exists(lockFile), false);

    // Two runs of one process into one folder: exactly one of them runs.
    const runs = await Promise.allSettled(
      [1, 2].map(() =>
        runExperiment(sinusoidK5, { outDir: out, overrides: TINY_OVERRIDES, log: () => {} })
      ),
    );
    const refused = runs.filter((s) => s.status === "rejected");
    assert.equal(refused.length, 1, JSON.stringify(runs.map((s) => s.status)));
    const why = (refused[0] as PromiseRejectedResult).reason;
    assert.ok(why instanceof FolderInUseError, String(why));
    assert.match(
      why.message,
      new RegExp(`in use by another run in this process \\(PID ${Deno.pid}`),
    );
    assert.equal(await exists(lockFile), false);
  });
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a diverged evaluation metric is a result: recorded as non-finite with a note, everything else kept, --resume works", async () => {
  await withTempDir("diverged", async (out) => {
    // α = 0.5 on the sinusoid makes ten test-time steps blow up on some tasks.
    const args = ["sinusoid-k5", ...TINY, "--set", "innerLr=0.5", "--out", out];
    let r = await reproduce(args);
    assert.equal(r.code, 0, r.text);
    const file = await resultFile(out);
    assert.deepEqual(validateResult(file), []);
    const diverged = file.metrics.filter((m: { value: number | null }) => m.value === null);
    assert.ok(diverged.length > 0, "innerLr=0.5 no longer diverges: pick another case");
    for (const m of diverged) {
      assert.match(m.name, /after 10 steps/);
      assert.ok(["NaN", "Infinity", "-Infinity"].includes(m.nonFinite), m.nonFinite);
      assert.equal(m.ci95, undefined, "no interval around a value that is not finite");
      assert.ok(m.diverged >= 1 && m.diverged <= 5, `diverged ${m.diverged}`);
      const note = `DIVERGED: ${m.name} is ${m.nonFinite}: ${m.diverged} of 5 evaluation ` +
        `episodes gave no finite MSE; recorded as value null, nonFinite "${m.nonFinite}"`;
      assert.ok(file.notes.some((n: string) => n.startsWith(note)), `${note}\n${file.notes}`);
      assert.ok(
        r.text.includes(`${m.name}: diverged (${m.nonFinite}; ${m.diverged} of 5 episodes)`),
        "the printout says so",
      );
    }
    const finite = file.metrics.filter((m: { value: number | null }) => m.value !== null);
    assert.ok(finite.length >= 3 && finite.every((m: { value: number }) => isFinite(m.value)));
    assert.deepEqual(file.models, ["models/maml", "models/pretrained", "models/metaclassifier"]);
    assert.ok(
      !file.notes.some((n: string) => /dominated by .*NaN|mean Infinity/.test(n)),
      "no heavy-tail sentence computed from infinities",
    );
    const html = await Deno.readTextFile(`${out}/report.html`);
    assert.ok(html.includes(`diverged (${diverged[0].nonFinite}`), "the report says so");
    r = await reproduce([...args, "--resume"]);
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /is complete .*nothing to resume/);
    // `deno task docs add` takes it as a record, and the generated docs say it diverged.
    const record = recordFromResult(file, {
      source: "result.json",
      machine: { cores: 2, cpu: null, os: null, wasmThreads: null },
    });
    validateResultsRecord(JSON.parse(JSON.stringify(record)), "sinusoid-k5.json");
    const m = record.metrics.find((m) => m.value === null)!;
    assert.equal(docsMetric(m), `diverged (${m.nonFinite})`);
  });
});

Deno.test("recordMetrics: non-finite means and intervals as a results file can hold them", () => {
  const base = { unit: "MSE", higherIsBetter: false };
  const { metrics, notes } = recordMetrics([
    { ...base, name: "a", value: 1, ci95: 0.5, episodes: 4 },
    { ...base, name: "b", value: -Infinity, ci95: NaN, episodes: 4 },
    { ...base, name: "c", value: 2, ci95: Infinity, episodes: 4 },
    { ...base, name: "d", value: NaN },
  ]);
  assert.deepEqual(metrics, [
    { ...base, name: "a", value: 1, ci95: 0.5, episodes: 4 },
    { ...base, name: "b", value: null, nonFinite: "-Infinity", episodes: 4 },
    { ...base, name: "c", value: 2, episodes: 4 },
    { ...base, name: "d", value: null, nonFinite: "NaN" },
  ]);
  assert.match(notes[0], /^DIVERGED: b is -Infinity over 4 evaluation episodes; recorded as/);
  assert.match(notes[1], /^c: its 95% interval is Infinity .* left out/);
  assert.match(notes[2], /^DIVERGED: d is NaN; recorded as value null, nonFinite "NaN"/);
  assert.deepEqual(JSON.parse(JSON.stringify(metrics)), metrics, "survives JSON as it is");
  const result = (m: unknown) =>
    validateResult({ metrics: [m] }).filter((p) => p.startsWith("metrics"));
  assert.deepEqual(result(metrics[1]), []);
  assert.deepEqual(result({ ...base, name: "x", value: null }), [
    `metrics[0].value is null, so metrics[0].nonFinite must say what it was ("NaN", "Infinity", "-Infinity"), got undefined`,
  ]);
  assert.deepEqual(result({ ...base, name: "x", value: Infinity }), [
    "metrics[0].value must be a finite number (or null with nonFinite), got Infinity",
  ]);
  assert.deepEqual(result({ ...base, name: "x", value: 1, nonFinite: "NaN" }), [
    "metrics[0].nonFinite is only for a null value, got 1",
  ]);
});

/** An experiment whose summary names a metric with an empty name (an invalid result). */
const badSummary: Experiment = {
  name: "bad-summary",
  title: "a summary that breaks the schema",
  description: "test fixture",
  needs: [],
  schema: {},
  run: () => Promise.resolve({}),
  summarize: () => ({
    metrics: [{ name: "", value: 1, unit: "x", higherIsBetter: true }],
    curves: [],
    notes: ["worth keeping"],
  }),
};

Deno.test("an invalid result is never thrown away: it is written to result.invalid.json and the error names the field", async () => {
  await withTempDir("invalid", async (out) => {
    await assert.rejects(
      runExperiment(badSummary, { outDir: out, log: () => {} }),
      (e) =>
        e instanceof InvalidResultError &&
        e.message.startsWith(
          `experiment "bad-summary" produced an invalid result: metrics[0].name must be a string; ` +
            `what it produced is kept in ${out}/bad-summary/${INVALID_RESULT_FILE}`,
        ) && e.keptIn === `${out}/bad-summary/${INVALID_RESULT_FILE}`,
    );
    const kept = JSON.parse(await Deno.readTextFile(`${out}/bad-summary/${INVALID_RESULT_FILE}`));
    assert.deepEqual(kept.notes, ["worth keeping"]);
    assert.equal(kept.metrics[0].value, 1);
    assert.equal(await exists(`${out}/bad-summary/result.json`), false);
    assert.equal(await exists(`${out}/bad-summary/run.lock`), false, "the lock is released");
  });
});

Deno.test("evaluation over one episode: the interval is undefined and is said to be, never ± 0", async () => {
  const one = confidenceInterval([0.4]);
  assert.equal(one.ci95, undefined);
  assert.deepEqual([one.mean, one.n], [0.4, 1]);
  assert.ok(confidenceInterval([0.4, 0.4]).ci95 === 0, "two equal values: a real zero width");
  const learner = {
    kind: "classification" as const,
    adapt: () => ({ predict: (x: tf.Tensor) => tf.zeros([x.shape[0], 2]), dispose: () => {} }),
  };
  const episode = () => ({
    support: { x: tf.zeros([2, 1]), y: tf.tensor1d([0, 1], "int32") },
    query: { x: tf.zeros([2, 1]), y: tf.tensor1d([0, 1], "int32") },
  });
  // deno-lint-ignore no-explicit-any
  const single = evaluate(learner as any, episode as any, { episodes: 1 });
  assert.equal(single.ci95, undefined);
  assert.equal(single.n, 1);
  const metric = { name: "m", value: 0.5, unit: "MSE", episodes: 1, higherIsBetter: false };
  assert.equal(formatResultMetric(metric), "0.500 MSE, interval undefined (1 episode)");

  await withTempDir("one-episode", async (out) => {
    const r = await reproduce([
      ...["sinusoid-k5", "--quick", "--set", "trainSteps=5", "--set", "metaClassifierSteps=5"],
      ...["--set", "evalEpisodes=1", "--out", out],
    ]);
    assert.equal(r.code, 0, r.text);
    const file = await resultFile(out);
    assert.deepEqual(validateResult(file), []);
    for (const m of file.metrics) {
      assert.equal(m.episodes, 1);
      assert.equal(m.ci95, undefined, `${m.name}: no ci95 in the file`);
      assert.ok(
        r.text.includes(`${m.name}: ${m.value.toFixed(3)} MSE, interval undefined (1 episode)`),
        `${m.name} printed with its undefined interval`,
      );
    }
    assert.doesNotMatch(r.text, /± 0\.0+ /, "never ± 0");
    const html = await Deno.readTextFile(`${out}/report.html`);
    assert.ok(html.includes("interval undefined (1 episode)"));
  });
});

Deno.test("the Omniglot folder: a named one must hold both archives, a half-filled one is reported instead of falling back", async () => {
  await withTempDir("omniglot-dirs", async (scratch) => {
    const [background, evaluation] = OMNIGLOT_ARCHIVES;
    const half = `${scratch}/data/omniglot`;
    const full = `${scratch}/shared/omniglot`;
    await Deno.mkdir(half, { recursive: true });
    await Deno.mkdir(full, { recursive: true });
    await Deno.writeTextFile(`${half}/${background}`, "");
    for (const f of OMNIGLOT_ARCHIVES) await Deno.writeTextFile(`${full}/${f}`, "");

    const halfFirst = searchOmniglot({ searchDirs: [half, full] });
    assert.equal(halfFirst.dir, null, "no silent fall-back to the second folder");
    assert.equal(
      halfFirst.problem,
      `${half} holds ${background} but not ${evaluation} (an unfinished download?): finish it ` +
        "with `deno task data omniglot`, or name a complete folder with --data-dir DIR; later " +
        "folders are not searched while this one is half-filled",
    );
    assert.deepEqual(searchOmniglot({ searchDirs: [`${scratch}/none`, full] }), {
      dir: full,
      problem: null,
    });
    assert.match(searchOmniglot({ searchDirs: [`${scratch}/none`] }).problem!, /are in none of /);
    assert.deepEqual(searchOmniglot({ dir: full, searchDirs: [half] }), {
      dir: full,
      problem: null,
    });
    assert.equal(
      searchOmniglot({ dir: half }).problem,
      `the Omniglot folder ${half} lacks ${evaluation} (expected ${background} and ${evaluation})`,
    );

    // reproduce --data-dir names the folder; one without both archives is an error at once.
    const out = `${scratch}/out`;
    const r = await reproduce(["omniglot-maml", "--quick", "--data-dir", half, "--out", out]);
    assert.equal(r.code, 2, r.text);
    assert.match(
      r.text,
      new RegExp(`--data-dir ${half}: the Omniglot folder ${half} lacks ${evaluation}`),
    );
    assert.equal(await exists(out), false, "refused before any work");
  });
});

Deno.test("a run records in result.json which data folder it read, and hands it to the experiment", async () => {
  const seen: (string | undefined)[] = [];
  const toy: Experiment = {
    ...badSummary,
    name: "toy-data",
    needs: [{
      name: "toy",
      available: () => true,
      howToGet: "nothing to get",
      locate: (given) =>
        given === "/nowhere"
          ? { dir: null, problem: "/nowhere lacks toy.zip" }
          : { dir: given ?? "/usual/toy", problem: null },
    }],
    run: (_config, ctx) => {
      seen.push(ctx.data?.toy);
      return Promise.resolve({});
    },
    summarize: () => ({
      metrics: [{ name: "m", value: 1, unit: "x", higherIsBetter: true }],
      curves: [],
      notes: [],
    }),
  };
  await withTempDir("data-field", async (out) => {
    const usual = await runExperiment(toy, { outDir: out, log: () => {} });
    assert.deepEqual(usual.data, { toy: "/usual/toy" });
    assert.deepEqual((await resultFile(out, "toy-data")).data, { toy: "/usual/toy" });
    const named = await runExperiment(toy, { outDir: out, data: { toy: "/given" }, log: () => {} });
    assert.deepEqual(named.data, { toy: "/given" });
    assert.deepEqual(seen, ["/usual/toy", "/given"]);
    await assert.rejects(
      runExperiment(toy, { outDir: null, data: { toy: "/nowhere" }, log: () => {} }),
      /experiment "toy-data" needs toy \(\/nowhere lacks toy\.zip; get it with: nothing to get\)/,
    );
    const sinusoid = await runExperiment(sinusoidK5, {
      outDir: null,
      overrides: TINY_OVERRIDES,
      log: () => {},
    });
    assert.deepEqual(sinusoid.data, {}, "data that ships with the project: no folder");
  });

  // The real thing, when Omniglot is on this machine: a tiny run named by --data-dir.
  const shared = searchOmniglot().dir;
  if (shared === null) {
    console.log("Omniglot not found: the --data-dir run is not checked");
    return;
  }
  await withTempDir("data-dir", async (out) => {
    const r = await reproduce([
      ...["omniglot-maml", "--quick", "--data-dir", shared, "--out", out],
      ...["--set", "learners=fomaml", "--set", "trainSteps=2", "--set", "metaBatchSize=1"],
      ...["--set", "filters=4", "--set", "queries=1", "--set", "evalEpisodes=2"],
    ]);
    assert.equal(r.code, 0, r.text);
    const file = await resultFile(out, "omniglot-maml");
    assert.deepEqual(file.data, { omniglot: shared });
    assert.ok(file.notes.includes(`Omniglot read from ${shared}`), file.notes.join("\n"));
  });
});
