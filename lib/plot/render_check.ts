/**
 * Checks that an HTML page's Plotly figures really render: opens it in headless
 * Chromium (Debian's `chromium`), offline, and reads back what was drawn and any page
 * errors. Used by the plot tests and the reproduce report tests.
 * @module
 */

/** What was drawn for one Plotly figure on the page. */
export interface RenderedFigure {
  /** The figure element's id. */
  id: string;
  /** `svg.main-svg` elements (Plotly's drawing surfaces). */
  svgs: number;
  /** Trace groups (`g.trace`) plus heatmap images. */
  traces: number;
  /** Drawn data marks: non-empty trace paths, points, heatmap images, table cells. */
  marks: number;
}

/** The result of {@linkcode renderCheck}. */
export interface RenderResult {
  /** Figure containers on the page (`.metalab-plot`, else every `.js-plotly-plot`). */
  expected: number;
  /** Figures Plotly drew. */
  figures: RenderedFigure[];
  /** Uncaught errors, failed resource loads and `console.error` calls. */
  errors: string[];
  /** True when every expected figure has an SVG with data marks and there were no errors. */
  ok: boolean;
}

/** Options of {@linkcode renderCheck}. */
export interface RenderCheckOptions {
  /** Chromium executable (default: the first of `/usr/bin/chromium`, `chromium`, … found). */
  chromium?: string;
  /** Virtual time the page gets to render, in ms (default 20000). */
  virtualTimeMs?: number;
  /** Wall-clock limit for Chromium, in ms (default 120000). */
  timeoutMs?: number;
}

const CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/** The path of a Chromium/Chrome executable on this machine, or `undefined`. */
export function findChromium(): string | undefined {
  const fromEnv = Deno.env.get("CHROMIUM");
  for (const path of fromEnv ? [fromEnv, ...CANDIDATES] : CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

const CAPTURE = `<script>(function () {
  var errors = window.__renderCheckErrors = [];
  window.addEventListener("error", function (e) {
    errors.push("error: " + (e.message || (e.target && (e.target.src || e.target.href)) || "unknown"));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { errors.push("unhandled rejection: " + e.reason); });
  var original = console.error;
  console.error = function () {
    errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();</script>`;

// Runs after the page's scripts; waits for Plotly to finish, then writes a summary
// into the DOM, which `--dump-dom` hands back.
const PROBE = `<script>(function () {
  function summarise() {
    var containers = document.querySelectorAll(".metalab-plot");
    var plots = document.querySelectorAll(".js-plotly-plot");
    var figures = Array.prototype.map.call(plots, function (p, i) {
      var paths = Array.prototype.filter.call(p.querySelectorAll(".trace path, .trace .point"),
        function (el) { var d = el.getAttribute("d"); return d && d.length > 2; }).length;
      var images = p.querySelectorAll(".main-svg image, .hm image, image.hm").length;
      var cells = p.querySelectorAll(".cell-text").length;
      return {
        id: p.id || ("plot-" + i),
        svgs: p.querySelectorAll("svg.main-svg").length,
        traces: p.querySelectorAll("g.trace").length + images,
        marks: paths + images + cells
      };
    });
    var out = document.createElement("pre");
    out.id = "metalab-render-check";
    out.textContent = JSON.stringify({
      expected: containers.length || plots.length,
      figures: figures,
      errors: window.__renderCheckErrors || []
    });
    document.body.appendChild(out);
  }
  var waited = 0;
  (function poll() {
    var ready = document.body.hasAttribute("data-plots-ready");
    if (ready || waited >= 10000) { setTimeout(summarise, 200); return; }
    waited += 100;
    setTimeout(poll, 100);
  })();
})();</script>`;

/**
 * Opens the HTML file at `htmlPath` in headless Chromium with networking disabled and
 * reports what its Plotly figures drew. The page is copied into a temporary folder with
 * an error-capturing script first and a probe last (the original is not modified), so
 * any file it tried to load from beside it shows up as an error: reports must be
 * self-contained. Throws when no Chromium is installed (check {@linkcode findChromium}).
 */
export async function renderCheck(
  htmlPath: string,
  options: RenderCheckOptions = {},
): Promise<RenderResult> {
  const chromium = options.chromium ?? findChromium();
  if (!chromium) {
    throw new Error("renderCheck: no Chromium found (apt-get install chromium, or set CHROMIUM)");
  }
  const html = await Deno.readTextFile(htmlPath);
  const headAt = html.search(/<head[^>]*>/i);
  const withCapture = headAt >= 0
    ? html.replace(/<head[^>]*>/i, (m) => m + CAPTURE)
    : CAPTURE + html;
  const bodyEnd = withCapture.lastIndexOf("</body>");
  const page = bodyEnd >= 0
    ? withCapture.slice(0, bodyEnd) + PROBE + withCapture.slice(bodyEnd)
    : withCapture + PROBE;
  const dir = await Deno.makeTempDir({ prefix: "metalab-render-" });
  try {
    const pagePath = `${dir}/page.html`;
    await Deno.writeTextFile(pagePath, page);
    const command = new Deno.Command(chromium, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        `--user-data-dir=${dir}/profile`,
        `--virtual-time-budget=${options.virtualTimeMs ?? 20000}`,
        "--window-size=1200,900",
        "--dump-dom",
        `file://${pagePath}`,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(options.timeoutMs ?? 120000),
    });
    const result = await command.output();
    const dom = new TextDecoder().decode(result.stdout);
    const match = dom.match(/<pre id="metalab-render-check">([\s\S]*?)<\/pre>/);
    if (!match) {
      const stderr = new TextDecoder().decode(result.stderr).split("\n").slice(-15).join("\n");
      throw new Error(
        `renderCheck: Chromium (exit ${result.code}) returned no render summary for ${htmlPath}; ` +
          `the page did not finish loading. Chromium said:\n${stderr}`,
      );
    }
    const summary = JSON.parse(unescapeHtml(match[1])) as Omit<RenderResult, "ok">;
    const ok = summary.errors.length === 0 && summary.expected > 0 &&
      summary.figures.length >= summary.expected &&
      summary.figures.every((f) => f.svgs > 0 && f.marks > 0);
    return { ...summary, ok };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function unescapeHtml(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}
