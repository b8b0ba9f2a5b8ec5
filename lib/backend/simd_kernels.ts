/**
 * Kernels of MetaLab's own in WebAssembly SIMD, for loops that tfjs's wasm backend runs
 * slowly and that no XNNPACK op expresses. The module is a few hundred bytes, assembled
 * here at run time (no toolchain, no binary file in the repository) and instantiated on the
 * wasm backend's own memory, so it reads and writes tensors where they lie on the heap.
 *
 * - `maxPoolGrad2x2Row`: one output row of the 2×2, stride-2 max-pool gradient (Conv-4's
 *   pooling), four channels per instruction. A JS loop over the heap took 15 ms for
 *   80×28×28×64 on one core (≈ 3.3 ns an element); this takes ≈ 2 ms.
 * - `batchNormGradSums`, `batchNormGradDx`: the two passes of the fused batch-norm gradient.
 * - `reluGrad`: ReLU's gradient in one pass.
 * - `transpose4x4Blocks`: a strided float matrix transpose, 4×4 blocks at a time, behind the
 *   `Transpose` kernel's common cases (see `wasm_kernels.ts`).
 * @module
 */

// ---------------------------------------------------------------------------------------
// A minimal WebAssembly encoder: just what the kernels below use.

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => vec([...new TextEncoder().encode(s)].map((b) => [b]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const V128 = 0x7b;

/** The instructions the kernels use (opcodes from the WebAssembly core and SIMD specs). */
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32Const: (n: number) => [0x41, ...sleb(n)],
  i32Eqz: [0x45],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  // memarg: alignment hint 2^2 (addresses are float-aligned), offset 0.
  v128Load: [0xfd, 0x00, 2, 0],
  v128Store: [0xfd, 0x0b, 2, 0],
  v128Const: (bytes: number[]) => [0xfd, 0x0c, ...bytes],
  /** i8x16.shuffle picking the four 32-bit lanes `lanes` (0–3: first operand, 4–7: second). */
  shuffle32: (
    lanes: number[],
  ) => [0xfd, 0x0d, ...lanes.flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b))],
  f32x4Gt: [0xfd, 0x44],
  v128And: [0xfd, 0x4e],
  v128AndNot: [0xfd, 0x4f],
  v128Bitselect: [0xfd, 0x52],
  f32x4Add: [0xfd, ...uleb(0xe4)],
  f32x4Sub: [0xfd, ...uleb(0xe5)],
  f32x4Mul: [0xfd, ...uleb(0xe6)],
};

/**
 * `for (rows) { rowStart; for (groups of four channels) body }`, counting down the i32
 * locals `row` and `group` (both clobbered); `body` advances its own pointers.
 */
function rowsByChannelGroups(
  locals: { rows: number; groups: number; row: number; group: number },
  body: number[],
  rowStart: number[] = [],
): number[] {
  return [
    ...op.get(locals.rows),
    ...op.set(locals.row),
    ...op.block,
    ...op.loop,
    ...op.get(locals.row),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...op.get(locals.groups),
    ...op.set(locals.group),
    ...rowStart,
    ...op.loop,
    ...body,
    ...op.get(locals.group),
    ...op.i32Const(1),
    ...op.i32Sub,
    ...op.set(locals.group),
    ...op.get(locals.group),
    ...op.brIf(0),
    ...op.end,
    ...op.get(locals.row),
    ...op.i32Const(1),
    ...op.i32Sub,
    ...op.set(locals.row),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

/** A code-section entry: its size, the local declarations, the body and its `end`. */
function functionCode(locals: number[], body: number[]): number[] {
  const code = [...locals, ...body, ...op.end];
  return [...uleb(code.length), ...code];
}

/** `local += n`. */
const bump = (local: number, n: number) => [
  ...op.get(local),
  ...op.i32Const(n),
  ...op.i32Add,
  ...op.set(local),
];

const NEG_INF_X4 = Array.from({ length: 4 }, () => [0x00, 0x00, 0x80, 0xff]).flat();

/**
 * `maxPoolGrad2x2Row(dx, x, dy, outWidth, channelGroups, channelBytes, rowBytes)`: for
 * `outWidth` windows of one pair of input rows starting at byte `x` (the same offsets in
 * `dx`), with `channelGroups` = C/4, writes all four `dx` entries of every window: the
 * window's gradient `dy` (read from byte `dy` on) at its first maximum in row-major order,
 * 0 elsewhere. NaN never wins and a window of −∞/NaN gets no gradient, as on cpu.
 */
function maxPoolGrad2x2RowBody(): number[] {
  // Parameters 0–6, then locals.
  const [DX, X, DY, OUT_W, GROUPS, C_BYTES, ROW_BYTES] = [0, 1, 2, 3, 4, 5, 6];
  const [O, OX, G] = [7, 8, 9]; // i32: byte offset of the window, windows left, groups left
  const [V00, V01, V10, V11, BEST, M0, G1, G2, G3, T] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  const locals = vec([[...uleb(3), I32], [...uleb(10), V128]]);
  const at = (base: number, extra: number[][]) => [
    ...op.get(base),
    ...op.get(O),
    ...op.i32Add,
    ...extra.flatMap((i) => [...op.get(i[0]), ...op.i32Add]),
  ];
  const load = (
    extra: number[][],
    into: number,
  ) => [...at(X, extra), ...op.v128Load, ...op.set(into)];
  const store = (extra: number[][], value: number[]) => [
    ...at(DX, extra),
    ...value,
    ...op.v128Store,
  ];
  const pickNext = (v: number, g: number) => [
    // g = v > best; best = g ? v : best
    ...op.get(v),
    ...op.get(BEST),
    ...op.f32x4Gt,
    ...op.set(g),
    ...op.get(v),
    ...op.get(BEST),
    ...op.get(g),
    ...op.v128Bitselect,
    ...op.set(BEST),
  ];
  const body = [
    ...op.i32Const(0),
    ...op.set(O),
    ...op.get(OUT_W),
    ...op.set(OX),
    ...op.block,
    ...op.loop, // over the windows of the row
    ...op.get(OX),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...op.get(GROUPS),
    ...op.set(G),
    ...op.loop, // over groups of four channels
    ...load([], V00),
    ...load([[C_BYTES]], V01),
    ...load([[ROW_BYTES]], V10),
    ...load([[ROW_BYTES], [C_BYTES]], V11),
    // m0 = v00 > −∞ (false for NaN); best = m0 ? v00 : −∞
    ...op.get(V00),
    ...op.v128Const(NEG_INF_X4),
    ...op.f32x4Gt,
    ...op.set(M0),
    ...op.get(V00),
    ...op.v128Const(NEG_INF_X4),
    ...op.get(M0),
    ...op.v128Bitselect,
    ...op.set(BEST),
    ...pickNext(V01, G1),
    ...pickNext(V10, G2),
    // g3 = v11 > best (no need to update best)
    ...op.get(V11),
    ...op.get(BEST),
    ...op.f32x4Gt,
    ...op.set(G3),
    // The last strict win takes the gradient: t holds dy where no later entry won.
    ...op.get(DY),
    ...op.v128Load,
    ...op.set(T),
    ...store([[ROW_BYTES], [C_BYTES]], [...op.get(T), ...op.get(G3), ...op.v128And]),
    ...op.get(T),
    ...op.get(G3),
    ...op.v128AndNot,
    ...op.set(T),
    ...store([[ROW_BYTES]], [...op.get(T), ...op.get(G2), ...op.v128And]),
    ...op.get(T),
    ...op.get(G2),
    ...op.v128AndNot,
    ...op.set(T),
    ...store([[C_BYTES]], [...op.get(T), ...op.get(G1), ...op.v128And]),
    ...op.get(T),
    ...op.get(G1),
    ...op.v128AndNot,
    ...op.set(T),
    ...store([], [...op.get(T), ...op.get(M0), ...op.v128And]),
    // Next four channels: o += 16, dy += 16, g -= 1; repeat while g ≠ 0.
    ...op.get(O),
    ...op.i32Const(16),
    ...op.i32Add,
    ...op.set(O),
    ...op.get(DY),
    ...op.i32Const(16),
    ...op.i32Add,
    ...op.set(DY),
    ...op.get(G),
    ...op.i32Const(1),
    ...op.i32Sub,
    ...op.set(G),
    ...op.get(G),
    ...op.brIf(0),
    ...op.end,
    // Next window: skip the window's right-hand pixel (o += C·4), ox -= 1.
    ...op.get(O),
    ...op.get(C_BYTES),
    ...op.i32Add,
    ...op.set(O),
    ...op.get(OX),
    ...op.i32Const(1),
    ...op.i32Sub,
    ...op.set(OX),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  return functionCode(locals, body);
}

/**
 * `transpose4x4Blocks(src, dst, rowBlocks, colBlocks, srcRowBytes, dstRowBytes)`: writes
 * `dst[c, r] = src[r, c]` for `r < 4·rowBlocks`, `c < 4·colBlocks` of float matrices whose rows
 * start `srcRowBytes` / `dstRowBytes` apart, a 4×4 block at a time (four loads, eight lane
 * shuffles, four stores). The caller handles rows and columns past the last whole block.
 */
function transpose4x4BlocksBody(): number[] {
  const [SRC, DST, ROW_BLOCKS, COL_BLOCKS, S, D] = [0, 1, 2, 3, 4, 5];
  const [I, J, P, Q, S4, D4] = [6, 7, 8, 9, 10, 11]; // i32
  const [R0, R1, R2, R3, T0, T1, T2, T3] = [12, 13, 14, 15, 16, 17, 18, 19]; // v128
  const locals = vec([[...uleb(6), I32], [...uleb(8), V128]]);
  const addTo = (local: number, amount: number[]) => [
    ...op.get(local),
    ...amount,
    ...op.i32Add,
    ...op.set(local),
  ];
  const loadRow = (k: number, into: number) => [
    ...op.get(P),
    ...(k === 0 ? [] : [...op.get(S), ...op.i32Const(k), 0x6c, /* i32.mul */ ...op.i32Add]),
    ...op.v128Load,
    ...op.set(into),
  ];
  const mix = (a: number, b: number, lanes: number[], into: number) => [
    ...op.get(a),
    ...op.get(b),
    ...op.shuffle32(lanes),
    ...op.set(into),
  ];
  const storeRow = (k: number, value: number[]) => [
    ...op.get(Q),
    ...(k === 0 ? [] : [...op.get(D), ...op.i32Const(k), 0x6c, ...op.i32Add]),
    ...value,
    ...op.v128Store,
  ];
  const body = [
    // s4 = 4·srcRowBytes, d4 = 4·dstRowBytes: from one block row (column) to the next.
    ...op.get(S),
    ...op.i32Const(4),
    0x6c,
    ...op.set(S4),
    ...op.get(D),
    ...op.i32Const(4),
    0x6c,
    ...op.set(D4),
    ...op.get(ROW_BLOCKS),
    ...op.set(I),
    ...op.block,
    ...op.loop, // over blocks of four rows of src
    ...op.get(I),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...op.get(SRC),
    ...op.set(P),
    ...op.get(DST),
    ...op.set(Q),
    ...op.get(COL_BLOCKS),
    ...op.set(J),
    ...op.block,
    ...op.loop, // over blocks of four columns
    ...op.get(J),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...loadRow(0, R0), // a0 a1 a2 a3
    ...loadRow(1, R1), // b0 …
    ...loadRow(2, R2),
    ...loadRow(3, R3),
    ...mix(R0, R1, [0, 4, 1, 5], T0), // a0 b0 a1 b1
    ...mix(R0, R1, [2, 6, 3, 7], T1), // a2 b2 a3 b3
    ...mix(R2, R3, [0, 4, 1, 5], T2), // c0 d0 c1 d1
    ...mix(R2, R3, [2, 6, 3, 7], T3), // c2 d2 c3 d3
    ...storeRow(0, [...op.get(T0), ...op.get(T2), ...op.shuffle32([0, 1, 4, 5])]), // a0 b0 c0 d0
    ...storeRow(1, [...op.get(T0), ...op.get(T2), ...op.shuffle32([2, 3, 6, 7])]),
    ...storeRow(2, [...op.get(T1), ...op.get(T3), ...op.shuffle32([0, 1, 4, 5])]),
    ...storeRow(3, [...op.get(T1), ...op.get(T3), ...op.shuffle32([2, 3, 6, 7])]),
    ...addTo(P, op.i32Const(16)),
    ...addTo(Q, op.get(D4)),
    ...addTo(J, op.i32Const(-1)),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...addTo(SRC, op.get(S4)),
    ...addTo(DST, op.i32Const(16)),
    ...addTo(I, op.i32Const(-1)),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  return functionCode(locals, body);
}

/**
 * `batchNormGradSums(dy, z, rows, channelGroups, sumDy, sumDyZ)`: adds, per channel,
 * Σ_rows dy and Σ_rows dy·z of two `[rows, C]` float matrices (z: x − μ, or x̂) into the `[C]` accumulators at
 * `sumDy` and `sumDyXhat` (which the caller zeroes): one pass over both.
 */
function batchNormGradSumsBody(): number[] {
  const [DY, XHAT, ROWS, GROUPS, S1, S2] = [0, 1, 2, 3, 4, 5];
  const [ROW, GROUP, K] = [6, 7, 8]; // K: byte offset into the accumulators
  const [D] = [9]; // v128
  const locals = vec([[...uleb(3), I32], [...uleb(1), V128]]);
  const at = (base: number) => [...op.get(base), ...op.get(K), ...op.i32Add];
  const body = [
    ...op.get(DY),
    ...op.v128Load,
    ...op.set(D),
    // s1[k] += d
    ...at(S1),
    ...at(S1),
    ...op.v128Load,
    ...op.get(D),
    ...op.f32x4Add,
    ...op.v128Store,
    // s2[k] += d · x̂
    ...at(S2),
    ...at(S2),
    ...op.v128Load,
    ...op.get(D),
    ...op.get(XHAT),
    ...op.v128Load,
    ...op.f32x4Mul,
    ...op.f32x4Add,
    ...op.v128Store,
    ...bump(DY, 16),
    ...bump(XHAT, 16),
    ...bump(K, 16),
  ];
  // K restarts at 0 for every row.
  const loops = rowsByChannelGroups(
    { rows: ROWS, groups: GROUPS, row: ROW, group: GROUP },
    body,
    [...op.i32Const(0), ...op.set(K)],
  );
  return functionCode(locals, loops);
}

/**
 * `batchNormGradDx(dy, z, dx, rows, channelGroups, k, a, b)`: `dx = k·dy − (a + z·b)`
 * elementwise over `[rows, C]`, with `k`, `a`, `b` per-channel `[C]` vectors.
 */
function batchNormGradDxBody(): number[] {
  const [DY, XHAT, DX, ROWS, GROUPS, KV, AV, BV] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [ROW, GROUP, K] = [8, 9, 10];
  const locals = vec([[...uleb(3), I32]]);
  const at = (base: number) => [...op.get(base), ...op.get(K), ...op.i32Add, ...op.v128Load];
  const body = [
    ...op.get(DX),
    ...at(KV),
    ...op.get(DY),
    ...op.v128Load,
    ...op.f32x4Mul,
    ...at(AV),
    ...op.get(XHAT),
    ...op.v128Load,
    ...at(BV),
    ...op.f32x4Mul,
    ...op.f32x4Add,
    ...op.f32x4Sub,
    ...op.v128Store,
    ...bump(DY, 16),
    ...bump(XHAT, 16),
    ...bump(DX, 16),
    ...bump(K, 16),
  ];
  const loops = rowsByChannelGroups(
    { rows: ROWS, groups: GROUPS, row: ROW, group: GROUP },
    body,
    [...op.i32Const(0), ...op.set(K)],
  );
  return functionCode(locals, loops);
}

/**
 * `reluGrad(dy, x, dx, vectors)`: `dx = x > 0 ? dy : 0` over `4·vectors` floats (ReLU's
 * gradient in one pass; tfjs's composes a Step and a Multiply).
 */
function reluGradBody(): number[] {
  const [DY, X, DX, N] = [0, 1, 2, 3];
  const locals = vec([]);
  const body = [
    ...op.block,
    ...op.loop,
    ...op.get(N),
    ...op.i32Eqz,
    ...op.brIf(1),
    ...op.get(DX),
    ...op.get(DY),
    ...op.v128Load,
    ...op.get(X),
    ...op.v128Load,
    ...op.v128Const(Array(16).fill(0)),
    ...op.f32x4Gt,
    ...op.v128And,
    ...op.v128Store,
    ...bump(DY, 16),
    ...bump(X, 16),
    ...bump(DX, 16),
    ...bump(N, -1),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  return functionCode(locals, body);
}

/** The module's bytes, importing `env.memory` (shared for the threaded build). */
function moduleBytes(shared: boolean): Uint8Array {
  const limits = shared ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(
      1,
      vec([
        [0x60, ...vec(Array(7).fill([I32])), ...vec([])],
        [0x60, ...vec(Array(6).fill([I32])), ...vec([])],
        [0x60, ...vec(Array(8).fill([I32])), ...vec([])],
        [0x60, ...vec(Array(4).fill([I32])), ...vec([])],
      ]),
    ),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, ...limits]])),
    ...section(3, vec([[0], [1], [1], [2], [3]])),
    ...section(
      7,
      vec([
        [...name("maxPoolGrad2x2Row"), 0x00, 0],
        [...name("transpose4x4Blocks"), 0x00, 1],
        [...name("batchNormGradSums"), 0x00, 2],
        [...name("batchNormGradDx"), 0x00, 3],
        [...name("reluGrad"), 0x00, 4],
      ]),
    ),
    ...section(
      10,
      vec([
        maxPoolGrad2x2RowBody(),
        transpose4x4BlocksBody(),
        batchNormGradSumsBody(),
        batchNormGradDxBody(),
        reluGradBody(),
      ]),
    ),
  ];
  return new Uint8Array(bytes);
}

/** MetaLab's SIMD kernels bound to one wasm memory. */
export interface SimdKernels {
  /** See {@linkcode maxPoolGrad2x2RowBody}; all offsets in bytes. */
  maxPoolGrad2x2Row(
    dx: number,
    x: number,
    dy: number,
    outWidth: number,
    channelGroups: number,
    channelBytes: number,
    rowBytes: number,
  ): void;
  /** See {@linkcode batchNormGradSumsBody}; all offsets in bytes. */
  batchNormGradSums(
    dy: number,
    xhat: number,
    rows: number,
    channelGroups: number,
    sumDy: number,
    sumDyXhat: number,
  ): void;
  /** See {@linkcode batchNormGradDxBody}; all offsets in bytes. */
  batchNormGradDx(
    dy: number,
    xhat: number,
    dx: number,
    rows: number,
    channelGroups: number,
    k: number,
    a: number,
    b: number,
  ): void;
  /** See {@linkcode reluGradBody}; offsets in bytes, `vectors` = floats / 4. */
  reluGrad(dy: number, x: number, dx: number, vectors: number): void;
  /** See {@linkcode transpose4x4BlocksBody}; all offsets in bytes. */
  transpose4x4Blocks(
    src: number,
    dst: number,
    rowBlocks: number,
    colBlocks: number,
    srcRowBytes: number,
    dstRowBytes: number,
  ): void;
}

const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();

/**
 * The kernels instantiated on `memory` (once per memory), or null where the runtime
 * rejects the module (no SIMD): callers then keep their JS loops.
 */
export function simdKernelsFor(memory: WebAssembly.Memory): SimdKernels | null {
  const known = instances.get(memory);
  if (known) return known;
  try {
    const shared = typeof SharedArrayBuffer !== "undefined" &&
      memory.buffer instanceof SharedArrayBuffer;
    const module = new WebAssembly.Module(moduleBytes(shared) as BufferSource);
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const kernels = instance.exports as unknown as SimdKernels;
    instances.set(memory, kernels);
    return kernels;
  } catch {
    return null;
  }
}

/** The wasm backend's memory: an export of the single-threaded build, an import of the threaded one. */
// deno-lint-ignore no-explicit-any
export function wasmBackendMemory(backend: any): WebAssembly.Memory | null {
  const m = backend?.wasm?.wasmMemory ?? backend?.wasm?.asm?.memory;
  return m instanceof WebAssembly.Memory ? m : null;
}
