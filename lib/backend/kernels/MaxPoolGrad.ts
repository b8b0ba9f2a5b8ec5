/**
 * wasm `MaxPoolGrad`. tfjs-backend-wasm's is tens of times slower than this one on Conv-4's
 * activations, and breaks ties differently from the cpu backend (it drops the gradient of
 * windows of equal zeros, which ReLU makes common). Conv-4's 2×2, stride-2 case runs in
 * MetaLab's SIMD module (`../simd/max_pool_grad.ts`, several times faster than a JS loop);
 * other windows, and runtimes without SIMD, take JS loops over the heap. All paths break ties
 * as cpu does: the first maximum of a window, in row-major order, gets the gradient, and NaN
 * never wins.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { simdKernelsOf } from "../simd/mod.ts";
import {
  type AnyBackend,
  heapF32,
  type Info,
  type Pad,
  type Rounding,
  wasmKernel,
} from "./shared.ts";

/**
 * The Conv-4 case without SIMD, unrolled: 2×2 windows, stride 2, no padding. A separate
 * monomorphic function so the JIT compiles a tight loop. `dx` must be zeroed.
 */
function maxPoolGrad2x2(
  dx: Float32Array,
  x: Float32Array,
  dy: Float32Array,
  batch: number,
  height: number,
  width: number,
  c: number,
  outHeight: number,
  outWidth: number,
): void {
  const rowStride = width * c;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      let base = (b * height + 2 * oy) * rowStride;
      for (let ox = 0; ox < outWidth; ox++, base += 2 * c) {
        const end = base + c;
        for (let i00 = base; i00 < end; i00++, o++) {
          const i01 = i00 + c;
          const i10 = i00 + rowStride;
          const i11 = i10 + c;
          const v00 = x[i00];
          const v01 = x[i01];
          const v10 = x[i10];
          const v11 = x[i11];
          // First maximum in row-major window order; NaN never wins (like cpu's >).
          let at = v00 > -Infinity ? i00 : -1;
          let best = at >= 0 ? v00 : -Infinity;
          if (v01 > best) {
            best = v01;
            at = i01;
          }
          if (v10 > best) {
            best = v10;
            at = i10;
          }
          if (v11 > best) at = i11;
          if (at >= 0) dx[at] += dy[o];
        }
      }
    }
  }
}

/** Any window, stride and padding, as a JS loop. `dx` must be zeroed. */
function maxPoolGradGeneral(
  dx: Float32Array,
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * sh - top;
      const yStart = Math.max(0, y0);
      const yEnd = Math.min(inHeight, y0 + fh);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * sw - left;
        const xStart = Math.max(0, x0);
        const xEnd = Math.min(inWidth, x0 + fw);
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let bestIndex = -1;
          for (let y = yStart; y < yEnd; y++) {
            let index = ((b * inHeight + y) * inWidth + xStart) * c + ch;
            for (let xi = xStart; xi < xEnd; xi++, index += c) {
              const v = x[index];
              if (v > best) {
                best = v;
                bestIndex = index;
              }
            }
          }
          if (bestIndex >= 0) dx[bestIndex] += dy[dyBase + ch];
        }
      }
    }
  }
}

/** wasm `MaxPoolGrad`: inputs `dy`, `input` (the pool's `x`), `output`; returns `dx`. */
function maxPoolGrad(args: {
  inputs: { dy: Info; input: Info; output: Info };
  backend: AnyBackend;
  attrs: {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: Pad;
    dimRoundingMode?: Rounding;
  };
}): Info {
  const { inputs: { dy, input }, backend, attrs } = args;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad as "valid" | "same" | number,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const dx = backend.makeOutput(input.shape, "float32");
  const dxv = heapF32(backend, dx);
  const xv = heapF32(backend, input);
  const dyv = heapF32(backend, dy);
  // The unrolled paths read and write all four entries of every window: no padding on any
  // side. ('same' on an odd size pads the bottom or right by one; its last windows would reach
  // past the row, into the next image or past the tensor.)
  const { top, bottom, left, right } = info.padInfo;
  const conv4Pool = fh === 2 && fw === 2 && sh === 2 && sw === 2 &&
    top === 0 && left === 0 && bottom === 0 && right === 0;
  const simd = conv4Pool && c % 4 === 0 ? simdKernelsOf(backend) : null;
  if (simd) {
    // Every window writes its four entries; rows and columns no window covers (odd sizes)
    // are the only ones to zero.
    if (inHeight !== 2 * outHeight || inWidth !== 2 * outWidth) dxv.fill(0);
    const rowBytes = inWidth * c * 4;
    for (let b = 0; b < batchSize; b++) {
      for (let oy = 0; oy < outHeight; oy++) {
        const inRow = ((b * inHeight + 2 * oy) * inWidth * c) * 4;
        const outRow = ((b * outHeight + oy) * outWidth * c) * 4;
        simd.maxPoolGrad2x2Row(
          dxv.byteOffset + inRow,
          xv.byteOffset + inRow,
          dyv.byteOffset + outRow,
          outWidth,
          c / 4,
          c * 4,
          rowBytes,
        );
      }
    }
    return dx;
  }
  dxv.fill(0);
  if (conv4Pool) {
    maxPoolGrad2x2(dxv, xv, dyv, batchSize, inHeight, inWidth, c, outHeight, outWidth);
  } else {
    maxPoolGradGeneral(dxv, xv, dyv, info);
  }
  return dx;
}

/** The kernel's registration entry. */
export const maxPoolGradConfig = wasmKernel("MaxPoolGrad", maxPoolGrad);
