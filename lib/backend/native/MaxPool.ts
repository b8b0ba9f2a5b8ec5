/**
 * native `MaxPool`: tfjs's NHWC max-pool as oneDNN's pooling primitive (inference: no
 * workspace) on the tensors in the wasm heap. A maximum is exact, so the result is wasm's bit
 * for bit; what oneDNN adds is its OpenMP threads. Small tensors, non-float32 ones and
 * geometries oneDNN does not take go to wasm's kernel (XNNPACK's).
 * @module
 */
import { type AnyBackend, heapF32, type Info, sizeOf } from "../kernels/shared.ts";
import { ABI } from "./dnnl.ts";
import { type PoolAttrs, poolGeometry, poolingDesc, poolKey } from "./pooling.ts";
import { cachedPlan, primitiveDesc, runPlan, tensorDesc, unowned } from "./primitive.ts";
import { allFloat32, minNativeElements, nativeKernel } from "./shared.ts";

/** Input `x` [N,H,W,C]; output the max-pool; null = wasm's. */
function maxPool(
  args: { inputs: { x: Info }; backend: AnyBackend; attrs: PoolAttrs },
): Info | null {
  const { inputs: { x }, backend, attrs } = args;
  if (!allFloat32(x) || x.shape.length !== 4 || sizeOf(x.shape) < minNativeElements()) return null;
  const g = poolGeometry(x.shape, attrs);
  if (!g) return null;
  const key = `maxPool:${poolKey(g)}`;
  const plan = cachedPlan(key, (dnnl) => {
    const [src, dst] = [
      unowned(dnnl, tensorDesc(dnnl, g.inShape)),
      unowned(dnnl, tensorDesc(dnnl, g.outShape)),
    ];
    const pd = primitiveDesc(dnnl, poolingDesc(dnnl, g, ABI.forwardInference), null, key);
    return { steps: [{ pd, args: [[ABI.argSrc, src], [ABI.argDst, dst]] }], inputs: [src, dst] };
  });
  const y = backend.makeOutput(g.outShape, "float32");
  runPlan("maxPool", key, plan, [heapF32(backend, x), heapF32(backend, y)]);
  return y;
}

/** The kernel's registration entry. */
export const nativeMaxPoolConfig = nativeKernel("MaxPool", maxPool);
