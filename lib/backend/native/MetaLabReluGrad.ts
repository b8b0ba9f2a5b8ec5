/**
 * native `MetaLabReluGrad` (`RELU_GRAD_KERNEL`): `dy` where `x > 0`, else 0, as oneDNN's
 * element-wise ReLU backward primitive (slope 0) on the tensors in the wasm heap, on OpenMP's
 * threads. Where `x ≤ 0` it writes `dy·0`, which is −0 for a negative `dy` where wasm's kernel
 * writes +0: equal values. Small and non-float32 tensors go to wasm's kernel.
 * @module
 */
import { RELU_GRAD_KERNEL } from "../kernel_names.ts";
import { type AnyBackend, heapF32, type Info, sizeOf } from "../kernels/shared.ts";
import { ABI, check } from "./dnnl.ts";
import { reluForwardDesc } from "./Relu.ts";
import { cachedPlan, primitiveDesc, runPlan, tensorDesc, unowned } from "./primitive.ts";
import { allFloat32, minNativeElements, nativeKernel } from "./shared.ts";

/** Inputs `dy`, `x`; output `dx`; null = wasm's. */
function reluGrad(args: { inputs: { dy: Info; x: Info }; backend: AnyBackend }): Info | null {
  const { inputs: { dy, x }, backend } = args;
  const n = sizeOf(dy.shape);
  if (!allFloat32(dy, x) || n < minNativeElements()) return null;
  const key = `reluGrad:${n}`;
  const plan = cachedPlan(key, (dnnl) => {
    const data = tensorDesc(dnnl, [n], true);
    const forward = reluForwardDesc(dnnl, ABI.forwardTraining, data, key);
    const op = new Uint8Array(ABI.eltwiseDescBytes);
    check(
      dnnl.symbols.dnnl_eltwise_backward_desc_init(op, ABI.eltwiseRelu, data, data, 0, 0),
      `dnnl_eltwise_backward_desc_init(${key})`,
    );
    const hint = primitiveDesc(dnnl, forward, null, `${key} forward hint`);
    const [src, diffDst, diffSrc] = [0, 1, 2].map(() => unowned(dnnl, data));
    const pd = primitiveDesc(dnnl, op, hint, key);
    return {
      steps: [{
        pd,
        args: [[ABI.argSrc, src], [ABI.argDiffDst, diffDst], [ABI.argDiffSrc, diffSrc]],
      }],
      inputs: [src, diffDst, diffSrc],
    };
  });
  const dx = backend.makeOutput(dy.shape, "float32");
  runPlan("reluGrad", key, plan, [x, dy, dx].map((info) => heapF32(backend, info)));
  return dx;
}

/** The kernel's registration entry. */
export const nativeReluGradConfig = nativeKernel(RELU_GRAD_KERNEL, reluGrad);
