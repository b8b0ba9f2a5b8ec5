/**
 * native `MaxPoolGrad`: the gradient of an NHWC max-pool as oneDNN's pooling backward
 * primitive on the tensors in the wasm heap. oneDNN's backward reads the argmax of each
 * window from a workspace its training forward writes, and tfjs's kernel is given `x` and `y`
 * instead, so the plan runs both: the forward (into a scratch output, and the workspace
 * oneDNN keeps per shape), then the backward. Both break ties as wasm's kernel and cpu do
 * (the first maximum of a window in row-major order gets the gradient; checked in
 * tests/native_backend_test.ts, windows of equal zeros included), so `MaxPoolGrad_grad`'s
 * one-hot mask holds here too.
 * @module
 */
import { type AnyBackend, free, heapF32, type Info, sizeOf } from "../kernels/shared.ts";
import { ABI, memoryObject, queriedDesc } from "./dnnl.ts";
import { type PoolAttrs, poolGeometry, poolingDesc, poolKey } from "./pooling.ts";
import { cachedPlan, primitiveDesc, runPlan, tensorDesc, unowned } from "./primitive.ts";
import { allFloat32, minNativeElements, nativeKernel } from "./shared.ts";

/** Inputs `dy`, `input` (x), `output` (y); output dx of x's shape; null = wasm's. */
function maxPoolGrad(args: {
  inputs: { dy: Info; input: Info; output: Info };
  backend: AnyBackend;
  attrs: PoolAttrs;
}): Info | null {
  const { inputs: { dy, input }, backend, attrs } = args;
  if (!allFloat32(dy, input) || input.shape.length !== 4) return null;
  if (sizeOf(input.shape) < minNativeElements()) return null;
  const g = poolGeometry(input.shape, attrs);
  if (!g || g.outShape.some((d, i) => d !== dy.shape[i])) return null;
  const key = `maxPoolGrad:${poolKey(g)}`;
  const plan = cachedPlan(key, (dnnl) => {
    const inDesc = tensorDesc(dnnl, g.inShape);
    const outDesc = tensorDesc(dnnl, g.outShape);
    const forward = primitiveDesc(dnnl, poolingDesc(dnnl, g, ABI.forwardTraining), null, key);
    const backward = primitiveDesc(dnnl, poolingDesc(dnnl, g, null), forward, key);
    // The argmax per window, in a layout of oneDNN's choosing: a buffer it owns.
    const workspace = memoryObject(dnnl, queriedDesc(dnnl, forward, ABI.queryWorkspaceMd), true);
    const [x, y, diffDst, diffSrc] = [inDesc, outDesc, outDesc, inDesc].map((d) =>
      unowned(dnnl, d)
    );
    return {
      steps: [
        { pd: forward, args: [[ABI.argSrc, x], [ABI.argDst, y], [ABI.argWorkspace, workspace]] },
        {
          pd: backward,
          args: [[ABI.argDiffDst, diffDst], [ABI.argWorkspace, workspace], [
            ABI.argDiffSrc,
            diffSrc,
          ]],
        },
      ],
      inputs: [x, y, diffDst, diffSrc],
    };
  });
  const dx = backend.makeOutput(g.inShape, "float32");
  const scratch = backend.makeOutput(g.outShape, "float32"); // the forward's y, recomputed
  const views = [input, scratch, dy, dx].map((info) => heapF32(backend, info));
  runPlan("maxPoolGrad", key, plan, views);
  free(backend, scratch);
  return dx;
}

/** The kernel's registration entry. */
export const nativeMaxPoolGradConfig = nativeKernel("MaxPoolGrad", maxPoolGrad);
