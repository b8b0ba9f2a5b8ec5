/**
 * native `Conv2D`: tfjs's NHWC conv with an HWIO filter as one oneDNN forward primitive on the
 * tensors in the wasm heap (no copies). Dilated or non-NHWC convs go to wasm's kernel.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AnyBackend, heapF32, type Info, type Pad, type Rounding } from "../kernels/shared.ts";
import { runConv } from "./conv.ts";
import { allFloat32, nativeGeometry, nativeKernel } from "./shared.ts";

/** native `Conv2D`: inputs `x` [N,H,W,Cin], `filter` [kh,kw,Cin,Cout]; null = wasm's. */
function conv2D(args: {
  inputs: { x: Info; filter: Info };
  backend: AnyBackend;
  attrs: {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: "NHWC" | "NCHW";
    dilations?: number | [number, number];
    dimRoundingMode?: Rounding;
  };
}): Info | null {
  const { inputs: { x, filter }, backend, attrs } = args;
  if (!allFloat32(x, filter)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? "NHWC"),
  );
  const g = nativeGeometry(info);
  if (!g) return null;
  const out = backend.makeOutput(info.outShape, "float32");
  // Views after the last allocation: makeOutput may have grown the heap.
  runConv("forward", g, heapF32(backend, x), heapF32(backend, filter), heapF32(backend, out));
  return out;
}

/** The kernel's registration entry. */
export const nativeConv2DConfig = nativeKernel("Conv2D", conv2D);
