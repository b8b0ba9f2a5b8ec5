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
    try {
      for (const path of notebooks) {
        const name = path.split("/").pop()!;
        await t.step(name, async () => {
          const result = await executeNotebook(path, { outDir, kernelspecDir });
          console.log(`${name}: ${result.seconds.toFixed(1)} s`);
          assert.ok(result.ok, `${name}: ${result.error}`);
          const executed = result.executed!;
          assert.deepEqual(errorOutputs(executed), [], `${name}: cells with errors`);
          const missing = missingOutputs(executed, expectedOutputs(executed));
          assert.deepEqual(missing, [], `${name}: produced no ${missing.join(" and no ")} output`);
          if (chromium) {
            // The notebook as a browser shows it without a Plotly renderer: the HTML
            // fallbacks, plotly.js inlined once, must draw every figure offline.
            const html = `${outDir}/${name.replace(/\.ipynb$/, ".html")}`;
            await executedNotebookHtml(result.outputPath, html);
            const render = await renderCheck(html);
            assert.deepEqual(render.errors, [], `${name}: page errors in the rendered notebook`);
            assert.ok(
              render.ok,
              `${name}: not every figure drew: ${JSON.stringify(render.figures)}`,
            );
          }
        });
      }
    } finally {
      await Deno.remove(outDir, { recursive: true }).catch(() => {});
      await Deno.remove(kernelspecDir, { recursive: true }).catch(() => {});
    }
  },
});
