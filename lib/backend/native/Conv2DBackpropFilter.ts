/**
 * native `Conv2DBackpropFilter`: the filter gradient of an NHWC conv as oneDNN's
 * backward-weights primitive on the tensors in the wasm heap (no copies), written straight in
 * tfjs's HWIO layout. Anything else goes to wasm's kernel (MetaLab's, see
 * `kernels/Conv2DBackpropFilter.ts`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AnyBackend, type ConvBackpropAttrs, heapF32, type Info } from "../kernels/shared.ts";
import { runConv } from "./conv.ts";
import { allFloat32, nativeGeometry, nativeKernel } from "./shared.ts";

/** native `Conv2DBackpropFilter`: inputs `x`, `dy`; returns dW of `filterShape`. */
function conv2DBackpropFilter(args: {
  inputs: { x: Info; dy: Info };
  backend: AnyBackend;
  attrs: ConvBackpropAttrs & { filterShape: [number, number, number, number] };
}): Info | null {
  const { inputs: { x, dy }, backend, attrs } = args;
  if (!allFloat32(x, dy)) return null;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== "NHWC") return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const g = nativeGeometry(info);
  if (!g || dy.shape[1] !== g.ho || dy.shape[2] !== g.wo) return null;
  const out = backend.makeOutput(attrs.filterShape, "float32");
  runConv("backwardWeights", g, heapF32(backend, x), heapF32(backend, out), heapF32(backend, dy));
  return out;
}

/** The kernel's registration entry. */
export const nativeConv2DBackpropFilterConfig = nativeKernel(
  "Conv2DBackpropFilter",
  conv2DBackpropFilter,
);
