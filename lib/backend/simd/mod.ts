/**
 * MetaLab's own WebAssembly SIMD kernels, for loops that tfjs's wasm backend runs slowly and
 * that no XNNPACK op expresses. The module is assembled at run time (`encoder.ts`) from one
 * body per file and instantiated on the wasm backend's own memory, so it reads and writes
 * tensors where they lie on the heap, with no copies in or out:
 *
 * - `maxPoolGrad2x2Row` (`max_pool_grad.ts`): one output row of the 2×2, stride-2 max-pool
 *   gradient (Conv-4's pooling);
 * - `transpose4x4Blocks` (`transpose.ts`): a strided float matrix transpose behind the
 *   `Transpose` kernel's common cases;
 * - `batchNormGradSums`, `batchNormGradDx` (`batch_norm.ts`): the two passes of the fused
 *   batch norm's forward and gradient;
 * - `reluGrad` (`relu_grad.ts`): ReLU's gradient in one pass.
 *
 * The kernels that call them live in `../kernels/`; each keeps a JS path for runtimes that
 * reject the module.
 * @module
 */
import { batchNormGradDx, batchNormGradSums } from "./batch_norm.ts";
import { encodeModule } from "./encoder.ts";
import { maxPoolGrad2x2Row } from "./max_pool_grad.ts";
import { reluGrad } from "./relu_grad.ts";
import { transpose4x4Blocks } from "./transpose.ts";

/** The module's functions, in export order. */
const FUNCTIONS = [
  maxPoolGrad2x2Row,
  transpose4x4Blocks,
  batchNormGradSums,
  batchNormGradDx,
  reluGrad,
];

/** MetaLab's SIMD kernels bound to one wasm memory; all offsets are in bytes. */
export interface SimdKernels {
  /** See `max_pool_grad.ts`. */
  maxPoolGrad2x2Row(
    dx: number,
    x: number,
    dy: number,
    outWidth: number,
    channelGroups: number,
    channelBytes: number,
    rowBytes: number,
  ): void;
  /** See `batch_norm.ts`: per-channel Σ dy and Σ dy·z. */
  batchNormGradSums(
    dy: number,
    z: number,
    rows: number,
    channelGroups: number,
    sumDy: number,
    sumDyZ: number,
  ): void;
  /** See `batch_norm.ts`: `dx = k·dy − (a + z·b)`. */
  batchNormGradDx(
    dy: number,
    z: number,
    dx: number,
    rows: number,
    channelGroups: number,
    k: number,
    a: number,
    b: number,
  ): void;
  /** See `relu_grad.ts`; `vectors` = floats / 4. */
  reluGrad(dy: number, x: number, dx: number, vectors: number): void;
  /** See `transpose.ts`. */
  transpose4x4Blocks(
    src: number,
    dst: number,
    rowBlocks: number,
    colBlocks: number,
    srcRowBytes: number,
    dstRowBytes: number,
  ): void;
}

/** One instance per memory (a cache: instantiating is cheap but not free). */
const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();

/**
 * The kernels instantiated on `memory` (once per memory), or null where the runtime
 * rejects the module (no SIMD): callers then keep their JS loops.
 *
 * @example
 * ```ts
 * const memory = wasmBackendMemory(tf.backend());
 * const simd = memory ? simdKernelsFor(memory) : null;
 * simd?.reluGrad(dyByteOffset, xByteOffset, dxByteOffset, n / 4);
 * ```
 */
export function simdKernelsFor(memory: WebAssembly.Memory): SimdKernels | null {
  const known = instances.get(memory);
  if (known) return known;
  try {
    const shared = typeof SharedArrayBuffer !== "undefined" &&
      memory.buffer instanceof SharedArrayBuffer;
    const module = new WebAssembly.Module(encodeModule(FUNCTIONS, shared) as BufferSource);
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const kernels = instance.exports as unknown as SimdKernels;
    instances.set(memory, kernels);
    return kernels;
  } catch {
    return null;
  }
}

/** The wasm backend's memory: an export of the single-threaded build, an import of the threaded one. */
// deno-lint-ignore no-explicit-any
export function wasmBackendMemory(backend: any): WebAssembly.Memory | null {
  const m = backend?.wasm?.wasmMemory ?? backend?.wasm?.asm?.memory;
  return m instanceof WebAssembly.Memory ? m : null;
}

/** The SIMD kernels on `backend`'s memory, or null (not wasm, or no SIMD). */
// deno-lint-ignore no-explicit-any
export function simdKernelsOf(backend: any): SimdKernels | null {
  const memory = wasmBackendMemory(backend);
  return memory ? simdKernelsFor(memory) : null;
}
