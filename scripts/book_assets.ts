/**
 * The course book's shared files, written once into `<book>/assets/`: plotly.js and
 * KaTeX's stylesheet (both from their npm packages, KaTeX's fonts inlined as data URLs so
 * that they load from `file://` too), the book's stylesheet, and the script that draws a
 * page's Plotly figures and then marks the page `data-plots-ready`.
 * @module
 */
import { Buffer } from "node:buffer";
// Importing the manifest makes Deno install the package into node_modules/ (as
// lib/plot/plotly_source.ts does for plotly.js) and gives its version.
import katexPackage from "katex/package.json" with { type: "json" };
import { plotlySource } from "../lib/plot/plotly_source.ts";

/** The KaTeX version whose stylesheet and fonts the book carries. */
export const KATEX_VERSION: string = katexPackage.version;

const KATEX_DIST = new URL("../node_modules/katex/dist/", import.meta.url);

/** The assets' paths, relative to the book's folder (pages link them so). */
export const ASSETS = {
  plotly: "assets/plotly.min.js",
  katex: "assets/katex.css",
  css: "assets/book.css",
  js: "assets/book.js",
} as const;

/**
 * KaTeX's minified stylesheet with every `@font-face` source replaced by its woff2 font as
 * a data URL (about 400 kB in all): a page opened from disk then needs no font file
 * beside it. Throws, naming the file, when the package is not installed or a font is missing.
 */
export function katexCss(): string {
  let css: string;
  try {
    css = Deno.readTextFileSync(new URL("katex.min.css", KATEX_DIST));
  } catch (e) {
    throw new Error(
      `KaTeX's stylesheet not found in ${KATEX_DIST.pathname} (${(e as Error).message}); ` +
        "run `deno install` in the repository root to install the npm dependencies",
    );
  }
  const inlined = css.replace(
    /src:url\(fonts\/([\w-]+)\.woff2\) format\("woff2"\)(?:,url\([^)]*\) format\("[^"]*"\))*/g,
    (_, font: string) => {
      const bytes = Deno.readFileSync(new URL(`fonts/${font}.woff2`, KATEX_DIST));
      return `src:url(data:font/woff2;base64,${
        Buffer.from(bytes).toString("base64")
      }) format("woff2")`;
    },
  );
  const left = inlined.match(/url\(fonts\/[^)]*\)/);
  if (left) {
    throw new Error(
      `katex.min.css ${KATEX_VERSION}: a font source was not inlined (${left[0]}); ` +
        "its @font-face format changed, update the pattern in scripts/book_assets.ts",
    );
  }
  return inlined;
}

/** Writes the shared assets into `<outDir>/assets/`. */
export async function writeAssets(outDir: string): Promise<void> {
  await Deno.mkdir(`${outDir}/assets`, { recursive: true });
  await Deno.writeTextFile(`${outDir}/${ASSETS.plotly}`, plotlySource());
  await Deno.writeTextFile(`${outDir}/${ASSETS.katex}`, katexCss());
  await Deno.writeTextFile(`${outDir}/${ASSETS.css}`, BOOK_CSS);
  await Deno.writeTextFile(`${outDir}/${ASSETS.js}`, BOOK_JS);
}

/**
 * Draws every `.metalab-plot` from the JSON in the `<script type="application/json">` its
 * `data-spec` names; waits for the figures, the images and the fonts; then sets
 * `data-plots-ready` on `<body>` (what `renderCheck` and `pageCheck` wait for). A figure
 * that cannot be drawn says so in its place and on the console.
 */
export const BOOK_JS = `(function () {
  "use strict";
  var pending = [];
  var plots = document.querySelectorAll(".metalab-plot[data-spec]");
  function fail(el, message) {
    el.textContent = message;
    el.classList.add("plot-failed");
    console.error(message);
  }
  Array.prototype.forEach.call(plots, function (el) {
    if (!window.Plotly) { fail(el, "plotly.js did not load (assets/plotly.min.js is missing)"); return; }
    try {
      var spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
      var config = Object.assign({ displaylogo: false }, spec.config || {}, { responsive: true });
      pending.push(window.Plotly.newPlot(el, spec.data, spec.layout || {}, config)
        .catch(function (e) { fail(el, "figure " + el.id + " failed to draw: " + e); }));
    } catch (e) {
      fail(el, "figure " + el.id + " failed to draw: " + e);
    }
  });
  Array.prototype.forEach.call(document.images, function (img) {
    if (img.decode) pending.push(img.decode().catch(function () {}));
  });
  if (document.fonts && document.fonts.ready) pending.push(document.fonts.ready);
  Promise.all(pending).then(function () {
    document.body.setAttribute("data-plots-ready", String(plots.length));
  });
})();
`;

/** The book's stylesheet: one readable column, the outline beside it, styled code. */
export const BOOK_CSS = `:root {
  --text: #1f2328; --muted: #59636e; --accent: #1565c0; --rule: #d8dee4;
  --code-bg: #f6f8fa; --out-bg: #ffffff; --err-bg: #fff1f0; --err: #a40e26;
  --sidebar: 17rem; --column: 52rem;
}
* { box-sizing: border-box; }
html { scroll-padding-top: 4rem; }
body {
  margin: 0; color: var(--text); background: #fff;
  font: 17px/1.65 "Source Serif 4", "Iowan Old Style", Georgia, Cambria, "Times New Roman", serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.topbar {
  position: sticky; top: 0; z-index: 10; display: flex; align-items: center; gap: 1rem;
  padding: 0.55rem 1.25rem; background: #0d47a1; color: #fff;
  font: 500 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
.topbar a { color: #fff; }
.topbar .brand { font-weight: 700; font-size: 1.05rem; margin-right: auto; }
.pager { display: flex; gap: 1.25rem; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 15px; }
.layout { display: flex; align-items: flex-start; }
.sidebar {
  position: sticky; top: 2.75rem; flex: 0 0 var(--sidebar); max-height: calc(100vh - 2.75rem);
  overflow-y: auto; padding: 1.25rem 1rem 2rem 1.25rem; border-right: 1px solid var(--rule);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
.sidebar ol, .sidebar ul { list-style: none; margin: 0; padding: 0; }
.sidebar li { margin: 0.2rem 0; }
.sidebar ul { padding-left: 0.9rem; border-left: 2px solid var(--rule); margin: 0.3rem 0 0.6rem; }
.sidebar .current > a { font-weight: 700; color: var(--text); }
.sidebar .index-link { display: block; margin-bottom: 0.8rem; font-weight: 600; }
main.content { flex: 1 1 auto; min-width: 0; max-width: var(--column); margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1, h2, h3, h4 { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.3; }
h1 { font-size: 2rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.5rem; margin-top: 2.5rem; padding-bottom: 0.25rem; border-bottom: 1px solid var(--rule); }
h3 { font-size: 1.2rem; margin-top: 1.8rem; }
.anchor { visibility: hidden; margin-left: 0.4rem; color: var(--muted); font-weight: 400; }
h1:hover .anchor, h2:hover .anchor, h3:hover .anchor, h4:hover .anchor { visibility: visible; }
.katex { font-size: 1.08em; }
.katex-display { overflow-x: auto; overflow-y: hidden; padding: 0.2rem 0; }
.katex-error { color: var(--err); background: var(--err-bg); }
code, pre { font: 14px/1.5 "JetBrains Mono", "Fira Code", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
:not(pre) > code { background: var(--code-bg); padding: 0.1em 0.35em; border-radius: 4px; font-size: 0.88em; }
pre { margin: 0; padding: 0.75rem 1rem; overflow-x: auto; white-space: pre; }
.cell { margin: 1.1rem 0; }
.cell .source { background: var(--code-bg); border: 1px solid var(--rule); border-left: 4px solid var(--accent); border-radius: 4px; }
.cell details > summary { cursor: pointer; color: var(--muted); font: 14px system-ui, sans-serif; }
.source .k { color: #8250df; } .source .s { color: #0a3069; } .source .n { color: #0550ae; }
.source .c { color: #6e7781; font-style: italic; }
.outputs { border-left: 4px solid var(--rule); margin-top: 0.4rem; padding-left: 0.5rem; }
.output { margin: 0.3rem 0; overflow-x: auto; }
.output.stream pre, .output.text pre { background: var(--out-bg); padding: 0.3rem 0.5rem; white-space: pre-wrap; }
.output.stream.stderr pre { background: #fffbe6; }
.output.error pre { background: var(--err-bg); color: var(--err); white-space: pre-wrap; }
.output.image img { max-width: 100%; height: auto; }
.output.html table, main.content table { border-collapse: collapse; margin: 0.6rem 0; font: 14px/1.45 system-ui, sans-serif; }
.output.html th, .output.html td, main.content th, main.content td { border: 1px solid var(--rule); padding: 0.3rem 0.65rem; text-align: left; }
.output.html th, main.content th { background: #eef2f8; }
.metalab-plot { width: 100%; min-height: 420px; }
.plot-failed { color: var(--err); background: var(--err-bg); padding: 1rem; min-height: 0; }
.banner { padding: 0.7rem 1rem; border-radius: 6px; margin: 0.5rem 0 1.2rem; font: 15px/1.5 system-ui, sans-serif; }
.banner.mode { background: #fff8e1; border: 1px solid #f3d37a; }
.banner.failed { background: var(--err-bg); border: 1px solid #f5b3b3; color: var(--err); white-space: pre-wrap; }
.pager.bottom { justify-content: space-between; margin-top: 3rem; padding-top: 1rem; border-top: 1px solid var(--rule); }
.pager.bottom a { font-weight: 600; }
.meta { color: var(--muted); font: 14px/1.5 system-ui, sans-serif; }
.contents > li { margin: 1.1rem 0; }
.contents > li > a { font: 600 1.15rem/1.4 system-ui, sans-serif; }
.contents ul { margin: 0.3rem 0; padding-left: 1.2rem; font: 15px/1.6 system-ui, sans-serif; }
blockquote { margin: 1rem 0; padding: 0.2rem 1rem; border-left: 4px solid var(--rule); color: var(--muted); }
img { max-width: 100%; }
@media (max-width: 900px) {
  .sidebar { display: none; }
  main.content { padding: 1rem; }
}
@media print {
  .topbar, .sidebar, .pager { display: none; }
}
`;
