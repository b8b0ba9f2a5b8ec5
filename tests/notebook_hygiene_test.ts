/**
 * Committed notebooks are clean: valid nbformat 4 JSON on the Deno kernel, with no
 * outputs and no execution counts (`deno task nb:strip` removes them), and a valid
 * `metadata.metalab.expects` where declared. Also checks the checker and the stripper.
 */
import assert from "node:assert/strict";
import {
  expectedOutputs,
  hygieneProblems,
  listNotebooks,
  missingOutputs,
  type Notebook,
  readNotebook,
  stripNotebook,
} from "../scripts/notebooks.ts";

const PLOTLY = "application/vnd.plotly.v1+json";

Deno.test("committed notebooks carry no outputs, are nbformat 4 and use the Deno kernel", async (t) => {
  const notebooks = listNotebooks();
  assert.ok(notebooks.length > 0, "no notebooks/*.ipynb found");
  for (const path of notebooks) {
    const name = path.split("/").pop()!;
    await t.step(name, () => {
      const problems = hygieneProblems(readNotebook(path));
      assert.deepEqual(problems, [], `${name}:\n  ${problems.join("\n  ")}`);
    });
  }
});

function sample(): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: "deno", display_name: "Deno", language: "typescript" },
      metalab: { expects: ["plot", "table"] },
    },
    cells: [
      { cell_type: "markdown", id: "m", metadata: {}, source: "# Title" },
      {
        cell_type: "code",
        id: "c1",
        metadata: { execution: { "iopub.status.busy": "x" } },
        source: ["const x = 1;\n", "x"],
        execution_count: 3,
        outputs: [{ output_type: "execute_result", data: { "text/plain": "1" } }],
      },
    ],
  };
}

Deno.test("hygieneProblems names the notebook's cell and the problem; stripNotebook fixes it", () => {
  const nb = sample();
  const problems = hygieneProblems(nb);
  assert.equal(problems.length, 2);
  assert.match(problems[0], /cell 1 \(id "c1"\) "const x = 1;": has 1 output\(s\)/);
  assert.match(problems[1], /cell 1 .*execution_count 3/);
  assert.equal(stripNotebook(nb), true);
  assert.deepEqual(hygieneProblems(nb), []);
  assert.deepEqual(nb.cells[1].metadata, {});
  assert.equal(stripNotebook(nb), false, "a clean notebook is left as it is");
});

Deno.test("hygieneProblems: wrong kernel, old format, bad expects, missing ids", () => {
  const nb = sample();
  stripNotebook(nb);
  nb.metadata.kernelspec = { name: "python3", language: "python" };
  nb.metadata.metalab = { expects: ["plot", "movie"] };
  delete nb.cells[0].id;
  const problems = hygieneProblems(nb).join("\n");
  assert.match(problems, /kernelspec is .*python3/);
  assert.match(problems, /expects must list some of plot, table: got \["plot","movie"\]/);
  assert.match(problems, /cell 0 "# Title": no cell id/);
  assert.match(hygieneProblems({ ...nb, nbformat: 3 }).join("\n"), /nbformat is 3, expected 4/);
});

Deno.test("missingOutputs: a plot is a Plotly bundle, a table a Plotly table or an HTML table", () => {
  const withOutputs = (outputs: Record<string, unknown>[]): Notebook => ({
    ...sample(),
    cells: [{ cell_type: "code", id: "c", metadata: {}, source: "", outputs }],
  });
  const plot = { output_type: "display_data", data: { [PLOTLY]: { data: [{ type: "scatter" }] } } };
  const table = { output_type: "display_data", data: { [PLOTLY]: { data: [{ type: "table" }] } } };
  const html = { output_type: "display_data", data: { "text/html": ["<table>\n", "</table>"] } };
  assert.deepEqual(missingOutputs(withOutputs([]), ["plot", "table"]), ["plot", "table"]);
  assert.deepEqual(missingOutputs(withOutputs([plot]), ["plot", "table"]), ["table"]);
  assert.deepEqual(missingOutputs(withOutputs([table]), ["plot", "table"]), []);
  assert.deepEqual(missingOutputs(withOutputs([plot, html]), ["plot", "table"]), []);
  assert.deepEqual(expectedOutputs({ ...sample(), metadata: {} }), ["plot"]);
});
