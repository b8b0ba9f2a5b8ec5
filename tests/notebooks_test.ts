/**
 * Executes every notebooks/*.ipynb headlessly on the Deno Jupyter kernel with
 * METALAB_QUICK=1 (one test step per notebook, so a failure names it), through a
 * temporary kernelspec that runs this very Deno. A cell error fails the step; so does a
 * missing key output: every notebook must show a Plotly figure, and a notebook whose
 * metadata says `"metalab": { "expects": ["table"] }` must show a result table (see
 * scripts/notebooks.ts). Then the executed notebook, rendered to HTML as a browser
 * without a Plotly renderer shows it, must draw every figure offline in headless Chromium.
 * Executed copies go to a temporary folder, never to notebooks/.
 * Skipped, with a message, where Jupyter is not installed (CI installs it).
 */
import assert from "node:assert/strict";
import { findChromium, renderCheck } from "../lib/plot/mod.ts";
import {
  errorOutputs,
  executedNotebookHtml,
  executeNotebook,
  expectedOutputs,
  jupyterAvailable,
  listNotebooks,
  makeKernelspecDir,
  missingOutputs,
} from "../scripts/notebooks.ts";

const jupyter = await jupyterAvailable();
const notebooks = listNotebooks();
const chromium = findChromium();
if (!jupyter.ok) console.log(`notebooks_test: ${jupyter.reason}: notebook execution skipped`);
else if (!chromium) {
  console.log("notebooks_test: no Chromium: the HTML-fallback render check is skipped");
}

Deno.test({
  name: `notebooks run on the Deno kernel (${notebooks.length} found)`,
  ignore: !jupyter.ok,
  // The kernel runs in a child process; its output pipes are closed when it ends.
  sanitizeResources: false,
  async fn(t) {
    assert.ok(notebooks.length > 0, "no notebooks/*.ipynb found");
    const kernelspecDir = await makeKernelspecDir();
    const outDir = await Deno.makeTempDir({ prefix: "metalab-notebooks-" });
    // Two notebooks at a time: each kernel computes on one wasm thread, so on a 2-core
    // machine the pair takes about the time of one (METALAB_NOTEBOOK_JOBS overrides). Every
    // execution starts up front through the pool; each step waits for its own.
    const limit = pool(notebookJobs());
    const runs = notebooks.map((path) => {
      const name = path.split("/").pop()!;
      return limit(() => runWithRetry(path, name, outDir, kernelspecDir)).catch(
        (e: unknown) => ({ failures: [`${name}: ${e instanceof Error ? e.message : e}`] }),
      );
    });
    try {
      for (const [i, path] of notebooks.entries()) {
        const name = path.split("/").pop()!;
        await t.step(name, async () => {
          const problems = await runs[i];
          assert.deepEqual(problems.failures, [], `${name}: ${problems.failures.join("\n")}`);
        });
      }
    } finally {
      await Deno.remove(outDir, { recursive: true }).catch(() => {});
      await Deno.remove(kernelspecDir, { recursive: true }).catch(() => {});
    }
  },
});

/** How many notebooks run at once: METALAB_NOTEBOOK_JOBS, else 2 where there are 2+ cores. */
function notebookJobs(): number {
  const asked = Deno.env.get("METALAB_NOTEBOOK_JOBS");
  if (asked !== undefined && asked !== "") {
    const n = Number(asked);
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`METALAB_NOTEBOOK_JOBS must be a positive integer, got "${asked}"`);
    }
    return n;
  }
  return Math.min(2, navigator.hardwareConcurrency ?? 1);
}

/** A limiter: at most `width` of the jobs handed to it run at once, in the order given. */
function pool(width: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    while (active >= width) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await job();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * {@linkcode runAndCheck}, once more if the Deno kernel mangled a message and something
 * failed (see scripts/run_notebook.py: the failure may not be the notebook's); a second
 * failure stands.
 */
async function runWithRetry(
  path: string,
  name: string,
  outDir: string,
  kernelspecDir: string,
): Promise<{ failures: string[] }> {
  let problems = await runAndCheck(path, name, outDir, kernelspecDir);
  if (
    (problems.transportErrors > 0 || problems.lost.length > 0) && problems.failures.length > 0
  ) {
    console.log(
      `${name}: ${problems.transportErrors} mangled kernel message(s) and ` +
        `${problems.failures.length} failed check(s): running it once more`,
    );
    problems = await runAndCheck(path, name, outDir, kernelspecDir);
  }
  return problems;
}

/**
 * Executes one notebook and checks it: no cell error, its key outputs present, and (with
 * Chromium) every figure of its HTML drawn offline. Returns what failed, and how many
 * kernel messages arrived mangled.
 */
async function runAndCheck(
  path: string,
  name: string,
  outDir: string,
  kernelspecDir: string,
): Promise<{ failures: string[]; transportErrors: number; lost: string[] }> {
  const result = await executeNotebook(path, { outDir, kernelspecDir });
  const transport = result.transportErrors
    ? ` (${result.transportErrors} mangled kernel message(s) skipped: ${
      JSON.stringify(result.transportLog)
    })`
    : "";
  const lost = result.lost.length ? ` (lost and worked around: ${result.lost.join("; ")})` : "";
  console.log(`${name}: ${result.seconds.toFixed(1)} s${transport}${lost}`);
  const failures: string[] = [];
  const done = { failures, transportErrors: result.transportErrors, lost: result.lost };
  if (!result.ok) return { ...done, failures: [result.error] };
  const executed = result.executed!;
  const errors = errorOutputs(executed);
  if (errors.length > 0) failures.push(`cells with errors: ${JSON.stringify(errors)}`);
  const missing = missingOutputs(executed, expectedOutputs(executed));
  if (missing.length > 0) failures.push(`produced no ${missing.join(" and no ")} output`);
  if (chromium && failures.length === 0) {
    // The notebook as a browser shows it without a Plotly renderer: the HTML fallbacks,
    // plotly.js inlined once, must draw every figure offline.
    const html = `${outDir}/${name.replace(/\.ipynb$/, ".html")}`;
    await executedNotebookHtml(result.outputPath, html);
    const render = await renderCheck(html);
    if (render.errors.length > 0) {
      failures.push(`page errors in the rendered notebook: ${render.errors.join("; ")}`);
    }
    if (!render.ok) failures.push(`not every figure drew: ${JSON.stringify(render.figures)}`);
  }
  return done;
}

/** A code cell of a notebook written by a test. */
function codeCell(source: string) {
  return { cell_type: "code", metadata: {}, source, outputs: [], execution_count: null };
}

/** A Deno notebook of `sources` written into `dir`; returns its path. */
async function writeNotebook(dir: string, name: string, sources: string[]): Promise<string> {
  const notebook = {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    cells: sources.map(codeCell),
  };
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, JSON.stringify(notebook));
  return path;
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** The text of every output of a cell, streams joined, for comparing what arrived. */
function outputTexts(cell: { outputs?: Record<string, unknown>[] }): string[] {
  return (cell.outputs ?? []).map((o) => {
    const text = o.text ?? (o.data as Record<string, unknown> | undefined)?.["text/plain"] ??
      o.ename;
    return (Array.isArray(text) ? text.join("") : String(text)).replace(ANSI, "");
  });
}

Deno.test({
  name: "a lost message ends its cell in seconds, on every channel and for every message type",
  ignore: !jupyter.ok,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "metalab-nb-lost-" });
    const kernelspecDir = await makeKernelspecDir();
    try {
      // One cell per kind of output; the last fails, so an error is among the messages.
      const path = await writeNotebook(dir, "lost.ipynb", [
        'console.log("one");',
        'await Deno.jupyter.display({ "text/plain": "shown" }, { raw: true });\n40 + 2',
        'console.log("three");\nthrow new Error("boom");',
      ]);
      // Every message of the kind named is lost. A cell waiting for one that never comes
      // would end only at its timeout (CELL_TIMEOUT_S): each run must end well before.
      const CELL_TIMEOUT_S = 40;
      const WITHIN_S = 25;
      const cases: { only: string; arrived: string[][] }[] = [
        { only: "iopub:status", arrived: [["one\n"], ["shown", "42"], ["three\n", "Error"]] },
        {
          only: "iopub:execute_input",
          arrived: [["one\n"], ["shown", "42"], ["three\n", "Error"]],
        },
        { only: "iopub:stream", arrived: [[], ["shown", "42"], ["Error"]] },
        { only: "iopub:display_data", arrived: [["one\n"], ["42"], ["three\n", "Error"]] },
        { only: "iopub:execute_result", arrived: [["one\n"], ["shown"], ["three\n", "Error"]] },
        { only: "iopub:error", arrived: [["one\n"], ["shown", "42"], ["three\n"]] },
        { only: "iopub", arrived: [[], [], []] },
        {
          only: "shell:execute_reply",
          arrived: [["one\n"], ["shown", "42"], ["three\n", "Error"]],
        },
        { only: "shell", arrived: [["one\n"], ["shown", "42"], ["three\n", "Error"]] },
      ];
      for (const { only, arrived } of cases) {
        await t.step(only, async () => {
          const result = await executeNotebook(path, {
            outDir: `${dir}/out`,
            kernelspecDir,
            cellTimeoutS: CELL_TIMEOUT_S,
            env: { METALAB_NB_MANGLE_EVERY: "1", METALAB_NB_MANGLE_ONLY: only },
          });
          const summary = `${result.seconds.toFixed(1)} s, lost ${JSON.stringify(result.lost)}, ` +
            `error ${result.error}`;
          assert.ok(result.transportErrors > 0, `the fault injection did not trigger: ${summary}`);
          assert.doesNotMatch(result.error, /timed out/, summary);
          assert.ok(result.seconds < WITHIN_S, `took ${summary}`);
          // The failing cell is still reported as failing, with its error, even when the
          // error output or the reply saying so was lost.
          assert.equal(result.failedCell, 2, summary);
          assert.match(result.error, /Error: boom/, summary);
          // Nothing else is lost, and nothing lands in the wrong cell.
          assert.deepEqual(result.executed!.cells.map(outputTexts), arrived, summary);
          if (only.startsWith("shell")) {
            assert.ok(result.lost.includes("cell 0: execute_reply"), summary);
            assert.deepEqual(
              result.executed!.cells.slice(0, 2).map((c) => c.execution_count),
              [1, 2],
              "execution counts rebuilt from execute_input",
            );
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(kernelspecDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "a cell's timeout names the cell and what it last printed",
  ignore: !jupyter.ok,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "metalab-nb-timeout-" });
    const kernelspecDir = await makeKernelspecDir();
    try {
      const path = await writeNotebook(dir, "hang.ipynb", [
        'console.log("ready");',
        'console.log("step 1 of 3");\nconsole.log("step 2 of 3");\nawait new Promise(() => {});',
      ]);
      const result = await executeNotebook(path, {
        outDir: `${dir}/out`,
        kernelspecDir,
        cellTimeoutS: 4,
      });
      assert.equal(result.ok, false);
      assert.equal(result.failedCell, 1);
      assert.match(
        result.error,
        /^cell 1 "console\.log\("step 1 of 3"\);" failed:\ntimed out after 4 s waiting for its execute_reply and the end of its outputs; it last printed: 'step 1 of 3\\nstep 2 of 3'/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(kernelspecDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "the notebook runner skips mangled kernel messages and still ends each cell",
  ignore: !jupyter.ok,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "metalab-nb-mangle-" });
    const kernelspecDir = await makeKernelspecDir();
    try {
      const cell = (source: string) => ({
        cell_type: "code",
        metadata: {},
        source,
        outputs: [],
        execution_count: null,
      });
      const notebook = {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
        cells: [
          cell('console.log("one");'),
          cell('console.log("two");'),
          cell('console.log("three");'),
        ],
      };
      const path = `${dir}/mangled.ipynb`;
      await Deno.writeTextFile(path, JSON.stringify(notebook));
      // Every 2nd IOPub message counts as mangled: among them the barriers' idle statuses,
      // which must not leave a cell waiting for its timeout (30 s here).
      const result = await executeNotebook(path, {
        outDir: `${dir}/out`,
        kernelspecDir,
        cellTimeoutS: 30,
        env: { METALAB_NB_MANGLE_EVERY: "2" },
      });
      assert.ok(result.ok, result.error);
      assert.ok(result.transportErrors > 0, "the fault injection did not trigger");
      assert.equal(result.executed!.cells.length, 3);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(kernelspecDir, { recursive: true }).catch(() => {});
    }
  },
});
