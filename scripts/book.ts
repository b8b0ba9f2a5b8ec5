/**
 * `deno task book`: the course book. Executes every notebook on the Deno Jupyter kernel
 * (in trained mode, the notebooks' default, unless told otherwise) and writes a static,
 * self-contained HTML site: `book/index.html` with the course outline and one page per
 * notebook (see `scripts/book_render.ts`). Open `book/index.html` in a browser; it needs
 * no server and no network.
 *
 * ```sh
 * deno task book                      # every notebook, trained mode, into book/
 * deno task book --quick              # quick mode (what CI and the tests run)
 * deno task book --out /tmp/b --check # then check every page in headless Chromium
 * deno task book --from .executed --quick  # render the quick runs `deno task nb:run` wrote
 * deno task book notebooks/00_setup.ipynb   # only these notebooks
 * ```
 *
 * Exit status 1 when a notebook failed, a formula did not typeset, or (with `--check`) a
 * page did not render completely; the book is written all the same, failures shown.
 * @module
 */
import { parseArgs } from "node:util";
import { findChromium } from "../lib/plot/render_check.ts";
import { pageCheck } from "../lib/plot/page_check.ts";
import { type BookNotebook, type BookResult, COURSE_TITLE, renderBook } from "./book_render.ts";
import {
  executeNotebook,
  jupyterAvailable,
  listNotebooks,
  makeKernelspecDir,
  readNotebook,
} from "./notebooks.ts";

/** The modes a book can be built in (the notebooks' modes, `lib/experiments/course.ts`). */
export const BOOK_MODES = ["trained", "quick", "full"] as const;
/** A book mode. */
export type BookMode = typeof BOOK_MODES[number];

/**
 * The environment the notebooks read for a mode: `METALAB_MODE`, and `METALAB_QUICK=1`
 * exactly in quick mode (notebook 00 reads only that; `executeNotebook` sets it to 1
 * unless told, so the other modes clear it).
 */
export function modeEnv(mode: BookMode): Record<string, string> {
  return { METALAB_MODE: mode, METALAB_QUICK: mode === "quick" ? "1" : "" };
}

/** Options of {@linkcode executeForBook}. */
export interface ExecuteForBookOptions {
  /** The mode (default `trained`). */
  mode?: BookMode;
  /** Where the executed copy goes (default: a temporary folder). */
  outDir?: string;
  /** A kernelspec folder from `makeKernelspecDir` (default: a new one). */
  kernelspecDir?: string;
}

/**
 * Executes one notebook for the book in `mode` and returns it as a {@linkcode BookNotebook}:
 * the executed notebook, with `failure` set when it did not run to the end (then the
 * outputs up to the failing cell, or the source when nothing ran). A run spoiled by a
 * mangled kernel message is retried once, as the notebook test does.
 */
export async function executeForBook(
  path: string,
  options: ExecuteForBookOptions = {},
): Promise<BookNotebook & { seconds: number }> {
  const mode = options.mode ?? "trained";
  // Full mode trains the published schedules: hours, so no time limit short of a week.
  const limits = mode === "full" ? { cellTimeoutS: 7 * 86400, totalTimeoutS: 7 * 86400 } : {};
  const run = () =>
    executeNotebook(path, {
      outDir: options.outDir,
      kernelspecDir: options.kernelspecDir,
      env: modeEnv(mode),
      ...limits,
    });
  let result = await run();
  if (!result.ok && result.transportErrors > 0) result = await run();
  const name = path.split("/").pop()!;
  const sourceDir = path.slice(0, path.length - name.length) || "./";
  return {
    name,
    notebook: result.executed ?? readNotebook(path),
    sourceDir,
    failure: result.ok ? undefined : result.error,
    seconds: result.seconds,
  };
}

/** Options of {@linkcode buildBook}. */
export interface BuildBookOptions {
  /** Notebook paths, in course order (default: every `notebooks/*.ipynb`). */
  notebooks?: string[];
  /** The book's folder (default `book/` at the repository root). */
  outDir?: string;
  /** The mode the notebooks run in (default `trained`). */
  mode?: BookMode;
  /**
   * Render notebooks already executed into this folder instead of running them (`mode`
   * then only labels the pages: say the mode they ran in).
   */
  from?: string;
  /** Progress lines (default: `console.log`). */
  log?: (line: string) => void;
}

/** The default book folder: `book/` at the repository root. */
export const DEFAULT_BOOK_DIR = new URL("../book/", import.meta.url).pathname;

/** Executes (or, with `from`, reads) the notebooks and renders the book. */
export async function buildBook(options: BuildBookOptions = {}): Promise<BookResult> {
  const log = options.log ?? console.log;
  const mode = options.mode ?? "trained";
  const paths = options.notebooks ?? listNotebooks();
  if (paths.length === 0) throw new Error("buildBook: no notebooks found");
  const notebooks: BookNotebook[] = [];
  if (options.from) {
    for (const path of paths) {
      const name = path.split("/").pop()!;
      const executed = `${options.from.replace(/\/$/, "")}/${name}`;
      notebooks.push({
        name,
        notebook: readNotebook(executed),
        sourceDir: path.slice(0, path.length - name.length) || "./",
      });
      log(`read ${executed}`);
    }
  } else {
    const jupyter = await jupyterAvailable();
    if (!jupyter.ok) throw new Error(jupyter.reason);
    const kernelspecDir = await makeKernelspecDir();
    const executedDir = await Deno.makeTempDir({ prefix: "metalab-book-" });
    try {
      for (const path of paths) {
        log(`running ${path} (${mode} mode)…`);
        const nb = await executeForBook(path, { mode, outDir: executedDir, kernelspecDir });
        log(`  ${nb.failure ? "FAILED" : "ok"} in ${nb.seconds.toFixed(1)} s`);
        if (nb.failure) log(nb.failure);
        notebooks.push(nb);
      }
    } finally {
      await Deno.remove(executedDir, { recursive: true }).catch(() => {});
      await Deno.remove(kernelspecDir, { recursive: true }).catch(() => {});
    }
  }
  return await renderBook(notebooks, options.outDir ?? DEFAULT_BOOK_DIR, {
    title: COURSE_TITLE,
    mode,
  });
}

const USAGE = `usage: deno task book [--out DIR] [--quick | --mode trained|quick|full] [--from DIR]
                      [--check] [NOTEBOOK.ipynb …]`;

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      quick: { type: "boolean", default: false },
      mode: { type: "string" },
      from: { type: "string" },
      check: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const mode = (values.mode ?? (values.quick ? "quick" : "trained")) as BookMode;
  if (!(BOOK_MODES as readonly string[]).includes(mode)) {
    console.error(`--mode "${values.mode}": expected one of ${BOOK_MODES.join(", ")}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.quick && mode !== "quick") {
    console.error(`--quick and --mode ${mode} disagree: give one of them\n${USAGE}`);
    Deno.exit(2);
  }
  const book = await buildBook({
    notebooks: positionals.length > 0 ? positionals : undefined,
    outDir: values.out,
    mode,
    from: values.from,
  });
  let failed = book.problems.length > 0;
  for (const problem of book.problems) console.error(`problem: ${problem}`);
  if (values.check) {
    if (!findChromium()) {
      console.log("--check: no Chromium found (apt-get install chromium): pages not checked");
    } else {
      for (const path of [book.index, ...book.pages.map((p) => p.path)]) {
        const result = await pageCheck(path);
        console.log(
          `${result.ok ? "ok  " : "FAIL"} ${path}: ${result.figures.length} figure(s), ` +
            `${result.math.formulas} formula(s), ${result.images.decoded} image(s)`,
        );
        for (const problem of result.problems) console.log(`  ${problem}`);
        if (!result.ok) failed = true;
      }
    }
  }
  console.log(`\nthe book: ${book.index} (${book.pages.length} page(s)); open it in a browser`);
  Deno.exit(failed ? 1 : 0);
}
