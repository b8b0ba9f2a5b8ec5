/**
 * oneDNN (Intel's deep-learning primitives, Debian's `libdnnl2`) through Deno's FFI: loading
 * the library, the few C API calls MetaLab's native kernels use, and the constants of the
 * oneDNN 2.x ABI they need (struct sizes, enum values), checked against the loaded version.
 *
 * Why oneDNN: PyTorch's CPU convolutions run through it (as `mkldnn`), with AVX2/AVX-512 FMA
 * kernels, which the wasm build's 128-bit SIMD without fused multiply-add cannot match. The
 * library is optional: {@linkcode loadDnnl} throws an error naming the package and the apt
 * command when it is absent, and nothing else in MetaLab loads it.
 * @module
 */

/** The apt command that installs what the native backend needs. */
export const DNNL_INSTALL = "apt-get install -y libdnnl2";

/**
 * The library opened: `METALAB_DNNL_LIBRARY` (a path or soname) when set, else Debian
 * bookworm's libdnnl2 soname (oneDNN 2.x).
 */
function soname(): string {
  try {
    return Deno.env.get("METALAB_DNNL_LIBRARY") || "libdnnl.so.2";
  } catch {
    return "libdnnl.so.2"; // no --allow-env
  }
}

/**
 * oneDNN 2.x ABI, from its headers (`oneapi/dnnl/dnnl_types.h`, 2.6.3; measured with
 * `sizeof` in C): the sizes of the structs MetaLab allocates and the enum values it passes.
 * oneDNN 3 changed the API (descriptors became opaque handles), so {@linkcode loadDnnl}
 * accepts major version 2 only.
 */
export const ABI = {
  /** sizeof(dnnl_memory_desc_t). */
  memoryDescBytes: 696,
  /** sizeof(dnnl_convolution_desc_t). */
  convDescBytes: 5976,
  /** sizeof(dnnl_eltwise_desc_t). */
  eltwiseDescBytes: 1416,
  /** sizeof(dnnl_pooling_desc_t). */
  poolingDescBytes: 3192,
  /** sizeof(dnnl_batch_normalization_desc_t). */
  batchNormDescBytes: 3496,
  /** sizeof(dnnl_matmul_desc_t). */
  matmulDescBytes: 2800,
  /** sizeof(dnnl_exec_arg_t): { int arg; dnnl_memory_t memory; } with padding. */
  execArgBytes: 16,
  /** DNNL_MAX_NDIMS: a dnnl_dims_t is this many int64. */
  maxDims: 12,
  f32: 3,
  forwardTraining: 64,
  forwardInference: 96,
  backward: 128,
  backwardData: 160,
  backwardWeights: 192,
  convolutionDirect: 1,
  eltwiseRelu: 0x1f,
  poolingMax: 0x1ff,
  /** Normalization flags: scale γ and shift β as separate [C] tensors (oneDNN ≥ 2.3). */
  useScale: 0x8,
  useShift: 0x10,
  engineCpu: 1,
  streamDefaultFlags: 1,
  queryImplInfoStr: 8,
  queryWeightsMd: 131,
  queryWorkspaceMd: 135,
  queryDiffWeightsMd: 132,
  formatTagAny: 1,
  argFrom: 1,
  argTo: 17,
  argSrc: 1,
  argDst: 17,
  argWeights: 33,
  argDiffSrc: 129,
  argDiffDst: 145,
  argDiffWeights: 161,
  argMean: 49,
  argVariance: 50,
  argScale: 51,
  argShift: 52,
  argWorkspace: 64,
  argDiffScale: 255,
  argDiffShift: 256,
} as const;

const SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_desc_init_by_strides: {
    parameters: ["buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_eltwise_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_eltwise_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_pooling_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_pooling_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_batch_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_batch_normalization_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_matmul_desc_init: {
    parameters: ["buffer", "buffer", "buffer", "pointer", "buffer"],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_desc_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_primitive_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_execute: {
    parameters: ["pointer", "pointer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_memory_create: { parameters: ["buffer", "buffer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_memory_desc_equal: { parameters: ["buffer", "buffer"], result: "i32" },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "buffer", "pointer", "pointer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The OpenMP runtime oneDNN is built on (Debian's is libgomp): its thread count. */
const GOMP_SYMBOLS = {
  omp_set_num_threads: { parameters: ["i32"], result: "void" },
  omp_get_max_threads: { parameters: [], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library: its calls, version, and the one CPU engine and stream MetaLab uses. */
export interface Dnnl {
  /** The C functions (see {@linkcode SYMBOLS}). */
  symbols: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
  /** "major.minor.patch". */
  version: string;
  /** The CPU engine. */
  engine: Deno.PointerValue;
  /** Its (in-order, synchronous with the OpenMP runtime) stream. */
  stream: Deno.PointerValue;
  /** OpenMP's thread count now. */
  threads(): number;
  /** Sets OpenMP's thread count for later primitives' executions. */
  setThreads(n: number): void;
  /**
   * How OpenMP's threads wait, as it read the environment when it loaded: e.g. "ACTIVE,
   * GOMP_SPINCOUNT 3000000", "PASSIVE", or "default" (neither variable set).
   */
  waitPolicy: string;
}

let loaded: Dnnl | undefined;

/** A pointer-sized out-parameter. */
export function outPointer(): BigUint64Array {
  return new BigUint64Array(1);
}

/** The pointer an out-parameter received. */
export function pointerIn(out: BigUint64Array): Deno.PointerValue {
  return Deno.UnsafePointer.create(out[0]);
}

/** Throws, naming the call and the oneDNN status, unless `status` is dnnl_success (0). */
export function check(status: number, what: string): void {
  if (status !== 0) {
    // dnnl_status_t: 1 out_of_memory, 2 invalid_arguments, 3 unimplemented, 4 iterator_ends,
    // 5 runtime_error, 6 not_required.
    const names = ["success", "out of memory", "invalid arguments", "unimplemented"];
    throw new Error(`oneDNN ${what} failed: status ${status} (${names[status] ?? "error"})`);
  }
}

/**
 * How oneDNN's OpenMP threads wait between primitives, chosen once per process when oneDNN
 * loads: `active` spins for a bounded time ({@linkcode ACTIVE_SPIN_COUNT}: a conv that follows
 * within it starts at once; then the thread sleeps, so an idle process holds no core), `passive`
 * sleeps at once (the core is free for other threads, and every conv pays a wake-up).
 */
export type OmpWaitPolicy = "active" | "passive";

/**
 * libgomp's spin count for `active`: measured on the 2-core machine, 300,000 spins idled a
 * thread after under 10 ms, 3,000,000 after about 80 ms, 30,000,000 after 820 ms (CPU time in
 * the 2 s after a conv), and `OMP_WAIT_POLICY=ACTIVE` alone spins forever — which would burn a
 * core in an idle notebook kernel, and in the benchmark slow the PyTorch peer's turn.
 */
export const ACTIVE_SPIN_COUNT = 3_000_000;

/** The environment variables libgomp reads for how its threads wait (a user's set wins). */
const OMP_WAIT_VARIABLES = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"] as const;

/**
 * Opens oneDNN (once per process) and creates its CPU engine and stream, with OpenMP's wait
 * `policy` unless the caller set `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT` (theirs wins). Later
 * calls cannot change it: libgomp reads the environment once, when it loads. The variables are
 * set only while oneDNN (and so libgomp) loads and then restored, so that no child process (a
 * PyTorch peer, a test's subprocess) inherits them.
 *
 * Which policy wins depends on what else runs between the convolutions. With wasm on one
 * thread (what the `native` backend sets up: the main thread runs the small ops, oneDNN's
 * OpenMP team the convs), spinning is fastest: on the idle 2-core machine, two OpenMP threads,
 * a ProtoNet step took 39–43 ms spinning against 42–52 ms passive, a 32-task first-order MAML
 * step 1.28 s against 1.48–1.77 s, a 4-task 5-step second-order one 0.69–0.90 s against
 * 0.81–0.94 s (runs of 8–15 steps, alternating; spin counts of 3·10⁵, 3·10⁶ and forever were
 * within the runs' noise of each other). With wasm's own pthread pool also running (two wasm
 * threads), spinning OpenMP threads take the cores those pthreads need and they fight: on the
 * loaded 2-core machine a ProtoNet step took 151–176 ms passive and 280–1617 ms spinning, a
 * 4-task second-order MAML step 920–1016 ms against 4.3–7.8 s.
 *
 * @throws Error naming the library and the apt command when it cannot be opened, or when its
 *   major version is not 2.
 */
export function loadDnnl(policy: OmpWaitPolicy = "passive"): Dnnl {
  if (loaded) return loaded;
  const ours: Record<string, string> = policy === "active"
    ? { OMP_WAIT_POLICY: "ACTIVE", GOMP_SPINCOUNT: String(ACTIVE_SPIN_COUNT) }
    : { OMP_WAIT_POLICY: "PASSIVE" };
  let setByUs: string[] = [];
  let waitPolicy = "default";
  try {
    if (OMP_WAIT_VARIABLES.every((k) => Deno.env.get(k) === undefined)) {
      for (const [k, v] of Object.entries(ours)) Deno.env.set(k, v);
      setByUs = Object.keys(ours);
    }
    const read = OMP_WAIT_VARIABLES.filter((k) => Deno.env.get(k));
    if (read.length) {
      waitPolicy = read.map((k) =>
        k === "OMP_WAIT_POLICY" ? Deno.env.get(k)! : `${k} ${Deno.env.get(k)}`
      ).join(", ");
    }
  } catch {
    // no --allow-env: OpenMP's default policy
  }
  try {
    return openDnnl(waitPolicy);
  } finally {
    for (const k of setByUs) Deno.env.delete(k);
  }
}

/** {@linkcode loadDnnl} after the environment is set: opens the library, engine and stream. */
function openDnnl(waitPolicy: string): Dnnl {
  const name = soname();
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen(name, SYMBOLS);
  } catch (e) {
    throw new Error(
      `backend "native" needs oneDNN (${name}, Debian package libdnnl2), which did not load ` +
        `(${(e as Error).message.split("\n")[0]}); install it with: ${DNNL_INSTALL}`,
    );
  }
  const v = new Deno.UnsafePointerView(lib.symbols.dnnl_version()!);
  const version = `${v.getInt32(0)}.${v.getInt32(4)}.${v.getInt32(8)}`;
  if (v.getInt32(0) !== 2) {
    lib.close();
    throw new Error(
      `backend "native" needs oneDNN 2.x (the C API of Debian bookworm's libdnnl2), ` +
        `found ${version}`,
    );
  }
  const out = outPointer();
  check(lib.symbols.dnnl_engine_create(out, ABI.engineCpu, 0n), "dnnl_engine_create");
  const engine = pointerIn(out);
  check(lib.symbols.dnnl_stream_create(out, engine, ABI.streamDefaultFlags), "dnnl_stream_create");
  const stream = pointerIn(out);
  let gomp: Deno.DynamicLibrary<typeof GOMP_SYMBOLS> | undefined;
  try {
    // The same soname oneDNN links, so the same runtime (the loader returns the loaded one).
    gomp = Deno.dlopen("libgomp.so.1", GOMP_SYMBOLS);
  } catch {
    gomp = undefined; // another OpenMP runtime: its own default thread count
  }
  loaded = {
    symbols: lib.symbols,
    version,
    waitPolicy,
    engine,
    stream,
    threads: () => gomp?.symbols.omp_get_max_threads() ?? 0,
    setThreads: (n: number) => {
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`oneDNN threads must be a positive integer, got ${n}`);
      }
      gomp?.symbols.omp_set_num_threads(n);
    },
  };
  return loaded;
}

/** Whether oneDNN can be loaded here (without throwing); the reason when not. */
export function dnnlAvailable(): { ok: true; version: string } | { ok: false; reason: string } {
  try {
    return { ok: true, version: loadDnnl().version };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** A dnnl_dims_t (int64 × 12) holding `values`. */
export function dims(values: number[]): BigInt64Array {
  const out = new BigInt64Array(ABI.maxDims);
  values.forEach((v, i) => out[i] = BigInt(v));
  return out;
}

/**
 * A float32 memory descriptor of logical `shape` laid out with `strides` (in elements): how a
 * tensor in tfjs's layout is described to oneDNN without copying it (NHWC activations as
 * N,C,H,W dims with strides [H·W·C, 1, W·C, C]; HWIO filters as O,I,H,W dims with strides
 * [1, O, W·I·O, I·O]).
 */
export function memoryDesc(dnnl: Dnnl, shape: number[], strides: number[]): Uint8Array {
  const md = new Uint8Array(ABI.memoryDescBytes);
  check(
    dnnl.symbols.dnnl_memory_desc_init_by_strides(
      md,
      shape.length,
      dims(shape),
      ABI.f32,
      dims(strides),
    ),
    `dnnl_memory_desc_init_by_strides(${shape} / ${strides})`,
  );
  return md;
}

/** A float32 memory descriptor of `shape` whose layout the primitive chooses (format `any`). */
export function anyDesc(dnnl: Dnnl, shape: number[]): Uint8Array {
  const md = new Uint8Array(ABI.memoryDescBytes);
  check(
    dnnl.symbols.dnnl_memory_desc_init_by_tag(
      md,
      shape.length,
      dims(shape),
      ABI.f32,
      ABI.formatTagAny,
    ),
    `dnnl_memory_desc_init_by_tag(${shape}, any)`,
  );
  return md;
}

/** A copy of the memory descriptor a primitive descriptor chose for `query`. */
export function queriedDesc(dnnl: Dnnl, pd: Deno.PointerValue, query: number): Uint8Array {
  const p = dnnl.symbols.dnnl_primitive_desc_query_md(pd, query, 0);
  if (!p) throw new Error(`oneDNN dnnl_primitive_desc_query_md(${query}) returned NULL`);
  return new Uint8Array(new Deno.UnsafePointerView(p).getArrayBuffer(ABI.memoryDescBytes).slice(0));
}

/**
 * A memory object for `md`: with no buffer yet (`owned` false: each execution sets its data
 * handle to a tensor on the heap), or with a buffer oneDNN allocates and keeps (`owned`:
 * weights in a blocked layout of oneDNN's choosing).
 */
export function memoryObject(dnnl: Dnnl, md: Uint8Array, owned = false): Deno.PointerValue {
  const out = outPointer();
  // DNNL_MEMORY_ALLOCATE is ((void *)-1).
  const handle = owned ? Deno.UnsafePointer.create(0xffff_ffff_ffff_ffffn) : null;
  check(dnnl.symbols.dnnl_memory_create(out, md, dnnl.engine, handle), "dnnl_memory_create");
  return pointerIn(out);
}

/** The implementation oneDNN chose for a primitive descriptor (e.g. "brg:avx512_core"). */
export function implInfo(dnnl: Dnnl, pd: Deno.PointerValue): string {
  const out = outPointer();
  check(
    dnnl.symbols.dnnl_primitive_desc_query(pd, ABI.queryImplInfoStr, 0, out),
    "dnnl_primitive_desc_query(impl_info_str)",
  );
  const p = pointerIn(out);
  return p ? Deno.UnsafePointerView.getCString(p) : "?";
}
