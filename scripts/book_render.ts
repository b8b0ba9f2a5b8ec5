/**
 * The course book's renderer: executed notebooks in, a static site out. `renderBook`
 * writes `index.html` (the course outline: every notebook's title and section headings)
 * and one page per notebook, `<name>.html`: markdown with formulas typeset by KaTeX at
 * build time, code cells with their outputs (text, HTML tables, embedded images, Plotly
 * figures drawn from their JSON with the shared `assets/plotly.min.js`, errors), and
 * prev / index / next links. Everything a page needs is in the folder, so the site opens
 * from disk with no network. It executes nothing: `scripts/book.ts` runs the notebooks
 * (`deno task book`), and the tests hand it notebooks they executed or made.
 *
 * ```ts
 * import { renderBook } from "./book_render.ts";
 * import { readNotebook } from "./notebooks.ts";
 * const nb = readNotebook(".executed/00_setup.ipynb");
 * const book = await renderBook([{ name: "00_setup.ipynb", notebook: nb }], "book");
 * console.log(book.index); // …/book/index.html
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { relative, resolve } from "node:path";
import { escapeHtml } from "../lib/plot/report.ts";
import { scriptJson } from "../lib/plot/plotly_source.ts";
import { PLOTLY_MIME } from "../lib/plot/show.ts";
import { atomicWrite } from "../lib/files/mod.ts";
import { ASSETS, writeAssets } from "./book_assets.ts";
import {
  type Heading,
  highlightTypeScript,
  type MarkdownContext,
  markdownContext,
  renderMarkdown,
  typeset,
} from "./book_markdown.ts";
import { cellSource, type Notebook, type NotebookCell, notebookJson } from "./notebooks.ts";

/** One notebook of the book. */
export interface BookNotebook {
  /** Its file name, e.g. `00_setup.ipynb`; the page is `00_setup.html`. */
  name: string;
  /** The executed notebook (or, when it could not run at all, its source). */
  notebook: Notebook;
  /** The folder of the source notebook, for images its markdown links (default: notebooks/). */
  sourceDir?: string;
  /** Why it did not run to the end, when it did not; the page says so at the top. */
  failure?: string;
}

/** Options of {@linkcode renderBook}. */
export interface RenderBookOptions {
  /** The course title (index heading, top bar). */
  title?: string;
  /** The mode the notebooks ran in (`trained`, `quick`, `full`); pages say when not `trained`. */
  mode?: string;
  /** The build time shown in the footer (default: now). */
  builtAt?: Date;
}

/** A page of the book. */
export interface BookPage {
  /** The notebook's file name. */
  name: string;
  /** The page's path. */
  path: string;
  /** The page's file name (relative link). */
  href: string;
  /** The notebook's title: its first markdown heading, as text (else the file name). */
  title: string;
  /** The same as HTML (formulas typeset). */
  titleHtml: string;
  /** Its section headings below the title (levels 2 and 3), for the outline. */
  sections: Heading[];
  /** Plotly figures on the page. */
  figures: number;
  /** Formulas typeset on the page. */
  formulas: number;
  /** `<img>` outputs and markdown images on the page. */
  images: number;
  /** Whether the notebook failed to run to the end (see {@linkcode BookNotebook.failure}). */
  failed: boolean;
}

/** The result of {@linkcode renderBook}. */
export interface BookResult {
  /** The book's folder (absolute). */
  outDir: string;
  /** The path of `index.html`. */
  index: string;
  /** The pages, in course order. */
  pages: BookPage[];
  /**
   * What went wrong while rendering, one line each, naming the notebook and cell: formulas
   * KaTeX could not typeset, markdown images not found, notebooks that failed.
   */
  problems: string[];
}

/** The default course title. */
export const COURSE_TITLE = "MetaLab: a course in meta-learning";

/** The file that marks a folder as a book, so that a rebuild may clear it. */
export const BOOK_MARKER = ".metalab-book";

const MODE_NOTES: Record<string, string> = {
  quick: "Quick mode: every notebook trained its quick preset in place, a check that the " +
    "pipeline runs. Its numbers are not the published ones; `deno task book` (trained mode) " +
    "shows the trained models' results.",
  full: "Full mode: every notebook trained the published schedules in place.",
};

/**
 * Renders executed notebooks into a static site in `outDir` (see the module doc) and
 * returns its pages and any rendering problems. `outDir` is created, or cleared of a
 * previous book's pages; a non-empty folder that is not a book is refused, never overwritten.
 */
export async function renderBook(
  notebooks: BookNotebook[],
  outDir: string,
  options: RenderBookOptions = {},
): Promise<BookResult> {
  if (notebooks.length === 0) throw new Error("renderBook: no notebooks to render");
  const names = notebooks.map((n) => n.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`renderBook: notebook "${duplicate}" given twice`);
  const out = resolve(outDir);
  await prepareOutDir(out);
  await writeAssets(out);
  await Deno.mkdir(`${out}/notebooks`, { recursive: true });
  const title = options.title ?? COURSE_TITLE;
  const mode = options.mode ?? "trained";
  const builtAt = options.builtAt ?? new Date();
  const pageHref = new Map(notebooks.map((n) => [n.name, htmlName(n.name)]));

  // First pass: every page's body (its outline is needed by all the others' sidebars).
  const problems: string[] = [];
  const rendered = notebooks.map((book) => {
    const page = renderNotebookBody(book, {
      outDir: out,
      sourceDir: book.sourceDir ?? new URL("../notebooks/", import.meta.url).pathname,
      pageHref,
    });
    problems.push(...page.problems);
    if (book.failure) {
      problems.push(`${book.name}: did not run to the end: ${firstLine(book.failure)}`);
    }
    return page;
  });
  const pages: BookPage[] = notebooks.map((book, i) => ({
    name: book.name,
    path: `${out}/${pageHref.get(book.name)}`,
    href: pageHref.get(book.name)!,
    title: rendered[i].title,
    titleHtml: rendered[i].titleHtml,
    sections: rendered[i].headings.filter((h) => h.level === 2 || h.level === 3),
    figures: rendered[i].figures,
    formulas: rendered[i].formulas,
    images: rendered[i].images,
    failed: book.failure !== undefined,
  }));
  const footer = `<p class="meta">Built by <code>deno task book</code> on ${
    escapeHtml(builtAt.toISOString().slice(0, 16).replace("T", " "))
  } UTC, ${escapeHtml(mode)} mode.</p>`;
  for (let i = 0; i < pages.length; i++) {
    const book = notebooks[i];
    const html = pageHtml({
      title,
      mode,
      pages,
      current: i,
      body: rendered[i].html,
      hasFigures: rendered[i].figures > 0,
      failure: book.failure,
      footer,
    });
    await atomicWrite(pages[i].path, html);
    await atomicWrite(`${out}/notebooks/${book.name}`, notebookJson(book.notebook));
  }
  const index = `${out}/index.html`;
  await atomicWrite(index, indexHtml(title, mode, pages, footer));
  await Deno.writeTextFile(`${out}/${BOOK_MARKER}`, "a course book written by `deno task book`\n");
  return { outDir: out, index, pages, problems };
}

/** `00_setup.ipynb` → `00_setup.html`. */
export function htmlName(notebookName: string): string {
  return notebookName.replace(/\.ipynb$/, "") + ".html";
}

/** Creates `out`, or clears a previous book from it; refuses a folder that is not a book. */
async function prepareOutDir(out: string): Promise<void> {
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(out)];
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (entries.length > 0 && !entries.some((e) => e.name === BOOK_MARKER)) {
    throw new Error(
      `renderBook: ${out} is not empty and holds no ${BOOK_MARKER} (not a book written ` +
        "here before); choose an empty or new folder with --out",
    );
  }
  for (const entry of entries) {
    if (entry.name.endsWith(".html") || entry.name === "assets" || entry.name === "notebooks") {
      await Deno.remove(`${out}/${entry.name}`, { recursive: true });
    }
  }
  await Deno.mkdir(out, { recursive: true });
}

function firstLine(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "")?.slice(0, 200) ?? "";
}

interface RenderContext {
  outDir: string;
  sourceDir: string;
  pageHref: Map<string, string>;
}

interface RenderedBody {
  html: string;
  title: string;
  titleHtml: string;
  headings: Heading[];
  figures: number;
  formulas: number;
  images: number;
  problems: string[];
}

/** A notebook's cells as HTML, with its headings, title and counts. */
function renderNotebookBody(book: BookNotebook, ctx: RenderContext): RenderedBody {
  const md = markdownContext(book.name);
  const state = { figures: 0, images: 0, problems: [] as string[], name: book.name };
  const headings: Heading[] = [];
  const parts: string[] = [];
  book.notebook.cells.forEach((cell, index) => {
    md.where = `${book.name} cell ${index}`;
    const tags = (cell.metadata?.tags ?? []) as string[];
    if (tags.includes("remove-cell")) return;
    if (cell.cell_type === "markdown") {
      const rendered = renderMarkdown(cellSource(cell), md);
      headings.push(...rendered.headings);
      const html = postProcessHtml(rendered.html, cell, ctx, state, md.where);
      parts.push(`<div class="cell markdown">\n${html}\n</div>`);
    } else if (cell.cell_type === "code") {
      parts.push(codeCellHtml(cell, tags, md, ctx, state));
    }
  });
  const first = headings.find((h) => h.level === 1) ?? headings[0];
  return {
    html: parts.join("\n"),
    title: first?.text ?? book.name.replace(/\.ipynb$/, ""),
    titleHtml: first?.html ?? escapeHtml(book.name.replace(/\.ipynb$/, "")),
    headings,
    figures: state.figures,
    formulas: md.formulas,
    images: state.images,
    problems: [...md.problems, ...state.problems],
  };
}

interface PageState {
  figures: number;
  images: number;
  problems: string[];
  name: string;
}

const IMAGE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
};

/**
 * Markdown HTML made to work inside the book: images (cell attachments and files beside
 * the notebook) embedded as data URLs, links to other notebooks pointed at their pages,
 * other relative links pointed at the file from the book's folder.
 */
function postProcessHtml(
  html: string,
  cell: NotebookCell,
  ctx: RenderContext,
  state: PageState,
  where: string,
): string {
  const attachments = ((cell as unknown as { attachments?: Record<string, Record<string, string>> })
    .attachments) ?? {};
  const withImages = html.replace(
    /<img([^>]*?)\ssrc="([^"]*)"/g,
    (whole, pre: string, src: string) => {
      state.images++;
      if (/^(data:|https?:)/.test(src)) return whole;
      const decoded = decodeEntities(src);
      if (decoded.startsWith("attachment:")) {
        const bundle = attachments[decodeURIComponent(decoded.slice("attachment:".length))];
        const mime = bundle && Object.keys(bundle).find((m) => m.startsWith("image/"));
        if (!mime) {
          state.problems.push(`${where}: image ${decoded} is not among the cell's attachments`);
          return whole;
        }
        return `<img${pre} src="data:${mime};base64,${String(bundle[mime]).replace(/\s/g, "")}"`;
      }
      const path = resolve(ctx.sourceDir, decodeURIComponent(decoded.split(/[?#]/)[0]));
      const mime = IMAGE_TYPES[path.split(".").pop()!.toLowerCase()];
      try {
        const bytes = Deno.readFileSync(path);
        if (!mime) throw new Error("not a png, jpeg, gif, webp or svg file");
        return `<img${pre} src="data:${mime};base64,${Buffer.from(bytes).toString("base64")}"`;
      } catch (e) {
        state.problems.push(`${where}: image ${decoded} (${path}): ${(e as Error).message}`);
        return whole;
      }
    },
  );
  return withImages.replace(/<a([^>]*?)\shref="([^"]*)"/g, (whole, pre: string, href: string) => {
    if (/^([a-z][a-z0-9+.-]*:|#)/i.test(href)) return whole;
    const decoded = decodeEntities(href);
    const [path, fragment] = decoded.split("#", 2);
    const page = ctx.pageHref.get(path.split("/").pop()!);
    if (path.endsWith(".ipynb") && page) {
      return `<a${pre} href="${escapeHtml(page + (fragment ? `#${fragment}` : ""))}"`;
    }
    const absolute = resolve(ctx.sourceDir, path);
    try {
      Deno.statSync(absolute);
    } catch {
      state.problems.push(`${where}: link ${decoded} (${absolute}): no such file`);
    }
    const target = relative(ctx.outDir, absolute);
    return `<a${pre} href="${escapeHtml(target + (fragment ? `#${fragment}` : ""))}"`;
  });
}

function decodeEntities(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** Jupyter keeps multi-line strings as arrays of lines. */
function joined(value: unknown): string {
  return Array.isArray(value) ? value.join("") : String(value ?? "");
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Text without terminal colour codes, HTML-escaped. */
function plainText(text: string): string {
  return escapeHtml(text.replace(ANSI, ""));
}

/**
 * A code cell: its source (highlighted; folded with tag `hide-input`, left out with
 * `remove-input`) and its outputs (left out with `remove-output`).
 */
function codeCellHtml(
  cell: NotebookCell,
  tags: string[],
  md: MarkdownContext,
  ctx: RenderContext,
  state: PageState,
): string {
  const source = cellSource(cell);
  let input = "";
  if (!tags.includes("remove-input") && source.trim() !== "") {
    const pre = `<pre class="source"><code class="language-typescript">${
      highlightTypeScript(source)
    }</code></pre>`;
    input = tags.includes("hide-input") ? `<details><summary>code</summary>${pre}</details>` : pre;
  }
  const outputs = tags.includes("remove-output")
    ? []
    : (cell.outputs ?? []).map((o) => outputHtml(o, md, ctx, state)).filter((h) => h !== "");
  const outputsHtml = outputs.length > 0
    ? `\n<div class="outputs">\n${outputs.join("\n")}\n</div>`
    : "";
  return `<div class="cell code">\n${input}${outputsHtml}\n</div>`;
}

/**
 * One output as HTML. For rich outputs the richest form the book can show offline wins:
 * Plotly JSON (drawn with the shared plotly.js, not the output's own HTML fallback, which
 * would carry plotly.js again), then images, SVG, HTML, markdown, LaTeX, JSON, plain text.
 * An HTML output that only loads plotly.js is left out: the book loads it once per page.
 */
function outputHtml(
  output: Record<string, unknown>,
  md: MarkdownContext,
  ctx: RenderContext,
  state: PageState,
): string {
  const type = output.output_type;
  if (type === "stream") {
    const name = output.name === "stderr" ? "stderr" : "stdout";
    return `<div class="output stream ${name}"><pre>${plainText(joined(output.text))}</pre></div>`;
  }
  if (type === "error") {
    const traceback = joined(
      Array.isArray(output.traceback) ? (output.traceback as string[]).join("\n") : "",
    ).replace(ANSI, "");
    const head = `${output.ename ?? "Error"}: ${output.evalue ?? ""}`;
    const text = traceback.includes(String(output.evalue ?? "")) && traceback.trim() !== ""
      ? traceback
      : `${head}\n${traceback}`.trim();
    return `<div class="output error"><pre>${escapeHtml(text)}</pre></div>`;
  }
  if (type !== "display_data" && type !== "execute_result") return "";
  const data = (output.data ?? {}) as Record<string, unknown>;
  const metadata = (output.metadata ?? {}) as Record<string, Record<string, unknown>>;
  if (data[PLOTLY_MIME]) {
    const fig = data[PLOTLY_MIME] as { data?: unknown[]; layout?: unknown; config?: unknown };
    const id = `fig-${++state.figures}`;
    const spec = { data: fig.data ?? [], layout: fig.layout ?? {}, config: fig.config ?? {} };
    return `<div class="output plot"><div id="${id}" class="metalab-plot" data-spec="${id}-spec"></div>` +
      `<script type="application/json" id="${id}-spec">${scriptJson(spec)}</script></div>`;
  }
  for (const mime of ["image/png", "image/jpeg", "image/gif", "image/webp"]) {
    if (data[mime] === undefined) continue;
    state.images++;
    const size = metadata[mime] ?? {};
    const dims = ["width", "height"].filter((k) => typeof size[k] === "number")
      .map((k) => ` ${k}="${size[k]}"`).join("");
    const alt = escapeHtml(joined(data["text/plain"] ?? "output image").slice(0, 120));
    return `<div class="output image"><img src="data:${mime};base64,${
      joined(data[mime]).replace(/\s/g, "")
    }" alt="${alt}"${dims}></div>`;
  }
  if (data["image/svg+xml"] !== undefined) {
    return `<div class="output image svg">${joined(data["image/svg+xml"])}</div>`;
  }
  if (data["text/html"] !== undefined) {
    const html = joined(data["text/html"]);
    if (onlyLoadsPlotly(html)) return "";
    return `<div class="output html">${html}</div>`;
  }
  if (data["text/markdown"] !== undefined) {
    const rendered = renderMarkdown(joined(data["text/markdown"]), md);
    return `<div class="output markdown">${
      postProcessHtml(
        rendered.html,
        {
          cell_type: "markdown",
          source: "",
          metadata: {},
        },
        ctx,
        state,
        md.where,
      )
    }</div>`;
  }
  if (data["text/latex"] !== undefined) {
    const tex = joined(data["text/latex"]).trim().replace(/^\$\$?([\s\S]*?)\$?\$$/, "$1");
    return `<div class="output latex">${typeset(tex, true, md)}</div>`;
  }
  if (data["application/json"] !== undefined) {
    return `<div class="output text"><pre>${
      escapeHtml(JSON.stringify(data["application/json"], null, 2))
    }</pre></div>`;
  }
  if (data["text/plain"] !== undefined) {
    return `<div class="output text"><pre>${plainText(joined(data["text/plain"]))}</pre></div>`;
  }
  return "";
}

/** Whether an HTML output is nothing but scripts, one of them plotly.js itself. */
function onlyLoadsPlotly(html: string): boolean {
  const rest = html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, "").trim();
  return rest === "" && /plotly\.js v\d/.test(html);
}

interface PageParts {
  title: string;
  mode: string;
  pages: BookPage[];
  current: number;
  body: string;
  hasFigures: boolean;
  failure?: string;
  footer: string;
}

function head(title: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="MetaLab deno task book">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${ASSETS.katex}">
<link rel="stylesheet" href="${ASSETS.css}">
</head>
<body>`;
}

function scripts(hasFigures: boolean): string {
  return `${
    hasFigures ? `<script src="${ASSETS.plotly}"></script>\n` : ""
  }<script src="${ASSETS.js}"></script>`;
}

function topbar(title: string, prev?: BookPage, next?: BookPage): string {
  return `<header class="topbar"><a class="brand" rel="index" href="index.html">${
    escapeHtml(title)
  }</a>${pager(prev, next, false)}</header>`;
}

function pager(prev: BookPage | undefined, next: BookPage | undefined, bottom: boolean): string {
  const link = (page: BookPage | undefined, rel: "prev" | "next") =>
    page
      ? `<a rel="${rel}" href="${page.href}" title="${escapeHtml(page.title)}">${
        rel === "prev" ? "← " : ""
      }${bottom ? escapeHtml(page.title) : rel === "prev" ? "Previous" : "Next"}${
        rel === "next" ? " →" : ""
      }</a>`
      : "<span></span>";
  const middle = bottom ? `<a rel="index" href="index.html">Contents</a>` : "";
  return `<nav class="pager${bottom ? " bottom" : ""}">${link(prev, "prev")}${middle}${
    link(next, "next")
  }</nav>`;
}

function sidebar(pages: BookPage[], current: number): string {
  const items = pages.map((page, i) => {
    const sections = i === current && page.sections.length > 0
      ? `<ul>${
        page.sections.filter((s) => s.level === 2).map((s) =>
          `<li><a href="#${s.id}">${s.html}</a></li>`
        ).join("")
      }</ul>`
      : "";
    return `<li${
      i === current ? ' class="current"' : ""
    }><a href="${page.href}">${page.titleHtml}</a>${sections}</li>`;
  }).join("\n");
  return `<nav class="sidebar" aria-label="course outline"><a class="index-link" rel="index" href="index.html">Contents</a><ol>\n${items}\n</ol></nav>`;
}

function modeBanner(mode: string): string {
  const note = MODE_NOTES[mode];
  return note
    ? `<div class="banner mode">${escapeHtml(note).replace(/`([^`]+)`/g, "<code>$1</code>")}</div>`
    : "";
}

function pageHtml(parts: PageParts): string {
  const { pages, current } = parts;
  const page = pages[current];
  const prev = pages[current - 1];
  const next = pages[current + 1];
  const failure = parts.failure
    ? `<div class="banner failed">This notebook did not run to the end when the book was built:\n${
      escapeHtml(parts.failure.replace(ANSI, "").slice(0, 4000))
    }</div>`
    : "";
  return `${head(`${page.title} — ${parts.title}`)}
${topbar(parts.title, prev, next)}
<div class="layout">
${sidebar(pages, current)}
<main class="content">
${modeBanner(parts.mode)}${failure}
${parts.body}
<p class="meta">The executed notebook: <a href="notebooks/${
    encodeURIComponent(page.name)
  }" download>${escapeHtml(page.name)}</a>.</p>
${pager(prev, next, true)}
${parts.footer}
</main>
</div>
${scripts(parts.hasFigures)}
</body>
</html>
`;
}

function indexHtml(title: string, mode: string, pages: BookPage[], footer: string): string {
  const items = pages.map((page) => {
    const sections = page.sections.length > 0 ? outlineList(page) : "";
    const failed = page.failed ? ' <span class="katex-error">(did not run to the end)</span>' : "";
    return `<li><a href="${page.href}">${page.titleHtml}</a>${failed}${sections}</li>`;
  }).join("\n");
  return `${head(title)}
<header class="topbar"><a class="brand" rel="index" href="index.html">${escapeHtml(title)}</a>${
    pager(undefined, pages[0], false)
  }</header>
<div class="layout">
<main class="content">
<h1 id="contents">${escapeHtml(title)}</h1>
${modeBanner(mode)}
<p>A course in meta-learning, one executed notebook per chapter: motivation, the math, the code
that implements it with MetaLab's <code>lib/</code>, an experiment, its plots, exercises. Every
page opens offline; the figures are interactive.</p>
<h2 id="outline">Contents</h2>
<ol class="contents">
${items}
</ol>
${footer}
</main>
</div>
${scripts(false)}
</body>
</html>
`;
}

/** A page's sections as nested lists: level-3 headings under the level-2 one before them. */
function outlineList(page: BookPage): string {
  let html = "<ul>";
  let open = false;
  for (const s of page.sections) {
    const link = `<a href="${page.href}#${s.id}">${s.html}</a>`;
    if (s.level === 2) {
      if (open) html += "</ul></li>";
      html += `<li>${link}<ul>`;
      open = true;
    } else {
      // A level-3 heading before any level-2 one sits at the top level.
      html += `<li>${link}</li>`;
    }
  }
  if (open) html += "</ul></li>";
  return (html + "</ul>").replace(/<ul><\/ul>/g, "");
}
