/**
 * native `Conv2DBackpropInput`: the input gradient of an NHWC conv as oneDNN's backward-data
 * primitive on the tensors in the wasm heap (no copies). Anything else goes to wasm's kernel.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AnyBackend, type ConvBackpropAttrs, heapF32, type Info } from "../kernels/shared.ts";
import { runConv } from "./conv.ts";
import { allFloat32, nativeGeometry, nativeKernel } from "./shared.ts";

/** native `Conv2DBackpropInput`: inputs `dy`, `filter`; returns dx of `inputShape`. */
function conv2DBackpropInput(args: {
  inputs: { dy: Info; filter: Info };
  backend: AnyBackend;
  attrs: ConvBackpropAttrs & { inputShape: [number, number, number, number] };
}): Info | null {
  const { inputs: { dy, filter }, backend, attrs } = args;
  if (!allFloat32(dy, filter)) return null;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== "NHWC") return null;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const g = nativeGeometry(info);
  // dy must be the conv's output shape for oneDNN; tfjs's ops always make it so.
  if (!g || dy.shape[1] !== g.ho || dy.shape[2] !== g.wo) return null;
  const out = backend.makeOutput(attrs.inputShape, "float32");
  runConv("backwardData", g, heapF32(backend, out), heapF32(backend, filter), heapF32(backend, dy));
  return out;
}

/** The kernel's registration entry. */
export const nativeConv2DBackpropInputConfig = nativeKernel(
  "Conv2DBackpropInput",
  conv2DBackpropInput,
);
