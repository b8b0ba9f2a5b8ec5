/**
 * oneDNN convolutions on tensors where they lie in the wasm heap: forward, backward data and
 * backward weights of an NHWC conv with an HWIO filter (tfjs's layouts), each a oneDNN
 * primitive created once per shape and cached, executed on pointers into the heap.
 *
 * Zero-copy: the memory descriptors give oneDNN tfjs's layouts by explicit strides, so no
 * tensor is reordered or copied on either side; each execution only points the cached memory
 * objects at this call's tensors (`dnnl_memory_set_data_handle`) and runs the primitive. The
 * pointers are taken from fresh views on every call: the heap may have grown (and, unshared,
 * moved) since the last one.
 * @module
 */
import {
  ABI,
  check,
  dims,
  type Dnnl,
  implInfo,
  loadDnnl,
  memoryDesc,
  memoryObject,
  outPointer,
  pointerIn,
} from "./dnnl.ts";

/** One conv's geometry, as tfjs's `computeConv2DInfo` gives it (dilation 1, NHWC, HWIO). */
export interface ConvGeometry {
  n: number;
  h: number;
  w: number;
  cin: number;
  kh: number;
  kw: number;
  cout: number;
  ho: number;
  wo: number;
  sh: number;
  sw: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Which of the three conv computations. */
export type ConvKind = "forward" | "backwardData" | "backwardWeights";

/** A ready primitive: its memory objects (src, weights, dst roles) and its execution args. */
interface Plan {
  primitive: Deno.PointerValue;
  /** Memory objects in the order execute() takes pointers: x (or dx), w (or dw), y (or dy). */
  memories: [Deno.PointerValue, Deno.PointerValue, Deno.PointerValue];
  /** dnnl_exec_arg_t[3], pointing at `memories`. */
  args: Uint8Array;
  /** oneDNN's implementation name, for reports. */
  impl: string;
}

/** Per shape and kind; plus the forward descriptor each backward one is created against. */
const plans = new Map<string, Plan>();
const forwardDescs = new Map<string, Deno.PointerValue>();
/** Executions per kind since the process started (what tests read to see the path taken). */
const calls: Record<ConvKind, number> = { forward: 0, backwardData: 0, backwardWeights: 0 };

/** Cache key of a geometry. */
function keyOf(g: ConvGeometry): string {
  return [
    g.n,
    g.h,
    g.w,
    g.cin,
    g.kh,
    g.kw,
    g.cout,
    g.ho,
    g.wo,
    g.sh,
    g.sw,
    g.top,
    g.bottom,
    g.left,
    g.right,
  ]
    .join(",");
}

/** The three memory descriptors of a geometry in tfjs's layouts. */
function descs(dnnl: Dnnl, g: ConvGeometry) {
  const { n, h, w, cin, kh, kw, cout, ho, wo } = g;
  // oneDNN's logical dims are N,C,H,W and O,I,H,W; the strides say where tfjs keeps them.
  const src = memoryDesc(dnnl, [n, cin, h, w], [h * w * cin, 1, w * cin, cin]);
  const wei = memoryDesc(dnnl, [cout, cin, kh, kw], [1, cout, kw * cin * cout, cin * cout]);
  const dst = memoryDesc(dnnl, [n, cout, ho, wo], [ho * wo * cout, 1, wo * cout, cout]);
  return { src, wei, dst };
}

/** A primitive descriptor for an op descriptor (with the forward one as hint for backward). */
function primitiveDesc(
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

/** The forward primitive descriptor of a geometry (cached: backward ones need it as hint). */
function forwardDesc(dnnl: Dnnl, g: ConvGeometry): Deno.PointerValue {
  const key = keyOf(g);
  const cached = forwardDescs.get(key);
  if (cached) return cached;
  const { src, wei, dst } = descs(dnnl, g);
  const conv = new Uint8Array(ABI.convDescBytes);
  check(
    dnnl.symbols.dnnl_convolution_forward_desc_init(
      conv,
      ABI.forwardTraining,
      ABI.convolutionDirect,
      src,
      wei,
      null,
      dst,
      dims([g.sh, g.sw]),
      dims([g.top, g.left]),
      dims([g.bottom, g.right]),
    ),
    `dnnl_convolution_forward_desc_init(${key})`,
  );
  const pd = primitiveDesc(dnnl, conv, null, `conv forward ${key}`);
  forwardDescs.set(key, pd);
  return pd;
}

/** Creates (once) the primitive of `kind` for `g`. */
function planFor(dnnl: Dnnl, kind: ConvKind, g: ConvGeometry): Plan {
  const key = `${kind}:${keyOf(g)}`;
  const cached = plans.get(key);
  if (cached) return cached;
  const { src, wei, dst } = descs(dnnl, g);
  const strides = dims([g.sh, g.sw]);
  const padL = dims([g.top, g.left]);
  const padR = dims([g.bottom, g.right]);
  const fwd = forwardDesc(dnnl, g);
  let pd: Deno.PointerValue;
  let roles: [number, number, number];
  if (kind === "forward") {
    pd = fwd;
    roles = [ABI.argSrc, ABI.argWeights, ABI.argDst];
  } else if (kind === "backwardData") {
    const conv = new Uint8Array(ABI.convDescBytes);
    check(
      dnnl.symbols.dnnl_convolution_backward_data_desc_init(
        conv,
        ABI.convolutionDirect,
        src,
        wei,
        dst,
        strides,
        padL,
        padR,
      ),
      `dnnl_convolution_backward_data_desc_init(${key})`,
    );
    pd = primitiveDesc(dnnl, conv, fwd, key);
    roles = [ABI.argDiffSrc, ABI.argWeights, ABI.argDiffDst];
  } else {
    const conv = new Uint8Array(ABI.convDescBytes);
    check(
      dnnl.symbols.dnnl_convolution_backward_weights_desc_init(
        conv,
        ABI.convolutionDirect,
        src,
        wei,
        null,
        dst,
        strides,
        padL,
        padR,
      ),
      `dnnl_convolution_backward_weights_desc_init(${key})`,
    );
    pd = primitiveDesc(dnnl, conv, fwd, key);
    roles = [ABI.argSrc, ABI.argDiffWeights, ABI.argDiffDst];
  }
  const out = outPointer();
  check(dnnl.symbols.dnnl_primitive_create(out, pd), `dnnl_primitive_create(${key})`);
  const primitive = pointerIn(out);
  const impl = implInfo(dnnl, pd);
  const memories: Plan["memories"] = [
    memoryObject(dnnl, src),
    memoryObject(dnnl, wei),
    memoryObject(dnnl, dst),
  ];
  const args = new Uint8Array(ABI.execArgBytes * 3);
  const view = new DataView(args.buffer);
  for (let i = 0; i < 3; i++) {
    view.setInt32(i * ABI.execArgBytes, roles[i], true);
    view.setBigUint64(
      i * ABI.execArgBytes + 8,
      BigInt(Deno.UnsafePointer.value(memories[i])),
      true,
    );
  }
  const plan = { primitive, memories, args, impl };
  plans.set(key, plan);
  return plan;
}

/**
 * Runs the conv computation `kind` of geometry `g` on float32 views of the wasm heap, in
 * place: `forward` reads x, w and writes y; `backwardData` reads w, dy and writes dx;
 * `backwardWeights` reads x, dy and writes dw. Views, not copies: each must be the tensor's
 * own view on the heap (taken after the kernel's last allocation).
 *
 * @throws Error naming the oneDNN call when it fails (e.g. a geometry oneDNN rejects).
 */
export function runConv(
  kind: ConvKind,
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
): void {
  const dnnl = loadDnnl();
  const plan = planFor(dnnl, kind, g);
  const views = [x, w, y];
  for (let i = 0; i < 3; i++) {
    check(
      dnnl.symbols.dnnl_memory_set_data_handle(plan.memories[i], Deno.UnsafePointer.of(views[i])),
      "dnnl_memory_set_data_handle",
    );
  }
  check(
    dnnl.symbols.dnnl_primitive_execute(plan.primitive, dnnl.stream, 3, plan.args),
    `dnnl_primitive_execute(${kind} ${keyOf(g)})`,
  );
  check(dnnl.symbols.dnnl_stream_wait(dnnl.stream), "dnnl_stream_wait");
  calls[kind]++;
}

/** How many native conv computations of each kind ran so far in this process. */
export function convCallCounts(): Record<ConvKind, number> {
  return { ...calls };
}

/** The implementation oneDNN chose for each primitive created so far ("kind:shape" → name). */
export function convImplementations(): Record<string, string> {
  return Object.fromEntries([...plans].map(([key, plan]) => [key, plan.impl]));
}
