/**
 * Evaluates the Emscripten glue of tfjs's threaded-SIMD wasm build
 * (`wasm-out/tfjs-backend-wasm-threaded-simd.js`) with the environment it should see under
 * Deno. The glue picks its code path from globals: under Deno `process` exists, so it would
 * take the Node path (CommonJS `require`, `global.Worker = worker_threads.Worker`, pthread
 * workers loaded from a file path, process-wide exception handlers). Evaluated here, those
 * names are parameters: the Node globals are hidden, and `Worker` (main thread) or
 * `postMessage`/`startWorker` (pthread) are the ones MetaLab supplies.
 * Used by both `wasm_threads.ts` (main thread) and `wasm_pthread_worker.ts` (each pthread).
 * @module
 */

/** The glue's factory: `factory(moduleOverrides)` resolves to the ready Emscripten module. */
// deno-lint-ignore no-explicit-any
export type GlueFactory = (moduleOverrides: Record<string, any>) => Promise<any>;

/** What the glue may see besides the Deno globals it needs (WebAssembly, Atomics, …). */
export interface GlueEnvironment {
  /** True inside a pthread worker (the glue then takes its worker branch). */
  pthread: boolean;
  /** Main thread: the constructor of pthread workers (web-style API). */
  Worker?: unknown;
  /** Pthread: sends a message to the main thread. */
  postMessage?: (message: unknown, transfer?: Transferable[]) => void;
  /** Pthread: called by the glue once the instance is ready. */
  startWorker?: (instance: unknown) => void;
  /**
   * What `navigator.hardwareConcurrency` reads as. tfjs's C++ caps its thread pool at half
   * of it (assuming two hyperthreads per core), so on a 2-core machine it would never use
   * more than one thread; MetaLab passes twice the threads asked for.
   */
  logicalCores?: number;
}

/** The global the factory is assigned to in the glue's source. */
const FACTORY_NAME = "WasmBackendModuleThreadedSimd";

/**
 * Evaluates `source` (the glue's text) and returns its factory. Throws when the text does
 * not define the expected factory (a different tfjs build).
 */
export function evaluateGlue(source: string, env: GlueEnvironment): GlueFactory {
  if (!source.includes(`var ${FACTORY_NAME}`)) {
    throw new Error(`wasm glue: ${FACTORY_NAME} not found in the threaded glue's source`);
  }
  // Hidden (undefined): process, require, module, exports, define, window, document,
  // __filename, __dirname, global. The glue then believes it is on the web main thread's
  // "shell" branch (main) or in a web worker (pthread: `importScripts` is a function).
  const names = [
    "process",
    "require",
    "module",
    "exports",
    "define",
    "window",
    "document",
    "__filename",
    "__dirname",
    "global",
    "importScripts",
    "self",
    "Worker",
    "postMessage",
    "startWorker",
    "navigator",
  ];
  const importScripts = env.pthread
    ? () => {
      throw new Error("wasm glue: importScripts is not available in MetaLab's pthread worker");
    }
    : undefined;
  const self = env.pthread ? { location: { href: "" } } : undefined;
  const values = [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    importScripts,
    self,
    env.Worker,
    env.postMessage,
    env.startWorker,
    { hardwareConcurrency: env.logicalCores ?? navigator.hardwareConcurrency },
  ];
  const make = new Function(...names, `${source}\nreturn ${FACTORY_NAME};`);
  const factory = make(...values);
  if (typeof factory !== "function") {
    throw new Error(`wasm glue: ${FACTORY_NAME} is not a function`);
  }
  return factory as GlueFactory;
}
