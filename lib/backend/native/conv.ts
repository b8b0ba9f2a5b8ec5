/**
 * oneDNN convolutions on tensors where they lie in the wasm heap: forward, backward data and
 * backward weights of an NHWC conv with an HWIO filter (tfjs's layouts), each a oneDNN
 * primitive created once per shape and cached, executed on pointers into the heap.
 *
 * Zero-copy: the memory descriptors give oneDNN tfjs's layouts by explicit strides, so no
 * activation is reordered or copied on either side; each execution only points the cached
 * memory objects at this call's tensors (`dnnl_memory_set_data_handle`) and runs the
 * primitive. The one exception is by choice: filters with many input channels are reordered
 * into the blocked layout of oneDNN's faster JIT kernels ({@linkcode weightsLayout}; a 3×3×64×64
 * filter is 147 KB, an activation of a Conv-4 step several MB). The pointers are taken from
 * fresh views on every call: the heap may have grown (and, unshared, moved) since the last one.
 * @module
 */
import {
  ABI,
  anyDesc,
  check,
  dims,
  type Dnnl,
  implInfo,
  loadDnnl,
  memoryDesc,
  memoryObject,
  outPointer,
  pointerIn,
  queriedDesc,
} from "./dnnl.ts";
import {
  execArgs,
  execute,
  primitiveDesc,
  primitiveOf,
  setHandle,
  type Step,
} from "./primitive.ts";

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

/** A ready conv computation: its memory objects, the conv, and a weights reorder if any. */
interface Plan {
  /** Memory objects in the order execute() takes pointers: x (or dx), w (or dw), y (or dy). */
  memories: [Deno.PointerValue, Deno.PointerValue, Deno.PointerValue];
  conv: Step;
  /**
   * With blocked weights: the reorder of the filter from tfjs's HWIO into oneDNN's layout
   * (before the conv; forward and backward data) or of the filter gradient back (after it).
   */
  reorder?: Step & { when: "before" | "after" };
  /** oneDNN's implementation name, for reports. */
  impl: string;
}

/**
 * How the filter is handed to oneDNN: `plain` = tfjs's HWIO by strides (no reorder; oneDNN
 * then picks its GEMM-based convolution, `gemm:jit`), or `blocked` = the layout oneDNN's JIT
 * kernels want (`brgconv` / `jit:avx512_core` here), at the cost of reordering the filter (or
 * its gradient) per call — a small tensor next to the activations, which stay where they are.
 */
export type WeightsLayout = "plain" | "blocked";

/**
 * Filters with fewer input channels than this go `plain`, the others `blocked`. Measured on
 * Conv-4's ProtoNet shapes (80 images, 64 filters; forward + both gradients, 1 thread, loaded
 * 2-core AMD EPYC, medians of 7 alternating rounds): 28×28×1 → plain 22.7 ms, blocked 31.6 ms;
 * 14×14×64 → 81.3 vs 58.0 ms; 7×7×64 → 24.8 vs 13.1 ms; 3×3×64 → 6.9 vs 2.6 ms (wasm: 70.5,
 * 252, 72.1, 17.1 ms). JIT kernels work on 16-channel blocks; one input channel wastes them.
 */
const BLOCKED_MIN_CHANNELS = 16;

/** Per shape and kind; plus the forward descriptor each backward one is created against. */
const plans = new Map<string, Plan>();
const forwardDescs = new Map<string, Deno.PointerValue>();
/** Executions per kind since the process started (what tests read to see the path taken). */
const calls: Record<ConvKind, number> = { forward: 0, backwardData: 0, backwardWeights: 0 };

/**
 * The filter layout for `g`: `METALAB_NATIVE_WEIGHTS` (`plain` or `blocked`) when set, else
 * by the input channels ({@linkcode BLOCKED_MIN_CHANNELS}).
 *
 * @throws Error naming the value when `METALAB_NATIVE_WEIGHTS` is set to anything else.
 */
export function weightsLayout(g: ConvGeometry): WeightsLayout {
  let env: string | undefined;
  try {
    env = Deno.env.get("METALAB_NATIVE_WEIGHTS");
  } catch {
    env = undefined; // no --allow-env
  }
  if (env === undefined || env === "" || env === "auto") {
    return g.cin >= BLOCKED_MIN_CHANNELS ? "blocked" : "plain";
  }
  if (env !== "plain" && env !== "blocked") {
    throw new Error(`METALAB_NATIVE_WEIGHTS must be "plain", "blocked" or "auto", got "${env}"`);
  }
  return env;
}

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

/** The forward primitive descriptor of a geometry (cached: backward ones need it as hint). */
function forwardDesc(dnnl: Dnnl, g: ConvGeometry, layout: WeightsLayout): Deno.PointerValue {
  const key = `${layout}:${keyOf(g)}`;
  const cached = forwardDescs.get(key);
  if (cached) return cached;
  const { src, wei: plainWei, dst } = descs(dnnl, g);
  const wei = layout === "blocked" ? anyDesc(dnnl, [g.cout, g.cin, g.kh, g.kw]) : plainWei;
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

/** Creates (once) the primitive of `kind` for `g` (and its weights reorder, if blocked). */
function planFor(dnnl: Dnnl, kind: ConvKind, g: ConvGeometry, layout: WeightsLayout): Plan {
  const key = `${kind}:${layout}:${keyOf(g)}`;
  const cached = plans.get(key);
  if (cached) return cached;
  const { src, wei: plainWei, dst } = descs(dnnl, g);
  const wei = layout === "blocked" ? anyDesc(dnnl, [g.cout, g.cin, g.kh, g.kw]) : plainWei;
  const strides = dims([g.sh, g.sw]);
  const padL = dims([g.top, g.left]);
  const padR = dims([g.bottom, g.right]);
  const fwd = forwardDesc(dnnl, g, layout);
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
  const memories: Plan["memories"] = [
    memoryObject(dnnl, src),
    memoryObject(dnnl, plainWei),
    memoryObject(dnnl, dst),
  ];
  let convWeights = memories[1];
  let reorder: Plan["reorder"];
  if (layout === "blocked") {
    const query = kind === "backwardWeights" ? ABI.queryDiffWeightsMd : ABI.queryWeightsMd;
    const chosen = queriedDesc(dnnl, pd, query);
    if (!dnnl.symbols.dnnl_memory_desc_equal(chosen, plainWei)) {
      // oneDNN's layout: a buffer it owns, and a reorder between it and the tensor's HWIO.
      convWeights = memoryObject(dnnl, chosen, true);
      const when = kind === "backwardWeights" ? "after" : "before";
      const [from, to] = when === "before" ? [plainWei, chosen] : [chosen, plainWei];
      const out = outPointer();
      check(
        dnnl.symbols.dnnl_reorder_primitive_desc_create(
          out,
          from,
          dnnl.engine,
          to,
          dnnl.engine,
          null,
        ),
        `dnnl_reorder_primitive_desc_create(${key})`,
      );
      const rpd = pointerIn(out);
      const [fromMem, toMem] = when === "before"
        ? [memories[1], convWeights]
        : [convWeights, memories[1]];
      reorder = {
        primitive: primitiveOf(dnnl, rpd, `reorder ${key}`),
        args: execArgs([[ABI.argFrom, fromMem], [ABI.argTo, toMem]]),
        nargs: 2,
        when,
      };
    }
  }
  const conv: Step = {
    primitive: primitiveOf(dnnl, pd, key),
    args: execArgs([[roles[0], memories[0]], [roles[1], convWeights], [roles[2], memories[2]]]),
    nargs: 3,
  };
  const plan: Plan = { memories, conv, reorder, impl: implInfo(dnnl, pd) };
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
  const plan = planFor(dnnl, kind, g, weightsLayout(g));
  [x, w, y].forEach((view, i) => setHandle(dnnl, plan.memories[i], view));
  if (plan.reorder?.when === "before") execute(dnnl, plan.reorder, `weights reorder ${kind}`);
  execute(dnnl, plan.conv, `${kind} ${keyOf(g)}`);
  if (plan.reorder?.when === "after") execute(dnnl, plan.reorder, `weights reorder ${kind}`);
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
