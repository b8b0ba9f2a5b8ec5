import assert from "node:assert/strict";
import type { JupyterDisplay } from "../lib/plot/mod.ts";
import { PLOTLY_MIME, resetInlineState } from "../lib/plot/mod.ts";
import {
  formatDuration,
  formatProgressLine,
  liveCurve,
  progress,
  progressReporter,
  textBar,
} from "../lib/progress/mod.ts";
import {
  executeNotebook,
  jupyterAvailable,
  type Notebook,
  notebookJson,
} from "../scripts/notebooks.ts";

function fakeClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function fakeJupyter() {
  const messages: { type: string; content: Record<string, unknown> }[] = [];
  const api: JupyterDisplay = {
    broadcast(type, content) {
      messages.push({ type, content });
      return Promise.resolve();
    },
  };
  return { api, messages };
}

Deno.test("formatting: durations, bars, the status line", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(65_000), "1:05");
  assert.equal(formatDuration(3_726_000), "1:02:06");
  assert.equal(formatDuration(NaN), "--:--");
  assert.equal(textBar(0.5, 10), "[#####.....]");
  assert.equal(textBar(2, 4), "[####]");
  assert.equal(
    formatProgressLine(
      {
        label: "maml",
        step: 40,
        total: 100,
        metrics: { loss: 0.123456 },
        elapsedMs: 12_000,
        etaMs: 18_000,
      },
      10,
    ),
    "maml [####......] 40/100 40% loss 0.1235 | 0:12 elapsed, ETA 0:18",
  );
});

Deno.test("a resumed run's ETA comes from the steps done since it resumed", () => {
  const clock = fakeClock();
  const p = progress({ total: 1000, label: "resumed", mode: "silent", now: clock.now });
  // Resumed from a checkpoint at step 700: the first update is step 701.
  for (let step = 701; step <= 710; step++) {
    clock.advance(1000); // 1 s a step
    p.update(step);
  }
  // 10 steps in 10 s, 290 left: 290 s (from step 0 it would have claimed ~4 s).
  assert.equal(Math.round(p.state().etaMs / 1000), 290);
});

Deno.test("tty mode: one live line rewritten with \\r, throttled, ETA from the rate so far", async () => {
  const clock = fakeClock();
  const out: string[] = [];
  const p = progress({
    total: 10,
    label: "train",
    mode: "tty",
    write: (s) => out.push(s),
    now: clock.now,
    barWidth: 10,
  });
  for (let step = 1; step <= 10; step++) {
    clock.advance(50); // 50 ms a step: with the 100 ms throttle every second update draws
    p.update(step, { loss: 1 / step });
  }
  assert.equal(out.length, 5);
  assert.ok(out.every((s) => s.startsWith("\r") && s.endsWith("\x1b[K")));
  // Draws at steps 1, 3, 5, 7, 9 (100 ms apart); at step 3 (150 ms, 50 ms a step, 7 left)
  // the ETA is 350 ms, shown as 0:00.
  assert.equal(p.state().step, 10);
  assert.match(out[1], /^\rtrain \[###\.\.\.\.\.\.\.\] 3\/10 30% loss 0\.3333 \| 0:00 elapsed/);
  assert.equal(Math.round(p.state().etaMs), 0);
  await p.done();
  assert.match(out.at(-1)!, /10\/10 100% .*\n$/);
  assert.throws(() => p.update(3), /update after done/);
});

Deno.test("plain mode (CI): a line every 10% and at the end, no control characters", async () => {
  const clock = fakeClock();
  const out: string[] = [];
  const p = progress({
    total: 100,
    label: "eval",
    mode: "plain",
    write: (s) => out.push(s),
    now: clock.now,
  });
  for (let step = 1; step <= 100; step++) {
    clock.advance(10);
    p.update(step, { acc: step / 100 });
  }
  await p.done();
  // Steps 1, 10, 20, …, 90 (10 lines) and the final one.
  assert.equal(out.length, 11);
  assert.match(out[0], /^eval 1\/100 1% acc 0\.01 \| 0:00 elapsed, ETA 0:01\n$/);
  assert.match(out[10], /100\/100 100% acc 1 .* \(done\)\n$/);
  assert.ok(out.every((s) => !s.includes("\r") && !s.includes("\x1b")));
  // A long gap prints a line even between 10% marks.
  const slow: string[] = [];
  const q = progress({
    total: 100,
    mode: "plain",
    write: (s) => slow.push(s),
    now: clock.now,
    plainIntervalMs: 1000,
  });
  q.update(1);
  clock.advance(5000);
  q.update(2);
  assert.equal(slow.length, 2);
});

Deno.test("notebook mode: one output, updated in place under its display id", async () => {
  const clock = fakeClock();
  const { api, messages } = fakeJupyter();
  const p = progress({
    total: 5,
    label: "nb",
    mode: "notebook",
    jupyter: api,
    now: clock.now,
    minIntervalMs: 0,
  });
  for (let step = 1; step <= 5; step++) {
    clock.advance(10);
    p.update(step, { loss: step });
  }
  await p.done();
  assert.deepEqual(messages.map((m) => m.type), [
    "display_data",
    ...Array(5).fill("update_display_data"),
  ]);
  const ids = new Set(
    messages.map((m) => (m.content.transient as { display_id: string }).display_id),
  );
  assert.equal(ids.size, 1);
  const last = messages.at(-1)!.content.data as Record<string, string>;
  assert.match(last["text/plain"], /5\/5 100% loss 5 .*\(done\)/);
  assert.match(last["text/html"], /<progress value="5" max="5"/);
});

Deno.test("progressReporter: phases by total, log lines above the live line", async () => {
  const out: string[] = [];
  const r = progressReporter({
    label: "exp",
    mode: "tty",
    write: (s) => out.push(s),
    minIntervalMs: 0,
    barWidth: 0,
  });
  r.update(1, 10, { loss: 2 });
  r.log("checkpoint saved");
  r.update(10, 10, { loss: 1 });
  r.update(5, 600, { acc: 0.9 }); // evaluation: a new phase
  await r.done();
  const text = out.join("");
  assert.ok(text.includes("\r\x1b[Kcheckpoint saved\n\rexp 1/10 10% loss 2"), JSON.stringify(text));
  assert.match(text, /exp 10\/10 100% loss 1 .*\n/); // the training phase ends on its own line
  assert.match(text, /exp 5\/600 0% acc 0\.9 .*\n$/); // the last phase is closed at its step

  // The next learner of an experiment restarts at step 1 with the same total: a new phase,
  // so its ETA is not computed from the previous learner's elapsed time.
  const clock = fakeClock();
  const lines: string[] = [];
  const r2 = progressReporter({
    label: "two",
    mode: "plain",
    write: (s) => lines.push(s),
    now: clock.now,
    plainFraction: 0.5,
  });
  r2.update(100, 100);
  clock.advance(100_000);
  r2.update(100, 100);
  r2.update(1, 100);
  clock.advance(1_000);
  r2.update(50, 100);
  await r2.done();
  const last = lines.filter((l) => l.includes("50/100")).pop() ?? "";
  assert.match(last, /0:01 elapsed/, JSON.stringify(lines));
  const plain: string[] = [];
  const p = progressReporter({ mode: "plain", write: (s) => plain.push(s) });
  p.log("hello");
  p.update(1, 2);
  await p.done();
  assert.equal(plain[0], "hello\n");
  assert.match(plain.at(-1)!, /1\/2 50% .*\(done\)\n$/);
});

Deno.test("bad input gets clear errors", () => {
  assert.throws(() => progress({ total: 0 }), /total must be a positive integer, got 0/);
  assert.throws(() => progress({ total: 2.5 }), /got 2\.5/);
  const p = progress({ total: 3, mode: "silent" });
  assert.throws(() => p.update(NaN), /step must be a finite number/);
  assert.throws(() => progress({ total: 3, mode: "notebook" }), /needs the Deno Jupyter kernel/);
  assert.throws(() => liveCurve({ every: 0 }), /every must be a positive integer/);
});

Deno.test("liveCurve: collects series, redraws every k pushes in place", async () => {
  resetInlineState(); // as in a fresh kernel: plotly.js comes first, in an output of its own
  const { api, messages } = fakeJupyter();
  const curve = liveCurve({ every: 3, jupyter: api, title: "loss" });
  for (let step = 1; step <= 7; step++) await curve.push(step, { train: 1 / step, val: 2 / step });
  assert.equal(curve.redraws, 2); // after pushes 3 and 6
  const fig = await curve.done(); // push 7 is drawn by done()
  assert.equal(curve.redraws, 3);
  assert.deepEqual(messages.map((m) => m.type), [
    "display_data",
    "display_data",
    "update_display_data",
    "update_display_data",
  ]);
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data[0].x, [1, 2, 3, 4, 5, 6, 7]);
  const shown =
    (messages[3].content.data as Record<string, { data: { y: number[] }[] }>)[PLOTLY_MIME];
  assert.equal(shown.data[1].y.length, 7);
  // Outside a notebook nothing is drawn but the figure is kept.
  const offline = liveCurve({ every: 1, jupyter: undefined });
  await offline.push(0, { loss: 1 });
  assert.equal(offline.redraws, 0);
  assert.equal(offline.figure().data[0].name, "loss");
});

const jupyter = await jupyterAvailable();
if (!jupyter.ok) console.log(`progress_test: ${jupyter.reason}: the real-kernel test is skipped`);

Deno.test({
  name:
    "in the real Deno kernel: progress and liveCurve update one output each; plotly.js inlined once",
  ignore: !jupyter.ok,
  async fn() {
    const repo = new URL("../", import.meta.url).pathname;
    await Deno.mkdir(`${repo}.cache`, { recursive: true });
    // Inside the repository, so the kernel finds deno.json and its import map.
    const dir = await Deno.makeTempDir({ dir: `${repo}.cache`, prefix: "kernel-test-" });
    try {
      const code = (id: string, source: string) => ({
        cell_type: "code" as const,
        id,
        metadata: {},
        execution_count: null,
        outputs: [],
        source,
      });
      const nb: Notebook = {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
        cells: [
          code(
            "show",
            `import { lineFigure, show } from "${repo}lib/plot/mod.ts";\n` +
              `await show(lineFigure([{ name: "a", y: [1, 2] }]));\n` +
              `await show(lineFigure([{ name: "b", y: [2, 1] }]));`,
          ),
          code(
            "progress",
            `import { liveCurve, progress } from "${repo}lib/progress/mod.ts";\n` +
              `const p = progress({ total: 20, label: "kernel", minIntervalMs: 0 });\n` +
              `for (let i = 1; i <= 20; i++) p.update(i, { loss: 1 / i });\n` +
              `await p.done();\nconsole.log("mode", p.mode);`,
          ),
          code(
            "curve",
            `const c = liveCurve({ every: 5 });\n` +
              `for (let i = 1; i <= 20; i++) await c.push(i, { loss: 1 / i });\n` +
              `await c.done();\nconsole.log("redraws", c.redraws);`,
          ),
        ],
      };
      await Deno.writeTextFile(`${dir}/kernel_test.ipynb`, notebookJson(nb));
      const result = await executeNotebook(`${dir}/kernel_test.ipynb`, {
        outDir: `${dir}/out`,
        totalTimeoutS: 300,
      });
      assert.ok(result.ok, result.error);
      const [showCell, progressCell, curveCell] = result.executed!.cells;
      const html = (o: Record<string, unknown>) =>
        String((o.data as Record<string, string[]>)["text/html"]);
      assert.equal(showCell.outputs!.length, 2);
      assert.ok(
        html(showCell.outputs![0]).includes("plotly.js v"),
        "first figure carries plotly.js",
      );
      assert.ok(!html(showCell.outputs![1]).includes("plotly.js v"), "second figure reuses it");

      const displays = progressCell.outputs!.filter((o) => o.output_type === "display_data");
      assert.equal(displays.length, 1, "21 updates, one output");
      const text = String((displays[0].data as Record<string, string[]>)["text/plain"]);
      assert.match(text, /kernel .*20\/20 100% loss 0\.05 .*\(done\)/);
      assert.match(JSON.stringify(progressCell.outputs), /mode notebook/);

      const plots = curveCell.outputs!.filter((o) => o.output_type === "display_data");
      assert.equal(plots.length, 1, "4 redraws, one output");
      const fig = (plots[0].data as Record<string, { data: { y: number[] }[] }>)[PLOTLY_MIME];
      assert.equal(fig.data[0].y.length, 20);
      assert.match(JSON.stringify(curveCell.outputs), /redraws 4/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
