/**
 * What the native conv kernels share: the conv geometry oneDNN is given, and the fall-back to
 * the wasm backend's own kernel for what the native path does not take (dilated convs, NCHW,
 * non-float32 tensors), so that `native` computes everything `wasm` does.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { AnyBackend, Info } from "../kernels/shared.ts";
import type { ConvGeometry } from "./conv.ts";

/** The tfjs backend name of the native path. */
export const NATIVE_BACKEND = "native";

/**
 * The native kernel for `kernelName`: `native(args)` when it returns a result, else the wasm
 * backend's kernel (tfjs's or MetaLab's, looked up at call time) on the same arguments. Both
 * run on the same `BackendWasm` instance, so a fall-back needs no data movement.
 */
export function nativeKernel<Args extends { backend: AnyBackend }>(
  kernelName: string,
  native: (args: Args) => Info | Info[] | null,
): tf.KernelConfig {
  const kernelFunc = (args: Args) => {
    const out = native(args);
    if (out) return out;
    const wasm = tf.getKernel(kernelName, "wasm");
    if (!wasm) throw new Error(`native ${kernelName}: the wasm backend has no such kernel`);
    // deno-lint-ignore no-explicit-any
    return wasm.kernelFunc(args as any);
  };
  return {
    kernelName,
    backendName: NATIVE_BACKEND,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  };
}

/**
 * The geometry oneDNN takes, from tfjs's conv info; null for what the native path leaves to
 * wasm: dilation above 1 and data formats other than channels-last.
 */
export function nativeGeometry(info: tf.backend_util.Conv2DInfo): ConvGeometry | null {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  if (info.dataFormat !== "channelsLast") return null;
  const { padInfo } = info;
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    cin: info.inChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    cout: info.outChannels,
    ho: info.outHeight,
    wo: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: padInfo.top,
    bottom: padInfo.bottom,
    left: padInfo.left,
    right: padInfo.right,
  };
}

/**
 * Element-wise, pooling and batch-norm tensors smaller than this (and matrix products of fewer
 * multiply-adds) stay on wasm: below it, a oneDNN call's fixed cost (the FFI call, waking
 * OpenMP's team) is more than the work. On the 2-core machine the native and wasm kernels took
 * about the same time at 46,080 elements (Conv-4's last block, 80 images) and native ran 1.2–4×
 * faster from 250,880 up.
 * `METALAB_NATIVE_MIN_ELEMENTS` overrides it (e.g. `Infinity`: the convs alone in oneDNN, as
 * before these kernels, to measure what they bring).
 */
export const DEFAULT_MIN_NATIVE_ELEMENTS = 16384;

let minElements: number | undefined;

/**
 * The size from which the non-conv native kernels run in oneDNN (read once per process).
 *
 * @throws Error naming the value when `METALAB_NATIVE_MIN_ELEMENTS` is not a number ≥ 0.
 */
export function minNativeElements(): number {
  if (minElements !== undefined) return minElements;
  let env: string | undefined;
  try {
    env = Deno.env.get("METALAB_NATIVE_MIN_ELEMENTS");
  } catch {
    env = undefined; // no --allow-env
  }
  const value = env === undefined || env === "" ? DEFAULT_MIN_NATIVE_ELEMENTS : Number(env);
  if (!(value >= 0)) {
    throw new Error(
      `METALAB_NATIVE_MIN_ELEMENTS must be a number of elements ≥ 0 (or Infinity), got "${env}"`,
    );
  }
  return minElements = value;
}

/** Whether every tensor is float32 (the only dtype the native kernels take). */
export function allFloat32(...infos: Info[]): boolean {
  return infos.every((i) => i.dtype === "float32");
}
