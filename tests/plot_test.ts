import assert from "node:assert/strict";
import {
  barFigure,
  composedImageFigure,
  composeImages,
  figureBundle,
  findChromium,
  heatmapFigure,
  imageGridFigure,
  type JupyterDisplay,
  learningCurveFigure,
  lineFigure,
  PLOTLY_MIME,
  PLOTLY_VERSION,
  renderCheck,
  reportHtml,
  resetInlineState,
  scatterFigure,
  show,
  tableFigure,
  writeHtmlReport,
} from "../lib/plot/mod.ts";

function fakeJupyter(): JupyterDisplay & {
  messages: { type: string; content: Record<string, unknown> }[];
} {
  const messages: { type: string; content: Record<string, unknown> }[] = [];
  return {
    messages,
    broadcast(type, content) {
      messages.push({ type, content });
      return Promise.resolve();
    },
  };
}

const PLOTLY_BANNER = `plotly.js v${PLOTLY_VERSION}`;
const countBanner = (text: string) => text.split(PLOTLY_BANNER).length - 1;

Deno.test("lineFigure and scatterFigure: one trace per series, default x, matching colours", () => {
  const fig = lineFigure([{ name: "a", y: [3, 1, 2] }, {
    name: "b",
    x: [1, 2],
    y: [5, 6],
    dash: true,
  }], {
    title: "t",
    xTitle: "step",
    logY: true,
  });
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data[0].x, [0, 1, 2]);
  assert.equal(fig.data[0].mode, "lines");
  assert.deepEqual((fig.data[1].line as { dash: string }).dash, "dash");
  assert.deepEqual((fig.layout.yaxis as { type: string }).type, "log");
  assert.deepEqual(fig.layout.title, { text: "t" });
  const sc = scatterFigure([{ name: "pts", x: new Float32Array([1, 2]), y: [1, 2] }]);
  assert.equal(sc.data[0].mode, "markers");
  assert.deepEqual(sc.data[0].x, [1, 2]);
  assert.throws(
    () => lineFigure([{ name: "bad", x: [1], y: [1, 2] }]),
    /series "bad" x: expected 2 values, got 1/,
  );
  assert.throws(() => lineFigure([]), /at least one series/);
});

Deno.test("learningCurveFigure: upper edge, filled lower edge, then the mean, per curve", () => {
  const fig = learningCurveFigure([
    { name: "MAML", x: [0, 1], mean: [1, 0.5], halfWidth: [0.2, 0.1] },
    { name: "pretrained", x: [0, 1], mean: [2, 2], halfWidth: [0, 0] },
  ]);
  assert.equal(fig.data.length, 6);
  assert.deepEqual(fig.data[0].y, [1.2, 0.6]);
  assert.deepEqual(fig.data[1].y, [0.8, 0.4]);
  assert.equal(fig.data[1].fill, "tonexty");
  assert.deepEqual(fig.data[2].y, [1, 0.5]);
  assert.equal(fig.data[2].name, "MAML");
  assert.equal(fig.data[2].legendgroup, fig.data[0].legendgroup);
  assert.notEqual(fig.data[5].legendgroup, fig.data[2].legendgroup);
  assert.throws(
    () => learningCurveFigure([{ name: "x", x: [0], mean: [1], halfWidth: [-1] }]),
    /halfWidth must be ≥ 0/,
  );
});

Deno.test("barFigure, heatmapFigure and tableFigure build the right traces", () => {
  const bars = barFigure(["5-way", "20-way"], [{
    name: "ours",
    values: [98, 95],
    errors: [0.4, 0.3],
  }]);
  assert.equal(bars.data[0].type, "bar");
  assert.deepEqual((bars.data[0].error_y as { array: number[] }).array, [0.4, 0.3]);
  assert.equal(bars.layout.barmode, "group");
  assert.throws(
    () => barFigure(["a"], [{ name: "x", values: [1, 2] }]),
    /expected 1 values, got 2/,
  );

  const heat = heatmapFigure([[1, 2], [3, 4]], { annotate: true, xLabels: ["a", "b"] });
  assert.deepEqual(heat.data[0].z, [[1, 2], [3, 4]]);
  assert.deepEqual(heat.data[0].text, [["1", "2"], ["3", "4"]]);
  assert.throws(() => heatmapFigure([[1, 2], [3]]), /heatmap row 1: expected 2 values, got 1/);

  const table = tableFigure(["method", "accuracy"], [["ProtoNet", 0.98765432], ["MAML", null]]);
  const cells = table.data[0].cells as { values: string[][] };
  assert.equal(table.data[0].type, "table");
  assert.deepEqual(cells.values, [["ProtoNet", "MAML"], ["0.9877", ""]]);
  assert.throws(() => tableFigure(["a", "b"], [["only one"]]), /row 0 has 1 cells, the header 2/);
});

Deno.test("image grids: subplot per image, composed picture with exact pixel placement", () => {
  // Three 2×2 images whose pixels encode (image, row, col).
  const data = Float32Array.from({ length: 12 }, (_, i) => i + 1);
  const tensorLike = { shape: [3, 2, 2, 1], dataSync: () => data };
  const grid = imageGridFigure(tensorLike, { cols: 2, captions: ["a", "b", "c"] });
  assert.equal(grid.data.length, 3);
  assert.deepEqual(grid.data[2].z, [[9, 10], [11, 12]]);
  assert.equal(grid.data[1].xaxis, "x2");
  assert.ok(grid.layout.xaxis3 && grid.layout.yaxis3);
  assert.equal((grid.layout.annotations as unknown[]).length, 3);

  const composed = composeImages({ data, shape: [3, 2, 2] }, { cols: 2, pad: 1 });
  assert.equal(composed.width, 2 * 2 + 3);
  assert.equal(composed.height, 2 * 2 + 3);
  const at = (y: number, x: number) => composed.pixels[y * composed.width + x];
  assert.equal(at(1, 1), 1); // image 0 top-left
  assert.equal(at(2, 2), 4); // image 0 bottom-right
  assert.equal(at(1, 4), 5); // image 1 top-left
  assert.equal(at(4, 1), 9); // image 2 top-left (second row)
  assert.equal(at(0, 0), 1); // padding takes the minimum value
  assert.equal(at(4, 4), 1); // the empty fourth tile too
  const fig = composedImageFigure({ data, shape: [3, 2, 2] }, { cols: 3, pad: 0 });
  assert.deepEqual(fig.data[0].z, [[1, 2, 5, 6, 9, 10], [3, 4, 7, 8, 11, 12]]);

  assert.throws(() => imageGridFigure({ data, shape: [3, 2, 3] }), /needs 18 values, got 12/);
  assert.throws(() => imageGridFigure({ data, shape: [1, 2, 3, 2] }), /\[n,h,w\]/);
});

Deno.test("figureBundle inlines plotly.js into the first bundle only", () => {
  resetInlineState();
  const fig = lineFigure([{ name: "a", y: [1, 2] }], { title: "first" });
  const first = figureBundle(fig);
  const second = figureBundle(fig);
  assert.deepEqual((first[PLOTLY_MIME] as { data: unknown }).data, fig.data);
  assert.equal(countBanner(first["text/html"] as string), 1);
  assert.equal(countBanner(second["text/html"] as string), 0);
  assert.match(second["text/html"] as string, /window\.Plotly/);
  assert.equal(
    countBanner(figureBundle(fig, { inlinePlotly: "always" })["text/html"] as string),
    1,
  );
  assert.match(first["text/plain"] as string, /"first": 1 trace/);
  // The figure's JSON cannot close the script element it sits in.
  const nasty = lineFigure([{ name: "</script><b>x", y: [1] }]);
  assert.ok(!(figureBundle(nasty)["text/html"] as string).includes("</script><b>"));
});

Deno.test("show sends display_data, and update_display_data under a display id", async () => {
  resetInlineState();
  const jupyter = fakeJupyter();
  const fig = lineFigure([{ name: "a", y: [1, 2] }]);
  assert.equal(await show(fig, { jupyter }), undefined); // nothing more for the cell to print
  await show(fig, { jupyter, displayId: "d1" });
  await show(fig, { jupyter, displayId: "d1", update: true });
  assert.deepEqual(jupyter.messages.map((m) => m.type), [
    "display_data",
    "display_data",
    "update_display_data",
  ]);
  assert.deepEqual(jupyter.messages[2].content.transient, { display_id: "d1" });
  const data = jupyter.messages[0].content.data as Record<string, unknown>;
  assert.ok(data[PLOTLY_MIME]);
  assert.equal(countBanner(data["text/html"] as string), 1);
  assert.equal(
    countBanner((jupyter.messages[1].content.data as Record<string, string>)["text/html"]),
    0,
  );
  await assert.rejects(() => show(fig, { jupyter, update: true }), /needs the displayId/);
});

Deno.test("a first figure shown under a display id gets plotly.js in an output of its own", async () => {
  resetInlineState();
  const jupyter = fakeJupyter();
  const fig = lineFigure([{ name: "a", y: [1, 2] }]);
  await show(fig, { jupyter, displayId: "live" });
  await show(fig, { jupyter, displayId: "live", update: true });
  assert.deepEqual(jupyter.messages.map((m) => m.type), [
    "display_data",
    "display_data",
    "update_display_data",
  ]);
  const html = jupyter.messages.map((m) => (m.content.data as Record<string, string>)["text/html"]);
  assert.equal(countBanner(html[0]), 1, "the loader carries plotly.js");
  assert.equal(jupyter.messages[0].content.transient, undefined, "and is never replaced");
  assert.equal(countBanner(html[1]) + countBanner(html[2]), 0);
});

Deno.test("show outside a notebook returns the bundle without drawing", async () => {
  resetInlineState();
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    const bundle = (await show(lineFigure([{ name: "a", y: [1] }])))!;
    assert.ok(bundle[PLOTLY_MIME]);
    assert.equal(countBanner(bundle["text/html"] as string), 0);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /not in a notebook/);
  } finally {
    console.log = log;
  }
});

Deno.test("writeHtmlReport writes one self-contained file atomically, plotly.js inlined once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metalab-plot-test-" });
  try {
    const figs = [lineFigure([{ name: "a", y: [1, 2] }]), lineFigure([{ name: "b", y: [2, 1] }])];
    const path = await writeHtmlReport(`${dir}/sub/report.html`, figs, {
      title: "A <report>",
      text: ["line one", "line & two"],
      tables: [{
        title: "ours vs published",
        header: ["method", "acc"],
        rows: [["MAML", 0.987654]],
      }],
    });
    assert.equal(path, `${dir}/sub/report.html`);
    const entries = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name);
    assert.deepEqual(entries, ["report.html"]); // no temporary file left behind
    const html = await Deno.readTextFile(path);
    assert.equal(countBanner(html), 1);
    assert.ok(!/<script[^>]+src=/i.test(html), "no external scripts");
    assert.ok(!/<link[^>]+href=/i.test(html), "no external stylesheets");
    assert.match(html, /<title>A &lt;report&gt;<\/title>/);
    assert.match(html, /<td>0\.9877<\/td>/);
    assert.match(html, /line &amp; two/);
    assert.equal(html.match(/class="metalab-plot"/g)?.length, 2);
    assert.throws(
      () => reportHtml([{ nope: 1 } as never], { title: "x" }),
      /figure 0 has no data array/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const chromium = findChromium();
if (!chromium) {
  console.log("plot_test: no Chromium found (apt-get install chromium): render checks skipped");
}

Deno.test({
  name: "a report's plots render in headless Chromium, offline, without page errors",
  ignore: !chromium,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "metalab-render-test-" });
    try {
      const images = {
        data: Float32Array.from({ length: 4 * 6 * 6 }, (_, i) => (i % 5) / 4),
        shape: [4, 6, 6],
      };
      const figs = [
        lineFigure([{ name: "a", y: [1, 3, 2] }, { name: "b", y: [2, 1, 0] }]),
        learningCurveFigure([{
          name: "MAML",
          x: [0, 1, 2],
          mean: [1, 0.5, 0.3],
          halfWidth: [0.1, 0.1, 0.1],
        }]),
        barFigure(["x", "y"], [{ name: "s", values: [1, 2], errors: [0.1, 0.1] }]),
        heatmapFigure([[1, 2], [3, 4]]),
        imageGridFigure(images, { captions: ["a", "b", "c", "d"] }),
        composedImageFigure(images),
        tableFigure(["method", "acc"], [["ProtoNet", 98.8]]),
      ];
      const path = await writeHtmlReport(`${dir}/report.html`, figs, { title: "render test" });
      const result = await renderCheck(path);
      assert.deepEqual(result.errors, []);
      assert.equal(result.expected, figs.length);
      assert.equal(result.figures.length, figs.length);
      for (const f of result.figures) {
        assert.ok(f.svgs > 0 && f.marks > 0, `figure ${f.id} drew nothing: ${JSON.stringify(f)}`);
      }
      assert.equal(result.figures[0].traces, 2); // both line series drawn
      assert.ok(result.ok);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "renderCheck fails a page whose plot throws or that loads a file from beside it",
  ignore: !chromium,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "metalab-render-test-" });
    try {
      const good = reportHtml([lineFigure([{ name: "a", y: [1, 2] }])], { title: "t" });
      // A broken figure call: the plot never draws and the error is reported.
      const broken = good.replace(
        'window.Plotly.newPlot("fig-" + i',
        'window.Plotly.newPlot("no-such-div-" + i',
      );
      await Deno.writeTextFile(`${dir}/broken.html`, broken);
      const r1 = await renderCheck(`${dir}/broken.html`);
      assert.equal(r1.ok, false);
      assert.ok(r1.errors.length > 0, "the error was captured");
      // A page that depends on a file beside it is not self-contained.
      await Deno.writeTextFile(`${dir}/extra.js`, "window.x = 1;");
      const external = good.replace("</head>", '<script src="extra.js"></script></head>');
      await Deno.writeTextFile(`${dir}/external.html`, external);
      const r2 = await renderCheck(`${dir}/external.html`);
      assert.equal(r2.ok, false);
      assert.ok(r2.errors.some((e) => e.includes("extra.js")), JSON.stringify(r2.errors));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
