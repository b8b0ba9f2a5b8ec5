/**
 * `deno task reproduce` end to end, as CI runs it: the quick preset of every experiment
 * whose data is present, results files checked against their schema, and the HTML report
 * opened in headless Chromium. Also the command's answers to bad input.
 */
import assert from "node:assert/strict";
import { runCli } from "../lib/testing/mod.ts";
import { EXPERIMENTS, validateResult } from "../lib/experiments/mod.ts";
import { findChromium, renderCheck } from "../lib/plot/mod.ts";
import { parseDuration } from "../lib/cli/reproduce.ts";

const reproduce = (args: string[]) => runCli("lib/cli/reproduce.ts", args);

Deno.test("--time-limit durations: seconds, minutes (the default unit), hours", () => {
  assert.equal(parseDuration("3600s"), 3_600_000);
  assert.equal(parseDuration("90m"), 5_400_000);
  assert.equal(parseDuration("90"), 5_400_000);
  assert.equal(parseDuration("1.5h"), 5_400_000);
  for (const bad of ["0", "-5m", "m", "2 days", ""]) {
    assert.throws(() => parseDuration(bad), /--time-limit must be a positive duration/);
  }
});

Deno.test("reproduce: bad input gets a clear answer and writes nothing", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-repro-bad-" });
  try {
    let r = await reproduce(["no-such-experiment", "--out", out]);
    assert.equal(r.code, 2);
    assert.match(r.text, /unknown experiment "no-such-experiment"; known experiments: sinusoid-k5/);
    r = await reproduce(["sinusoid-k5", "--quick", "--set", "trainSteps=-3", "--out", out]);
    assert.notEqual(r.code, 0);
    assert.match(r.text, /invalid config value trainSteps="-3": expected an integer in \[1, /);
    r = await reproduce(["sinusoid-k5", "--quick", "--seed", "x", "--out", out]);
    assert.equal(r.code, 2);
    assert.match(r.text, /--seed must be a non-negative integer/);
    r = await reproduce(["sinusoid-k5", "--quick", "--time-limit", "5x", "--out", out]);
    assert.equal(r.code, 2);
    assert.match(
      r.text,
      /--time-limit must be a positive duration like 90m, 2h or 3600s, got "5x"/,
    );
    r = await reproduce(["--qiuck"]);
    assert.equal(r.code, 2);
    assert.match(r.text, /unknown option --qiuck/);
    assert.deepEqual([...Deno.readDirSync(out)], [], "nothing written");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test({
  name:
    "reproduce --quick: every experiment with data runs, results match the schema, the report renders",
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "metalab-repro-" });
    try {
      const runnable = EXPERIMENTS.filter((e) => e.needs.every((n) => n.available()));
      assert.ok(runnable.some((e) => e.name === "mnist-protonet"), "MNIST needs no download");
      // Two reproduce processes at once, each on one wasm thread and its own half of the
      // experiments (alternating in registry order), each into its own folder: on a 2-core
      // machine the pair takes about the time of one.
      const halves = [0, 1].map((h) => runnable.filter((_, i) => i % 2 === h));
      const folders = halves.map((_, h) => `${out}/${h}`);
      const runs = await Promise.all(
        halves.map((half, h) =>
          reproduce([...half.map((e) => e.name), "--quick", "--out", folders[h]])
        ),
      );
      for (const r of runs) assert.equal(r.code, 0, r.text.slice(-3000));
      // An experiment whose data is missing is skipped with the command that gets it (asked
      // for by name, the run then fails).
      for (const e of EXPERIMENTS.filter((e) => !runnable.includes(e))) {
        const r = await reproduce([e.name, "--quick", "--out", `${out}/skipped`]);
        assert.equal(r.code, 1, r.text);
        assert.match(
          r.text,
          new RegExp(`skipping ${e.name}: needs .* get it with: deno task data`),
        );
      }
      const folderOf = (name: string) =>
        folders[halves.findIndex((h) => h.some((e) => e.name === name))];
      for (const e of runnable) {
        const file = JSON.parse(
          await Deno.readTextFile(`${folderOf(e.name)}/${e.name}/result.json`),
        );
        assert.deepEqual(validateResult(file), [], `${e.name}/result.json`);
        assert.equal(file.preset, "quick");
        assert.equal(file.experiment, e.name);
      }
      // The quick runs learn something real: MNIST ProtoNet on unseen digits beats chance (20%).
      const mnist = JSON.parse(
        await Deno.readTextFile(`${folderOf("mnist-protonet")}/mnist-protonet/result.json`),
      );
      for (const m of mnist.metrics) assert.ok(m.value > 35, `${m.name}: ${m.value}%`);
      const chromium = findChromium();
      if (!chromium) {
        console.log("chromium not installed: report rendering not checked");
        return;
      }
      for (const [h, folder] of folders.entries()) {
        const rendered = await renderCheck(`${folder}/report.html`);
        assert.deepEqual(rendered.errors, []);
        assert.ok(rendered.expected >= 1 + halves[h].length, "a table and curves per run");
        assert.ok(rendered.ok, JSON.stringify(rendered.figures));
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("reproduce --time-limit: a partial result, the command that continues it, and --resume continuing it", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-repro-limit-" });
  try {
    // 100,000 quick MAML steps cannot finish in 2 s: training stops part-way, and the
    // learners after it never start.
    const args = ["sinusoid-k5", "--quick", "--set", "trainSteps=100000", "--out", out];
    let r = await reproduce([...args, "--time-limit", "2s"]);
    assert.equal(r.code, 0, r.text.slice(-2000));
    assert.match(
      r.text,
      /PARTIAL \(time limit\): maml at step \d+ of 100000, pretrained at step 0 of 100000, metaclassifier at step 0 of 1000; finish with: deno task reproduce sinusoid-k5 --quick --out \S+ --set trainSteps=100000 --resume/,
    );
    const first = JSON.parse(await Deno.readTextFile(`${out}/sinusoid-k5/result.json`));
    assert.deepEqual(validateResult(first), []);
    assert.deepEqual(
      first.partial.map((p: { label: string; step: number }) => [p.label, p.step > 0]),
      [["maml", true], ["pretrained", false], ["metaclassifier", false]],
    );
    assert.ok(
      first.metrics.every((m: { name: string }) => m.name.includes("maml")),
      "learners the limit reached before their first step are not reported",
    );
    r = await reproduce([...args, "--resume", "--time-limit", "2s"]);
    assert.equal(r.code, 0, r.text.slice(-2000));
    const second = JSON.parse(await Deno.readTextFile(`${out}/sinusoid-k5/result.json`));
    assert.equal(second.resumedFromStep, first.partial[0].step, "continued from the checkpoint");
    assert.ok(second.partial[0].step > first.partial[0].step, "and trained further");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
