/**
 * The course book (`deno task book`, scripts/book*.ts): markdown with math typeset by
 * KaTeX at build time, every kind of notebook output rendered offline, the outline and
 * the navigation; then a book built from a really executed course notebook (00_setup, quick
 * mode) plus a synthetic executed notebook holding every output kind, every page opened in
 * headless Chromium (lib/plot/page_check.ts): every figure drew, every formula typeset with
 * its fonts and no raw TeX left, every image decoded, no console error or failed load, and
 * every link — the index's outline, prev / next — resolves. A deliberately broken book must
 * fail each of those checks.
 * Skipped, with a message, where Chromium (page checks) or Jupyter (the real notebook) is
 * missing.
 */
import assert from "node:assert/strict";
import { encode } from "fast-png";
import { Buffer } from "node:buffer";
import { pathToFileURL } from "node:url";
import { findChromium, pageCheck, type PageCheckResult } from "../lib/plot/mod.ts";
import { PLOTLY_MIME } from "../lib/plot/show.ts";
import {
  extractMath,
  highlightTypeScript,
  htmlText,
  markdownContext,
  renderMarkdown,
  slugify,
} from "../scripts/book_markdown.ts";
import { BOOK_MARKER, type BookNotebook, renderBook } from "../scripts/book_render.ts";
import { executeForBook, modeEnv } from "../scripts/book.ts";
import { jupyterAvailable, type Notebook, type NotebookCell } from "../scripts/notebooks.ts";

const chromium = findChromium();
const jupyter = await jupyterAvailable();
if (!chromium) {
  console.log("book_test: no Chromium (apt-get install chromium): the page checks are skipped");
}
if (!jupyter.ok) {
  console.log(`book_test: ${jupyter.reason}: the book is checked without a real notebook`);
}

// --- fixtures -------------------------------------------------------------------------

/** An 8×8 opaque PNG of one colour, base64. */
function pngBase64(r: number, g: number, b: number): string {
  const data = new Uint8Array(8 * 8 * 4);
  for (let i = 0; i < 64; i++) data.set([r, g, b, 255], i * 4);
  return Buffer.from(encode({ width: 8, height: 8, data, channels: 4 })).toString("base64");
}

function markdown(source: string, extra: Partial<NotebookCell> = {}): NotebookCell {
  return { cell_type: "markdown", metadata: {}, source, ...extra };
}

function code(source: string, outputs: Record<string, unknown>[]): NotebookCell {
  return { cell_type: "code", metadata: {}, source, outputs, execution_count: 1 };
}

function notebook(cells: NotebookCell[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    cells,
  };
}

const display = (data: Record<string, unknown>, metadata = {}) => ({
  output_type: "display_data",
  data,
  metadata,
});

/**
 * An executed notebook with every output kind the book renders, and math of every form; it
 * links to section `anchor` of the setup notebook's page.
 */
function synthetic(anchor = "1-the-compute-backend"): Notebook {
  return notebook([
    markdown(
      "# 99 · Every output kind\n\nInline $\\frac{a}{b}$ and display\n\n$$\\sum_{i=1}^{n} x_i^2$$\n\n" +
        "\\begin{align}\nJ(\\theta) &= \\tfrac{1}{2}\\lVert\\theta\\rVert^2\n\\end{align}\n\n" +
        "Code keeps its dollars: `cost $5 and $6`; so does prose: it costs $5 and $10.\n\n" +
        `See [the backend section](00_setup.ipynb#${anchor}) and ` +
        "![a dot](attachment:dot.png)",
      { attachments: { "dot.png": { "image/png": pngBase64(200, 30, 30) } } } as Partial<
        NotebookCell
      >,
    ),
    markdown("## 1. Math in a heading: $\\theta_i$\n\n### 1.1 A subsection\n\nText."),
    code('console.log("\\x1b[32mgreen\\x1b[0m");', [
      { output_type: "stream", name: "stdout", text: ["\x1b[32mgreen\x1b[0m text\n"] },
      { output_type: "stream", name: "stderr", text: "a warning\n" },
    ]),
    code("await show(fig);", [
      // The HTML fallback must not be used: the figure is drawn from its Plotly JSON.
      display({
        [PLOTLY_MIME]: {
          data: [{ type: "scatter", mode: "lines+markers", x: [0, 1, 2], y: [1, 3, 2] }],
          layout: { title: { text: "a line" }, height: 320 },
          config: {},
        },
        "text/html": '<div>fallback</div><script>console.error("the HTML fallback ran")</script>',
        "text/plain": 'Plotly figure "a line"',
      }),
      // An output that only loads plotly.js is dropped: the book loads it once per page.
      display({
        "text/html": "<script>/*! plotly.js v9.9.9 */ window.__loaderRan = 1;</script>",
        "text/plain": "(plotly.js loaded for this notebook's figures)",
      }),
    ]),
    code("picture", [
      display({ "image/png": pngBase64(30, 30, 200), "text/plain": "a blue square" }, {
        "image/png": { width: 64, height: 64 },
      }),
      display({
        "image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">' +
          '<circle cx="10" cy="10" r="8" fill="green"/></svg>',
      }),
    ]),
    code("table", [{
      output_type: "execute_result",
      execution_count: 1,
      metadata: {},
      data: {
        "text/html": "<table><thead><tr><th>learner</th><th>accuracy</th></tr></thead>" +
          "<tbody><tr><td>MAML</td><td>0.98</td></tr></tbody></table>",
        "text/plain": "a table",
      },
    }]),
    code("rich text", [
      display({ "text/markdown": "**Markdown** output with $x^2$" }),
      display({ "text/latex": "$$\\int_0^1 x\\,dx = \\frac{1}{2}$$" }),
      {
        output_type: "execute_result",
        execution_count: 2,
        metadata: {},
        data: { "text/plain": "\x1b[33m42\x1b[39m" },
      },
    ]),
    code("throw new TypeError('boom')", [{
      output_type: "error",
      ename: "TypeError",
      evalue: "boom",
      traceback: ["\x1b[31mTypeError\x1b[0m: boom", "    at <anonymous>:1:7"],
    }]),
  ]);
}

/** A notebook with one of each thing the page check must catch. */
function broken(): Notebook {
  return notebook([
    markdown(
      "# 98 · Broken\n\nAn unknown macro $\\nosuchmacro{x}$, a dollar pair left open $$ here, " +
        "a missing picture ![gone](no_such_picture.png) and a [dead link](no_such_notebook.ipynb) " +
        "and [a missing section](#no-such-section).",
    ),
    code("fig", [
      display({ [PLOTLY_MIME]: { data: [], layout: {}, config: {} } }),
      display({ "text/html": '<script>console.error("deliberate error")</script>' }),
    ]),
  ]);
}

// --- markdown and math (no browser) ------------------------------------------------------

Deno.test("extractMath finds $…$, $$…$$, \\(…\\), \\[…\\] and environments, and leaves code and prices", () => {
  const { text, math } = extractMath(
    "a $x_1$ b $$\\frac{1}{2}$$ c \\(y\\) d \\[z\\]\n\\begin{align}\nu &= v\n\\end{align}\n" +
      "`$not math$` and costs $5 and $10, escaped \\$3\n```\n$fenced$\n```\n",
  );
  assert.deepEqual(math, [
    { tex: "x_1", display: false },
    { tex: "\\frac{1}{2}", display: true },
    { tex: "y", display: false },
    { tex: "z", display: true },
    { tex: "\\begin{align}\nu &= v\n\\end{align}", display: true },
  ]);
  assert.ok(text.includes("`$not math$`"), text);
  assert.ok(text.includes("costs $5 and $10"), text);
  assert.ok(text.includes("\\$3"), text);
  assert.ok(text.includes("$fenced$"), text);
  // An inline formula does not cross a blank line, and `$ x$` does not open one.
  assert.deepEqual(extractMath("$a\n\nb$ and $ c$").math, []);
});

Deno.test("renderMarkdown typesets formulas (markdown never sees their _ and *) and ids headings", () => {
  const ctx = markdownContext("test");
  const { html, headings } = renderMarkdown(
    "# Title\n\n## 1. The loss $\\mathcal{L}_i$\n\nwith $a_1 * b_1 * c_1$ and *emphasis*.\n\n## 1. The loss $\\mathcal{L}_i$\n",
    ctx,
  );
  assert.equal(ctx.formulas, 3);
  assert.deepEqual(ctx.problems, []);
  assert.ok(!/<em>1<\/em>|<em> b_1 <\/em>/.test(html), "markdown read math as emphasis");
  assert.ok(html.includes("<em>emphasis</em>"), html);
  assert.deepEqual(headings.map((h) => [h.level, h.id, h.text]), [
    [1, "title", "Title"],
    [2, "1-the-loss-mathcal-l-i", "1. The loss \\mathcal{L}_i"],
    [2, "1-the-loss-mathcal-l-i-1", "1. The loss \\mathcal{L}_i"],
  ]);
  assert.ok(headings[1].html.includes('class="katex"'), headings[1].html);
  assert.ok(html.includes('id="1-the-loss-mathcal-l-i-1"'), html);

  const bad = markdownContext("nb.ipynb cell 4");
  const out = renderMarkdown("$\\nosuchmacro{x}$", bad);
  assert.match(bad.problems[0], /^nb\.ipynb cell 4: KaTeX could not typeset "\\nosuchmacro\{x\}"/);
  assert.ok(out.html.includes('class="katex-error"'), out.html);
});

Deno.test("highlightTypeScript keeps the source text exactly and marks keywords, strings, comments", () => {
  const source = 'const x = "a<b" + `t` + 3; // note & <tag>\nawait f(x);';
  const html = highlightTypeScript(source);
  assert.equal(htmlText(html), source);
  assert.ok(html.includes('<span class="k">const</span>'), html);
  assert.ok(html.includes('<span class="s">&quot;a&lt;b&quot;</span>'), html);
  assert.ok(html.includes('<span class="c">// note &amp; &lt;tag&gt;</span>'), html);
  assert.ok(html.includes('<span class="n">3</span>'), html);
});

Deno.test("modeEnv: quick sets METALAB_QUICK=1; trained and full clear it", () => {
  assert.deepEqual(modeEnv("quick"), { METALAB_MODE: "quick", METALAB_QUICK: "1" });
  assert.deepEqual(modeEnv("trained"), { METALAB_MODE: "trained", METALAB_QUICK: "" });
  assert.deepEqual(modeEnv("full"), { METALAB_MODE: "full", METALAB_QUICK: "" });
});

// --- the site as written (no browser) -----------------------------------------------------

/** A stand-in for notebook 00, so that the synthetic notebook's cross-page link has a target. */
function standIn(): Notebook {
  return notebook([markdown("# 00 · Setting up\n\n## 1. The compute backend\n\nText $x$.")]);
}

Deno.test("renderBook writes the index, one page per notebook, the assets and the executed notebooks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metalab-book-" });
  try {
    const book = await renderBook(
      [
        { name: "00_setup.ipynb", notebook: standIn() },
        { name: "99_synthetic.ipynb", notebook: synthetic() },
      ],
      dir,
      { mode: "quick" },
    );
    assert.deepEqual(book.problems, []);
    assert.deepEqual(book.pages.map((p) => [p.href, p.title]), [
      ["00_setup.html", "00 · Setting up"],
      ["99_synthetic.html", "99 · Every output kind"],
    ]);
    assert.deepEqual(book.pages[1].sections.map((s) => [s.level, s.id]), [
      [2, "1-math-in-a-heading-theta-i"],
      [3, "1-1-a-subsection"],
    ]);
    assert.equal(book.pages[1].figures, 1);
    assert.equal(book.pages[1].images, 2);
    // inline, display, align, heading, markdown output, LaTeX output
    assert.equal(book.pages[1].formulas, 6);
    for (const f of ["index.html", "assets/plotly.min.js", "assets/katex.css", "assets/book.css"]) {
      assert.ok((await Deno.stat(`${dir}/${f}`)).size > 0, `${f} is empty`);
    }
    const katexCss = await Deno.readTextFile(`${dir}/assets/katex.css`);
    assert.ok(!/url\(fonts\//.test(katexCss), "katex.css still loads font files from beside it");
    assert.match(katexCss, /url\(data:font\/woff2;base64,/);
    assert.ok((await Deno.stat(`${dir}/notebooks/99_synthetic.ipynb`)).isFile);

    const page = await Deno.readTextFile(`${dir}/99_synthetic.html`);
    assert.ok(!page.includes("the HTML fallback ran"), "the figure's HTML fallback was used");
    assert.ok(!page.includes("__loaderRan"), "an output that only loads plotly.js was kept");
    assert.ok(page.includes('<script src="assets/plotly.min.js">'), "plotly.js not referenced");
    // deno-lint-ignore no-control-regex
    assert.ok(!/\x1b\[/.test(page), "terminal colour codes left in the page");
    assert.ok(page.includes("green text"));
    assert.match(
      page,
      /<div class="output error"><pre>TypeError: boom\n {4}at &lt;anonymous&gt;:1:7/,
    );
    assert.equal((page.match(/src="data:image\/png;base64,/g) ?? []).length, 2);
    assert.ok(page.includes('width="64" height="64"'), "the image's size metadata was dropped");
    assert.ok(page.includes('<circle cx="10"'), "the SVG output is missing");
    assert.ok(page.includes("<td>MAML</td>"), "the HTML table output is missing");
    assert.ok(page.includes('href="00_setup.html#1-the-compute-backend"'), "notebook link kept");
    assert.ok(page.includes("Quick mode"), "a quick build must say so on every page");
    assert.ok(page.includes('rel="prev" href="00_setup.html"'));
    assert.ok(!page.includes('rel="next"'), "the last page has no next page");
    const index = await Deno.readTextFile(`${dir}/index.html`);
    assert.ok(index.includes('href="99_synthetic.html#1-1-a-subsection"'), "outline lacks 1.1");

    // A rebuild clears the old pages; a folder that is not a book is never written into.
    await renderBook([{ name: "00_setup.ipynb", notebook: standIn() }], dir);
    await assert.rejects(Deno.stat(`${dir}/99_synthetic.html`), Deno.errors.NotFound);
    assert.ok((await Deno.stat(`${dir}/${BOOK_MARKER}`)).isFile);
    const other = await Deno.makeTempDir({ prefix: "metalab-not-a-book-" });
    await Deno.writeTextFile(`${other}/thesis.tex`, "keep me");
    await assert.rejects(
      renderBook([{ name: "00_setup.ipynb", notebook: standIn() }], other),
      /is not empty and holds no \.metalab-book/,
    );
    assert.equal(await Deno.readTextFile(`${other}/thesis.tex`), "keep me");
    await Deno.remove(other, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

// --- in the browser -----------------------------------------------------------------------

const url = (path: string) => pathToFileURL(path).href;

/** The heading id the book gives a notebook's first `##` section. */
function firstSection(nb: Notebook): string {
  for (const cell of nb.cells) {
    if (cell.cell_type !== "markdown") continue;
    const heading = /^## +(.+)$/m.exec([cell.source].flat().join(""));
    if (heading) return slugify(heading[1]);
  }
  throw new Error("the setup notebook has no ## section to link to");
}

function describe(name: string, r: PageCheckResult): string {
  return `${name}: ${r.problems.join("; ")}`;
}

Deno.test({
  name:
    "the book renders in Chromium: plots drawn, formulas typeset, images decoded, links resolve",
  ignore: !chromium,
  // The notebook kernel runs in a child process whose pipes close when it ends.
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "metalab-book-chromium-" });
    try {
      let setup: BookNotebook = { name: "00_setup.ipynb", notebook: standIn() };
      if (jupyter.ok) {
        const path = new URL("../notebooks/00_setup.ipynb", import.meta.url).pathname;
        const executed = await executeForBook(path, { mode: "quick", outDir: `${dir}/executed` });
        assert.equal(executed.failure, undefined, executed.failure);
        console.log(`00_setup.ipynb executed in ${executed.seconds.toFixed(1)} s`);
        setup = executed;
      }
      const book = await renderBook(
        // Link to the real notebook's first section, whatever it is called now.
        [setup, { name: "99_synthetic.ipynb", notebook: synthetic(firstSection(setup.notebook)) }],
        `${dir}/book`,
        { mode: "quick" },
      );
      assert.deepEqual(book.problems, []);
      const pageUrls = book.pages.map((p) => url(p.path));

      const index = await pageCheck(book.index);
      assert.ok(index.ok, describe("index.html", index));
      const indexTargets = new Set(index.links.map((l) => l.href.split("#")[0]));
      for (const page of pageUrls) {
        assert.ok(indexTargets.has(page), `the index does not link ${page}`);
      }
      for (const page of book.pages) {
        for (const section of page.sections) {
          const target = `${url(page.path)}#${section.id}`;
          assert.ok(index.links.some((l) => l.href === target), `the outline lacks ${target}`);
        }
      }

      for (const [i, page] of book.pages.entries()) {
        const result = await pageCheck(page.path);
        assert.ok(result.ok, describe(page.href, result));
        assert.ok(result.figures.length >= 1, `${page.href}: no figure drawn`);
        assert.equal(result.figures.length, page.figures, `${page.href}: figures drawn`);
        // At least the body's formulas (the outline beside it repeats those of headings).
        assert.ok(
          result.math.formulas >= page.formulas,
          `${page.href}: ${result.math.formulas} formulas rendered, ${page.formulas} in the body`,
        );
        assert.ok(result.math.formulas > 0, `${page.href}: no formula`);
        assert.equal(result.images.decoded, page.images, `${page.href}: images decoded`);
        assert.ok(result.fonts.loaded > 0, `${page.href}: KaTeX's fonts did not load`);
        const rel = (r: string) => result.links.filter((l) => l.rel === r).map((l) => l.href);
        assert.ok(rel("index").length > 0, `${page.href}: no link to the index`);
        assert.ok(rel("index").every((h) => h === url(book.index)), `${page.href}: index link`);
        assert.deepEqual(
          [...new Set(rel("prev"))],
          i > 0 ? [pageUrls[i - 1]] : [],
          `${page.href}: prev links`,
        );
        assert.deepEqual(
          [...new Set(rel("next"))],
          i < pageUrls.length - 1 ? [pageUrls[i + 1]] : [],
          `${page.href}: next links`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "the page check fails a page with a bad formula, raw TeX, a broken image or link, an empty plot, an error",
  ignore: !chromium,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "metalab-book-broken-" });
    try {
      const book = await renderBook([{ name: "98_broken.ipynb", notebook: broken() }], dir, {});
      assert.match(book.problems.join("\n"), /98_broken\.ipynb cell 0: KaTeX could not typeset/);
      assert.match(book.problems.join("\n"), /98_broken\.ipynb cell 0: image no_such_picture\.png/);
      assert.match(
        book.problems.join("\n"),
        /98_broken\.ipynb cell 0: link no_such_notebook\.ipynb/,
      );
      const result = await pageCheck(book.pages[0].path);
      assert.equal(result.ok, false);
      const problems = result.problems.join("\n");
      for (
        const expected of [
          /formula failed to typeset: .*nosuchmacro/,
          /raw TeX left in the text: ".*\$\$ here/,
          /image did not decode: no_such_picture\.png/,
          /broken link "dead link" → .*no_such_notebook\.ipynb: no such file/,
          /broken link "a missing section" → .*98_broken\.html#no-such-section: no element with id/,
          /figure fig-1 drew no data/,
          /page error: console\.error: deliberate error/,
          /page error: error: .*no_such_picture\.png/,
        ]
      ) {
        assert.match(problems, expected);
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
