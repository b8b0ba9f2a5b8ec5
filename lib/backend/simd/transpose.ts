/**
 * The SIMD body behind the `Transpose` kernel's common cases (`kernels/Transpose.ts`): a
 * strided float matrix transpose, a 4×4 block at a time.
 * @module
 */
import { addTo, assign, bump, countDown, I32, op, V128, type WasmFunction } from "./encoder.ts";

const [SRC, DST, ROW_BLOCKS, COL_BLOCKS, S, D] = [0, 1, 2, 3, 4, 5];
const [I, J, P, Q, S4, D4] = [6, 7, 8, 9, 10, 11]; // i32
const [R0, R1, R2, R3, T0, T1, T2, T3] = [12, 13, 14, 15, 16, 17, 18, 19]; // v128

/** `base + k·stride`: the byte address of row `k` of a block. */
const row = (base: number, stride: number, k: number) => [
  ...op.get(base),
  ...(k === 0 ? [] : [...op.get(stride), ...op.i32Const(k), ...op.i32Mul, ...op.i32Add]),
];
const loadRow = (k: number, into: number) => [...row(P, S, k), ...op.v128Load, ...op.set(into)];
const storeRow = (k: number, value: number[]) => [...row(Q, D, k), ...value, ...op.v128Store];
const mix = (a: number, b: number, lanes: number[], into: number) => [
  ...op.get(a),
  ...op.get(b),
  ...op.shuffle32(lanes),
  ...op.set(into),
];

/** One 4×4 block: four loads, eight lane shuffles, four stores. */
const block = [
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
];

/**
 * `transpose4x4Blocks(src, dst, rowBlocks, colBlocks, srcRowBytes, dstRowBytes)`: writes
 * `dst[c, r] = src[r, c]` for `r < 4·rowBlocks`, `c < 4·colBlocks` of float matrices whose rows
 * start `srcRowBytes` / `dstRowBytes` apart. The caller handles rows and columns past the last
 * whole block.
 */
export const transpose4x4Blocks: WasmFunction = {
  name: "transpose4x4Blocks",
  params: 6,
  locals: [[6, I32], [8, V128]],
  body: [
    // s4 = 4·srcRowBytes, d4 = 4·dstRowBytes: from one block row (column) to the next.
    ...assign(S4, [...op.get(S), ...op.i32Const(4), ...op.i32Mul]),
    ...assign(D4, [...op.get(D), ...op.i32Const(4), ...op.i32Mul]),
    ...assign(I, op.get(ROW_BLOCKS)),
    ...countDown(I, [
      // A block row of src: its blocks left to right, written top to bottom in dst.
      ...assign(P, op.get(SRC)),
      ...assign(Q, op.get(DST)),
      ...assign(J, op.get(COL_BLOCKS)),
      ...countDown(J, [...block, ...bump(P, 16), ...addTo(Q, op.get(D4))]),
      ...addTo(SRC, op.get(S4)),
      ...bump(DST, 16),
    ]),
  ],
};
