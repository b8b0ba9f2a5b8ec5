/**
 * wasm `Conv2DBackpropFilter`, which tfjs-backend-wasm 4.22 lacks (tfjs issue #8474).
 *
 * The filter gradient of an NHWC conv is itself a conv. With `xp` the padded input,
 * `dW[kh,kw,ci,co] = Σ_{n,i,j} xp[n, i·s+kh, j·s+kw, ci] · dy[n,i,j,co]`, which is a 'valid'
 * conv of `xpᵀ` (`[Cin, Hp, Wp, N]`: input channels as the batch, the batch as channels) with
 * the filter `dyᵀ` (`[Ho, Wo, N, Cout]`) dilated by the stride s, so XNNPACK's forward conv
 * does the work: on Conv-4's shapes several times faster than im2col + matMul, and far faster
 * than the naive Conv3DBackpropFilterV2 loop with a unit depth. Filters of few rows (kh·kw·Cin:
 * a first layer on grey images) make a conv with a tiny batch; one matMul over im2col patches
 * is several times faster there.
 * @module
 */
import {
  type AnyBackend,
  type ConvBackpropAttrs,
  convBackpropGeometry,
  free,
  heapF32,
  type Info,
  run,
  wasmKernel,
} from "./shared.ts";

/** Up to this many filter rows (kh·kw·Cin) the filter gradient goes through im2col + matMul. */
const IM2COL_MAX_ROWS = 32;

/**
 * The filter gradient as one matrix product, for filters with few rows (a first layer on
 * 1-channel images: 3·3·1 = 9): `dWᵀ[co, r] = Σ_m dyᵀ[co, m] · P[m, r]` with the patches
 * `P[(n,i,j), (kh,kw,ci)] = x[n, i·s+kh−pad, j·s+kw−pad, ci]` (zero outside), built with a JS
 * loop over the heap. The fresh `dy` is the matMul's left operand and the small `P` its
 * right one, because XNNPACK packs the right operand as weights on every call: with `dy` on
 * the right (`Pᵀ · dy`) packing its millions of floats was nearly all the time of Conv-4's
 * first layer in a ProtoNet step; transposing `dy` and packing `P` is several times faster.
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
  const p = heapF32(backend, patches);
  const xv = heapF32(backend, x);
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
function conv2DBackpropFilter(args: {
  inputs: { x: Info; dy: Info };
  backend: AnyBackend;
  attrs: ConvBackpropAttrs & { filterShape: [number, number, number, number] };
}): Info {
  const { inputs: { x, dy }, backend, attrs } = args;
  const { strides, pad, filterShape } = attrs;
  const info = convBackpropGeometry("Conv2DBackpropFilter", x.shape, filterShape, attrs);
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

/** The kernel's registration entry. */
export const conv2DBackpropFilterConfig = wasmKernel("Conv2DBackpropFilter", conv2DBackpropFilter);
