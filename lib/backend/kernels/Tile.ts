/**
 * wasm `Tile` as block copies on the heap. tfjs's wasm kernel copies element by element, and
 * broadcasting a per-channel `[1, 1, 1, C]` tensor to an activation's shape (batch norm) took
 * it tens of times longer than this.
 * @module
 */
import { type AnyBackend, type Info, sizeOf, wasmKernel } from "./shared.ts";

/**
 * Axes are processed from the last to the first: after each step the data for the axes seen
 * so far is contiguous, and each outer block is moved to its final place (highest first, so
 * nothing is overwritten) and replicated by doubling `copyWithin`s.
 */
function tile(args: {
  inputs: { x: Info };
  backend: AnyBackend;
  attrs: { reps: number[] };
}): Info {
  const { inputs: { x }, backend, attrs: { reps } } = args;
  if (x.dtype === "string") throw new Error("Tile on wasm (MetaLab kernel): strings unsupported");
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (sizeOf(outShape) === 0) return out;
  // The views' element type follows the dtype (Int32Array, Uint8Array for bool); typed as
  // float32 only because copies never look at the values.
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  o.set(backend.typedArrayFromHeap(x) as Float32Array, 0);
  const cur = [...x.shape];
  for (let a = cur.length - 1; a >= 0; a--) {
    const r = reps[a];
    if (r === 1) continue;
    let outer = 1;
    for (let i = 0; i < a; i++) outer *= cur[i];
    let inner = 1;
    for (let i = a; i < cur.length; i++) inner *= cur[i];
    for (let b = outer - 1; b >= 0; b--) {
      const dst = b * inner * r;
      if (dst !== b * inner) o.copyWithin(dst, b * inner, (b + 1) * inner);
      let filled = inner;
      const total = inner * r;
      while (filled < total) {
        const n = Math.min(filled, total - filled);
        o.copyWithin(dst + filled, dst, dst + n);
        filled += n;
      }
    }
    cur[a] *= r;
  }
  return out;
}

/** The kernel's registration entry. */
export const tileConfig = wasmKernel("Tile", tile);
