/**
 * wasm `Transpose` for float32 tensors whose transpose reduces to `[R, C] → [C, R]`,
 * `[A, B, C] → [C, B, A]` (an NHWC tensor with batch and channels swapped, as the conv filter
 * gradient needs) or `[A, B, C] → [A, C, B]`, as 4×4 SIMD blocks (`../simd/transpose.ts`):
 * several times faster than tfjs's kernel for Conv-4's batch↔channel swap, about twice for a
 * plain matrix. Anything else (block moves such as `[1, 0, 2]`, which tfjs does fast), small
 * tensors and runtimes without SIMD go to tfjs's kernel.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { type SimdKernels, simdKernelsOf, wasmBackendMemory } from "../simd/mod.ts";
import {
  type AnyBackend,
  free,
  heapF32,
  type Info,
  run,
  sizeOf,
  type WrappingKernel,
} from "./shared.ts";

/** Below this many elements tfjs's kernel is as fast. */
const MIN_SIZE = 4096;

/**
 * A transpose reduced to what it does: size-1 axes dropped and axes that stay neighbours
 * merged, so `[N, H, W, C]` with perm `[3, 1, 2, 0]` becomes `[N, H·W, C]` with `[2, 1, 0]`.
 */
function reducedTranspose(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  const kept = perm.filter((a) => shape[a] !== 1);
  // Renumber the kept axes 0… in input order.
  const order = [...kept].sort((a, b) => a - b);
  const p = kept.map((a) => order.indexOf(a));
  const dims = order.map((a) => shape[a]);
  // Merge input axes i, i+1 that follow each other in the output too.
  const groups: number[][] = [];
  for (const a of p) {
    const last = groups.at(-1);
    if (last && last.at(-1)! + 1 === a) last.push(a);
    else groups.push([a]);
  }
  const byInput = [...groups].sort((g, h) => g[0] - h[0]);
  return {
    shape: byInput.map((g) => g.reduce((n, a) => n * dims[a], 1)),
    perm: groups.map((g) => byInput.indexOf(g)),
  };
}

/**
 * `dst[c·dstStride + r] = src[r·srcStride + c]` for r < rows, c < cols (float offsets into
 * `heap`): whole 4×4 blocks in SIMD, the last rows and columns in JS.
 */
function transpose2d(
  simd: SimdKernels,
  heap: Float32Array,
  src: number,
  dst: number,
  rows: number,
  cols: number,
  srcStride: number,
  dstStride: number,
): void {
  const rowBlocks = rows >> 2;
  const colBlocks = cols >> 2;
  if (rowBlocks > 0 && colBlocks > 0) {
    simd.transpose4x4Blocks(4 * src, 4 * dst, rowBlocks, colBlocks, 4 * srcStride, 4 * dstStride);
  }
  for (let r = 0; r < rows; r++) {
    const c0 = r < 4 * rowBlocks ? 4 * colBlocks : 0;
    for (let c = c0; c < cols; c++) heap[dst + c * dstStride + r] = heap[src + r * srcStride + c];
  }
}

/** The reduced perms done here (as `perm.join()`); every other one goes to tfjs. */
const HANDLED = ["1,0", "2,1,0", "0,2,1"];

/** `Transpose` in SIMD blocks where it reduces to a `HANDLED` case, else `original`. */
function blockTranspose(original: tf.KernelFunc): tf.KernelFunc {
  return ((args: { inputs: { x: Info }; backend: AnyBackend; attrs: { perm: number[] } }) => {
    const { inputs: { x }, backend, attrs: { perm } } = args;
    const memory = x.dtype === "float32" && sizeOf(x.shape) >= MIN_SIZE
      ? wasmBackendMemory(backend)
      : null;
    const simd = memory ? simdKernelsOf(backend) : null;
    const r = reducedTranspose(x.shape, perm);
    const key = r.perm.join();
    if (!simd || !HANDLED.includes(key)) {
      // deno-lint-ignore no-explicit-any
      return original(args as any);
    }
    const outShape = perm.map((a) => x.shape[a]);
    const [a, b, c] = r.shape.length === 2 ? [r.shape[0], 1, r.shape[1]] : r.shape;
    // [A, B, C] → [C, B, A] in two streaming passes: [A, B·C] → [B·C, A] as one 2D transpose
    // into a scratch tensor, then [B, C, A] → [C, B, A], moves of A-float blocks, which tfjs's
    // kernel does fast. Transposing each [A, C] slice on its own reads rows B·C apart.
    const out = backend.makeOutput(key === "2,1,0" ? [b, c, a] : outShape, "float32");
    // After makeOutput, which may grow (and so move) the heap.
    const heap = new Float32Array(memory!.buffer);
    const src = heapF32(backend, x).byteOffset / 4;
    const dst = heapF32(backend, out).byteOffset / 4;
    if (key === "0,2,1") {
      for (let i = 0; i < a; i++) {
        transpose2d(simd, heap, src + i * b * c, dst + i * b * c, b, c, c, b);
      }
      return out;
    }
    transpose2d(simd, heap, src, dst, a, b * c, b * c, a);
    if (key === "1,0") return out;
    const moveArgs = { inputs: { x: out }, backend, attrs: { perm: [1, 0, 2] } };
    const moved = original(moveArgs as unknown as Parameters<tf.KernelFunc>[0]) as Info;
    const result = run(backend, "Reshape", { x: moved }, { shape: outShape });
    free(backend, out, moved);
    return result;
  }) as unknown as tf.KernelFunc;
}

/** The kernel's registration entry (it wraps tfjs's `Transpose`). */
export const transposeConfig: WrappingKernel = {
  kernelName: "Transpose",
  wrap: blockTranspose,
};
