/**
 * The two passes over the activations that the fused batch norm's forward and gradient share
 * (`MetaLabBatchNormForward.ts`, `MetaLabBatchNormGrad.ts`): per-channel sums, then one affine
 * map per element. In MetaLab's SIMD module where the channels come in fours
 * (`../simd/batch_norm.ts`), else as JS loops computing the same expressions.
 * @module
 */
import { type SimdKernels, simdKernelsOf } from "../simd/mod.ts";
import type { AnyBackend } from "./shared.ts";

/** The SIMD kernels for `c` channels, or null where the JS loops must run. */
export function batchNormSimd(backend: AnyBackend, c: number): SimdKernels | null {
  return c % 4 === 0 ? simdKernelsOf(backend) : null;
}

/**
 * Per channel, adds Σ_rows dy and Σ_rows dy·z of two `[rows, C]` matrices into `sumDy` and
 * `sumDyZ` (`[C]`, zeroed by the caller).
 */
export function channelSums(
  simd: SimdKernels | null,
  dy: Float32Array,
  z: Float32Array,
  rows: number,
  sumDy: Float32Array,
  sumDyZ: Float32Array,
): void {
  const c = sumDy.length;
  if (simd) {
    simd.batchNormGradSums(
      dy.byteOffset,
      z.byteOffset,
      rows,
      c / 4,
      sumDy.byteOffset,
      sumDyZ.byteOffset,
    );
    return;
  }
  for (let i = 0, r = 0; r < rows; r++) {
    for (let ch = 0; ch < c; ch++, i++) {
      sumDy[ch] += dy[i];
      sumDyZ[ch] += dy[i] * z[i];
    }
  }
}

/** `out = k·dy − (a + z·b)` elementwise over `[rows, C]`, with `k`, `a`, `b` per channel. */
export function affinePass(
  simd: SimdKernels | null,
  dy: Float32Array,
  z: Float32Array,
  out: Float32Array,
  rows: number,
  k: Float32Array,
  a: Float32Array,
  b: Float32Array,
): void {
  const c = k.length;
  if (simd) {
    simd.batchNormGradDx(
      dy.byteOffset,
      z.byteOffset,
      out.byteOffset,
      rows,
      c / 4,
      k.byteOffset,
      a.byteOffset,
      b.byteOffset,
    );
    return;
  }
  for (let i = 0, r = 0; r < rows; r++) {
    for (let ch = 0; ch < c; ch++, i++) out[i] = k[ch] * dy[i] - (a[ch] + z[i] * b[ch]);
  }
}
