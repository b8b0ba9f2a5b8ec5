/**
 * What every native kernel does with a oneDNN primitive: create it once per shape (cached by
 * a key), point its memory objects at this call's tensors in the wasm heap, execute it, wait.
 * The conv kernels (`conv.ts`) and the batch-norm, pooling and ReLU kernels share these
 * pieces; each kernel only says which op descriptor it builds and which tensors go where.
 * @module
 */
import {
  ABI,
  check,
  type Dnnl,
  implInfo,
  loadDnnl,
  memoryDesc,
  memoryObject,
  outPointer,
  pointerIn,
} from "./dnnl.ts";

/** A primitive with its execution args (dnnl_exec_arg_t[]). */
export interface Step {
  primitive: Deno.PointerValue;
  args: Uint8Array;
  nargs: number;
}

/** Execution args for `pairs` of (role, memory object). */
export function execArgs(pairs: Array<[number, Deno.PointerValue]>): Uint8Array {
  const args = new Uint8Array(ABI.execArgBytes * pairs.length);
  const view = new DataView(args.buffer);
  pairs.forEach(([role, memory], i) => {
    view.setInt32(i * ABI.execArgBytes, role, true);
    view.setBigUint64(i * ABI.execArgBytes + 8, BigInt(Deno.UnsafePointer.value(memory)), true);
  });
  return args;
}

/** A created primitive for a primitive descriptor. */
export function primitiveOf(dnnl: Dnnl, pd: Deno.PointerValue, what: string): Deno.PointerValue {
  const out = outPointer();
  check(dnnl.symbols.dnnl_primitive_create(out, pd), `dnnl_primitive_create(${what})`);
  return pointerIn(out);
}

/** A primitive descriptor for an op descriptor (with the forward one as hint for backward). */
export function primitiveDesc(
  dnnl: Dnnl,
  opDesc: Uint8Array,
  hint: Deno.PointerValue,
  what: string,
): Deno.PointerValue {
  const out = outPointer();
  check(
    dnnl.symbols.dnnl_primitive_desc_create(out, opDesc, null, dnnl.engine, hint),
    `dnnl_primitive_desc_create(${what})`,
  );
  return pointerIn(out);
}

/** Executes one primitive on the stream (the caller waits for the stream). */
export function execute(dnnl: Dnnl, step: Step, what: string): void {
  check(
    dnnl.symbols.dnnl_primitive_execute(step.primitive, dnnl.stream, step.nargs, step.args),
    `dnnl_primitive_execute(${what})`,
  );
}

/** Points a memory object at a tensor's view on the heap. */
export function setHandle(dnnl: Dnnl, memory: Deno.PointerValue, view: Float32Array): void {
  check(
    dnnl.symbols.dnnl_memory_set_data_handle(memory, Deno.UnsafePointer.of(view)),
    "dnnl_memory_set_data_handle",
  );
}

/**
 * A ready primitive of a native kernel other than a conv: one or more steps run in order, the
 * memory objects each call points at its tensors (`inputs`, in the order the kernel passes
 * views), and oneDNN's implementation name for reports.
 */
export interface Plan {
  steps: Step[];
  inputs: Deno.PointerValue[];
  impl: string;
}

/** What a kernel's plan builder returns: its steps' descriptors and memory objects. */
export interface PlanParts {
  /** Each step: its primitive descriptor and its (role, memory object) pairs. */
  steps: Array<{ pd: Deno.PointerValue; args: Array<[number, Deno.PointerValue]> }>;
  /** The memory objects set per call, in the order of `runPlan`'s views. */
  inputs: Deno.PointerValue[];
}

const plans = new Map<string, Plan>();
/** Executions per kernel family ("batchNormForward", "maxPool", …) since the process started. */
const calls: Record<string, number> = {};

/**
 * The plan cached under `key`, built by `build` the first time (each step's primitive
 * created, the last step's implementation name kept).
 */
export function cachedPlan(key: string, build: (dnnl: Dnnl) => PlanParts): Plan {
  const cached = plans.get(key);
  if (cached) return cached;
  const dnnl = loadDnnl();
  const parts = build(dnnl);
  const plan: Plan = {
    steps: parts.steps.map((s, i) => ({
      primitive: primitiveOf(dnnl, s.pd, `${key} step ${i}`),
      args: execArgs(s.args),
      nargs: s.args.length,
    })),
    inputs: parts.inputs,
    impl: parts.steps.map((s) => implInfo(dnnl, s.pd)).join(" + "),
  };
  plans.set(key, plan);
  return plan;
}

/**
 * Runs `plan` on `views` (each a tensor's own view on the heap, taken after the kernel's last
 * allocation, in the order of the plan's inputs) and waits for it; counts it under `family`.
 */
export function runPlan(family: string, key: string, plan: Plan, views: Float32Array[]): void {
  const dnnl = loadDnnl();
  if (views.length !== plan.inputs.length) {
    throw new Error(`native ${key}: expected ${plan.inputs.length} tensors, got ${views.length}`);
  }
  views.forEach((v, i) => setHandle(dnnl, plan.inputs[i], v));
  plan.steps.forEach((s, i) => execute(dnnl, s, `${key} step ${i}`));
  check(dnnl.symbols.dnnl_stream_wait(dnnl.stream), "dnnl_stream_wait");
  calls[family] = (calls[family] ?? 0) + 1;
}

/** A memory object with no buffer yet (each call sets it), for descriptor `md`. */
export function unowned(dnnl: Dnnl, md: Uint8Array): Deno.PointerValue {
  return memoryObject(dnnl, md, false);
}

/**
 * The descriptor of a tensor of tfjs `shape` as oneDNN sees it: an NHWC tensor as N,C,H,W
 * dims with NHWC strides; any other rank as `[rows, C]` (C the last axis), the layout
 * batch norm reduces over; `flat` as one axis of all its elements (element-wise ops).
 */
export function tensorDesc(dnnl: Dnnl, shape: number[], flat = false): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (flat) return memoryDesc(dnnl, [size], [1]);
  if (shape.length === 4) {
    const [n, h, w, c] = shape;
    return memoryDesc(dnnl, [n, c, h, w], [h * w * c, 1, w * c, c]);
  }
  const c = shape[shape.length - 1];
  return memoryDesc(dnnl, [size / c, c], [c, 1]);
}

/** How many native executions of each non-conv kernel family ran so far in this process. */
export function primitiveCallCounts(): Record<string, number> {
  return { ...calls };
}

/** The implementation oneDNN chose for each non-conv plan created so far (key → name). */
export function primitiveImplementations(): Record<string, string> {
  return Object.fromEntries([...plans].map(([key, plan]) => [key, plan.impl]));
}
