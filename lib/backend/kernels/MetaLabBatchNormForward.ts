/**
 * The fused batch norm's forward after centring (`BATCH_NORM_FORWARD_KERNEL`): the gradient's
 * two passes (`batch_norm_passes.ts`) serve it too. The per-channel Σ(x − μ)² is the sums
 * pass with the centred input as both operands, and `y = (x − μ)·k + β` the affine pass with
 * `dy` = x − μ, `a` = −β, `b` = 0.
 * @module
 */
import { BATCH_NORM_FORWARD_KERNEL } from "../kernel_names.ts";
import { affinePass, batchNormSimd, channelSums } from "./batch_norm_passes.ts";
import { type AnyBackend, free, heapF32, type Info, sizeOf, wasmKernel } from "./shared.ts";

/**
 * Inputs `centred` (x − μ, `[…, C]`), `gamma`, `beta` (`[C]`), attribute `epsilon`; outputs
 * `y`, `invStd` = 1/σ and `k` = γ/σ (`[C]`).
 */
function batchNormForward(args: {
  inputs: { centred: Info; gamma: Info; beta: Info };
  backend: AnyBackend;
  attrs: { epsilon: number };
}): Info[] {
  const { inputs: { centred, gamma, beta }, backend, attrs: { epsilon } } = args;
  const c = centred.shape[centred.shape.length - 1];
  const rows = sizeOf(centred.shape) / c;
  const y = backend.makeOutput(centred.shape, "float32");
  const invStd = backend.makeOutput([c], "float32");
  const k = backend.makeOutput([c], "float32");
  const scratch = backend.makeOutput([4, c], "float32"); // Σ(x − μ), Σ(x − μ)², −β, 0
  const [cv, gv, bv, yv, sv, kv, tmp] = [centred, gamma, beta, y, invStd, k, scratch]
    .map((info) => heapF32(backend, info));
  const [s1, s2, negBeta, zero] = [0, 1, 2, 3].map((i) => tmp.subarray(i * c, (i + 1) * c));
  tmp.fill(0);
  const simd = batchNormSimd(backend, c);
  channelSums(simd, cv, cv, rows, s1, s2);
  for (let ch = 0; ch < c; ch++) {
    sv[ch] = 1 / Math.sqrt(s2[ch] / rows + epsilon);
    kv[ch] = sv[ch] * gv[ch];
    negBeta[ch] = -bv[ch];
  }
  affinePass(simd, cv, cv, yv, rows, kv, negBeta, zero);
  free(backend, scratch);
  return [y, invStd, k];
}

/** The kernel's registration entry. */
export const batchNormForwardConfig = wasmKernel(BATCH_NORM_FORWARD_KERNEL, batchNormForward);
