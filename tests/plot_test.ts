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
  wrapText,
  writeHtmlReport,
} from "../lib/plot/mod.ts";
import {
  ArrayDataset,
  exampleImages,
  mostRotationChanged,
  RotatedDataset,
  rotationChange,
  rotationChanges,
  rotationGallery,
} from "../lib/datasets/mod.ts";

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

/** Pixel boxes of an image grid's images and captions, from its layout (origin top-left). */
function gridBoxes(fig: ReturnType<typeof imageGridFigure>) {
  const layout = fig.layout as Record<string, unknown> & {
    width: number;
    height: number;
    margin: { l: number; r: number; t: number; b: number };
    annotations: {
      text: string;
      x: number;
      y: number;
      width: number;
      height: number;
      font: { size: number };
    }[];
  };
  const { width, height, margin } = layout;
  const plotW = width - margin.l - margin.r, plotH = height - margin.t - margin.b;
  const px = (x: number) => margin.l + x * plotW, py = (y: number) => margin.t + (1 - y) * plotH;
  const images = fig.data.map((_, k) => {
    const suffix = k === 0 ? "" : String(k + 1);
    const xd = (layout[`xaxis${suffix}`] as { domain: number[] }).domain;
    const yd = (layout[`yaxis${suffix}`] as { domain: number[] }).domain;
    return { left: px(xd[0]), right: px(xd[1]), top: py(yd[1]), bottom: py(yd[0]) };
  });
  const captions = layout.annotations.map((a) => ({
    left: px(a.x) - a.width / 2,
    right: px(a.x) + a.width / 2,
    top: py(a.y),
    bottom: py(a.y) + a.height,
    lines: a.text.split("<br>"),
  }));
  return { layout, images, captions };
}

type Box = { left: number; right: number; top: number; bottom: number };
const overlaps = (a: Box, b: Box) =>
  a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 &&
  b.top < a.bottom - 0.5;

Deno.test("wrapText: at spaces, then after / _ @ -, then hard; cut with … past maxLines", () => {
  assert.deepEqual(wrapText("one two three", 7), ["one two", "three"]);
  assert.deepEqual(wrapText("Old_Church_Slavonic/character05", 12), [
    "Old_Church_",
    "Slavonic/",
    "character05",
  ]);
  assert.deepEqual(wrapText("abcdefghij", 4), ["abcd", "efgh", "ij"]);
  assert.deepEqual(wrapText("a b c d e f", 3, 2), ["a b", "c …"]);
  assert.deepEqual(wrapText("short", 40), ["short"]);
  for (const line of wrapText("Tifinagh/character55@rot270 label 3 of 5", 9)) {
    assert.ok(line.length <= 9, `"${line}" is longer than 9`);
  }
  assert.throws(() => wrapText("x", 0), /maxChars must be ≥ 1, got 0/);
});

Deno.test("image grid layout: a long title wraps under a taller top margin; captions keep to their cells", () => {
  const images = { data: new Float32Array(8 * 28 * 28), shape: [8, 28, 28] };
  const short = imageGridFigure(images, { cols: 4, title: "Rotations" });
  const longTitle = "Query set D'_i: new drawings of the same five classes, one row per class, " +
    "each with its label under it";
  const long = imageGridFigure(images, { cols: 4, title: longTitle });
  const margin = (f: typeof short) => (f.layout.margin as { t: number }).t;
  const titleText = (f: typeof short) => (f.layout.title as { text: string }).text;
  assert.ok(margin(long) > margin(short), `top margins ${margin(long)} vs ${margin(short)}`);
  assert.ok(titleText(long).includes("<br>"), "the long title is wrapped");
  assert.equal(titleText(long).replace(/<br>/g, " "), longTitle.replace(/'/g, "'"));
  // The figure widens for its title (so the title is not cut), up to 640 px, then wraps.
  assert.ok((short.layout.width as number) >= 4 * 60);
  assert.ok((long.layout.width as number) <= 640);
  // The figure grows by exactly what the title's extra lines need.
  assert.equal(
    (long.layout.height as number) - (short.layout.height as number),
    margin(long) - margin(short),
  );

  const captions = [
    "Inuktitut_(Canadian_Aboriginal_Syllabics)/character06@rot90",
    "label 0",
    "a caption long enough to need more than three lines at this cell width, cut",
    "x",
    "Old_Church",
    "",
    "Tifinagh",
    "9",
  ];
  const fig = imageGridFigure(images, { cols: 4, captions, title: longTitle });
  const { images: cells, captions: boxes, layout } = gridBoxes(fig);
  assert.equal(boxes.length, captions.length - 1, "an empty caption draws nothing");
  // Captions sit under their image, inside the figure, and overlap nothing.
  const all: Box[] = [...cells, ...boxes];
  for (let i = 0; i < all.length; i++) {
    const a = all[i];
    assert.ok(a.left >= 0 && a.right <= layout.width, `box ${i} leaves the figure sideways`);
    assert.ok(a.top >= layout.margin.t - 0.5, `box ${i} reaches into the title's margin`);
    assert.ok(a.bottom <= layout.height, `box ${i} leaves the figure at the bottom`);
    for (let j = i + 1; j < all.length; j++) {
      assert.ok(
        !overlaps(a, all[j]),
        `boxes ${i} and ${j} overlap: ${JSON.stringify([a, all[j]])}`,
      );
    }
  }
  // Each caption line fits its box at the caption font (0.62 em a glyph is wide for
  // DejaVu Sans and Open Sans), and the box is tall enough for its lines.
  for (const [i, box] of boxes.entries()) {
    const fontSize = layout.annotations[i].font.size;
    assert.ok(box.lines.length <= 3, `caption ${i} has ${box.lines.length} lines`);
    for (const line of box.lines) {
      assert.ok(
        line.length * fontSize * 0.62 <= box.right - box.left,
        `caption line "${line}" is wider than its ${box.right - box.left} px box`,
      );
    }
    assert.ok(box.bottom - box.top >= box.lines.length * fontSize * 1.3);
  }
  assert.ok(boxes[2].lines[2].endsWith("…"), "a caption past three lines is cut with …");
  // The hover text keeps the whole caption.
  assert.match(fig.data[0].hovertemplate as string, /Syllabics\)\/character06@rot90/);
  // A row's images share a top; its caption band is as tall as its longest caption.
  assert.ok(cells.slice(1, 4).every((b) => b.top === cells[0].top));
  assert.ok(cells.slice(5).every((b) => b.top === cells[4].top));
  const band = (row: number) =>
    Math.max(
      ...boxes.filter((b) =>
        b.top > cells[row * 4].bottom &&
        b.top < cells[row * 4].bottom + 10
      ).map((b) => b.bottom),
    ) - cells[row * 4].bottom;
  assert.ok(
    band(0) > band(1),
    "row 0's three-line captions need a taller band than row 1's one-liners",
  );
  // A row without captions gets no band: a gallery captioned in its first row stays compact.
  const twelve = { data: new Float32Array(12 * 28 * 28), shape: [12, 28, 28] };
  const firstRowOnly = gridBoxes(imageGridFigure(twelve, {
    cols: 4,
    captions: ["0°", "90°", "180°", "270°"],
  })).images;
  const uncaptioned = gridBoxes(imageGridFigure(twelve, { cols: 4 })).images;
  const rowStep = (b: Box[], row: number) => b[(row + 1) * 4].top - b[row * 4].top;
  assert.ok(rowStep(firstRowOnly, 0) > rowStep(uncaptioned, 0), "row 0 has its caption band");
  assert.ok(Math.abs(rowStep(firstRowOnly, 1) - rowStep(uncaptioned, 1)) < 1e-9, "row 1 has none");

  // The composed picture gets the same title treatment.
  const composed = composedImageFigure(images, { cols: 8, title: longTitle });
  const plain = composedImageFigure(images, { cols: 8, title: "Support set" });
  assert.ok(
    (composed.layout.margin as { t: number }).t >= (plain.layout.margin as { t: number }).t,
  );
  for (const line of (composed.layout.title as { text: string }).text.split("<br>")) {
    assert.ok(line.length * 14 * 0.62 <= (composed.layout.width as number) - 20, line);
  }
});

Deno.test("exampleImages and the rotation gallery: pixels as the view writes them, one column per rotation", () => {
  // 28×28 images of three classes, three drawers each (each drawn a pixel apart):
  // 0 a square outline (the same under every rotation), 1 a corner Γ (a new shape under
  // each), 2 a horizontal bar (the same under 180°, not under 90°).
  const size = 28, drawers = 3;
  const data = new Float32Array(3 * drawers * size * size);
  const labels: number[] = [];
  const ink = (k: number, y: number, x: number) => data[k * size * size + y * size + x] = 1;
  for (let c = 0; c < 3; c++) {
    for (let d = 0; d < drawers; d++) {
      const k = labels.length;
      labels.push(c);
      const lo = 6 + d, hi = size - 1 - lo; // symmetric about the centre
      for (let i = lo; i <= hi; i++) {
        if (c === 0) [ink(k, lo, i), ink(k, hi, i), ink(k, i, lo), ink(k, i, hi)];
        if (c === 1) [ink(k, 4 + d, 4 + (i - lo) / 2 | 0), ink(k, 4 + (i - lo) / 2 | 0, 4 + d)];
        if (c === 2) [ink(k, 13, i), ink(k, 14, i)];
      }
    }
  }
  const base = new ArrayDataset({ name: "shapes", data, itemShape: [size, size, 1], labels });
  const view = new RotatedDataset(base);

  const square = rotationChange(view, 0);
  assert.equal(square.min, 0, "a square's rotations are its own drawings");
  const bar = rotationChange(view, 2);
  const barAt = (deg: number) => bar.byRotation.find((b) => b.rotation === deg)!.change;
  assert.equal(barAt(180), 0);
  assert.ok(barAt(90) > 1, `a bar turned 90° is a new shape: ${barAt(90)}`);
  assert.equal(bar.min, 0, "judged by its least visible rotation");
  const corner = rotationChange(view, 1);
  assert.ok(corner.min > 1, JSON.stringify(corner));
  assert.equal(mostRotationChanged(view).baseClass, 1);
  assert.deepEqual(rotationChanges(view).map((c) => c.baseClass), [1, 0, 2], "ties: lower first");
  assert.deepEqual(rotationChanges(view)[0], corner);
  // Restricted to some classes of the view (class 4c + r is base class c at rotation r).
  assert.equal(mostRotationChanged(view, { classes: [9, 5, 11] }).baseClass, 1);
  assert.equal(mostRotationChanged(view, { classes: [9, 0] }).baseClass, 0, "a tie: the lower");
  assert.throws(
    () => mostRotationChanged(view, { classes: [12] }),
    /rotationChanges: class 12 is out of range/,
  );

  const gallery = rotationGallery(view, 1, { examples: 2 });
  assert.deepEqual(gallery.images.shape, [8, size, size, 1]);
  assert.equal(gallery.cols, 4);
  assert.deepEqual(gallery.classes, [4, 5, 6, 7]);
  assert.deepEqual(gallery.captions.slice(0, 4), [
    "class 4 (0°)",
    "class 5 (90°)",
    "class 6 (180°)",
    "class 7 (270°)",
  ]);
  assert.deepEqual(gallery.captions.slice(4), ["", "", "", ""], "the column names the class");
  // Row i, column r: drawer i of the corner in class 4 + r, exactly as the view writes it.
  const n = size * size;
  for (let i = 0; i < 2; i++) {
    for (let r = 0; r < 4; r++) {
      const id = view.classExamples[4 + r][i];
      const expected = new Float32Array(n);
      view.writeExample(id, expected, 0);
      const got = gallery.images.data.subarray((i * 4 + r) * n, (i * 4 + r + 1) * n);
      assert.deepEqual(got, expected, `image (${i}, ${r})`);
    }
  }
  // A 90° turn (counter-clockwise) sends the corner's top-left ink to the bottom-left.
  assert.equal(gallery.images.data[1 * n + (size - 1 - 4) * size + 4], 1);

  const stack = exampleImages(base, [8, 0]);
  assert.deepEqual(stack.shape, [2, size, size, 1]);
  assert.deepEqual(stack.data.subarray(n), data.subarray(0, n));
  assert.throws(
    () => exampleImages(base, [9]),
    /example id 9 is out of range: expected .*\[0, 9\)/,
  );
  assert.throws(
    () => rotationGallery(view, 1, { examples: 4 }),
    /examples must be .*\[1, 3\].*got 4/,
  );
  assert.throws(() => rotationChange(view, 3), /base class 3 is out of range/);
  assert.throws(
    () => rotationChange(new RotatedDataset(base, [0]), 0),
    /rotations are \[0\]; expected one other than 0°/,
  );
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

/**
 * Reports where an image grid's texts and images were drawn (getBoundingClientRect),
 * through the console.error channel renderCheck captures.
 */
const GEOMETRY_PROBE = `<script>(function () {
  function box(el) {
    var r = el.getBoundingClientRect();
    return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
  }
  function all(p, sel) { return Array.prototype.map.call(p.querySelectorAll(sel), box); }
  (function poll() {
    if (!document.body.hasAttribute("data-plots-ready")) return setTimeout(poll, 50);
    var plots = document.querySelectorAll(".js-plotly-plot");
    console.error("metalab-geometry:" + JSON.stringify(Array.prototype.map.call(plots, function (p) {
      return { svg: box(p.querySelector("svg.main-svg")), titles: all(p, ".gtitle"),
        images: all(p, ".hm image"), captions: all(p, ".annotation-text"),
        captionBoxes: all(p, ".annotation .bg") };
    })));
  })();
})();</script>`;

interface Drawn {
  svg: Box;
  titles: Box[];
  images: Box[];
  captions: Box[];
  captionBoxes: Box[];
}

/** Everything wrong with a drawn image grid: a text cut or clipped, or two things overlapping. */
function layoutProblems(fig: Drawn): string[] {
  const problems: string[] = [];
  const inside = (a: Box, b: Box) =>
    a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 &&
    a.bottom <= b.bottom + 1;
  for (const t of fig.titles) {
    if (!inside(t, fig.svg)) problems.push(`the title ${JSON.stringify(t)} is cut by the figure`);
    for (const [i, img] of fig.images.entries()) {
      if (overlaps(t, img)) problems.push(`the title overlaps image ${i}`);
    }
  }
  fig.captions.forEach((c, i) => {
    if (!inside(c, fig.captionBoxes[i])) problems.push(`caption ${i} is clipped by its box`);
  });
  const drawn = [
    ...fig.images.map((b, i) => ({ b, name: `image ${i}` })),
    ...fig.captions.map((b, i) => ({ b, name: `caption ${i}` })),
  ];
  for (let i = 0; i < drawn.length; i++) {
    for (let j = i + 1; j < drawn.length; j++) {
      if (overlaps(drawn[i].b, drawn[j].b)) {
        problems.push(`${drawn[i].name} overlaps ${drawn[j].name}`);
      }
    }
  }
  return problems;
}

Deno.test({
  name: "image grids drawn in Chromium: titles and captions neither cut nor overlapping",
  ignore: !chromium,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "metalab-layout-test-" });
    try {
      const images = {
        data: Float32Array.from({ length: 8 * 28 * 28 }, (_, i) => (i % 7) / 6),
        shape: [8, 28, 28],
      };
      const options = {
        cols: 4,
        title: "Query set D'_i: new drawings of the same five classes (one row per class)",
        captions: [
          "Inuktitut_(Canadian_Aboriginal_Syllabics)/character06@rot90",
          "label 0",
          "Old_Church_Slavonic_(Cyrillic)",
          "x",
          "0: Bengali",
          "1: Japanese_(katakana)",
          "class 4801 (270°)",
          "9",
        ],
      };
      const good = imageGridFigure(images, options);
      // The control: the same grid squeezed under its title, all captions at one place.
      const bad = structuredClone(good);
      (bad.layout.margin as { t: number }).t = 8;
      for (const a of bad.layout.annotations as { x: number }[]) a.x = 0.3;
      const html = reportHtml([good, bad, composedImageFigure(images, options)], {
        title: "layout",
      });
      await Deno.writeTextFile(
        `${dir}/page.html`,
        html.replace("</body>", GEOMETRY_PROBE + "</body>"),
      );
      const result = await renderCheck(`${dir}/page.html`);
      const report = result.errors.find((e) => e.includes("metalab-geometry:"));
      assert.ok(report, `no geometry report: ${JSON.stringify(result.errors)}`);
      assert.deepEqual(result.errors.filter((e) => e !== report), []);
      const [drawnGood, drawnBad, drawnComposed] = JSON.parse(
        report.slice(report.indexOf("metalab-geometry:") + "metalab-geometry:".length),
      ) as Drawn[];
      assert.equal(drawnGood.images.length, 8);
      assert.equal(drawnGood.captions.length, 8);
      assert.equal(drawnGood.titles.length, 1);
      assert.deepEqual(layoutProblems(drawnGood), []);
      assert.deepEqual(layoutProblems(drawnComposed), []);
      const caught = layoutProblems(drawnBad).join("\n");
      assert.match(caught, /the title overlaps image 0/);
      assert.match(caught, /caption 0 overlaps caption 1/);
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
