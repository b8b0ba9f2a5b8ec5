/**
 * The SIMD body of Conv-4's max-pool gradient (2×2 windows, stride 2, no padding), four
 * channels per instruction, one output row per call (`kernels/MaxPoolGrad.ts` loops over the
 * rows). Several times faster than the same loop in JS over the heap.
 * @module
 */
import {
  addTo,
  assign,
  bump,
  I32,
  op,
  rowsByChannelGroups,
  V128,
  type WasmFunction,
} from "./encoder.ts";

/** −∞ in all four f32 lanes, little-endian. */
const NEG_INF_X4 = Array.from({ length: 4 }, () => [0x00, 0x00, 0x80, 0xff]).flat();

// Parameters 0–6, then locals.
const [DX, X, DY, OUT_W, GROUPS, C_BYTES, ROW_BYTES] = [0, 1, 2, 3, 4, 5, 6];
const [O, OX, G] = [7, 8, 9]; // i32: byte offset of the window, windows left, groups left
const [V00, V01, V10, V11, BEST, M0, G1, G2, G3, T] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];

/** `base + o + extra…`: the byte address of one entry of the window at `o`. */
const at = (base: number, extra: number[]) => [
  ...op.get(base),
  ...op.get(O),
  ...op.i32Add,
  ...extra.flatMap((i) => [...op.get(i), ...op.i32Add]),
];
const load = (extra: number[], into: number) => [...at(X, extra), ...op.v128Load, ...op.set(into)];
const store = (extra: number[], value: number[]) => [...at(DX, extra), ...value, ...op.v128Store];

/** `g = v > best; best = g ? v : best`. */
const pickNext = (v: number, g: number) => [
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

/** Stores `t & won` at the entry `extra`, then `t &= ~won`: the gradient goes to one entry. */
const giveTo = (extra: number[], won: number) => [
  ...store(extra, [...op.get(T), ...op.get(won), ...op.v128And]),
  ...op.get(T),
  ...op.get(won),
  ...op.v128AndNot,
  ...op.set(T),
];

/** Four channels of one window. */
const window4 = [
  ...load([], V00),
  ...load([C_BYTES], V01),
  ...load([ROW_BYTES], V10),
  ...load([ROW_BYTES, C_BYTES], V11),
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
  ...assign(T, [...op.get(DY), ...op.v128Load]),
  ...giveTo([ROW_BYTES, C_BYTES], G3),
  ...giveTo([ROW_BYTES], G2),
  ...giveTo([C_BYTES], G1),
  ...store([], [...op.get(T), ...op.get(M0), ...op.v128And]),
  // Next four channels.
  ...bump(O, 16),
  ...bump(DY, 16),
];

/**
 * `maxPoolGrad2x2Row(dx, x, dy, outWidth, channelGroups, channelBytes, rowBytes)`: for
 * `outWidth` windows of one pair of input rows starting at byte `x` (the same offsets in
 * `dx`), with `channelGroups` = C/4, writes all four `dx` entries of every window: the
 * window's gradient `dy` (read from byte `dy` on) at its first maximum in row-major order,
 * 0 elsewhere. NaN never wins and a window of −∞/NaN gets no gradient, as on cpu.
 */
export const maxPoolGrad2x2Row: WasmFunction = {
  name: "maxPoolGrad2x2Row",
  params: 7,
  locals: [[3, I32], [10, V128]],
  body: [
    ...assign(O, op.i32Const(0)),
    // The windows of the row as rows of four-channel groups; after a window, skip its
    // right-hand pixel (o += C·4).
    ...rowsByChannelGroups({ rows: OUT_W, groups: GROUPS, row: OX, group: G }, window4, {
      rowEnd: addTo(O, op.get(C_BYTES)),
    }),
  ],
};
