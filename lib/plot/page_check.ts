/**
 * Checks that a whole HTML page rendered, not only its plots: the Plotly figures (through
 * {@linkcode renderCheck}, the one browser driver), the formulas (KaTeX or MathJax
 * output present, no KaTeX error, no raw TeX left in the text), the images (decoded,
 * `naturalWidth > 0`), the web fonts, and where its links point. Used by the course book's
 * test (`tests/book_test.ts`) and `deno task book --check`.
 *
 * How: the page is copied with a `<base href>` of its own address, so that what it loads
 * from beside it (a site's shared scripts and styles) and its links resolve exactly as when
 * it is opened in place, plus a probe that waits for the page's `data-plots-ready` signal,
 * measures the page and reports through the `console.error` channel that `renderCheck`
 * already captures. This module takes that report back out of the errors.
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { renderCheck, type RenderCheckOptions, type RenderedFigure } from "./render_check.ts";

/** One link on the page, as the browser resolved it. */
export interface PageLink {
  /** The resolved address (`a.href`). */
  href: string;
  /** Its `rel` attribute (`prev`, `next`, `index`, …), or "". */
  rel: string;
  /** Its text, trimmed and shortened. */
  text: string;
}

/** The result of {@linkcode pageCheck}. */
export interface PageCheckResult {
  /** Plotly figure containers on the page (`.metalab-plot`). */
  expectedFigures: number;
  /** What each Plotly figure drew (see {@linkcode renderCheck}). */
  figures: RenderedFigure[];
  /** Formulas. */
  math: {
    /** Rendered formulas: `.katex` plus MathJax `mjx-container` elements. */
    formulas: number;
    /** KaTeX error elements (`.katex-error`), by their text. */
    errors: string[];
    /** KaTeX formulas whose font is not KaTeX's (the stylesheet or its fonts did not load). */
    unstyled: number;
    /** Raw TeX left in the page's text (`$$`, `$…$`, `\frac`-like commands), with context. */
    rawTex: string[];
  };
  /** `<img>` elements. */
  images: {
    /** How many there are. */
    total: number;
    /** How many decoded to a picture (`complete` and `naturalWidth > 0`). */
    decoded: number;
    /** The sources (shortened) of those that did not. */
    broken: string[];
  };
  /** Web fonts the page used: how many loaded, and the families that failed. */
  fonts: { loaded: number; failed: string[] };
  /** Every link on the page. */
  links: PageLink[];
  /** `file:` links whose file is missing, or whose `#fragment` names no id in it. */
  brokenLinks: string[];
  /** Uncaught errors, failed resource loads and `console.error` calls. */
  errors: string[];
  /** Whether the page signalled `data-plots-ready` within the render time. */
  ready: boolean;
  /** Everything wrong, one line each; empty when the page rendered completely. */
  problems: string[];
  /** True when `problems` is empty. */
  ok: boolean;
}

const REPORT_PREFIX = "metalab-page-check:";

// Runs before renderCheck's own probe (it is inserted first) and reports as soon as the
// page says it is ready, so its report is captured before renderCheck summarises (200 ms
// after the same signal).
const PAGE_PROBE = `<script>(function () {
  var SKIP = { SCRIPT: 1, STYLE: 1, PRE: 1, CODE: 1, TEXTAREA: 1, svg: 1, SVG: 1, NOSCRIPT: 1 };
  function skipped(el) {
    for (; el && el !== document.body; el = el.parentElement) {
      if (SKIP[el.tagName]) return true;
      var c = el.classList;
      if (c && (c.contains("katex") || c.contains("katex-display") || c.contains("katex-error") ||
        c.contains("js-plotly-plot"))) return true;
      if (el.tagName === "MJX-CONTAINER") return true;
    }
    return false;
  }
  function rawTex() {
    var found = [];
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    // What extractMath-like rules would read as math (Pandoc's: "$5 and $10" is not).
    var pattern = /\\$\\$|\\$[^$\\s](?:[^$]*[^$\\s])?\\$(?!\\d)|\\\\(?:frac|begin|end|sum|mathbb|mathcal|theta|alpha|nabla|left|right|[a-zA-Z]+\\{)/;
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var text = node.nodeValue;
      var m = pattern.exec(text);
      if (m && !skipped(node.parentElement)) {
        found.push(text.slice(Math.max(0, m.index - 30), m.index + 50).replace(/\\s+/g, " "));
        if (found.length >= 10) break;
      }
    }
    return found;
  }
  function short(s) { s = String(s || ""); return s.length > 100 ? s.slice(0, 100) + "…" : s; }
  var reported = false;
  function report(ready) {
    if (reported) return;
    reported = true;
    var katex = document.querySelectorAll(".katex");
    var unstyled = Array.prototype.filter.call(katex, function (el) {
      return getComputedStyle(el).fontFamily.indexOf("KaTeX_Main") < 0;
    }).length;
    var images = Array.prototype.slice.call(document.images);
    var fonts = [];
    if (document.fonts) document.fonts.forEach(function (f) { fonts.push(f); });
    var links = Array.prototype.map.call(document.querySelectorAll("a[href]"), function (a) {
      return { href: a.href, rel: a.getAttribute("rel") || "", text: short(a.textContent.trim()) };
    });
    console.error(${JSON.stringify(REPORT_PREFIX)} + JSON.stringify({
      ready: ready,
      math: {
        formulas: katex.length + document.querySelectorAll("mjx-container").length,
        errors: Array.prototype.map.call(document.querySelectorAll(".katex-error"), function (e) {
          return short(e.getAttribute("title") || e.textContent);
        }),
        unstyled: unstyled,
        rawTex: rawTex()
      },
      images: {
        total: images.length,
        decoded: images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
        broken: images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
          .map(function (i) { return short(i.getAttribute("src")); })
      },
      fonts: {
        loaded: fonts.filter(function (f) { return f.status === "loaded"; }).length,
        failed: fonts.filter(function (f) { return f.status === "error"; })
          .map(function (f) { return f.family; })
      },
      links: links
    }));
  }
  function isReady() { return document.body && document.body.hasAttribute("data-plots-ready"); }
  if (isReady()) { report(true); return; }
  new MutationObserver(function () { if (isReady()) report(true); })
    .observe(document.body, { attributes: true, attributeFilter: ["data-plots-ready"] });
  // renderCheck gives up waiting after 10 s and summarises 200 ms later.
  setTimeout(function () { report(isReady()); }, 9800);
})();</script>`;

/** What the probe reports (the part of {@linkcode PageCheckResult} measured in the page). */
type ProbeReport = Pick<PageCheckResult, "ready" | "math" | "images" | "fonts" | "links">;

/**
 * Opens the HTML file at `htmlPath` in headless Chromium, offline, as if opened in place
 * (files beside it load, links resolve), and reports whether everything on it rendered:
 * every Plotly figure drew data, every formula was typeset with its fonts and no raw TeX is
 * left, every image decoded, every `file:` link resolves, and nothing logged an error.
 * The page should set `data-plots-ready` on `<body>` once it is drawn (else the check waits
 * 10 s). Throws when no Chromium is installed (see `findChromium`).
 *
 * ```ts
 * import { pageCheck } from "../lib/plot/mod.ts";
 * const result = await pageCheck("book/00_setup.html");
 * if (!result.ok) console.log(result.problems.join("\n"));
 * ```
 */
export async function pageCheck(
  htmlPath: string,
  options: RenderCheckOptions = {},
): Promise<PageCheckResult> {
  const absolute = htmlPath.startsWith("/") ? htmlPath : `${Deno.cwd()}/${htmlPath}`;
  const pageUrl = pathToFileURL(absolute).href;
  const html = await Deno.readTextFile(absolute);
  const base = `<base href="${pageUrl.replace(/"/g, "%22")}">`;
  const withBase = /<head[^>]*>/i.test(html)
    ? html.replace(/<head[^>]*>/i, (m) => m + base)
    : base + html;
  const bodyEnd = withBase.lastIndexOf("</body>");
  const probed = bodyEnd >= 0
    ? withBase.slice(0, bodyEnd) + PAGE_PROBE + withBase.slice(bodyEnd)
    : withBase + PAGE_PROBE;
  const dir = await Deno.makeTempDir({ prefix: "metalab-page-check-" });
  try {
    const copy = `${dir}/page.html`;
    await Deno.writeTextFile(copy, probed);
    const render = await renderCheck(copy, options);
    let report: ProbeReport | undefined;
    const errors: string[] = [];
    for (const e of render.errors) {
      const at = e.indexOf(REPORT_PREFIX);
      if (at >= 0 && report === undefined) {
        report = JSON.parse(e.slice(at + REPORT_PREFIX.length)) as ProbeReport;
      } else errors.push(e);
    }
    if (!report) {
      throw new Error(
        `pageCheck: the page probe sent no report for ${htmlPath} (its scripts never ran); ` +
          `page errors: ${JSON.stringify(errors)}`,
      );
    }
    const brokenLinks = await brokenFileLinks(report.links);
    const problems = describeProblems(render.expected, render.figures, report, brokenLinks, errors);
    return {
      expectedFigures: render.expected,
      figures: render.figures,
      ...report,
      brokenLinks,
      errors,
      problems,
      ok: problems.length === 0,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The `file:` links whose file is missing or whose fragment names no element id there. */
async function brokenFileLinks(links: PageLink[]): Promise<string[]> {
  const broken: string[] = [];
  const texts = new Map<string, string | null>();
  for (const link of links) {
    if (!link.href.startsWith("file:")) continue;
    const url = new URL(link.href);
    const fragment = decodeURIComponent(url.hash.slice(1));
    url.hash = "";
    const path = fileURLToPath(url);
    if (!texts.has(path)) {
      texts.set(path, await Deno.readTextFile(path).catch(() => null));
    }
    const text = texts.get(path);
    const label = `"${link.text}" → ${link.href}`;
    if (text === null) broken.push(`${label}: no such file`);
    else if (fragment && !hasId(text!, fragment)) {
      broken.push(`${label}: no element with id "${fragment}" there`);
    }
  }
  return broken;
}

function hasId(html: string, id: string): boolean {
  const quoted = id.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  return html.includes(`id="${quoted}"`) || html.includes(`id='${id}'`);
}

function describeProblems(
  expected: number,
  figures: RenderedFigure[],
  report: ProbeReport,
  brokenLinks: string[],
  errors: string[],
): string[] {
  const problems: string[] = [];
  if (!report.ready) {
    problems.push("the page never set data-plots-ready (it did not finish drawing)");
  }
  if (figures.length < expected) {
    problems.push(`${expected} figure container(s) but only ${figures.length} Plotly figure(s)`);
  }
  for (const f of figures) {
    if (f.svgs === 0 || f.marks === 0) {
      problems.push(`figure ${f.id} drew no data (${f.svgs} svg, ${f.marks} marks)`);
    }
  }
  for (const e of report.math.errors) problems.push(`formula failed to typeset: ${e}`);
  if (report.math.unstyled > 0) {
    problems.push(
      `${report.math.unstyled} formula(s) without KaTeX's fonts (katex.css not applied)`,
    );
  }
  for (const raw of report.math.rawTex) problems.push(`raw TeX left in the text: "${raw}"`);
  for (const src of report.images.broken) problems.push(`image did not decode: ${src}`);
  for (const family of report.fonts.failed) problems.push(`font failed to load: ${family}`);
  for (const link of brokenLinks) problems.push(`broken link ${link}`);
  for (const e of errors) problems.push(`page error: ${e}`);
  return problems;
}
