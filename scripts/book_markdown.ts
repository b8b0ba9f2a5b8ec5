/**
 * Markdown with math for the course book: notebook markdown (`$…$`, `$$…$$`, `\(…\)`,
 * `\[…\]` and bare `\begin{align}…\end{align}` LaTeX, as Jupyter reads it) rendered to HTML
 * with `marked`, and every formula typeset at build time with KaTeX's `renderToString`,
 * so the pages need only `katex.css` and its fonts, no script and no network. Also a
 * small TypeScript highlighter for code cells.
 *
 * ```ts
 * import { renderMarkdown } from "./book_markdown.ts";
 * const { html, headings } = renderMarkdown("## 1. Loss\nThe loss is $\\frac{1}{n}\\sum_i \\ell_i$.");
 * ```
 * @module
 */
import { Marked } from "marked";
import katex, { type KatexOptions } from "katex";
import { escapeHtml } from "../lib/plot/report.ts";

/** A formula found in markdown. */
export interface MathSpan {
  /** The TeX source, without its delimiters (an environment keeps its `\begin…\end`). */
  tex: string;
  /** Display (block) math: `$$…$$`, `\[…\]` or an environment; else inline. */
  display: boolean;
}

/** A heading of rendered markdown. */
export interface Heading {
  /** 1 for `#`, 2 for `##`, … */
  level: number;
  /** The id given to the heading element (unique within one {@linkcode MarkdownContext}). */
  id: string;
  /** Its content as HTML (formulas typeset). */
  html: string;
  /** Its content as plain text (formulas as their TeX), for titles. */
  text: string;
}

/** State shared by all the markdown of one page. */
export interface MarkdownContext {
  /** Heading ids already used on the page. */
  ids: Map<string, number>;
  /** TeX macros defined so far on the page (`\def`, `\newcommand` carry over, as in Jupyter). */
  macros: NonNullable<KatexOptions["macros"]>;
  /** Formulas typeset so far. */
  formulas: number;
  /** Formulas KaTeX could not typeset: `where: message`. */
  problems: string[];
  /** Names the current place in messages (e.g. `00_setup.ipynb cell 3`). */
  where: string;
}

/** A fresh {@linkcode MarkdownContext} for one page. */
export function markdownContext(where = ""): MarkdownContext {
  return { ids: new Map(), macros: {}, formulas: 0, problems: [], where };
}

const PLACEHOLDER = (i: number) => `MLMATH${i}END`;
const PLACEHOLDER_RE = /MLMATH(\d+)END/g;
const ENVIRONMENTS =
  "equation|equation\\*|align|align\\*|aligned|gather|gather\\*|alignat|alignat\\*|multline|multline\\*|split|cases|matrix|pmatrix|bmatrix|array";

/**
 * Takes the formulas out of markdown, replacing each by an alphanumeric placeholder
 * (`MLMATH0END`, …) that markdown leaves alone, so that `_`, `*`, `\\` and `|` inside TeX
 * are never read as markdown. Code spans and fenced code blocks are left as they are, and
 * so is an escaped `\$`. Inline `$…$` follows Pandoc's rule: the opening `$` is followed by
 * a non-space, the closing one preceded by a non-space and not followed by a digit, and it
 * does not cross a blank line (so "costs $5 and $10" stays text).
 */
export function extractMath(markdown: string): { text: string; math: MathSpan[] } {
  const math: MathSpan[] = [];
  let out = "";
  let i = 0;
  const n = markdown.length;
  const add = (tex: string, display: boolean) => {
    out += PLACEHOLDER(math.length);
    math.push({ tex, display });
  };
  while (i < n) {
    const atLineStart = i === 0 || markdown[i - 1] === "\n";
    if (atLineStart) {
      const fence = /^[ \t]*(`{3,}|~{3,})/.exec(markdown.slice(i, i + 200));
      if (fence) {
        // A fenced code block runs to a closing fence of the same character, at least as long.
        const marker = fence[1];
        const close = new RegExp(
          `\\n[ \\t]*${marker[0] === "`" ? "`" : "~"}{${marker.length},}[ \\t]*(?=\\n|$)`,
        );
        const rest = markdown.slice(i + fence[0].length);
        const m = close.exec(rest);
        const end = m ? i + fence[0].length + m.index + m[0].length : n;
        out += markdown.slice(i, end);
        i = end;
        continue;
      }
      const env = new RegExp(`^[ \\t]*\\\\begin\\{(${ENVIRONMENTS})\\}`).exec(markdown.slice(i));
      if (env) {
        const endTag = `\\end{${env[1]}}`;
        const endAt = markdown.indexOf(endTag, i + env[0].length);
        if (endAt >= 0) {
          add(markdown.slice(i, endAt + endTag.length).trim(), true);
          i = endAt + endTag.length;
          continue;
        }
      }
    }
    const c = markdown[i];
    if (c === "`") {
      let run = 1;
      while (markdown[i + run] === "`") run++;
      const ticks = "`".repeat(run);
      let search = i + run;
      let close = -1;
      while ((close = markdown.indexOf(ticks, search)) >= 0) {
        // The closing run must be exactly as long as the opening one.
        if (markdown[close + run] !== "`") break;
        search = close + run;
        while (markdown[search] === "`") search++;
      }
      const end = close >= 0 ? close + run : i + run;
      out += markdown.slice(i, end);
      i = end;
      continue;
    }
    if (c === "\\") {
      const next = markdown[i + 1];
      if (next === "[" || next === "(") {
        const closer = next === "[" ? "\\]" : "\\)";
        const endAt = markdown.indexOf(closer, i + 2);
        if (endAt >= 0) {
          add(markdown.slice(i + 2, endAt), next === "[");
          i = endAt + 2;
          continue;
        }
      }
      out += markdown.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (c === "$") {
      if (markdown[i + 1] === "$") {
        const endAt = findUnescaped(markdown, "$$", i + 2);
        if (endAt >= 0) {
          add(markdown.slice(i + 2, endAt), true);
          i = endAt + 2;
          continue;
        }
      } else {
        const endAt = inlineMathEnd(markdown, i);
        if (endAt >= 0) {
          add(markdown.slice(i + 1, endAt), false);
          i = endAt + 1;
          continue;
        }
      }
    }
    out += c;
    i++;
  }
  return { text: out, math };
}

/** The index of the next `needle` at or after `from` not preceded by a backslash, or -1. */
function findUnescaped(text: string, needle: string, from: number): number {
  let at = text.indexOf(needle, from);
  while (at >= 0 && isEscaped(text, at)) at = text.indexOf(needle, at + 1);
  return at;
}

/** Whether the character at `at` is escaped (preceded by an odd number of backslashes). */
function isEscaped(text: string, at: number): boolean {
  let k = 0;
  while (at - 1 - k >= 0 && text[at - 1 - k] === "\\") k++;
  return k % 2 === 1;
}

/** Where the inline formula opened by the `$` at `start` closes (Pandoc's rule), or -1. */
function inlineMathEnd(text: string, start: number): number {
  const first = text[start + 1];
  if (first === undefined || /\s/.test(first)) return -1;
  for (let j = start + 1; j < text.length; j++) {
    const c = text[j];
    // Inline math ends with its paragraph: at a blank line or a code fence.
    if (c === "\n" && /^\n[ \t]*(\n|`{3}|~{3})/.test(text.slice(j, j + 40))) return -1;
    if (c !== "$" || isEscaped(text, j)) continue;
    if (j === start + 1) return -1;
    if (/\s/.test(text[j - 1]) || /\d/.test(text[j + 1] ?? "")) continue;
    return j;
  }
  return -1;
}

/**
 * Typesets one formula with KaTeX (HTML plus MathML, for screen readers). A formula KaTeX
 * cannot read becomes a visible `katex-error` span with the message as its title, and the
 * message is added to `ctx.problems`.
 */
export function typeset(tex: string, display: boolean, ctx: MarkdownContext): string {
  try {
    const html = katex.renderToString(tex, {
      displayMode: display,
      throwOnError: true,
      // Unicode letters in math mode (λ, θ) are fine in a notebook; do not warn about them.
      strict: "ignore",
      macros: ctx.macros,
      output: "htmlAndMathml",
    });
    ctx.formulas++;
    return html;
  } catch (e) {
    const message = (e as Error).message;
    ctx.problems.push(`${ctx.where}: KaTeX could not typeset "${tex.slice(0, 80)}": ${message}`);
    return `<span class="katex-error" title="${escapeHtml(message)}">${escapeHtml(tex)}</span>`;
  }
}

const marked = new Marked({ gfm: true, async: false });

/** Plain text of an HTML fragment (tags dropped, the common entities decoded). */
export function htmlText(html: string): string {
  return html.replace(/<[^>]*>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

/** A heading id from its text: lower case, letters and digits joined by `-`. */
export function slugify(text: string): string {
  const slug = text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "");
  return slug || "section";
}

/**
 * Renders notebook markdown to HTML: formulas typeset by KaTeX, headings given unique ids
 * (returned with their text, for the outline). `ctx` carries ids, macros and problems
 * across the cells of one page.
 */
export function renderMarkdown(
  markdown: string,
  ctx: MarkdownContext = markdownContext(),
): { html: string; headings: Heading[] } {
  const { text, math } = extractMath(markdown);
  const raw = marked.parse(text, { async: false }) as string;
  const rendered = new Map<number, string>();
  const formula = (i: number) => {
    if (!rendered.has(i)) rendered.set(i, typeset(math[i].tex, math[i].display, ctx));
    return rendered.get(i)!;
  };
  const substitute = (html: string) => html.replace(PLACEHOLDER_RE, (_, i) => formula(Number(i)));
  const headings: Heading[] = [];
  const withIds = raw.replace(
    /<h([1-6])((?:\s[^>]*)?)>([\s\S]*?)<\/h\1>/g,
    (whole, level: string, attrs: string, inner: string) => {
      if (/\sid=/.test(attrs)) return whole;
      const plain = htmlText(inner.replace(PLACEHOLDER_RE, (_, i) => math[Number(i)].tex)).trim();
      const base = slugify(plain);
      const seen = ctx.ids.get(base) ?? 0;
      ctx.ids.set(base, seen + 1);
      const id = seen === 0 ? base : `${base}-${seen}`;
      const html = substitute(inner);
      headings.push({ level: Number(level), id, html, text: plain });
      return `<h${level}${attrs} id="${id}">${html}<a class="anchor" href="#${id}" aria-label="link to this section">¶</a></h${level}>`;
    },
  );
  return { html: substitute(withIds), headings };
}

const TS_KEYWORDS = new Set(
  (
    "as async await break case catch class const continue default delete do else export " +
    "extends false finally for from function if import in instanceof interface let new null " +
    "of return satisfies static super switch this throw true try type typeof undefined var void " +
    "while yield"
  ).split(" "),
);

const TS_TOKEN =
  /(\/\/[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\[\s\S])*`)|(\b\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?n?\b)|([A-Za-z_$][\w$]*)/g;

/**
 * TypeScript source as HTML with comments, strings, numbers and keywords in `<span>`s
 * (classes `c`, `s`, `n`, `k`); everything is escaped, so the text is exactly the source.
 */
export function highlightTypeScript(source: string): string {
  let out = "";
  let last = 0;
  for (const m of source.matchAll(TS_TOKEN)) {
    out += escapeHtml(source.slice(last, m.index));
    const [token, comment, string, number, word] = m;
    const cls = comment
      ? "c"
      : string
      ? "s"
      : number
      ? "n"
      : word && TS_KEYWORDS.has(word)
      ? "k"
      : "";
    out += cls ? `<span class="${cls}">${escapeHtml(token)}</span>` : escapeHtml(token);
    last = m.index + token.length;
  }
  return out + escapeHtml(source.slice(last));
}
