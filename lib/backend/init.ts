/**
 * Choosing and setting up the tfjs backend: WebGPU where a real GPU adapter exists, else
 * wasm (SIMD, binaries loaded offline from the npm package; on the idle cores by default,
 * see `wasm_threads.ts`), else the pure-JS cpu backend;
 * and registration of the kernels and gradients MetaLab adds (see `register_wasm_kernels.ts`,
 * `register_gradients.ts`), so conv nets train on wasm and second-order gradients flow through
 * conv2d, max-pool and batch norm on every backend.
 *
 * tfjs keeps its own state (registered backends, kernels and gradients, the active backend);
 * what MetaLab's set-up remembers between calls is one {@linkcode BackendState}.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  BackendWasm,
  getThreadsCount,
  setThreadsCount,
  setWasmPaths,
  version_wasm,
} from "@tensorflow/tfjs-backend-wasm";
import { registerNativeBackend } from "./native/register.ts";
import { ADDED_GRADIENTS, registerGradients } from "./register_gradients.ts";
import { registerWasmKernels } from "./register_wasm_kernels.ts";
import { wasmBinaryDir } from "./wasm_files.ts";
import { startThreadedWasm } from "./wasm_threads.ts";

/**
 * Backend names MetaLab knows; `auto` picks the fastest one available. `native` (wasm with
 * its convolutions, batch norm, pooling and ReLU in oneDNN through Deno's FFI, see `native/register.ts`) is opt-in only:
 * `auto` never picks it, since a fresh machine has no oneDNN.
 */
export const BACKEND_NAMES = ["auto", "webgpu", "wasm", "native", "cpu"] as const;
/** A backend choice. */
export type BackendChoice = typeof BACKEND_NAMES[number];

/** What {@linkcode initBackend} set up. */
export interface BackendInfo {
  /** The active tfjs backend name (`webgpu`, `wasm`, `native` or `cpu`). */
  name: string;
  /** What was asked for (`auto` or a name). */
  requested: string;
  /** tfjs version. */
  tfjsVersion: string;
  /** Versions of the tfjs packages in use. */
  versions: Record<string, string>;
  /** wasm and native: whether the SIMD build is in use. */
  simd?: boolean;
  /**
   * wasm and native: threads XNNPACK computes on (1 = the single-threaded SIMD build; more =
   * the threaded-SIMD build with `threads − 1` pthread workers). native: 1 unless wasm was
   * set up earlier in the process; its convs run on {@linkcode BackendInfo.nativeThreads}.
   */
  threads?: number;
  /**
   * native only: oneDNN's OpenMP threads (the count wasm alone would have chosen: the idle
   * cores, or `METALAB_WASM_THREADS`). The machine's share a run uses is this, not `threads`.
   */
  nativeThreads?: number;
  /** wasm and native: where the binaries were loaded from. */
  wasmDir?: string;
  /** native only: the library serving the convolutions, e.g. "oneDNN 2.6.3". */
  nativeLibrary?: string;
  /** webgpu only: the adapter's description. */
  adapter?: string;
  /** Why `auto` skipped faster backends, if it did. */
  notes: string[];
  /** Kernels MetaLab registered on wasm (native: and the ones oneDNN serves). */
  kernelsAdded: string[];
  /** Gradients MetaLab registered (every backend). */
  gradientsAdded: string[];
}

/** Returns a real (non-fallback, non-software) GPU adapter's description, or null. */
async function realGpuAdapter(notes: string[]): Promise<string | null> {
  // deno-lint-ignore no-explicit-any
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu?.requestAdapter) {
    notes.push("webgpu: navigator.gpu is not available");
    return null;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const adapter = await Promise.race([
      gpu.requestAdapter({ powerPreference: "high-performance" }),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), 5000);
      }),
    ]);
    if (!adapter) {
      notes.push("webgpu: no adapter");
      return null;
    }
    const info = adapter.info ?? {};
    const description = String(info.description || info.device || info.vendor || "unknown");
    if (
      adapter.isFallbackAdapter || info.isFallbackAdapter ||
      /llvmpipe|swiftshader|software/i.test(description)
    ) {
      notes.push(`webgpu: only a software adapter (${description})`);
      return null;
    }
    return description;
  } catch (e) {
    notes.push(`webgpu: requestAdapter failed (${(e as Error).message})`);
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What the backend set-up remembers between calls to {@linkcode initBackend}: the steps that
 * may run only once per process, and what they found, for {@linkcode BackendInfo}. A later
 * call reports the first one's wasm set-up: tfjs creates a backend once per process, so its
 * binaries and threads cannot change afterwards.
 */
interface BackendState {
  /**
   * The wasm set-up, once done (on the first wasm attempt): where the binaries are, given to
   * tfjs's `setWasmPaths` (which must precede the backend's creation), and how many threads
   * were chosen and why (reported in `notes`). A thread count above 1 also replaced tfjs's
   * wasm factory by the threaded one (`installThreadedFactory`), at this same once-only step.
   */
  wasm?: { dir: string; threadsReason: string; chosen: number };
  /**
   * Why the threaded wasm build is not in use, once that is known (reported in `notes`): set
   * by the threaded factory when it falls back to tfjs's single-threaded one, or when the
   * wasm backend existed before the factory could be replaced.
   */
  wasmThreadsNote?: string;
  /**
   * Whether `@tensorflow/tfjs-backend-webgpu` was imported: on the first WebGPU attempt only,
   * so that runs without a GPU never load it.
   */
  webgpuLoaded: boolean;
}

/** The one mutable state of the set-up (see {@linkcode BackendState}). */
const state: BackendState = { webgpuLoaded: false };

/** Upper bound on wasm threads: tfjs's C++ caps its pool at 8 (its pre-started workers). */
const MAX_WASM_THREADS = 8;

/**
 * wasm threads from the 1-minute load average: the logical cores less the load (rounded), at
 * least 1 and at most 8. The fallback of {@linkcode wasmThreadsChoice} where /proc/stat cannot
 * be read (not Linux, or no --allow-read): the load average still counts a job that ended
 * within the last minute or so (load 1.58 on an idle 2-core machine right after one), which is
 * why the CPU time idle now ({@linkcode idleThreadsFromProcStat}) comes first.
 *
 * Why not always every core: every XNNPACK op, however small, wakes the thread pool, and on
 * a machine busy with other jobs the pool's threads wait for a core. On the 2-core machine
 * with other jobs running, 2 threads were slower than 1 for the Conv-4 ProtoNet step and for
 * second-order MAML on Conv-4, and several times slower for a meta-learner test file of small
 * ops (a small Relu took a hundred times longer). On the idle machine 2 threads are markedly
 * faster wherever convs dominate (the 1- and 2-thread benchmark records of 2026-12-01 in
 * `docs/records/bench/`), and slightly slower for batched sinusoid MAML, all small ops.
 * Threads do not change results: XNNPACK splits work by output tiles, never inside a sum
 * (a Conv-4 training run gives the same bits on 1 and 2 threads; tests/wasm_threads_test.ts).
 */
export function idleCoreThreads(cores: number, load1: number): number {
  const idle = Math.floor(cores) - Math.round(Number.isFinite(load1) ? Math.max(0, load1) : cores);
  return Math.max(1, Math.min(MAX_WASM_THREADS, idle));
}

/**
 * The aggregate `cpu` line of a /proc/stat text: idle jiffies (idle + iowait), all jiffies
 * (user … steal; guest time is already inside user), and how many `cpuN` lines it lists.
 * Null when there is no well-formed `cpu` line.
 */
export function parseProcStat(text: string): { idle: number; total: number; cpus: number } | null {
  const line = text.split("\n").find((l) => /^cpu\s/.test(l));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((v) => !Number.isFinite(v) || v < 0)) return null;
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const cpus = text.split("\n").filter((l) => /^cpu\d+\s/.test(l)).length;
  return {
    idle: idle + iowait,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
    cpus: Math.max(1, cpus),
  };
}

/**
 * wasm threads from two /proc/stat samples taken a fraction of a second apart: the cores idle
 * between them (idle share of the jiffies × the CPUs listed, rounded), at least 1, at most
 * `cores` (this process's logical cores) and 8. Null when a sample is unreadable or no time
 * passed between them. A job that ended a second ago no longer counts, unlike the load average.
 *
 * @example
 * ```ts
 * const before = "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 …\ncpu1 …\n";
 * const after = "cpu  110 0 55 1185 0 0 0 0 0 0\ncpu0 …\ncpu1 …\n";
 * idleThreadsFromProcStat(before, after, 2); // 185 of 200 jiffies idle on 2 CPUs → 2
 * ```
 */
export function idleThreadsFromProcStat(
  before: string,
  after: string,
  cores: number,
): number | null {
  const a = parseProcStat(before), b = parseProcStat(after);
  if (!a || !b) return null;
  const total = b.total - a.total;
  const idle = b.idle - a.idle;
  if (!(total > 0) || idle < 0) return null;
  const idleCores = Math.min(1, idle / total) * b.cpus;
  return Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(cores), Math.round(idleCores)));
}

/** How long {@linkcode wasmThreadsChoice} watches /proc/stat, ms (a blocking sleep, no CPU). */
const IDLE_SAMPLE_MS = 250;

/** Threads from the CPU time idle over the next {@linkcode IDLE_SAMPLE_MS}; null off Linux. */
function sampleIdleThreads(cores: number): { threads: number; idleNote: string } | null {
  let before: string, after: string;
  try {
    before = Deno.readTextFileSync("/proc/stat");
    // A real sleep (this thread blocks without spinning), so the sample does not count us.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, IDLE_SAMPLE_MS);
    after = Deno.readTextFileSync("/proc/stat");
  } catch {
    return null; // no /proc/stat or no --allow-read
  }
  const threads = idleThreadsFromProcStat(before, after, cores);
  if (threads === null) return null;
  const a = parseProcStat(before)!, b = parseProcStat(after)!;
  const idleCores = ((b.idle - a.idle) / (b.total - a.total)) * b.cpus;
  return {
    threads,
    idleNote: `${idleCores.toFixed(2)} idle over ${IDLE_SAMPLE_MS} ms of /proc/stat`,
  };
}

/**
 * `METALAB_WASM_THREADS` checked: undefined when unset (or empty, or no --allow-env), else
 * `"auto"` or an integer 1–8 as a string.
 *
 * @throws Error naming the value when it is neither.
 */
function wasmThreadsEnv(): string | undefined {
  let env: string | undefined;
  try {
    env = Deno.env.get("METALAB_WASM_THREADS");
  } catch {
    env = undefined; // no --allow-env: the default
  }
  if (env === undefined || env === "" || env === "auto") return env || undefined;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new Error(
      `METALAB_WASM_THREADS must be "auto" or an integer from 1 to ${MAX_WASM_THREADS}, ` +
        `got "${env}"`,
    );
  }
  return env;
}

/**
 * The thread count for wasm and why (for {@linkcode BackendInfo.notes}): unset = the cores idle
 * now, from /proc/stat over {@linkcode IDLE_SAMPLE_MS} (else from the load average).
 */
function wasmThreadsChoice(): { threads: number; reason: string } {
  const env = wasmThreadsEnv();
  const cores = navigator.hardwareConcurrency || 1;
  if (env === undefined) {
    const idle = sampleIdleThreads(cores);
    if (idle) {
      return {
        threads: idle.threads,
        reason: `the idle cores (${cores} cores, ${idle.idleNote}; METALAB_WASM_THREADS unset)`,
      };
    }
    let load1 = NaN;
    try {
      load1 = Deno.loadavg()[0];
    } catch {
      // no --allow-sys: the load is unknown, so one thread (the safe choice on a busy machine)
    }
    const threads = idleCoreThreads(cores, load1);
    const load = Number.isFinite(load1) ? `load ${load1.toFixed(2)}` : "load unknown";
    return {
      threads,
      reason: `the idle cores (${cores} cores, ${load}; METALAB_WASM_THREADS unset)`,
    };
  }
  if (env === "auto") {
    return {
      threads: Math.max(1, Math.min(cores, MAX_WASM_THREADS)),
      reason: "every core (METALAB_WASM_THREADS=auto)",
    };
  }
  const n = Number(env);
  return { threads: n, reason: `METALAB_WASM_THREADS=${n}` };
}

/**
 * Threads wanted for wasm: `METALAB_WASM_THREADS` if set (an integer 1–8, 1 = the
 * single-threaded build; or `auto` = the logical cores, at most 8), else the cores idle now
 * ({@linkcode idleThreadsFromProcStat} over a quarter of a second; where /proc/stat is not
 * readable, {@linkcode idleCoreThreads} from the load average).
 *
 * @throws Error when `METALAB_WASM_THREADS` is neither `auto` nor an integer in 1..8.
 */
export function wasmThreadsWanted(): number {
  return wasmThreadsChoice().threads;
}

/**
 * Replaces tfjs's `wasm` backend factory by one that starts the threaded-SIMD build with
 * `threads` threads and falls back to tfjs's own (single-threaded SIMD) factory when that
 * fails. Only before the wasm backend exists: an existing instance is left alone. Called
 * once, from the one-time wasm set-up (`BackendState.wasm`).
 */
function installThreadedFactory(threads: number): void {
  // deno-lint-ignore no-explicit-any
  const engine = tf.engine() as any;
  const original = tf.findBackendFactory("wasm");
  if (!original) return; // tfjs-backend-wasm not registered: setBackend reports it
  if (engine.registry?.wasm) {
    state.wasmThreadsNote = "wasm: backend created before initBackend; its threads are kept";
    return;
  }
  const priority: number = engine.registryFactory?.wasm?.priority ?? 2;
  tf.removeBackend("wasm");
  tf.registerBackend("wasm", async () => {
    let module;
    try {
      module = (await startThreadedWasm(threads)).module;
    } catch (e) {
      state.wasmThreadsNote = `wasm: threaded build did not start (${(e as Error).message}); ` +
        `using the single-threaded SIMD build`;
      setThreadsCount(1);
      return await original();
    }
    setThreadsCount(threads);
    try {
      return new BackendWasm(module);
    } catch (e) {
      module.PThread?.terminateAllThreads();
      state.wasmThreadsNote = `wasm: threaded backend failed (${(e as Error).message}); ` +
        `using the single-threaded SIMD build`;
      setThreadsCount(1);
      return await original();
    }
  }, priority);
}

async function tryWebgpu(): Promise<boolean> {
  if (!state.webgpuLoaded) {
    await import("@tensorflow/tfjs-backend-webgpu");
    state.webgpuLoaded = true;
  }
  try {
    return await tf.setBackend("webgpu");
  } catch {
    return false;
  }
}

/**
 * Activates wasm, after the one-time set-up (`BackendState.wasm`) on the first call: on the
 * chosen threads ({@linkcode wasmThreadsChoice}), or on one thread with `forNative` (the chosen
 * count is kept in `state.wasm.chosen` for oneDNN; see {@linkcode tryNative}).
 */
async function tryWasm(forNative = false): Promise<boolean> {
  if (!state.wasm) {
    const { threads: chosen, reason } = wasmThreadsChoice();
    const dir = wasmBinaryDir();
    setWasmPaths(dir);
    const threads = forNative ? 1 : chosen;
    state.wasm = {
      dir,
      chosen,
      threadsReason: forNative
        ? `wasm: 1 thread (native: the ${chosen} chosen for ${reason} go to oneDNN)`
        : `wasm: ${threads} thread${threads > 1 ? "s" : ""}: ${reason}`,
    };
    if (threads > 1) installThreadedFactory(threads);
  }
  try {
    return await tf.setBackend("wasm");
  } catch {
    return false;
  }
}

/** Registers MetaLab's kernels and gradients (idempotent); called by {@linkcode initBackend}. */
export function registerExtensions(): { kernelsAdded: string[]; gradientsAdded: string[] } {
  const kernelsAdded = registerWasmKernels();
  registerGradients();
  return { kernelsAdded, gradientsAdded: [...ADDED_GRADIENTS] };
}

/**
 * Activates `native`: wasm first, then oneDNN and the backend of that name on the same wasm
 * instance. The thread count wasm would have chosen goes to oneDNN's OpenMP team, and wasm
 * itself (the small ops between convs, on the main thread) runs on one thread with OpenMP
 * spinning: two thread pools on the same cores fight, and on the idle 2-core machine this
 * split was the fastest measured (a 32-task first-order MAML step 1.28 s against 2.03 s with
 * both pools on 2 threads; `native/dnnl.ts`). Where wasm was already set up on more threads
 * (a `wasm` run earlier in the process), wasm keeps them and OpenMP waits passively.
 *
 * @throws Error when wasm fails, or naming the library and its apt command when absent.
 */
async function tryNative(): Promise<
  { library: string; kernels: string[]; threads: number; waitPolicy: string }
> {
  if (!(await tryWasm(true))) throw new Error(`backend "native" needs wasm, which failed`);
  const threads = state.wasm?.chosen ?? getThreadsCount();
  const policy = getThreadsCount() > 1 ? "passive" : "active";
  const { version, kernels, waitPolicy } = registerNativeBackend(tf.backend(), threads, policy);
  if (!(await tf.setBackend("native"))) throw new Error(`backend "native" failed to initialise`);
  return { library: `oneDNN ${version}`, kernels, threads, waitPolicy };
}

/**
 * Sets up and activates a backend: `auto` (default) picks WebGPU where a real GPU adapter
 * exists, else wasm (SIMD when the runtime supports it, as Deno does; on the idle cores
 * unless `METALAB_WASM_THREADS` says otherwise, see {@linkcode wasmThreadsWanted}, and then
 * on that many threads when the threaded build starts, else one), else cpu; a name forces that
 * backend. `native` (never chosen by `auto`) is wasm on one thread with its convolutions run
 * by oneDNN (Debian's libdnnl2) on the threads wasm would have chosen. Registers MetaLab's
 * kernels and gradients first (idempotent).
 *
 * @throws Error on an unknown name (listing the choices) or when a named backend fails
 *   (`native` without oneDNN: naming the library and the apt command that installs it).
 * @example
 * ```ts
 * const info = await initBackend("native"); // info.nativeLibrary: "oneDNN 2.6.3"
 * ```
 */
export async function initBackend(choice: string = "auto"): Promise<BackendInfo> {
  if (!(BACKEND_NAMES as readonly string[]).includes(choice)) {
    throw new Error(`unknown backend "${choice}": choose one of ${BACKEND_NAMES.join(", ")}`);
  }
  // A bad METALAB_WASM_THREADS is an error whichever backend `auto` would end up on (checked
  // without sampling the idle cores: that happens once, when wasm is set up).
  if (choice === "auto" || choice === "wasm" || choice === "native") wasmThreadsEnv();
  const { kernelsAdded, gradientsAdded } = registerExtensions();
  const notes: string[] = [];
  let adapter: string | undefined;
  let active: string | null = null;
  let native: Awaited<ReturnType<typeof tryNative>> | undefined;
  if (choice === "native") {
    native = await tryNative();
    active = "native";
  }
  if (choice === "auto" || choice === "webgpu") {
    const description = await realGpuAdapter(notes);
    if (description && (await tryWebgpu())) {
      active = "webgpu";
      adapter = description;
    } else if (choice === "webgpu") {
      throw new Error(
        `backend "webgpu" is not available here: ${notes.join("; ") || "setup failed"}`,
      );
    }
  }
  if (!active && (choice === "auto" || choice === "wasm")) {
    try {
      if (await tryWasm()) active = "wasm";
      else notes.push("wasm: backend failed to initialise");
    } catch (e) {
      if (choice === "wasm") throw e;
      notes.push(`wasm: ${(e as Error).message}`);
    }
    if (!active && choice === "wasm") {
      throw new Error(`backend "wasm" failed to initialise: ${notes.join("; ")}`);
    }
  }
  if (!active) {
    if (!(await tf.setBackend("cpu"))) throw new Error(`backend "cpu" failed to initialise`);
    active = "cpu";
  }
  await tf.ready();
  const versions: Record<string, string> = { ...tf.version } as Record<string, string>;
  versions["tfjs-backend-wasm"] = version_wasm;
  const info: BackendInfo = {
    name: tf.getBackend(),
    requested: choice,
    tfjsVersion: tf.version.tfjs,
    versions,
    notes,
    kernelsAdded: active === "wasm"
      ? kernelsAdded
      : native
      ? [...new Set([...kernelsAdded, ...native.kernels])]
      : [],
    gradientsAdded,
  };
  if (native) {
    info.nativeLibrary = native.library;
    info.nativeThreads = native.threads;
  }
  if (active === "wasm" || active === "native") {
    info.simd = Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
    info.threads = getThreadsCount();
    info.wasmDir = state.wasm?.dir;
    if (state.wasm) notes.push(state.wasm.threadsReason);
    if (state.wasmThreadsNote) notes.push(state.wasmThreadsNote);
    if (native) {
      notes.push(
        `native: ${native.kernels.join(", ")} in ${native.library} (OpenMP, ` +
          `${native.threads} thread${native.threads > 1 ? "s" : ""}, ` +
          `waiting: ${native.waitPolicy})`,
      );
    }
  }
  if (adapter) info.adapter = adapter;
  return info;
}
