/**
 * plotly.js itself, read from the npm package on disk (never from a CDN), so figures
 * render offline.
 * @module
 */
// Importing the package's manifest makes Deno install the package into node_modules/
// (nodeModulesDir "auto" installs only what a module graph uses) and gives its version.
import plotlyPackage from "plotly.js-dist-min/package.json" with { type: "json" };

/** The plotly.js version that is inlined into displays and reports. */
export const PLOTLY_VERSION: string = plotlyPackage.version;

const BUNDLE_URL = new URL("../../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url);

let cached: string | undefined;

/**
 * The minified plotly.js source (about 4.8 MB), read once and cached. Throws an error that
 * says how to fix it when the npm package is not installed.
 */
export function plotlySource(): string {
  if (cached !== undefined) return cached;
  try {
    cached = Deno.readTextFileSync(BUNDLE_URL);
  } catch (e) {
    throw new Error(
      `plotly.js not found at ${BUNDLE_URL.pathname} (${(e as Error).message}); ` +
        "run `deno install` in the repository root to install the npm dependencies",
    );
  }
  return cached;
}

/**
 * Makes JavaScript source safe inside an inline `<script>`: `</script` and `<!--` (which
 * the HTML parser treats specially) become `\x3C/script` and `\x3C!--`, the same text
 * inside the string and regular-expression literals where minified code has them.
 */
export function scriptSafe(text: string): string {
  return text.replace(/<(\/script|!--)/gi, "\\x3C$1");
}

/** JSON for embedding in an inline `<script>` (`<`, U+2028 and U+2029 escaped). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
