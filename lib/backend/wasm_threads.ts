/**
 * Multi-threaded tfjs wasm under Deno. tfjs-backend-wasm ships a threaded-SIMD build
 * (XNNPACK on a pthread pool), but never uses it here: its `WASM_HAS_MULTITHREAD_SUPPORT`
 * flag is false whenever tfjs sees Node (`IS_NODE`, tfjs issue #3830), which it does in
 * Deno. Forcing the flag on does not help: the glue then takes Emscripten's Node path, which
 * overwrites `globalThis.Worker` with `worker_threads.Worker` and hands it a `blob:` URL that
 * Deno's `node:worker_threads` rejects (ERR_WORKER_PATH); its worker script also needs
 * CommonJS `require` and `importScripts`, and Node pthread workers are `ref()`ed while they
 * run, so XNNPACK's never-ending pool threads would keep the process alive.
 *
 * So MetaLab starts the threaded build itself: it evaluates the package's own glue with the
 * Node globals hidden (`wasm_glue.ts`), gives it pthread workers that are `node:worker_threads`
 * Workers running `wasm_pthread_worker.ts` (unref'd once started, so they never keep Deno
 * alive, and `deno test`'s sanitizers see no pending ops), sizes Emscripten's worker pool to
 * the threads asked for (the glue pre-starts 8), and wraps the ready module in tfjs's own
 * `BackendWasm` — the same class, kernels and custom kernels as the single-threaded build.
 * @module
 */
import { Worker as NodeWorker } from "node:worker_threads";
import { evaluateGlue } from "./wasm_glue.ts";
import { wasmThreadedFiles } from "./wasm_files.ts";

// deno-lint-ignore no-explicit-any
type EmscriptenModule = any;

/** How long the pthread workers may take to start before MetaLab gives up on threads. */
const STARTUP_TIMEOUT_MS = 30_000;

/** The pool-size line of the glue (Emscripten's PTHREAD_POOL_SIZE, 8 in tfjs's build). */
const POOL_SIZE_PATTERN = /var pthreadPoolSize=(\d+);/g;

/** Every pthread worker started by this module and not yet terminated. */
const liveWorkers = new Set<PthreadWorker>();

/** Startup state shared by the workers of one module being created. */
interface Startup {
  failed: (error: Error) => void;
  done: boolean;
}

/**
 * A pthread worker with the web `Worker` API the glue expects (`onmessage`, `postMessage`,
 * `terminate`), backed by a `node:worker_threads` Worker: Deno's web Workers cannot be
 * unref'd, and a live one keeps the process running forever.
 */
class PthreadWorker {
  /** Set by the glue. */
  onmessage: ((event: { data: unknown }) => void) | null = null;
  /** Set by the glue; not called (errors go to the startup, or are logged). */
  onerror: ((event: unknown) => void) | null = null;
  readonly #worker: NodeWorker;
  readonly #startup: Startup;

  constructor(glueSource: string, startup: Startup) {
    this.#startup = startup;
    this.#worker = new NodeWorker(new URL("./wasm_pthread_worker.ts", import.meta.url), {
      workerData: { glueSource },
    });
    liveWorkers.add(this);
    this.#worker.on("message", (data: unknown) => this.onmessage?.({ data }));
    this.#worker.on("error", (e: Error) => {
      const error = new Error(`wasm pthread worker failed: ${e?.message ?? e}`);
      if (!this.#startup.done) this.#startup.failed(error);
      else console.error(error.message);
    });
    this.#worker.on("exit", (code: number) => {
      liveWorkers.delete(this);
      if (!this.#startup.done) {
        this.#startup.failed(new Error(`wasm pthread worker exited (code ${code}) while starting`));
      }
    });
  }

  /** Posts to the pthread (the wasm module and shared memory are cloned, not copied). */
  postMessage(message: unknown, transfer?: Transferable[]): void {
    // deno-lint-ignore no-explicit-any
    this.#worker.postMessage(message, transfer as any);
  }

  /** Lets the process exit while this worker lives (XNNPACK's pool threads never return). */
  unref(): void {
    this.#worker.unref();
  }

  /** Stops the worker (also when a pthread is blocked in a wait). */
  terminate(): void {
    liveWorkers.delete(this);
    this.#worker.terminate();
  }
}

/** A ready threaded Emscripten module, with the `tfjs` bridge `BackendWasm` expects. */
export interface ThreadedWasmModule {
  /** The Emscripten module (pass it to `new BackendWasm(module)`). */
  module: EmscriptenModule;
  /** Pthread workers started (the pool). */
  workers: number;
}

/**
 * Starts tfjs's threaded-SIMD wasm build for `threads` (≥ 2) XNNPACK threads: a pool of
 * `threads − 1` pthread workers (the calling thread is the other). Resolves to the module with
 * the same `tfjs` bridge tfjs's own `init()` adds; rejects (with every worker it started
 * terminated) when the files are missing, the glue is not the expected build, or the workers
 * do not start within 30 s.
 */
export async function startThreadedWasm(threads: number): Promise<ThreadedWasmModule> {
  if (!Number.isInteger(threads) || threads < 2) {
    throw new Error(`wasm threads: threads must be an integer ≥ 2, got ${threads}`);
  }
  // XNNPACK's pool runs threads − 1 pthreads beside the calling thread.
  const poolSize = threads - 1;
  const files = wasmThreadedFiles();
  const [rawSource, binary] = await Promise.all([
    Deno.readTextFile(new URL(files.glue)),
    Deno.readFile(new URL(files.wasm)),
  ]);
  const poolLines = [...rawSource.matchAll(POOL_SIZE_PATTERN)];
  if (poolLines.length !== 1) {
    throw new Error(
      `wasm threads: expected one "var pthreadPoolSize=N;" in ${files.glue}, ` +
        `found ${poolLines.length} (a different tfjs build?)`,
    );
  }
  const glueSource = rawSource.replace(POOL_SIZE_PATTERN, `var pthreadPoolSize=${poolSize};`);
  const wasmModule = await WebAssembly.compile(binary);

  const started: PthreadWorker[] = [];
  let rejectStartup: (error: Error) => void = () => {};
  const failure = new Promise<never>((_, reject) => {
    rejectStartup = reject;
  });
  const startup: Startup = { failed: (e) => rejectStartup(e), done: false };
  const Worker = function (this: unknown) {
    const worker = new PthreadWorker(glueSource, startup);
    started.push(worker);
    return worker;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`wasm threads: workers did not start within ${STARTUP_TIMEOUT_MS} ms`)),
      STARTUP_TIMEOUT_MS,
    );
  });
  try {
    const factory = evaluateGlue(glueSource, { pthread: false, Worker, logicalCores: 2 * threads });
    const ready = factory({
      // The glue asks for these by name; the worker script and glue travel another way.
      locateFile: (path: string) => path,
      mainScriptUrlOrBlob: "metalab:wasm-glue",
      instantiateWasm: (
        imports: WebAssembly.Imports,
        receiveInstance: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
      ) => {
        WebAssembly.instantiate(wasmModule, imports).then(
          (instance) => receiveInstance(instance, wasmModule),
          (e) => rejectStartup(new Error(`wasm threads: instantiate failed: ${e.message}`)),
        );
        return {};
      },
      onAbort: (what: unknown) => rejectStartup(new Error(`wasm threads: aborted (${what})`)),
      print: (text: string) => console.log(text),
      printErr: (text: string) => {
        // Said when tfjs joins its pool threads on dispose; a browser's main thread must not
        // block, but Deno's may (Atomics.wait is allowed there).
        if (!text.startsWith("Blocking on the main thread is very dangerous")) console.error(text);
      },
    });
    const module = await Promise.race([ready, failure, timeout]);
    startup.done = true;
    module.tfjs = {
      init: module.cwrap("init", null, []),
      initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
      getThreadsCount: module.cwrap("get_threads_count", "number", []),
      registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
      disposeData: module.cwrap("dispose_data", null, ["number"]),
      dispose: module.cwrap("dispose", null, []),
    };
    for (const worker of started) worker.unref();
    return { module, workers: started.length };
  } catch (e) {
    startup.done = true;
    for (const worker of started) worker.terminate();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Terminates every pthread worker still running (after the backend using them is gone). */
export function terminateWasmThreads(): number {
  const n = liveWorkers.size;
  for (const worker of [...liveWorkers]) worker.terminate();
  return n;
}
