/**
 * `Sum` and `Mean` over leading axes: every per-channel reduction of batch norm and of the
 * gradients of broadcasting ops. tfjs's wasm kernels transpose the reduced axes to the end
 * first, a full pass over the tensor; one XNNPACK global average pool reduces them in place,
 * an order of magnitude faster on Conv-4's activations. (A ones-row matMul would re-pack the
 * tensor as matMul weights on every call, no faster than the transpose.)
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type AnyBackend, free, heapF32, type Info, run, sizeOf } from "./shared.ts";

/** Below this many reduced rows tfjs's kernel is as fast. */
const MIN_ROWS = 256;

/** Splits `n` into `a · b` with `a` the largest divisor ≤ √n (a square-ish pooling window). */
function squarishFactors(n: number): [number, number] {
  for (let a = Math.floor(Math.sqrt(n)); a > 1; a--) if (n % a === 0) return [a, n / a];
  return [1, n];
}

/**
 * `Sum` (`mean` false) or `Mean` over leading axes of a float32 tensor as one global average
 * pool; every other call goes to `original`.
 */
export function leadingAxesReduction(original: tf.KernelFunc, mean: boolean): tf.KernelFunc {
  return ((args: {
    inputs: { x: Info };
    backend: AnyBackend;
    attrs: { axis: number | number[]; keepDims: boolean };
  }) => {
    const { inputs: { x }, backend, attrs: { axis, keepDims } } = args;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const k = axes.length;
    const leading = k > 0 && k < rank && axes.every((a, i) => a === i);
    const rows = sizeOf(x.shape.slice(0, k));
    const rest = x.shape.slice(k);
    const cols = sizeOf(rest);
    if (x.dtype !== "float32" || !leading || rows < MIN_ROWS || cols === 0) {
      // deno-lint-ignore no-explicit-any
      return original(args as any);
    }
    const [a, b] = squarishFactors(rows);
    const x4 = run(backend, "Reshape", { x }, { shape: [1, a, b, cols] });
    const pooled = run(backend, "AvgPool", { x: x4 }, {
      filterSize: [a, b],
      strides: [1, 1],
      pad: "valid",
    });
    let result = pooled;
    if (!mean) {
      const scale = backend.makeOutput([], "float32");
      heapF32(backend, scale)[0] = rows;
      result = run(backend, "Multiply", { a: pooled, b: scale }, {});
      free(backend, scale, pooled);
    }
    const outShape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
    const out = run(backend, "Reshape", { x: result }, { shape: outShape });
    free(backend, x4, result);
    return out;
  }) as unknown as tf.KernelFunc;
}
