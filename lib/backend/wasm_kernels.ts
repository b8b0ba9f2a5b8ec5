/**
 * Kernels that the tfjs `wasm` backend lacks or runs slowly, composed from its fast
 * XNNPACK-backed kernels (Conv2D, Transpose, PadV2, Reverse, Slice, Reshape).
 *
 * - `Conv2DBackpropFilter` (missing in tfjs-backend-wasm 4.22, tfjs issue #8474): the filter
 *   gradient of an NHWC conv is itself a conv. With `xp` the padded input,
 *   `dW[kh,kw,ci,co] = Σ_{n,i,j} xp[n, i·s+kh, j·s+kw, ci] · dy[n,i,j,co]`, which is a 'valid'
 *   conv of `xpᵀ` (`[Cin, Hp, Wp, N]`: input channels as the batch, the batch as channels) with
 *   the filter `dyᵀ` (`[Ho, Wo, N, Cout]`) dilated by the stride s. Measured on Conv-4 shapes
 *   (80×14×14×64, 3×3×64×64): 107 ms, against 737 ms for im2col + matMul and 6.5 s for the
 *   naive Conv3DBackpropFilterV2 loop with a unit depth. Filters of at most 32 rows
 *   (kh·kw·Cin: a first layer on grey images) go through im2col + one matMul instead
 *   (Conv-4's first layer in a ProtoNet step: ≈ 12 ms against 54 ms).
 * - `Conv2DBackpropInput` (present, but a naive loop: 410 ms on the shape above) is replaced by
 *   a conv of the stride-upsampled, padded `dy` with the spatially flipped, in/out-swapped
 *   filter (≈ 40 ms).
 *
 * - `MaxPoolGrad` (present, but 144 ms for 80×28×28×64): Conv-4's 2×2 case in MetaLab's SIMD
 *   module (≈ 3 ms; `simd_kernels.ts`), other windows as a JS loop over the heap, both with the
 *   cpu backend's tie-breaking (the first maximum of a window gets the gradient; tfjs's wasm
 *   kernel drops it for windows of equal zeros).
 * - `Sum` and `Mean` over leading axes (every per-channel reduction of batch norm and of the
 *   gradients of broadcasting ops): tfjs's wasm kernels transpose first (30–38 ms for
 *   80×28×28×64); one XNNPACK global average pool does it in ≈ 2 ms (a ones-row matMul
 *   would re-pack the tensor as matMul weights on every call: 31 ms). Other reductions go to
 *   the original kernels.
 * - `Identity` and float32→float32 `Cast` share the buffer instead of copying it.
 * - `Tile` (216 ms for a batch-norm-sized broadcast) as block copies on the heap (≈ 5 ms).
 * - `Transpose`: 2D and batch↔channel transposes as 4×4 SIMD blocks (6.2 → 0.9 ms for
 *   75×16×16×64 by [3, 1, 2, 0]); the rest to tfjs's kernel.
 * - MetaLab's own kernels (`kernel_names.ts`): ReLU's gradient in one SIMD pass, and the
 *   fused first-order batch norm's forward and gradient.
 *
 * Only NHWC with dilation 1 in the original conv is handled (what tfjs's conv2d gradient
 * emits, since dilated convs go through SpaceToBatchND); anything else gets a clear error.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type SimdKernels, simdKernelsFor, wasmBackendMemory } from "./simd/mod.ts";
import {
  BATCH_NORM_FORWARD_KERNEL,
  BATCH_NORM_GRAD_KERNEL,
  RELU_GRAD_KERNEL,
} from "./kernel_names.ts";

type Info = tf.TensorInfo;
// deno-lint-ignore no-explicit-any
type AnyBackend = any;
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
type Pad = "valid" | "same" | number | ExplicitPadding;

/** Marks the kernels defined here, so registration can tell them from tfjs's own. */
const METALAB_KERNEL = Symbol.for("metalab.wasmKernel");

function run(
  backend: AnyBackend,
  kernelName: string,
  inputs: Record<string, Info>,
  attrs: Record<string, unknown>,
): Info {
  const kernel = tf.getKernel(kernelName, "wasm");
  if (!kernel) throw new Error(`wasm backend has no ${kernelName} kernel to build on`);
  // deno-lint-ignore no-explicit-any
  return kernel.kernelFunc({ inputs, backend, attrs } as any) as Info;
}

function free(backend: AnyBackend, ...infos: Info[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

function checkNhwc(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new Error(
      `${kernel} on wasm (MetaLab kernel): only NHWC is supported, got ${dataFormat}`,
    );
  }
}

/** Conv geometry (padding, output size) exactly as tfjs computes it for the forward conv. */
function convGeometry(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: "floor" | "round" | "ceil",
) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}

/** Below this many filter rows (kh·kw·Cin) the filter gradient goes through im2col + matMul. */
const IM2COL_MAX_ROWS = 32;

/**
 * The filter gradient as one matrix product, for filters with few rows (a first layer on
 * 1-channel images: 3·3·1 = 9): `dWᵀ[co, r] = Σ_m dyᵀ[co, m] · P[m, r]` with the patches
 * `P[(n,i,j), (kh,kw,ci)] = x[n, i·s+kh−pad, j·s+kw−pad, ci]` (zero outside), built with a JS
 * loop over the heap. The fresh `dy` is the matMul's left operand and the small `P` its
 * right one, because XNNPACK packs the right operand as weights on every call: with `dy` on
 * the right (`Pᵀ · dy`) packing its 4M floats took 46 of the 48 ms of Conv-4's first layer
 * in a ProtoNet step (80×28×28×1 → 64); transposing `dy` and packing `P` takes ≈ 12 ms.
 */
function filterGradientIm2col(
  backend: AnyBackend,
  x: Info,
  dy: Info,
  geometry: { sh: number; sw: number; kh: number; kw: number; top: number; left: number },
  filterShape: [number, number, number, number],
): Info {
  const { sh, sw, kh, kw, top, left } = geometry;
  const [n, h, w, cin] = x.shape;
  const [, ho, wo, cout] = dy.shape;
  const rows = kh * kw * cin;
  const m = n * ho * wo;
  const patches = backend.makeOutput([1, m, rows], "float32");
  // Views after makeOutput, which may grow (and so move) the heap.
  const p = backend.typedArrayFromHeap(patches) as Float32Array;
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      for (let c = 0; c < cin; c++) {
        // Column r of P, written with stride `rows`.
        let o = (a * kw + b) * cin + c;
        for (let b0 = 0; b0 < n; b0++) {
          for (let i = 0; i < ho; i++) {
            const y = i * sh + a - top;
            if (y < 0 || y >= h) {
              for (let j = 0; j < wo; j++, o += rows) p[o] = 0;
              continue;
            }
            const rowBase = (b0 * h + y) * w;
            for (let j = 0; j < wo; j++, o += rows) {
              const xx = j * sw + b - left;
              p[o] = xx >= 0 && xx < w ? xv[(rowBase + xx) * cin + c] : 0;
            }
          }
        }
      }
    }
  }
  const dy2 = run(backend, "Reshape", { x: dy }, { shape: [m, cout] });
  const dyT = run(backend, "Transpose", { x: dy2 }, { perm: [1, 0] });
  const dyT3 = run(backend, "Reshape", { x: dyT }, { shape: [1, cout, m] });
  const productT = run(backend, "BatchMatMul", { a: dyT3, b: patches }, {
    transposeA: false,
    transposeB: false,
  }); // [1, cout, rows]
  const product2 = run(backend, "Reshape", { x: productT }, { shape: [cout, rows] });
  const product = run(backend, "Transpose", { x: product2 }, { perm: [1, 0] });
  const out = run(backend, "Reshape", { x: product }, { shape: filterShape });
  free(backend, patches, dy2, dyT, dyT3, productT, product2, product);
  return out;
}

/** wasm `Conv2DBackpropFilter`: inputs `x`, `dy`; returns `dW` of shape `filterShape`. */
function conv2dBackpropFilterWasm(args: {
  inputs: { x: Info; dy: Info };
  backend: AnyBackend;
  attrs: Record<string, unknown>;
}): Info {
  const { inputs: { x, dy }, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: string;
    dimRoundingMode?: "floor" | "round" | "ceil";
    filterShape: [number, number, number, number];
  };
  checkNhwc("Conv2DBackpropFilter", dataFormat);
  const info = convGeometry(x.shape, filterShape, strides, pad, dimRoundingMode);
  const { padInfo, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const [, , , cin] = x.shape;
  const cout = filterShape[3];
  const [, ho, wo] = dy.shape;
  if (kh * kw * cin <= IM2COL_MAX_ROWS) {
    const geometry = { sh, sw, kh, kw, top: padInfo.top, left: padInfo.left };
    return filterGradientIm2col(backend, x, dy, geometry, filterShape);
  }
  const temps: Info[] = [];
  let xp = x;
  if (padInfo.top || padInfo.bottom || padInfo.left || padInfo.right) {
    xp = run(backend, "PadV2", { x }, {
      paddings: [[0, 0], [padInfo.top, padInfo.bottom], [padInfo.left, padInfo.right], [0, 0]],
      constantValue: 0,
    });
    temps.push(xp);
  }
  const xt = run(backend, "Transpose", { x: xp }, { perm: [3, 1, 2, 0] }); // [Cin, Hp, Wp, N]
  const dyt = run(backend, "Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Cout]
  temps.push(xt, dyt);
  let conv = run(backend, "Conv2D", { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: "valid",
    dataFormat: "NHWC",
    dilations: [sh, sw],
  }); // [Cin, Hp − (Ho−1)·sh, Wp − (Wo−1)·sw, Cout]
  temps.push(conv);
  // Rows/columns past the kernel size exist when the padded input is longer than the conv
  // reached ('valid' with a remainder); they are not part of the filter gradient.
  if (conv.shape[1] !== kh || conv.shape[2] !== kw) {
    if (conv.shape[1] < kh || conv.shape[2] < kw) {
      free(backend, ...temps);
      throw new Error(
        `Conv2DBackpropFilter on wasm: unexpected geometry (x ${x.shape}, dy ${dy.shape}, ` +
          `filter ${filterShape}, strides ${strides}, pad ${JSON.stringify(pad)}; dy ${ho}×${wo})`,
      );
    }
    conv = run(backend, "Slice", { x: conv }, { begin: [0, 0, 0, 0], size: [cin, kh, kw, cout] });
    temps.push(conv);
  }
  const out = run(backend, "Transpose", { x: conv }, { perm: [1, 2, 0, 3] });
  free(backend, ...temps);
  return out;
}

/**
 * `F'[a, b, co, ci] = F[kh−1−a, kw−1−b, ci, co]`: the filter flipped spatially with its in and
 * out channels swapped, in one pass over the heap (tfjs's wasm Reverse + Transpose took
 * ≈ 1 ms for a 3×3×64×64 filter, a few times per step and task).
 */
function flippedSwappedFilter(backend: AnyBackend, filter: Info): Info {
  const [kh, kw, cin, cout] = filter.shape;
  const out = backend.makeOutput([kh, kw, cout, cin], "float32");
  // Views after makeOutput, which may grow (and so move) the heap.
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  const f = backend.typedArrayFromHeap(filter) as Float32Array;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const src = ((kh - 1 - a) * kw + (kw - 1 - b)) * cin * cout;
      let dst = (a * kw + b) * cout * cin;
      for (let co = 0; co < cout; co++) {
        for (let ci = 0; ci < cin; ci++, dst++) o[dst] = f[src + ci * cout + co];
      }
    }
  }
  return out;
}

/** wasm `Conv2DBackpropInput` via a forward conv: inputs `dy`, `filter`; returns `dx`. */
function conv2dBackpropInputWasm(args: {
  inputs: { dy: Info; filter: Info };
  backend: AnyBackend;
  attrs: Record<string, unknown>;
}): Info {
  const { inputs: { dy, filter }, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: string;
    dimRoundingMode?: "floor" | "round" | "ceil";
    inputShape: [number, number, number, number];
  };
  checkNhwc("Conv2DBackpropInput", dataFormat);
  const info = convGeometry(inputShape, filter.shape, strides, pad, dimRoundingMode);
  const { padInfo, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const [n, h, w] = inputShape;
  const [, ho, wo, cout] = dy.shape;
  const temps: Info[] = [];
  // 1. Upsample dy by the stride: s−1 zeros between neighbours, (Ho−1)·s+1 rows.
  let up = dy;
  let upH = ho;
  let upW = wo;
  if (sh > 1 || sw > 1) {
    const r = run(backend, "Reshape", { x: dy }, { shape: [n, ho, 1, wo, 1, cout] });
    const p = run(backend, "PadV2", { x: r }, {
      paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
      constantValue: 0,
    });
    up = run(backend, "Reshape", { x: p }, { shape: [n, ho * sh, wo * sw, cout] });
    temps.push(r, p, up);
    upH = ho * sh;
    upW = wo * sw;
  }
  // 2. Pad so that a 'valid' conv with the flipped kernel yields exactly H×W:
  //    top = kh−1−padTop; bottom makes the total H + kh − 1 (negative → crop).
  const top = kh - 1 - padInfo.top;
  const left = kw - 1 - padInfo.left;
  const bottom = h + kh - 1 - top - upH;
  const right = w + kw - 1 - left - upW;
  if (top < 0 || left < 0) {
    free(backend, ...temps);
    throw new Error(
      `Conv2DBackpropInput on wasm: padding ${JSON.stringify(padInfo)} larger than the kernel ` +
        `${kh}×${kw} is not supported`,
    );
  }
  if (bottom < 0 || right < 0) {
    up = run(backend, "Slice", { x: up }, {
      begin: [0, 0, 0, 0],
      size: [n, upH + Math.min(bottom, 0), upW + Math.min(right, 0), cout],
    });
    temps.push(up);
  }
  let padded = up;
  if (top || left || bottom > 0 || right > 0) {
    padded = run(backend, "PadV2", { x: up }, {
      paddings: [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]],
      constantValue: 0,
    });
    temps.push(padded);
  }
  // 3. Flip the kernel spatially and swap in/out channels: [kh, kw, Cout, Cin].
  const swapped = flippedSwappedFilter(backend, filter);
  temps.push(swapped);
  const out = run(backend, "Conv2D", { x: padded, filter: swapped }, {
    strides: [1, 1],
    pad: "valid",
    dataFormat: "NHWC",
    dilations: [1, 1],
  });
  free(backend, ...temps);
  return out;
}

/**
 * The Conv-4 case of MaxPoolGrad, unrolled: 2×2 windows, stride 2, no padding. A separate
 * monomorphic function so the JIT compiles a tight loop (first maximum wins, as on cpu).
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

/** wasm `MaxPoolGrad` as a JS loop over the heap (cpu tie-breaking: first maximum wins). */
function maxPoolGradWasm(args: {
  inputs: { dy: Info; input: Info; output: Info };
  backend: AnyBackend;
  attrs: Record<string, unknown>;
}): Info {
  const { inputs: { dy, input }, backend, attrs } = args;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: Pad;
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
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
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dx = backend.makeOutput(input.shape, "float32");
  // Views are taken after makeOutput, which may grow (and so move) the heap.
  const dxv = backend.typedArrayFromHeap(dx) as Float32Array;
  const xv = backend.typedArrayFromHeap(input) as Float32Array;
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
  const conv4Pool = fh === 2 && fw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0;
  const memory = wasmBackendMemory(backend);
  const simd = conv4Pool && c % 4 === 0 && memory ? simdKernelsFor(memory) : null;
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
    return dx;
  }
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
            for (let x = xStart; x < xEnd; x++, index += c) {
              const v = xv[index];
              if (v > best) {
                best = v;
                bestIndex = index;
              }
            }
          }
          if (bestIndex >= 0) dxv[bestIndex] += dyv[dyBase + ch];
        }
      }
    }
  }
  return dx;
}

/** Splits `n` into `a · b` with `a` the largest divisor ≤ √n (a square-ish pooling window). */
function squarishFactors(n: number): [number, number] {
  for (let a = Math.floor(Math.sqrt(n)); a > 1; a--) if (n % a === 0) return [a, n / a];
  return [1, n];
}

/**
 * `Sum`/`Mean` over leading axes as one global average pool (XNNPACK, no transpose);
 * anything else goes to `original`. Below `MIN_ROWS` rows the original kernel is as fast.
 */
function leadingAxesReduction(original: tf.KernelFunc, mean: boolean): tf.KernelFunc {
  const MIN_ROWS = 256;
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
    const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const rest = x.shape.slice(k);
    const cols = rest.reduce((a, b) => a * b, 1);
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
      (backend.typedArrayFromHeap(scale) as Float32Array)[0] = rows;
      result = run(backend, "Multiply", { a: pooled, b: scale }, {});
      free(backend, scale, pooled);
    }
    const outShape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
    const out = run(backend, "Reshape", { x: result }, { shape: outShape });
    free(backend, x4, result);
    return out;
  }) as unknown as tf.KernelFunc;
}

/**
 * `Identity` and same-dtype `Cast` that share the input's buffer (reference-counted), as the
 * cpu backend does, instead of copying it: tfjs's gradients of Mul, RealDiv, Square and Relu
 * cast float32 tensors to float32, which on wasm copied every activation-sized tensor.
 * tfjs tensors are immutable, so sharing is safe.
 */
function sharingIdentity(original: tf.KernelFunc, kernel: "Identity" | "Cast"): tf.KernelFunc {
  return ((args: {
    inputs: { x: Info };
    backend: AnyBackend;
    attrs: { dtype?: string };
  }) => {
    const { inputs: { x }, backend, attrs } = args;
    const same = kernel === "Identity" || attrs.dtype === x.dtype;
    if (x.dtype === "string" || !same) {
      // deno-lint-ignore no-explicit-any
      return original(args as any);
    }
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as unknown as tf.KernelFunc;
}

/**
 * wasm `Tile` as block copies on the heap (tfjs's wasm kernel takes 216 ms to broadcast a
 * [1,1,1,64] tensor to 80×28×28×64; this takes a few ms). Axes are processed from the last
 * to the first: after each step the data for the axes seen so far is contiguous, and each
 * outer block is moved to its final place (highest first, so nothing is overwritten) and
 * replicated by doubling `copyWithin`s.
 */
function tileWasm(args: {
  inputs: { x: Info };
  backend: AnyBackend;
  attrs: { reps: number[] };
}): Info {
  const { inputs: { x }, backend, attrs: { reps } } = args;
  if (x.dtype === "string") throw new Error("Tile on wasm (MetaLab kernel): strings unsupported");
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  const size = outShape.reduce((a, b) => a * b, 1);
  if (size === 0) return out;
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

/**
 * wasm `Transpose` for float32 tensors whose transpose reduces to `[R, C] → [C, R]`,
 * `[A, B, C] → [C, B, A]` (an NHWC tensor with batch and channels swapped, as the conv filter
 * gradient needs) or `[A, B, C] → [A, C, B]`: tfjs's kernel took 6.2 ms for Conv-4's
 * 75×16×16×64 with perm [3, 1, 2, 0] and 1.15 ms for a [75, 16384] matrix on one idle core;
 * 4×4 SIMD blocks take 0.9 and 0.5 ms. Anything else (block moves such as `[1, 0, 2]`, which
 * tfjs does fast) goes to `original`.
 */
function fastTranspose(original: tf.KernelFunc): tf.KernelFunc {
  const MIN_SIZE = 4096;
  return ((args: { inputs: { x: Info }; backend: AnyBackend; attrs: { perm: number[] } }) => {
    const { inputs: { x }, backend, attrs: { perm } } = args;
    const size = x.shape.reduce((a, b) => a * b, 1);
    const memory = x.dtype === "float32" && size >= MIN_SIZE ? wasmBackendMemory(backend) : null;
    const simd = memory ? simdKernelsFor(memory) : null;
    const r = reducedTranspose(x.shape, perm);
    const key = r.perm.join();
    if (!simd || !["1,0", "2,1,0", "0,2,1"].includes(key)) {
      // deno-lint-ignore no-explicit-any
      return original(args as any);
    }
    const outShape = perm.map((a) => x.shape[a]);
    const [a, b, c] = r.shape.length === 2 ? [r.shape[0], 1, r.shape[1]] : r.shape;
    // [A, B, C] → [C, B, A] in two streaming passes: [A, B·C] → [B·C, A] as one 2D transpose
    // into a scratch tensor, then [B, C, A] → [C, B, A], moves of A-float blocks, which tfjs's
    // kernel does fast. Transposing each [A, C] slice on its own reads rows B·C apart.
    const out = backend.makeOutput(key === "2,1,0" ? [b, c, a] : outShape, "float32");
    // Views after makeOutput, which may grow (and so move) the heap.
    const heap = new Float32Array(memory!.buffer);
    const offset = (info: Info) =>
      (backend.typedArrayFromHeap(info) as Float32Array).byteOffset / 4;
    const src = offset(x);
    const dst = offset(out);
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

/**
 * MetaLab's fused batch-norm gradient (`lib/models/batch_norm.ts`): inputs `dy` and
 * `centred` = x − μ (`[…, C]`), `invStd` = s = 1/σ and `k` = γ·s (`[C]`); outputs `dx`,
 * `dγ = s·Σ dy·(x − μ)`, `dβ = Σ dy`, with `dx = k·dy − (k·dβ/M + (x − μ)·k·s·Σ dy·(x − μ)/M)`
 * over the M rows of each channel. Two SIMD passes over the activations (sums, then dx) where
 * autodiff of the primitive ops made about a dozen; channels not in fours take a JS loop.
 */
function batchNormGradWasm(args: {
  inputs: { dy: Info; centred: Info; invStd: Info; k: Info };
  backend: AnyBackend;
}): Info[] {
  const { inputs: { dy, centred, invStd, k }, backend } = args;
  const c = dy.shape[dy.shape.length - 1];
  const rows = dy.shape.reduce((a, b) => a * b, 1) / c;
  const dx = backend.makeOutput(dy.shape, "float32");
  const dGamma = backend.makeOutput([c], "float32");
  const dBeta = backend.makeOutput([c], "float32");
  const scratch = backend.makeOutput([3, c], "float32"); // Σ dy·(x − μ), then a, b
  // Views after makeOutput, which may grow (and so move) the heap.
  const view = (info: Info) => backend.typedArrayFromHeap(info) as Float32Array;
  const [dyv, cv, sv, kv, dxv, dg, s1, tmp] = [dy, centred, invStd, k, dx, dGamma, dBeta, scratch]
    .map(view);
  const s2 = tmp.subarray(0, c);
  const a = tmp.subarray(c, 2 * c);
  const b = tmp.subarray(2 * c, 3 * c);
  s1.fill(0);
  s2.fill(0);
  const memory = wasmBackendMemory(backend);
  const simd = c % 4 === 0 && memory ? simdKernelsFor(memory) : null;
  if (simd) {
    simd.batchNormGradSums(
      dyv.byteOffset,
      cv.byteOffset,
      rows,
      c / 4,
      s1.byteOffset,
      s2.byteOffset,
    );
  } else {
    for (let i = 0, r = 0; r < rows; r++) {
      for (let ch = 0; ch < c; ch++, i++) {
        s1[ch] += dyv[i];
        s2[ch] += dyv[i] * cv[i];
      }
    }
  }
  for (let ch = 0; ch < c; ch++) {
    dg[ch] = sv[ch] * s2[ch];
    a[ch] = (kv[ch] * s1[ch]) / rows;
    b[ch] = (kv[ch] * sv[ch] * dg[ch]) / rows;
  }
  if (simd) {
    simd.batchNormGradDx(
      dyv.byteOffset,
      cv.byteOffset,
      dxv.byteOffset,
      rows,
      c / 4,
      kv.byteOffset,
      a.byteOffset,
      b.byteOffset,
    );
  } else {
    for (let i = 0, r = 0; r < rows; r++) {
      for (let ch = 0; ch < c; ch++, i++) dxv[i] = kv[ch] * dyv[i] - (a[ch] + cv[i] * b[ch]);
    }
  }
  free(backend, scratch);
  return [dx, dGamma, dBeta];
}

/** wasm ReLU gradient in one SIMD pass (`lib/backend/kernel_names.ts`); a JS tail. */
function reluGradWasm(args: { inputs: { dy: Info; x: Info }; backend: AnyBackend }): Info {
  const { inputs: { dy, x }, backend } = args;
  const dx = backend.makeOutput(dy.shape, "float32");
  // Views after makeOutput, which may grow (and so move) the heap.
  const [dyv, xv, dxv] = [dy, x, dx].map((i) => backend.typedArrayFromHeap(i) as Float32Array);
  const n = dyv.length;
  const memory = wasmBackendMemory(backend);
  const simd = memory ? simdKernelsFor(memory) : null;
  const done = simd ? n - (n % 4) : 0;
  if (simd && done > 0) simd.reluGrad(dyv.byteOffset, xv.byteOffset, dxv.byteOffset, done / 4);
  for (let i = done; i < n; i++) dxv[i] = xv[i] > 0 ? dyv[i] : 0;
  return dx;
}

/**
 * The fused batch norm's forward after centring (`lib/backend/kernel_names.ts`): the
 * per-channel Σ(x − μ)² in one SIMD pass (the gradient's sums kernel, with the centred input
 * as both operands), then `y = (x − μ)·k + β` in one more (the gradient's dx kernel with
 * `dy` = x − μ, `a` = −β, `b` = 0). Channels not in fours take JS loops.
 */
function batchNormForwardWasm(args: {
  inputs: { centred: Info; gamma: Info; beta: Info };
  backend: AnyBackend;
  attrs: { epsilon: number };
}): Info[] {
  const { inputs: { centred, gamma, beta }, backend, attrs: { epsilon } } = args;
  const c = centred.shape[centred.shape.length - 1];
  const rows = centred.shape.reduce((a, b) => a * b, 1) / c;
  const y = backend.makeOutput(centred.shape, "float32");
  const invStd = backend.makeOutput([c], "float32");
  const k = backend.makeOutput([c], "float32");
  const scratch = backend.makeOutput([4, c], "float32"); // Σ(x − μ), Σ(x − μ)², −β, 0
  // Views after makeOutput, which may grow (and so move) the heap.
  const view = (info: Info) => backend.typedArrayFromHeap(info) as Float32Array;
  const [cv, gv, bv, yv, sv, kv, tmp] = [centred, gamma, beta, y, invStd, k, scratch].map(view);
  const [s1, s2, negBeta, zero] = [0, 1, 2, 3].map((i) => tmp.subarray(i * c, (i + 1) * c));
  tmp.fill(0);
  const memory = wasmBackendMemory(backend);
  const simd = c % 4 === 0 && memory ? simdKernelsFor(memory) : null;
  if (simd) {
    simd.batchNormGradSums(cv.byteOffset, cv.byteOffset, rows, c / 4, s1.byteOffset, s2.byteOffset);
  } else {
    for (let i = 0, r = 0; r < rows; r++) {
      for (let ch = 0; ch < c; ch++, i++) s2[ch] += cv[i] * cv[i];
    }
  }
  for (let ch = 0; ch < c; ch++) {
    sv[ch] = 1 / Math.sqrt(s2[ch] / rows + epsilon);
    kv[ch] = sv[ch] * gv[ch];
    negBeta[ch] = -bv[ch];
  }
  if (simd) {
    simd.batchNormGradDx(
      cv.byteOffset,
      cv.byteOffset,
      yv.byteOffset,
      rows,
      c / 4,
      kv.byteOffset,
      negBeta.byteOffset,
      zero.byteOffset,
    );
  } else {
    for (let i = 0, r = 0; r < rows; r++) {
      for (let ch = 0; ch < c; ch++, i++) yv[i] = cv[i] * kv[ch] + bv[ch];
    }
  }
  free(backend, scratch);
  return [y, invStd, k];
}

let registered = false;

/**
 * Registers MetaLab's wasm kernels (idempotent). Requires the wasm backend package to be
 * imported (it registers the backend); the kernels run once wasm is the active backend.
 * Returns the names of the kernels added or replaced.
 */
export function registerWasmKernels(): string[] {
  const names = [
    "Conv2DBackpropFilter",
    "Conv2DBackpropInput",
    "MaxPoolGrad",
    "Sum",
    "Mean",
    "Identity",
    "Cast",
    "Tile",
    "Transpose",
    BATCH_NORM_GRAD_KERNEL,
    RELU_GRAD_KERNEL,
    BATCH_NORM_FORWARD_KERNEL,
  ];
  if (registered) return names;
  const originalOf = (name: string) => {
    const k = tf.getKernel(name, "wasm") as (tf.KernelConfig & { [METALAB_KERNEL]?: boolean });
    if (!k) throw new Error(`wasm backend has no ${name} kernel (is tfjs-backend-wasm imported?)`);
    return k;
  };
  const sum = originalOf("Sum");
  const mean = originalOf("Mean");
  const identity = originalOf("Identity");
  const cast = originalOf("Cast");
  const transpose = originalOf("Transpose");
  const kernels: tf.KernelConfig[] = [
    {
      kernelName: "Conv2DBackpropFilter",
      backendName: "wasm",
      kernelFunc: conv2dBackpropFilterWasm as unknown as tf.KernelFunc,
    },
    {
      kernelName: "Conv2DBackpropInput",
      backendName: "wasm",
      kernelFunc: conv2dBackpropInputWasm as unknown as tf.KernelFunc,
    },
    {
      kernelName: "Tile",
      backendName: "wasm",
      kernelFunc: tileWasm as unknown as tf.KernelFunc,
    },
    {
      kernelName: "MaxPoolGrad",
      backendName: "wasm",
      kernelFunc: maxPoolGradWasm as unknown as tf.KernelFunc,
    },
    // The originals' setupFuncs (cwrap of the C kernels) stay attached for the fallbacks.
    {
      kernelName: "Sum",
      backendName: "wasm",
      setupFunc: sum.setupFunc,
      kernelFunc: sum[METALAB_KERNEL]
        ? sum.kernelFunc
        : leadingAxesReduction(sum.kernelFunc, false),
    },
    {
      kernelName: "Mean",
      backendName: "wasm",
      setupFunc: mean.setupFunc,
      kernelFunc: mean[METALAB_KERNEL]
        ? mean.kernelFunc
        : leadingAxesReduction(mean.kernelFunc, true),
    },
    {
      kernelName: "Identity",
      backendName: "wasm",
      kernelFunc: identity[METALAB_KERNEL]
        ? identity.kernelFunc
        : sharingIdentity(identity.kernelFunc, "Identity"),
    },
    {
      kernelName: BATCH_NORM_FORWARD_KERNEL,
      backendName: "wasm",
      kernelFunc: batchNormForwardWasm as unknown as tf.KernelFunc,
    },
    {
      kernelName: RELU_GRAD_KERNEL,
      backendName: "wasm",
      kernelFunc: reluGradWasm as unknown as tf.KernelFunc,
    },
    {
      kernelName: BATCH_NORM_GRAD_KERNEL,
      backendName: "wasm",
      kernelFunc: batchNormGradWasm as unknown as tf.KernelFunc,
    },
    {
      kernelName: "Transpose",
      backendName: "wasm",
      setupFunc: transpose.setupFunc,
      kernelFunc: transpose[METALAB_KERNEL]
        ? transpose.kernelFunc
        : fastTranspose(transpose.kernelFunc),
    },
    {
      kernelName: "Cast",
      backendName: "wasm",
      kernelFunc: cast[METALAB_KERNEL] ? cast.kernelFunc : sharingIdentity(cast.kernelFunc, "Cast"),
    },
  ];
  for (const config of kernels) {
    const existing = tf.getKernel(config.kernelName, "wasm") as
      | (tf.KernelConfig & { [METALAB_KERNEL]?: boolean })
      | undefined;
    if (existing?.[METALAB_KERNEL]) continue;
    if (existing) tf.unregisterKernel(config.kernelName, "wasm");
    tf.registerKernel(Object.assign(config, { [METALAB_KERNEL]: true }));
  }
  registered = true;
  return names;
}
