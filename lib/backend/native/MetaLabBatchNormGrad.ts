/**
 * native `MetaLabBatchNormGrad`: the fused batch norm's gradient (`BATCH_NORM_GRAD_KERNEL`) as
 * oneDNN's batch-normalization backward primitive (scale and shift), on the tensors in the
 * wasm heap. The kernel's inputs are the centred activations and 1/σ and γ/σ, so oneDNN is
 * given what they mean: mean 0, variance 1/s² with ε = 0 (it takes 1/√(var + ε) = s again,
 * to rounding), and scale γ = k/s. Its `diff_scale` Σ dy·(x − μ)·s and `diff_shift` Σ dy are
 * the kernel's dγ and dβ, and its `diff_src` the same dx formula as wasm's kernel.
 * @module
 */
import { BATCH_NORM_GRAD_KERNEL } from "../kernel_names.ts";
import { type AnyBackend, free, heapF32, type Info, sizeOf } from "../kernels/shared.ts";
import { ABI, check, memoryDesc } from "./dnnl.ts";
import { batchNormForwardDesc } from "./MetaLabBatchNormForward.ts";
import { cachedPlan, primitiveDesc, runPlan, tensorDesc, unowned } from "./primitive.ts";
import { allFloat32, minNativeElements, nativeKernel } from "./shared.ts";

/** Inputs `dy`, `centred` (`[…, C]`), `invStd`, `k` (`[C]`); outputs `dx`, `dγ`, `dβ`. */
function batchNormGrad(args: {
  inputs: { dy: Info; centred: Info; invStd: Info; k: Info };
  backend: AnyBackend;
}): Info[] | null {
  const { inputs: { dy, centred, invStd, k }, backend } = args;
  if (!allFloat32(dy, centred, invStd, k) || sizeOf(dy.shape) < minNativeElements()) return null;
  const c = dy.shape[dy.shape.length - 1];
  const key = `batchNormGrad:${dy.shape}`;
  const plan = cachedPlan(key, (dnnl) => {
    const data = tensorDesc(dnnl, dy.shape);
    const forward = batchNormForwardDesc(dnnl, data, 0, key);
    const op = new Uint8Array(ABI.batchNormDescBytes);
    check(
      dnnl.symbols.dnnl_batch_normalization_backward_desc_init(
        op,
        ABI.backward,
        data,
        data,
        0,
        ABI.useScale | ABI.useShift,
      ),
      `dnnl_batch_normalization_backward_desc_init(${key})`,
    );
    const hint = primitiveDesc(dnnl, forward, null, `${key} forward hint`);
    const perChannel = memoryDesc(dnnl, [c], [1]);
    const [src, diffDst, diffSrc] = [0, 1, 2].map(() => unowned(dnnl, data));
    const [mean, variance, scale, shift, diffScale, diffShift] = [0, 1, 2, 3, 4, 5].map(() =>
      unowned(dnnl, perChannel)
    );
    return {
      steps: [{
        pd: primitiveDesc(dnnl, op, hint, key),
        args: [
          [ABI.argSrc, src],
          [ABI.argMean, mean],
          [ABI.argVariance, variance],
          [ABI.argDiffDst, diffDst],
          [ABI.argScale, scale],
          // Never read by the backward, but oneDNN 2.6.3 rejects an execution without it
          // ("invalid arguments"): measured. The mean's zeros are passed there.
          [ABI.argShift, shift],
          [ABI.argDiffSrc, diffSrc],
          [ABI.argDiffScale, diffScale],
          [ABI.argDiffShift, diffShift],
        ],
      }],
      inputs: [src, mean, variance, diffDst, scale, shift, diffSrc, diffScale, diffShift],
    };
  });
  const dx = backend.makeOutput(dy.shape, "float32");
  const dGamma = backend.makeOutput([c], "float32");
  const dBeta = backend.makeOutput([c], "float32");
  const scratch = backend.makeOutput([3, c], "float32"); // mean 0, variance 1/s², γ = k/s
  const [dyv, cv, sv, kv, dxv, dg, db, tmp] = [dy, centred, invStd, k, dx, dGamma, dBeta, scratch]
    .map((info) => heapF32(backend, info));
  const [mean, variance, gamma] = [0, 1, 2].map((i) => tmp.subarray(i * c, (i + 1) * c));
  for (let ch = 0; ch < c; ch++) {
    mean[ch] = 0;
    variance[ch] = 1 / (sv[ch] * sv[ch]);
    gamma[ch] = kv[ch] / sv[ch];
  }
  runPlan("batchNormGrad", key, plan, [cv, mean, variance, dyv, gamma, mean, dxv, dg, db]);
  free(backend, scratch);
  return [dx, dGamma, dBeta];
}

/** The kernel's registration entry. */
export const nativeBatchNormGradConfig = nativeKernel(BATCH_NORM_GRAD_KERNEL, batchNormGrad);
