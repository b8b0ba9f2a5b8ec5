/**
 * Notebook tooling: run notebooks headlessly on the Deno Jupyter kernel (with
 * `run_notebook.py` on jupyter_client, and a temporary kernelspec that points at this
 * very Deno), strip outputs,
 * and check committed notebooks' hygiene. Used by `tests/notebooks_test.ts`,
 * `tests/notebook_hygiene_test.ts` and the tasks:
 *
 * - `deno task nb:strip [FILE…]`  removes outputs and execution counts (default: notebooks/*.ipynb)
 * - `deno task nb:run [FILE…]`    executes notebooks with METALAB_QUICK=1 into .executed/
 *
 * Convention: a notebook's metadata may declare the key outputs the notebook test
 * requires, `"metalab": { "expects": ["plot", "table"] }`. `plot` means at least one
 * `application/vnd.plotly.v1+json` output (every notebook needs one, declared or not);
 * `table` means a result table: a Plotly table trace (`show(tableFigure(…))`) or an
 * HTML `<table>` output.
 * @module
 */
import { atomicWrite } from "../lib/files/mod.ts";

/** The kinds of key output a notebook can declare in `metadata.metalab.expects`. */
export const EXPECTABLE = ["plot", "table"] as const;
/** One kind of key output. */
export type Expectation = typeof EXPECTABLE[number];

/** The kernelspec name committed notebooks carry (what `deno jupyter --install` installs). */
export const DENO_KERNEL_NAME = "deno";
/** The temporary kernelspec name the notebook runner installs for this Deno. */
export const RUNNER_KERNEL_NAME = "metalab-deno";

/** The repository's notebooks folder. */
export const NOTEBOOKS_DIR = new URL("../notebooks/", import.meta.url);

/** A notebook (nbformat 4) as JSON. */
export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown> & {
    kernelspec?: { name?: string; display_name?: string; language?: string };
    metalab?: { expects?: string[] };
  };
  cells: NotebookCell[];
}

/** One notebook cell. */
export interface NotebookCell {
  cell_type: "code" | "markdown" | "raw";
  id?: string;
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: Record<string, unknown>[];
  execution_count?: number | null;
}

/** Paths of every `notebooks/*.ipynb`, sorted by name. */
export function listNotebooks(dir: URL | string = NOTEBOOKS_DIR): string[] {
  const base = typeof dir === "string" ? dir : dir.pathname;
  const out: string[] = [];
  try {
    for (const entry of Deno.readDirSync(base)) {
      if (
        entry.isFile && entry.name.endsWith(".ipynb") && !entry.name.endsWith(".nbconvert.ipynb")
      ) {
        out.push(`${base.replace(/\/$/, "")}/${entry.name}`);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** Reads a notebook, with an error naming the file when it is not valid JSON. */
export function readNotebook(path: string): Notebook {
  const text = Deno.readTextFileSync(path);
  try {
    return JSON.parse(text) as Notebook;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** The source of a cell as one string. */
export function cellSource(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** Names a cell for messages: `cell 3 (id "abc", "const x = …")`. */
export function describeCell(cell: NotebookCell, index: number): string {
  const first = cellSource(cell).split("\n")[0].slice(0, 50);
  return `cell ${index}${cell.id ? ` (id "${cell.id}")` : ""} "${first}"`;
}

/**
 * What is wrong with a committed notebook: not nbformat 4, not the Deno kernel,
 * outputs or execution counts left in, a bad `metalab.expects`. Empty when clean.
 */
export function hygieneProblems(nb: Notebook): string[] {
  const problems: string[] = [];
  if (nb.nbformat !== 4) problems.push(`nbformat is ${nb.nbformat}, expected 4`);
  if (!Array.isArray(nb.cells)) return [...problems, "no cells array"];
  const spec = nb.metadata?.kernelspec;
  if (spec?.name !== DENO_KERNEL_NAME || spec?.language !== "typescript") {
    problems.push(
      `kernelspec is ${JSON.stringify(spec)}, expected {"name":"deno","language":"typescript",…}`,
    );
  }
  const expects = nb.metadata?.metalab?.expects;
  if (expects !== undefined) {
    if (
      !Array.isArray(expects) || expects.some((e) => !(EXPECTABLE as readonly string[]).includes(e))
    ) {
      problems.push(
        `metadata.metalab.expects must list some of ${EXPECTABLE.join(", ")}: got ${
          JSON.stringify(expects)
        }`,
      );
    }
  }
  nb.cells.forEach((cell, i) => {
    if (!["code", "markdown", "raw"].includes(cell.cell_type)) {
      problems.push(`${describeCell(cell, i)}: unknown cell_type ${cell.cell_type}`);
    }
    if (nb.nbformat_minor >= 5 && typeof cell.id !== "string") {
      problems.push(`${describeCell(cell, i)}: no cell id (required by nbformat 4.5)`);
    }
    if (cell.cell_type !== "code") return;
    if ((cell.outputs ?? []).length > 0) {
      problems.push(
        `${describeCell(cell, i)}: has ${
          cell.outputs!.length
        } output(s); run \`deno task nb:strip\``,
      );
    }
    if (cell.execution_count !== null && cell.execution_count !== undefined) {
      problems.push(
        `${
          describeCell(cell, i)
        }: has execution_count ${cell.execution_count}; run \`deno task nb:strip\``,
      );
    }
  });
  return problems;
}

/** Removes outputs, execution counts and run-time cell metadata. Returns whether anything changed. */
export function stripNotebook(nb: Notebook): boolean {
  let changed = false;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    if ((cell.outputs ?? []).length > 0 || cell.outputs === undefined) {
      cell.outputs = [];
      changed = true;
    }
    if (cell.execution_count !== null) {
      cell.execution_count = null;
      changed = true;
    }
    for (const key of ["execution", "collapsed", "scrolled"]) {
      if (key in (cell.metadata ?? {})) {
        delete cell.metadata[key];
        changed = true;
      }
    }
  }
  return changed;
}

/** Serialises a notebook the way Jupyter does (1-space indent, trailing newline). */
export function notebookJson(nb: Notebook): string {
  return JSON.stringify(nb, null, 1) + "\n";
}

const PYTHON_CANDIDATES = ["/usr/bin/python3", "python3"];
let pythonFound: string | undefined;

/**
 * Whether notebooks can be executed here: a Python with `jupyter_client` and `nbformat`
 * (Debian: python3-nbclient brings both); else why not.
 */
export async function jupyterAvailable(): Promise<
  { ok: boolean; reason?: string; python?: string }
> {
  for (const python of PYTHON_CANDIDATES) {
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", "import jupyter_client, nbformat"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) {
        pythonFound = python;
        return { ok: true, python };
      }
    } catch { /* not installed */ }
  }
  return {
    ok: false,
    reason: "Jupyter is not installed (no python3 with jupyter_client and nbformat): " +
      "apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel",
  };
}

/**
 * Creates a temporary Jupyter data folder holding one kernelspec, `metalab-deno`, whose
 * argv runs THIS Deno (`Deno.execPath()`, so it works under `npx -y deno@2` too) as the
 * kernel, exactly as `deno jupyter --install` writes it. Returns the folder (for JUPYTER_PATH).
 */
export async function makeKernelspecDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "metalab-jupyter-" });
  await Deno.mkdir(`${dir}/kernels/${RUNNER_KERNEL_NAME}`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/kernels/${RUNNER_KERNEL_NAME}/kernel.json`,
    JSON.stringify(
      {
        argv: [Deno.execPath(), "jupyter", "--kernel", "--conn", "{connection_file}"],
        display_name: "Deno (MetaLab runner)",
        language: "typescript",
      },
      null,
      2,
    ),
  );
  return dir;
}

/** Options of {@linkcode executeNotebook}. */
export interface ExecuteOptions {
  /** Folder for the executed copy (default: a new temporary folder). */
  outDir?: string;
  /** Seconds one cell may run (default 600). */
  cellTimeoutS?: number;
  /** Seconds the whole notebook may run (default 1200). */
  totalTimeoutS?: number;
  /** Extra environment for the kernel (METALAB_QUICK=1 is set unless given here). */
  env?: Record<string, string>;
  /** A kernelspec folder from {@linkcode makeKernelspecDir} (default: a new one). */
  kernelspecDir?: string;
  /** Quiet time after each cell in which late outputs are still collected (default 200 ms). */
  barrierMs?: number;
}

/** The result of {@linkcode executeNotebook}. */
export interface ExecuteResult {
  /** Whether every cell ran without error. */
  ok: boolean;
  /** The executed notebook (with outputs up to the failing cell). */
  executed?: Notebook;
  /** Where the executed copy was written. */
  outputPath: string;
  /** Index of the cell that failed, if one did. */
  failedCell?: number;
  /** The failing cell and its error, or the runner's own error output. */
  error: string;
  /**
   * Kernel messages that arrived mangled and were skipped (see `run_notebook.py`): an
   * output may be missing through no fault of the notebook.
   */
  transportErrors: number;
  /**
   * What each mangled message was (channel, message type, which frames still parse as
   * JSON, whether the signature frame is well formed, whether the fault injection did it).
   */
  transportLog: Record<string, unknown>[];
  /**
   * Messages the runner found lost and worked around, e.g. `cell 2: execute_reply` (the
   * reply was rebuilt from IOPub) or `cell 2: the barrier's output marker`.
   */
  lost: string[];
  /** Wall time in seconds. */
  seconds: number;
}

const RUNNER = new URL("./run_notebook.py", import.meta.url).pathname;

/**
 * Executes a notebook headlessly on the Deno kernel (with `scripts/run_notebook.py`,
 * on jupyter_client) and writes the executed copy to `outDir`, never into the
 * notebook's own folder. The kernel's working folder is the notebook's folder (so
 * `../lib/mod.ts` imports and deno.json resolve). Cells run in order; the first error
 * stops the run.
 */
export async function executeNotebook(
  path: string,
  options: ExecuteOptions = {},
): Promise<ExecuteResult> {
  const available = await jupyterAvailable();
  if (!available.ok) throw new Error(available.reason);
  const outDir = options.outDir ?? await Deno.makeTempDir({ prefix: "metalab-nb-" });
  await Deno.mkdir(outDir, { recursive: true });
  const kernelspecDir = options.kernelspecDir ?? await makeKernelspecDir();
  const name = path.split("/").pop()!;
  const outputPath = `${outDir}/${name}`;
  const env: Record<string, string> = {
    METALAB_QUICK: "1",
    NO_COLOR: "1",
    JUPYTER_PATH: [kernelspecDir, Deno.env.get("JUPYTER_PATH")].filter(Boolean).join(":"),
    ...options.env,
  };
  const started = performance.now();
  const out = await new Deno.Command(pythonFound!, {
    args: [
      RUNNER,
      path,
      outputPath,
      RUNNER_KERNEL_NAME,
      String(options.cellTimeoutS ?? 600),
      String(options.barrierMs ?? 200),
    ],
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((options.totalTimeoutS ?? 1200) * 1000),
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  const stderr = new TextDecoder().decode(out.stderr);
  let summary:
    | {
      ok: boolean;
      failed_cell: number | null;
      error: string | null;
      transport_errors?: number;
      transport_log?: Record<string, unknown>[];
      lost?: string[];
    }
    | undefined;
  try {
    summary = JSON.parse(stdout);
  } catch { /* the runner itself failed */ }
  let executed: Notebook | undefined;
  try {
    executed = readNotebook(outputPath);
  } catch { /* nothing written */ }
  const ok = out.success && summary?.ok === true;
  let error = "";
  if (!ok) {
    if (summary?.failed_cell !== null && summary?.failed_cell !== undefined && executed) {
      const index = summary.failed_cell;
      error = `${describeCell(executed.cells[index], index)} failed:\n${summary.error}`;
    } else {
      error = summary?.error ?? `the notebook runner failed (exit ${out.code}):\n` +
          stderr.split("\n").slice(-30).join("\n");
    }
  }
  return {
    ok,
    executed,
    outputPath,
    failedCell: summary?.failed_cell ?? undefined,
    transportErrors: summary?.transport_errors ?? 0,
    transportLog: summary?.transport_log ?? [],
    lost: summary?.lost ?? [],
    error,
    seconds,
  };
}

/**
 * Renders an executed notebook to a standalone HTML page (nbconvert's `basic` template,
 * which adds no scripts of its own), as a browser shows the notebook's `text/html`
 * outputs: the check that the figures' HTML fallback draws offline.
 */
export async function executedNotebookHtml(executedPath: string, htmlPath: string): Promise<void> {
  const dir = htmlPath.slice(0, htmlPath.lastIndexOf("/"));
  const base = htmlPath.slice(dir.length + 1).replace(/\.html$/, "");
  const out = await new Deno.Command("jupyter", {
    args: [
      "nbconvert",
      "--to",
      "html",
      "--template",
      "basic",
      "--output-dir",
      dir,
      "--output",
      `${base}.body`,
      executedPath,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `nbconvert --to html failed for ${executedPath}:\n${
        new TextDecoder().decode(out.stderr).slice(-2000)
      }`,
    );
  }
  const body = await Deno.readTextFile(`${dir}/${base}.body.html`);
  await Deno.writeTextFile(
    htmlPath,
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${base}</title></head>\n<body>\n${body}\n</body></html>\n`,
  );
  await Deno.remove(`${dir}/${base}.body.html`);
}

/** The declared key outputs of a notebook; `plot` is always required. */
export function expectedOutputs(nb: Notebook): Expectation[] {
  const declared = (nb.metadata?.metalab?.expects ?? []) as Expectation[];
  return [...new Set<Expectation>(["plot", ...declared])];
}

/** Every output of every code cell. */
function allOutputs(nb: Notebook): Record<string, unknown>[] {
  return nb.cells.flatMap((c) => (c.cell_type === "code" ? c.outputs ?? [] : []));
}

/** Cell errors recorded in an executed notebook (`output_type: "error"`). */
export function errorOutputs(nb: Notebook): string[] {
  return nb.cells.flatMap((c, i) =>
    (c.outputs ?? []).filter((o) => o.output_type === "error")
      .map((o) => `${describeCell(c, i)}: ${o.ename}: ${o.evalue}`)
  );
}

/** Which declared key outputs an executed notebook lacks (empty when all are there). */
export function missingOutputs(executed: Notebook, expects: Expectation[]): Expectation[] {
  const outputs = allOutputs(executed);
  const data = outputs.map((o) => (o.data ?? {}) as Record<string, unknown>);
  const plots = data.map((d) => d["application/vnd.plotly.v1+json"]).filter(Boolean) as {
    data?: { type?: string }[];
  }[];
  const has: Record<Expectation, boolean> = {
    plot: plots.length > 0,
    table: plots.some((p) => (p.data ?? []).some((t) => t.type === "table")) ||
      data.some((d) => {
        const html = d["text/html"];
        return /<table[\s>]/i.test(Array.isArray(html) ? html.join("") : String(html ?? ""));
      }),
  };
  return expects.filter((e) => !has[e]);
}

if (import.meta.main) {
  const [command, ...files] = Deno.args;
  const targets = files.length > 0 ? files : listNotebooks();
  if (command === "strip") {
    for (const path of targets) {
      const nb = readNotebook(path);
      if (stripNotebook(nb)) {
        await atomicWrite(path, notebookJson(nb));
        console.log(`stripped ${path}`);
      }
    }
  } else if (command === "run") {
    const available = await jupyterAvailable();
    if (!available.ok) {
      console.error(available.reason);
      Deno.exit(1);
    }
    const outDir = new URL("../.executed/", import.meta.url).pathname;
    await Deno.mkdir(outDir, { recursive: true });
    let failed = 0;
    for (const path of targets) {
      const result = await executeNotebook(path, { outDir });
      const missing = result.executed
        ? missingOutputs(result.executed, expectedOutputs(result.executed))
        : [];
      const ok = result.ok && missing.length === 0;
      if (!ok) failed++;
      console.log(
        `${ok ? "ok  " : "FAIL"} ${path} (${result.seconds.toFixed(1)} s) → ${result.outputPath}` +
          (missing.length ? ` missing outputs: ${missing.join(", ")}` : ""),
      );
      if (!result.ok) console.log(result.error);
    }
    Deno.exit(failed ? 1 : 0);
  } else {
    console.error("usage: deno run -A scripts/notebooks.ts strip|run [notebook.ipynb …]");
    Deno.exit(2);
  }
}
