/**
 * What MetaLab's wasm kernels share: the types tfjs hands a kernel, running tfjs's own wasm
 * kernels from inside one, freeing intermediates, heap views, and the conv geometry of the
 * two conv gradients.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A tensor as a kernel sees it: data id, shape, dtype. */
export type Info = tf.TensorInfo;
/** tfjs's `BackendWasm`, used through the methods its own kernels use (not exported typed). */
// deno-lint-ignore no-explicit-any
export type AnyBackend = any;
/** A conv or pool padding, as tfjs's conv ops accept it. */
export type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
/** How tfjs rounds an output size that does not come out whole. */
export type Rounding = "floor" | "round" | "ceil";

/**
 * A kernel that takes over from tfjs's own only where it does better and passes every other
 * call to it: `wrap` gets tfjs's kernel function, and registration keeps tfjs's `setupFunc`
 * (the cwrap of the C kernel) attached for those calls.
 */
export interface WrappingKernel {
  kernelName: string;
  wrap(original: tf.KernelFunc): tf.KernelFunc;
}

/**
 * A kernel's registration entry on wasm. `kernelFunc` takes tfjs's arguments typed as the
 * kernel reads them (tfjs types them loosely, as every kernel's).
 */
export function wasmKernel<Args>(
  kernelName: string,
  kernelFunc: (args: Args) => Info | Info[],
): tf.KernelConfig {
  return { kernelName, backendName: "wasm", kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

/** Runs tfjs's own wasm kernel `kernelName` (one MetaLab has not replaced, or its fallback). */
export function run(
  backend: AnyBackend,
  kernelName: string,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown>,
): Info {
  const kernel = tf.getKernel(kernelName, "wasm");
  if (!kernel) throw new Error(`wasm backend has no ${kernelName} kernel to build on`);
  // deno-lint-ignore no-explicit-any
  return kernel.kernelFunc({ inputs, backend, attrs } as any) as Info;
}

/** Releases a kernel's intermediate tensors. */
export function free(backend: AnyBackend, ...infos: Info[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * A float32 view of `info` on the wasm heap. Take views only after the last `makeOutput` of a
 * kernel: allocating may grow (and so move) the heap, and an earlier view would be detached.
 */
export function heapF32(backend: AnyBackend, info: Info): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** The attributes of tfjs's `Conv2DBackpropFilter` and `Conv2DBackpropInput`, less the shape. */
export interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: string;
  dimRoundingMode?: Rounding;
}

/**
 * Conv geometry (padding, output size) exactly as tfjs computes it for the forward conv of a
 * conv gradient, after checking that it is a case the kernels handle: NHWC (what tfjs's conv2d
 * gradient emits; dilated convs reach the gradients as SpaceToBatchND, so dilation is 1).
 *
 * @throws Error naming the kernel and the data format when it is not NHWC.
 */
export function convBackpropGeometry(
  kernel: string,
  xShape: number[],
  filterShape: number[],
  attrs: ConvBackpropAttrs,
): tf.backend_util.Conv2DInfo {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs;
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new Error(
      `${kernel} on wasm (MetaLab kernel): only NHWC is supported, got ${dataFormat}`,
    );
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}

/** The number of elements of a shape. */
export function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
