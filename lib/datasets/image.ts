/**
 * Image helpers for the Omniglot loader: PNG decoding with `fast-png`, unpacking of
 * 1-bit rows, and area-averaging resize (PIL's `Image.BOX` filter).
 * @module
 */
import { decode } from "fast-png";

/** A decoded single-channel image with values in [0, 1]. */
export interface GrayImage {
  width: number;
  height: number;
  /** Row-major values in [0, 1]. */
  data: Float32Array;
}

/**
 * Decodes a grayscale PNG and returns its "ink" (1 − intensity, so strokes are 1 and the
 * paper is 0, as in Finn et al.'s and Snell et al.'s Omniglot code).
 * Throws an error naming `name` when the bytes are not a PNG, the image is not
 * single-channel, or its size is not `expected` (when given).
 */
export function decodeInkPng(
  bytes: Uint8Array,
  name: string,
  expected?: { width: number; height: number },
): GrayImage {
  let png;
  try {
    png = decode(bytes);
  } catch (err) {
    throw new Error(`cannot decode PNG ${name}: ${(err as Error).message}`);
  }
  const { width, height, depth, channels } = png;
  if (expected && (width !== expected.width || height !== expected.height)) {
    throw new Error(
      `image ${name} is ${width}×${height}, expected ${expected.width}×${expected.height}`,
    );
  }
  if (channels !== 1) {
    throw new Error(`image ${name} has ${channels} channels, expected 1 (grayscale)`);
  }
  const out = new Float32Array(width * height);
  const src = png.data;
  if (depth === 1) {
    // fast-png keeps 1-bit rows packed, each row padded to a whole byte.
    const rowBytes = Math.ceil(width / 8);
    if (src.length < rowBytes * height) {
      throw new Error(`image ${name}: pixel data is truncated`);
    }
    for (let y = 0; y < height; y++) {
      const row = y * rowBytes;
      for (let x = 0; x < width; x++) {
        const bit = (src[row + (x >> 3)] >> (7 - (x & 7))) & 1;
        out[y * width + x] = 1 - bit;
      }
    }
  } else {
    const max = (1 << depth) - 1;
    for (let i = 0; i < out.length; i++) out[i] = 1 - src[i] / max;
  }
  return { width, height, data: out };
}

/** Sparse weights of a 1-D area-averaging resampler: for each output, its input taps. */
interface AreaWeights {
  start: Int32Array;
  count: Int32Array;
  weight: Float32Array; // `maxTaps` slots per output
  maxTaps: number;
}

function areaWeights(inSize: number, outSize: number): AreaWeights {
  const scale = inSize / outSize;
  const maxTaps = Math.ceil(scale) + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weight = new Float32Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    const lo = o * scale;
    const hi = (o + 1) * scale;
    const first = Math.floor(lo);
    const last = Math.min(inSize - 1, Math.ceil(hi) - 1);
    start[o] = first;
    count[o] = last - first + 1;
    for (let k = first; k <= last; k++) {
      const overlap = Math.min(k + 1, hi) - Math.max(k, lo);
      weight[o * maxTaps + (k - first)] = overlap / scale;
    }
  }
  return { start, count, weight, maxTaps };
}

/**
 * A reusable area-averaging resizer from `inH × inW` to `outH × outW`: each output pixel is
 * the mean of the input area it covers, with fractional pixels weighted by their overlap
 * (PIL's `Image.BOX`). Weights are computed once; `resize` allocates nothing.
 */
export class AreaResizer {
  readonly inH: number;
  readonly inW: number;
  readonly outH: number;
  readonly outW: number;
  #rows: AreaWeights;
  #cols: AreaWeights;
  #tmp: Float32Array;

  constructor(inH: number, inW: number, outH: number, outW: number) {
    for (const [k, v] of Object.entries({ inH, inW, outH, outW })) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new RangeError(`AreaResizer: ${k} must be a positive integer, got ${v}`);
      }
    }
    this.inH = inH;
    this.inW = inW;
    this.outH = outH;
    this.outW = outW;
    this.#rows = areaWeights(inH, outH);
    this.#cols = areaWeights(inW, outW);
    this.#tmp = new Float32Array(inH * outW);
  }

  /** Resizes `src` (inH × inW) into `out` (outH × outW) starting at `offset`. */
  resize(src: Float32Array, out: Float32Array | Uint8Array, offset = 0, outScale = 1): void {
    const { inH, inW, outH, outW } = this;
    const tmp = this.#tmp;
    const cols = this.#cols;
    // Horizontal pass: inH × outW.
    for (let y = 0; y < inH; y++) {
      const row = y * inW;
      for (let o = 0; o < outW; o++) {
        let acc = 0;
        const s = cols.start[o];
        const base = o * cols.maxTaps;
        for (let t = 0; t < cols.count[o]; t++) acc += src[row + s + t] * cols.weight[base + t];
        tmp[y * outW + o] = acc;
      }
    }
    // Vertical pass: outH × outW.
    const rows = this.#rows;
    const round = out instanceof Uint8Array;
    for (let o = 0; o < outH; o++) {
      const s = rows.start[o];
      const base = o * rows.maxTaps;
      for (let x = 0; x < outW; x++) {
        let acc = 0;
        for (let t = 0; t < rows.count[o]; t++) {
          acc += tmp[(s + t) * outW + x] * rows.weight[base + t];
        }
        const v = acc * outScale;
        out[offset + o * outW + x] = round ? Math.round(v) : v;
      }
    }
  }
}
