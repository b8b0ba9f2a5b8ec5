/**
 * MetaLab's fused batch-norm gradient (`BATCH_NORM_GRAD_KERNEL`, used by
 * `lib/models/batch_norm.ts` for `firstOrderOnly` calls): two passes over the activations,
 * sums then `dx`, where autodiff of the primitive ops makes about a dozen.
 * @module
 */
import { BATCH_NORM_GRAD_KERNEL } from "../kernel_names.ts";
import { affinePass, batchNormSimd, channelSums } from "./batch_norm_passes.ts";
import { type AnyBackend, free, heapF32, type Info, sizeOf, wasmKernel } from "./shared.ts";

/**
 * Inputs `dy` and `centred` = x − μ (`[…, C]`), `invStd` = s = 1/σ and `k` = γ·s (`[C]`);
 * outputs `dx`, `dγ = s·Σ dy·(x − μ)`, `dβ = Σ dy`, with
 * `dx = k·dy − (k·dβ/M + (x − μ)·k·s·dγ/M)` over the M rows of each channel.
 */
function batchNormGrad(args: {
  inputs: { dy: Info; centred: Info; invStd: Info; k: Info };
  backend: AnyBackend;
}): Info[] {
  const { inputs: { dy, centred, invStd, k }, backend } = args;
  const c = dy.shape[dy.shape.length - 1];
  const rows = sizeOf(dy.shape) / c;
  const dx = backend.makeOutput(dy.shape, "float32");
  const dGamma = backend.makeOutput([c], "float32");
  const dBeta = backend.makeOutput([c], "float32");
  const scratch = backend.makeOutput([3, c], "float32"); // Σ dy·(x − μ), then a, b
  const [dyv, cv, sv, kv, dxv, dg, s1, tmp] = [dy, centred, invStd, k, dx, dGamma, dBeta, scratch]
    .map((info) => heapF32(backend, info));
  const s2 = tmp.subarray(0, c);
  const a = tmp.subarray(c, 2 * c);
  const b = tmp.subarray(2 * c, 3 * c);
  s1.fill(0);
  s2.fill(0);
  const simd = batchNormSimd(backend, c);
  channelSums(simd, dyv, cv, rows, s1, s2);
  for (let ch = 0; ch < c; ch++) {
    dg[ch] = sv[ch] * s2[ch];
    a[ch] = (kv[ch] * s1[ch]) / rows;
    b[ch] = (kv[ch] * sv[ch] * dg[ch]) / rows;
  }
  affinePass(simd, dyv, cv, dxv, rows, kv, a, b);
  free(backend, scratch);
  return [dx, dGamma, dBeta];
}

/** The kernel's registration entry. */
export const batchNormGradConfig = wasmKernel(BATCH_NORM_GRAD_KERNEL, batchNormGrad);
