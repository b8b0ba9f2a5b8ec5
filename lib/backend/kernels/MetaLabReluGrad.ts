/**
 * ReLU's gradient in one pass (`RELU_GRAD_KERNEL`): `dy` where `x > 0`, else 0, in MetaLab's
 * SIMD module (`../simd/relu_grad.ts`) with a JS tail, where tfjs composes a Step and a
 * Multiply.
 * @module
 */
import { RELU_GRAD_KERNEL } from "../kernel_names.ts";
import { simdKernelsOf } from "../simd/mod.ts";
import { type AnyBackend, heapF32, type Info, wasmKernel } from "./shared.ts";

/** Inputs `dy`, `x`; output `dx`. */
function reluGrad(args: { inputs: { dy: Info; x: Info }; backend: AnyBackend }): Info {
  const { inputs: { dy, x }, backend } = args;
  const dx = backend.makeOutput(dy.shape, "float32");
  const [dyv, xv, dxv] = [dy, x, dx].map((info) => heapF32(backend, info));
  const n = dyv.length;
  const simd = simdKernelsOf(backend);
  const done = simd ? n - (n % 4) : 0;
  if (simd && done > 0) simd.reluGrad(dyv.byteOffset, xv.byteOffset, dxv.byteOffset, done / 4);
  for (let i = done; i < n; i++) dxv[i] = xv[i] > 0 ? dyv[i] : 0;
  return dx;
}

/** The kernel's registration entry. */
export const reluGradConfig = wasmKernel(RELU_GRAD_KERNEL, reluGrad);
