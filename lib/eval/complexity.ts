/**
 * The cost of meta-learning, measured: wall time and memory of a computation (a meta-step
 * of MAML, first-order MAML, Reptile, ANIL or ProtoNet), and the growth rate of a cost as a
 * knob grows (a least-squares slope, and the exponent of a power law on log axes).
 *
 * Memory is measured, never estimated, in the two ways a tfjs program can see it:
 *
 * - **tfjs bytes**: the engine's count of bytes held by live tensors (`tf.memory().numBytes`)
 *   before and after, and its high-water mark while the computation ran — the largest
 *   byte count after any kernel, which is what a second-order tape holding every inner step's
 *   activations shows up in (taken in the engine's profiling mode, as `tf.profile` does, but
 *   kept as a running maximum: `tf.profile` keeps a record per kernel and takes their maximum
 *   with `Math.max.apply`, which overflows the call stack past about 120,000 kernels — a
 *   32-task second-order MAML meta-step of 3 inner steps on Conv-4 already runs more);
 * - **process memory**: the resident set size (`Deno.memoryUsage().rss`) before and after,
 *   and, on the wasm backend, the size of its WebAssembly heap. Both are high-water marks in
 *   practice (a wasm heap grows and never shrinks), so they show the largest computation run
 *   so far in the process, not this one alone: measure in order of growing size.
 *
 * Time is measured without profiling (profiling reads every kernel's output back, which
 * changes the time), as the median of several repeats after warm-up.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { wasmBackendMemory } from "../backend/simd/mod.ts";
import type { Episode, MetaLearner } from "../meta/mod.ts";

/** What {@linkcode measureMemory} saw. */
export interface MemoryProbe<T> {
  /** What the probed function returned. */
  result: T;
  /** tfjs bytes held by live tensors before the function ran. */
  startBytes: number;
  /** tfjs bytes held after it returned (its kept results included). */
  endBytes: number;
  /**
   * The highest tfjs byte count while it ran (after any kernel, or before or after it; so
   * `startBytes` when it ran no kernel), an absolute count like `startBytes`.
   */
  peakBytes: number;
  /** `peakBytes − startBytes`: the most memory the computation held at once beyond what was there. */
  peakExtraBytes: number;
  /** `endBytes − startBytes`: bytes it left allocated (0 for a computation that frees all). */
  newBytes: number;
  /** Tensors it left allocated. */
  newTensors: number;
  /** Kernels it ran. */
  kernels: number;
  /** Process resident set size before, in bytes (`Deno.memoryUsage().rss`). */
  rssBefore: number;
  /** Process resident set size after, in bytes. */
  rssAfter: number;
  /** The wasm backend's heap after, in bytes (null on another backend). */
  wasmHeapBytes: number | null;
}

/** Bytes of the wasm backend's heap, or null when the backend is not wasm. */
export function wasmHeapBytes(): number | null {
  const memory = wasmBackendMemory(tf.backend());
  return memory ? memory.buffer.byteLength : null;
}

/**
 * Runs `f` in tfjs's profiling mode and reports the memory it used (see {@linkcode MemoryProbe}):
 * tfjs bytes before, after and at their peak, and the process's resident size.
 *
 * @example
 * ```ts
 * const probe = await measureMemory(() => tf.tidy(() => tf.zeros([1000]).sum()));
 * probe.peakExtraBytes; // ≥ 4,000: the float32 zeros existed while the sum ran
 * probe.newBytes; // 4: only the scalar sum is left
 * ```
 */
export async function measureMemory<T>(f: () => T | Promise<T>): Promise<MemoryProbe<T>> {
  const rssBefore = Deno.memoryUsage().rss;
  const before = tf.memory();
  const { result, peak, kernels } = await withPeakBytes(f);
  const after = tf.memory();
  const startBytes = before.numBytes;
  // With no kernel run, the peak is the maximum of nothing (−∞): nothing was added.
  const peakBytes = Math.max(peak, startBytes, after.numBytes);
  return {
    result,
    startBytes,
    endBytes: after.numBytes,
    peakBytes,
    peakExtraBytes: peakBytes - startBytes,
    newBytes: after.numBytes - startBytes,
    newTensors: after.numTensors - before.numTensors,
    kernels,
    rssBefore,
    rssAfter: Deno.memoryUsage().rss,
    wasmHeapBytes: wasmHeapBytes(),
  };
}

/** The part of tfjs's engine state its profiling mode uses (tfjs-core 4.x, `Engine.state`). */
interface ProfilingState {
  profiling: boolean;
  activeProfile: { kernels: { push(record: { totalBytesSnapshot: number }): number } };
}

/**
 * Runs `f` with tfjs's engine in profiling mode (what `tf.profile` does) and keeps, of the
 * record the engine pushes after each kernel, only the running maximum of its byte count and
 * the number of kernels: constant memory and no `Math.max.apply` over every record.
 *
 * @throws Error when a profile is already running (`tf.profile` or this, nested).
 */
async function withPeakBytes<T>(
  f: () => T | Promise<T>,
): Promise<{ result: T; peak: number; kernels: number }> {
  const state = (tf.engine() as unknown as { state: ProfilingState }).state;
  if (state.profiling) {
    throw new Error("measureMemory cannot run inside tf.profile or another measureMemory");
  }
  let peak = -Infinity;
  let kernels = 0;
  const saved = state.activeProfile.kernels;
  state.activeProfile.kernels = {
    push(record) {
      if (record.totalBytesSnapshot > peak) peak = record.totalBytesSnapshot;
      return ++kernels;
    },
  };
  state.profiling = true;
  try {
    const result = await f();
    return { result, peak, kernels };
  } finally {
    state.profiling = false;
    state.activeProfile.kernels = saved;
  }
}

/** Options of {@linkcode measureMetaStep}. */
export interface MeasureStepOptions {
  /** Untimed steps first (default 1: the first step compiles and grows the heap). */
  warmup?: number;
  /** Timed steps (default 3); the time reported is their median. */
  repeats?: number;
}

/** The cost of one meta-step of a learner on a meta-batch. */
export interface StepCost {
  /** The learner's name. */
  learner: string;
  /** Tasks in the meta-batch. */
  tasks: number;
  /** Median wall time of a timed step, in milliseconds. */
  medianMs: number;
  /** Each timed step's wall time, in milliseconds. */
  ms: number[];
  /** The most tfjs bytes one step held at once beyond the learner's own (parameters, optimiser). */
  peakExtraBytes: number;
  /** Bytes a step left allocated (0 unless it leaks; the optimiser's first step makes its slots). */
  newBytes: number;
  /** Process resident size after the steps, in bytes. */
  rssBytes: number;
  /** Growth of the resident size over the measured steps, in bytes. */
  rssGrowthBytes: number;
  /** The wasm backend's heap after the steps, in bytes (null on another backend). */
  wasmHeapBytes: number | null;
}

/**
 * Times and probes `learner.metaStep(tasks)`: `warmup` untimed steps, `repeats` timed ones
 * (median), then one step under {@linkcode measureMemory}. Each step updates the learner's
 * parameters as training would; the cost of a step does not depend on their values.
 */
export async function measureMetaStep(
  learner: Pick<MetaLearner, "name" | "metaStep">,
  tasks: Episode[],
  options: MeasureStepOptions = {},
): Promise<StepCost> {
  const { warmup = 1, repeats = 3 } = options;
  if (!Number.isInteger(warmup) || warmup < 0) {
    throw new RangeError(`measureMetaStep: warmup must be an integer ≥ 0, got ${warmup}`);
  }
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new RangeError(`measureMetaStep: repeats must be an integer ≥ 1, got ${repeats}`);
  }
  if (tasks.length === 0) throw new RangeError("measureMetaStep: an empty meta-batch");
  const rssStart = Deno.memoryUsage().rss;
  for (let i = 0; i < warmup; i++) learner.metaStep(tasks);
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    // metaStep reads its statistics back (dataSync), so the work is done when it returns.
    learner.metaStep(tasks);
    ms.push(performance.now() - t0);
  }
  const probe = await measureMemory(() => {
    learner.metaStep(tasks);
  });
  return {
    learner: learner.name,
    tasks: tasks.length,
    medianMs: median(ms),
    ms,
    peakExtraBytes: probe.peakExtraBytes,
    newBytes: probe.newBytes,
    rssBytes: probe.rssAfter,
    rssGrowthBytes: probe.rssAfter - rssStart,
    wasmHeapBytes: probe.wasmHeapBytes,
  };
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median: no values");
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A least-squares line y ≈ intercept + slope · x. */
export interface LinearFit {
  /** dy/dx. */
  slope: number;
  /** y at x = 0. */
  intercept: number;
  /** Coefficient of determination (1: the points lie on the line; NaN when y is constant). */
  r2: number;
}

/**
 * The least-squares line through (x_i, y_i): the growth rate of a cost per unit of a knob
 * (e.g. milliseconds per inner step).
 *
 * @example
 * ```ts
 * linearFit([1, 2, 3], [12, 22, 32]); // { slope: 10, intercept: 2, r2: 1 }
 * ```
 */
export function linearFit(x: readonly number[], y: readonly number[]): LinearFit {
  if (x.length !== y.length) {
    throw new RangeError(`linearFit: ${x.length} x values but ${y.length} y values`);
  }
  if (x.length < 2) throw new RangeError(`linearFit: needs ≥ 2 points, got ${x.length}`);
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) ** 2;
  }
  if (sxx === 0) throw new RangeError(`linearFit: every x is ${x[0]}; a slope needs two values`);
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? NaN : (sxy * sxy) / (sxx * syy) };
}

/**
 * The exponent b of a power law y ≈ a · x^b, fitted on log axes (the slope of log y on
 * log x): 1 for a cost linear in x, 0 for a flat one, 2 for a quadratic one. Needs
 * positive values.
 *
 * @example
 * ```ts
 * growthExponent([1, 2, 4], [3, 6, 12]); // 1: linear
 * ```
 */
export function growthExponent(x: readonly number[], y: readonly number[]): number {
  const bad = [...x, ...y].find((v) => !(v > 0));
  if (bad !== undefined) {
    throw new RangeError(`growthExponent: needs positive values on log axes, got ${bad}`);
  }
  return linearFit(x.map(Math.log), y.map(Math.log)).slope;
}
