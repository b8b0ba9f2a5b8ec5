/**
 * What the native max-pool kernels share: tfjs's pooling attributes as the geometry oneDNN
 * takes (or null where the native path leaves the op to wasm), and the pooling op descriptor.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Pad, Rounding } from "../kernels/shared.ts";
import { ABI, check, dims, type Dnnl } from "./dnnl.ts";
import { tensorDesc } from "./primitive.ts";

/** tfjs's `MaxPool` / `MaxPoolGrad` attributes. */
export interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: Rounding;
}

/** A 2-D pooling's geometry on NHWC tensors. */
export interface PoolGeometry {
  inShape: number[];
  outShape: number[];
  kernel: [number, number];
  strides: [number, number];
  padL: [number, number];
  padR: [number, number];
}

/**
 * The geometry of a max-pool over `xShape` (NHWC), or null where oneDNN's output size
 * (⌊(in − k + pads)/stride⌋ + 1) is not tfjs's (a rounding mode that pads implicitly).
 */
export function poolGeometry(xShape: number[], attrs: PoolAttrs): PoolGeometry | null {
  const info = tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  const fits = (inSize: number, k: number, s: number, pads: number, out: number) =>
    Math.floor((inSize - k + pads) / s) + 1 === out && pads >= 0;
  if (
    !fits(info.inHeight, info.filterHeight, info.strideHeight, top + bottom, info.outHeight) ||
    !fits(info.inWidth, info.filterWidth, info.strideWidth, left + right, info.outWidth)
  ) {
    return null;
  }
  return {
    inShape: xShape,
    outShape: info.outShape,
    kernel: [info.filterHeight, info.filterWidth],
    strides: [info.strideHeight, info.strideWidth],
    padL: [top, left],
    padR: [bottom, right],
  };
}

/** A max-pooling op descriptor: forward (`propKind`) or, with `propKind` null, backward. */
export function poolingDesc(dnnl: Dnnl, g: PoolGeometry, propKind: number | null): Uint8Array {
  const op = new Uint8Array(ABI.poolingDescBytes);
  const src = tensorDesc(dnnl, g.inShape);
  const dst = tensorDesc(dnnl, g.outShape);
  const rest = [dims(g.strides), dims(g.kernel), dims(g.padL), dims(g.padR)] as const;
  if (propKind === null) {
    check(
      dnnl.symbols.dnnl_pooling_backward_desc_init(op, ABI.poolingMax, src, dst, ...rest),
      `dnnl_pooling_backward_desc_init(${g.inShape} → ${g.outShape})`,
    );
  } else {
    check(
      dnnl.symbols.dnnl_pooling_forward_desc_init(op, propKind, ABI.poolingMax, src, dst, ...rest),
      `dnnl_pooling_forward_desc_init(${g.inShape} → ${g.outShape})`,
    );
  }
  return op;
}

/** The cache key of a pooling geometry. */
export function poolKey(g: PoolGeometry): string {
  return [g.inShape, g.kernel, g.strides, g.padL, g.padR].join(":");
}
