/**
 * native `Relu`: max(x, 0) as oneDNN's element-wise primitive (inference) on the tensor in the
 * wasm heap, bit for bit wasm's, on OpenMP's threads. Small and non-float32 tensors go to
 * wasm's kernel.
 * @module
 */
import { type AnyBackend, heapF32, type Info, sizeOf } from "../kernels/shared.ts";
import { ABI, check, type Dnnl } from "./dnnl.ts";
import { cachedPlan, primitiveDesc, runPlan, tensorDesc, unowned } from "./primitive.ts";
import { allFloat32, minNativeElements, nativeKernel } from "./shared.ts";

/** ReLU's forward op descriptor on `data` (`propKind`: inference, or training as a hint). */
export function reluForwardDesc(
  dnnl: Dnnl,
  propKind: number,
  data: Uint8Array,
  key: string,
): Uint8Array {
  const op = new Uint8Array(ABI.eltwiseDescBytes);
  check(
    dnnl.symbols.dnnl_eltwise_forward_desc_init(op, propKind, ABI.eltwiseRelu, data, 0, 0),
    `dnnl_eltwise_forward_desc_init(${key})`,
  );
  return op;
}

/** Input `x`; output max(x, 0); null = wasm's. */
function relu(args: { inputs: { x: Info }; backend: AnyBackend }): Info | null {
  const { inputs: { x }, backend } = args;
  const n = sizeOf(x.shape);
  if (!allFloat32(x) || n < minNativeElements()) return null;
  const key = `relu:${n}`;
  const plan = cachedPlan(key, (dnnl) => {
    const data = tensorDesc(dnnl, [n], true);
    const op = reluForwardDesc(dnnl, ABI.forwardInference, data, key);
    const [src, dst] = [unowned(dnnl, data), unowned(dnnl, data)];
    const pd = primitiveDesc(dnnl, op, null, key);
    return { steps: [{ pd, args: [[ABI.argSrc, src], [ABI.argDst, dst]] }], inputs: [src, dst] };
  });
  const y = backend.makeOutput(x.shape, "float32");
  runPlan("relu", key, plan, [heapF32(backend, x), heapF32(backend, y)]);
  return y;
}

/** The kernel's registration entry. */
export const nativeReluConfig = nativeKernel("Relu", relu);
