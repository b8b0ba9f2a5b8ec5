/**
 * native `BatchMatMul`: tfjs's batched matrix product (transposes by strides, a batch of one
 * on either side broadcast) as oneDNN's matmul primitive on the tensors in the wasm heap.
 * Products under {@linkcode minNativeElements} multiply-adds, other dtypes and batch shapes
 * that are neither equal nor one on a side go to wasm's kernel.
 * @module
 */
import { type AnyBackend, heapF32, type Info, sizeOf } from "../kernels/shared.ts";
import { ABI, check, memoryDesc } from "./dnnl.ts";
import { cachedPlan, primitiveDesc, runPlan, unowned } from "./primitive.ts";
import { allFloat32, minNativeElements, nativeKernel } from "./shared.ts";

/** Inputs `a` [..., M, K] and `b` [..., K, N] (or transposed); output [..., M, N]. */
function batchMatMul(args: {
  inputs: { a: Info; b: Info };
  backend: AnyBackend;
  attrs: { transposeA: boolean; transposeB: boolean };
}): Info | null {
  const { inputs: { a, b }, backend, attrs: { transposeA, transposeB } } = args;
  if (!allFloat32(a, b) || a.shape.length < 2 || b.shape.length < 2) return null;
  const [ra, rb] = [a.shape.length, b.shape.length];
  const [m, k] = transposeA
    ? [a.shape[ra - 1], a.shape[ra - 2]]
    : [a.shape[ra - 2], a.shape[ra - 1]];
  const [k2, n] = transposeB
    ? [b.shape[rb - 1], b.shape[rb - 2]]
    : [b.shape[rb - 2], b.shape[rb - 1]];
  if (k !== k2) return null; // wasm's kernel names the mismatch
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const [ba, bb] = [sizeOf(batchA), sizeOf(batchB)];
  const same = batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i]);
  if (!same && ba !== 1 && bb !== 1) return null;
  const batch = Math.max(ba, bb);
  if (batch * m * n * k < minNativeElements()) return null;
  const outShape = [...(ba >= bb ? batchA : batchB), m, n];
  const key = `batchMatMul:${a.shape}:${b.shape}:${transposeA}:${transposeB}`;
  const plan = cachedPlan(key, (dnnl) => {
    // Logical [B, M, K] · [B, K, N]; tfjs's row-major storage (transposed or not) by strides.
    const src = memoryDesc(dnnl, [ba, m, k], transposeA ? [m * k, 1, m] : [m * k, k, 1]);
    const wei = memoryDesc(dnnl, [bb, k, n], transposeB ? [k * n, 1, k] : [k * n, n, 1]);
    const dst = memoryDesc(dnnl, [batch, m, n], [m * n, n, 1]);
    const op = new Uint8Array(ABI.matmulDescBytes);
    check(
      dnnl.symbols.dnnl_matmul_desc_init(op, src, wei, null, dst),
      `dnnl_matmul_desc_init(${key})`,
    );
    const [s, w, d] = [src, wei, dst].map((md) => unowned(dnnl, md));
    const pd = primitiveDesc(dnnl, op, null, key);
    return {
      steps: [{ pd, args: [[ABI.argSrc, s], [ABI.argWeights, w], [ABI.argDst, d]] }],
      inputs: [s, w, d],
    };
  });
  const out = backend.makeOutput(outShape, "float32");
  runPlan("batchMatMul", key, plan, [a, b, out].map((info) => heapF32(backend, info)));
  return out;
}

/** The kernel's registration entry. */
export const nativeBatchMatMulConfig = nativeKernel("BatchMatMul", batchMatMul);
