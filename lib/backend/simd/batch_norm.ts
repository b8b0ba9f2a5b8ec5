/**
 * The SIMD bodies of the fused batch norm's two passes over `[rows, C]` activations
 * (`kernels/batch_norm_passes.ts`), four channels per instruction: per-channel sums, and one
 * per-channel affine map of each element.
 * @module
 */
import { assign, bump, I32, op, rowsByChannelGroups, V128, type WasmFunction } from "./encoder.ts";

/** `base + k`: the byte address of the current channel group in a `[C]` vector. */
const channel = (base: number, k: number) => [...op.get(base), ...op.get(k), ...op.i32Add];

/** `vec[k] += value` for a `[C]` accumulator `vec`. */
const accumulate = (vec: number, k: number, value: number[]) => [
  ...channel(vec, k),
  ...channel(vec, k),
  ...op.v128Load,
  ...value,
  ...op.f32x4Add,
  ...op.v128Store,
];

/**
 * The loops of both passes: over the rows, and within a row over the channel groups, with `k`
 * the byte offset into the `[C]` vectors, restarting at 0 on every row.
 */
const overRows = (
  locals: { rows: number; groups: number; row: number; group: number; k: number },
  body: number[],
) =>
  rowsByChannelGroups(locals, [...body, ...bump(locals.k, 16)], {
    rowStart: assign(locals.k, op.i32Const(0)),
  });

/**
 * `batchNormGradSums(dy, z, rows, channelGroups, sumDy, sumDyZ)`: adds, per channel, Σ_rows dy
 * and Σ_rows dy·z of two `[rows, C]` float matrices (z: x − μ) into the `[C]` accumulators at
 * `sumDy` and `sumDyZ` (which the caller zeroes): one pass over both.
 */
export const batchNormGradSums: WasmFunction = sumsPass();

/**
 * `batchNormGradDx(dy, z, dx, rows, channelGroups, k, a, b)`: `dx = k·dy − (a + z·b)`
 * elementwise over `[rows, C]`, with `k`, `a`, `b` per-channel `[C]` vectors.
 */
export const batchNormGradDx: WasmFunction = affinePass();

function sumsPass(): WasmFunction {
  const [DY, Z, ROWS, GROUPS, S1, S2] = [0, 1, 2, 3, 4, 5];
  const [ROW, GROUP, K] = [6, 7, 8]; // i32
  const D = 9; // v128: the current dy
  return {
    name: "batchNormGradSums",
    params: 6,
    locals: [[3, I32], [1, V128]],
    body: overRows({ rows: ROWS, groups: GROUPS, row: ROW, group: GROUP, k: K }, [
      ...assign(D, [...op.get(DY), ...op.v128Load]),
      ...accumulate(S1, K, op.get(D)),
      ...accumulate(S2, K, [...op.get(D), ...op.get(Z), ...op.v128Load, ...op.f32x4Mul]),
      ...bump(DY, 16),
      ...bump(Z, 16),
    ]),
  };
}

function affinePass(): WasmFunction {
  const [DY, Z, DX, ROWS, GROUPS, KV, AV, BV] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [ROW, GROUP, K] = [8, 9, 10]; // i32
  const perChannel = (vec: number) => [...channel(vec, K), ...op.v128Load];
  return {
    name: "batchNormGradDx",
    params: 8,
    locals: [[3, I32]],
    body: overRows({ rows: ROWS, groups: GROUPS, row: ROW, group: GROUP, k: K }, [
      ...op.get(DX),
      ...perChannel(KV),
      ...op.get(DY),
      ...op.v128Load,
      ...op.f32x4Mul,
      ...perChannel(AV),
      ...op.get(Z),
      ...op.v128Load,
      ...perChannel(BV),
      ...op.f32x4Mul,
      ...op.f32x4Add,
      ...op.f32x4Sub,
      ...op.v128Store,
      ...bump(DY, 16),
      ...bump(Z, 16),
      ...bump(DX, 16),
    ]),
  };
}
