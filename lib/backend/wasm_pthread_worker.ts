/**
 * The body of one pthread of tfjs's threaded-SIMD wasm build, run in a `node:worker_threads`
 * Worker under Deno (see `wasm_threads.ts`). It does what Emscripten's own
 * `tfjs-backend-wasm-threaded-simd.worker.js` does, minus its environment sniffing: under
 * Deno `process` exists, so that script takes its Node branch and then needs CommonJS
 * `require` and `importScripts(file)`, neither of which a Deno worker has. Here the glue's
 * source comes in `workerData` and is evaluated with the Node globals hidden, so it runs as
 * a plain (web-style) pthread worker.
 *
 * Protocol (Emscripten 3.1, as in that worker script): `load` (wasm module, shared memory,
 * handler names) → instantiate and answer `loaded`; `run` (thread entry point); `cancel`;
 * `processProxyingQueue`.
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { evaluateGlue } from "./wasm_glue.ts";

// deno-lint-ignore no-explicit-any
type EmscriptenModule = any;

const port = parentPort;
if (!port) throw new Error("wasm_pthread_worker.ts must run as a node:worker_threads Worker");
const { glueSource } = workerData as { glueSource: string };

let Module: EmscriptenModule = {};
let initializedJS = false;
let pendingNotifiedProxyingQueues: number[] = [];

function post(message: unknown, transfer?: Transferable[]): void {
  // deno-lint-ignore no-explicit-any
  port!.postMessage(message, transfer as any);
}

function handle(data: EmscriptenModule): void {
  try {
    if (data.cmd === "load") {
      Module.wasmModule = data.wasmModule;
      for (const handler of data.handlers as string[]) {
        Module[handler] = (...args: unknown[]) => post({ cmd: "callHandler", handler, args });
      }
      Module.wasmMemory = data.wasmMemory;
      Module.buffer = Module.wasmMemory.buffer;
      Module.ENVIRONMENT_IS_PTHREAD = true;
      Module.instantiateWasm = (
        info: WebAssembly.Imports,
        receiveInstance: (instance: WebAssembly.Instance) => void,
      ) => {
        const instance = new WebAssembly.Instance(Module.wasmModule, info);
        receiveInstance(instance);
        Module.wasmModule = null;
        return instance.exports;
      };
      const factory = evaluateGlue(glueSource, {
        pthread: true,
        postMessage: post,
        startWorker: (instance: EmscriptenModule) => {
          Module = instance;
          post({ cmd: "loaded" });
        },
      });
      factory(Module);
    } else if (data.cmd === "run") {
      Module.__emscripten_thread_init(data.pthread_ptr, 0, 0, 1);
      Module.establishStackSpace();
      Module.PThread.receiveObjectTransfer(data);
      Module.PThread.threadInitTLS();
      if (!initializedJS) {
        for (const queue of pendingNotifiedProxyingQueues) {
          Module.executeNotifiedProxyingQueue(queue);
        }
        pendingNotifiedProxyingQueues = [];
        initializedJS = true;
      }
      try {
        // For XNNPACK's thread pool this returns only when the pool is destroyed.
        Module.invokeEntryPoint(data.start_routine, data.arg);
      } catch (ex) {
        if (ex !== "unwind") {
          if (ex instanceof Module.ExitStatus) {
            if (!Module.keepRuntimeAlive()) {
              Module.__emscripten_thread_exit((ex as { status: number }).status);
            }
          } else {
            throw ex;
          }
        }
      }
    } else if (data.cmd === "cancel") {
      if (Module._pthread_self()) Module.__emscripten_thread_exit(-1);
    } else if (data.target === "setimmediate") {
      // Emscripten's setImmediate polyfill message: nothing to do.
    } else if (data.cmd === "processProxyingQueue") {
      if (initializedJS) Module.executeNotifiedProxyingQueue(data.queue);
      else pendingNotifiedProxyingQueues.push(data.queue);
    } else if (data.cmd) {
      console.error(`wasm pthread worker: unknown command ${data.cmd}`);
    }
  } catch (ex) {
    if (Module.__emscripten_thread_crashed) Module.__emscripten_thread_crashed();
    throw ex;
  }
}

port.on("message", handle);
