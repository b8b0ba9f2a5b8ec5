/**
 * wasm `Identity` that shares the input's buffer (reference-counted), as the cpu backend
 * does, instead of copying it. tfjs tensors are immutable, so sharing is safe.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { AnyBackend, Info, WrappingKernel } from "./shared.ts";

/**
 * `Identity` or, for `Cast`, a cast to the tensor's own dtype, as a shared buffer; strings and
 * real casts go to `original`. tfjs's gradients of Mul, RealDiv, Square and Relu cast float32
 * tensors to float32, which on wasm copied every activation-sized tensor.
 */
export function sharingIdentity(
  original: tf.KernelFunc,
  kernel: "Identity" | "Cast",
): tf.KernelFunc {
  return ((args: {
    inputs: { x: Info };
    backend: AnyBackend;
    attrs: { dtype?: string };
  }) => {
    const { inputs: { x }, backend, attrs } = args;
    const same = kernel === "Identity" || attrs.dtype === x.dtype;
    if (x.dtype === "string" || !same) {
      // deno-lint-ignore no-explicit-any
      return original(args as any);
    }
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as unknown as tf.KernelFunc;
}

/** The kernel's registration entry (it wraps tfjs's `Identity`). */
export const identityConfig: WrappingKernel = {
  kernelName: "Identity",
  wrap: (original) => sharingIdentity(original, "Identity"),
};
