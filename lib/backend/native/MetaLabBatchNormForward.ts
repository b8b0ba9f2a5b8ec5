/**
 * native `MetaLabBatchNormForward`: the fused batch norm's forward (`BATCH_NORM_FORWARD_KERNEL`)
 * as oneDNN's batch-normalization primitive (training, scale and shift), on the tensors in
 * the wasm heap. oneDNN computes the channel statistics of `centred` itself (its mean is 0 up
 * to rounding, so its variance is wasm's Σ(x − μ)²/M up to rounding) with its OpenMP threads
 * and AVX kernels, where wasm's two passes run on one thread; `invStd` and `k` are then
 * computed from its variance per channel, as wasm's kernel does.
 * @module
 */
import { BATCH_NORM_FORWARD_KERNEL } from "../kernel_names.ts";
import { type AnyBackend, free, heapF32, type Info, sizeOf } from "../kernels/shared.ts";
import { ABI, check, type Dnnl, memoryDesc } from "./dnnl.ts";
import { cachedPlan, primitiveDesc, runPlan, tensorDesc, unowned } from "./primitive.ts";
import { allFloat32, minNativeElements, nativeKernel } from "./shared.ts";

/** The batch norm's forward-training op descriptor on `data` (scale and shift). */
export function batchNormForwardDesc(
  dnnl: Dnnl,
  data: Uint8Array,
  epsilon: number,
  key: string,
): Uint8Array {
  const op = new Uint8Array(ABI.batchNormDescBytes);
  check(
    dnnl.symbols.dnnl_batch_normalization_forward_desc_init(
      op,
      ABI.forwardTraining,
      data,
      epsilon,
      ABI.useScale | ABI.useShift,
    ),
    `dnnl_batch_normalization_forward_desc_init(${key})`,
  );
  return op;
}

/** Inputs `centred` (`[…, C]`), `gamma`, `beta`; outputs `y`, `invStd`, `k`; null = wasm's. */
function batchNormForward(args: {
  inputs: { centred: Info; gamma: Info; beta: Info };
  backend: AnyBackend;
  attrs: { epsilon: number };
}): Info[] | null {
  const { inputs: { centred, gamma, beta }, backend, attrs: { epsilon } } = args;
  if (!allFloat32(centred, gamma, beta) || sizeOf(centred.shape) < minNativeElements()) {
    return null;
  }
  const c = centred.shape[centred.shape.length - 1];
  const key = `batchNormForward:${centred.shape}:${epsilon}`;
  const plan = cachedPlan(key, (dnnl) => {
    const data = tensorDesc(dnnl, centred.shape);
    const op = batchNormForwardDesc(dnnl, data, epsilon, key);
    const perChannel = memoryDesc(dnnl, [c], [1]);
    const [src, dst] = [unowned(dnnl, data), unowned(dnnl, data)];
    const [scale, shift, mean, variance] = [0, 1, 2, 3].map(() => unowned(dnnl, perChannel));
    return {
      steps: [{
        pd: primitiveDesc(dnnl, op, null, key),
        args: [
          [ABI.argSrc, src],
          [ABI.argDst, dst],
          [ABI.argScale, scale],
          [ABI.argShift, shift],
          [ABI.argMean, mean],
          [ABI.argVariance, variance],
        ],
      }],
      inputs: [src, dst, scale, shift, mean, variance],
    };
  });
  const y = backend.makeOutput(centred.shape, "float32");
  const invStd = backend.makeOutput([c], "float32");
  const k = backend.makeOutput([c], "float32");
  const scratch = backend.makeOutput([2, c], "float32"); // oneDNN's mean and variance
  // Views after the last allocation: makeOutput may have grown the heap.
  const [cv, yv, gv, bv, sv, kv, tmp] = [centred, y, gamma, beta, invStd, k, scratch]
    .map((info) => heapF32(backend, info));
  const [mean, variance] = [tmp.subarray(0, c), tmp.subarray(c)];
  runPlan("batchNormForward", key, plan, [cv, yv, gv, bv, mean, variance]);
  for (let ch = 0; ch < c; ch++) {
    sv[ch] = 1 / Math.sqrt(variance[ch] + epsilon);
    kv[ch] = sv[ch] * gv[ch];
  }
  free(backend, scratch);
  return [y, invStd, k];
}

/** The kernel's registration entry. */
export const nativeBatchNormForwardConfig = nativeKernel(
  BATCH_NORM_FORWARD_KERNEL,
  batchNormForward,
);
