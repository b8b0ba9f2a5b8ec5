/**
 * wasm `Conv2DBackpropInput`. tfjs-backend-wasm has one, but as a naive loop, an order of
 * magnitude slower than XNNPACK's forward conv on Conv-4's shapes; this one is that forward
 * conv: of the stride-upsampled, padded `dy` with the spatially flipped, in/out-swapped filter.
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

/**
 * `F'[a, b, co, ci] = F[kh−1−a, kw−1−b, ci, co]`: the filter flipped spatially with its in and
 * out channels swapped, in one pass over the heap, where tfjs's wasm Reverse + Transpose make
 * two (this runs a few times per step and task).
 */
function flippedSwappedFilter(backend: AnyBackend, filter: Info): Info {
  const [kh, kw, cin, cout] = filter.shape;
  const out = backend.makeOutput([kh, kw, cout, cin], "float32");
  const o = heapF32(backend, out);
  const f = heapF32(backend, filter);
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
function conv2DBackpropInput(args: {
  inputs: { dy: Info; filter: Info };
  backend: AnyBackend;
  attrs: ConvBackpropAttrs & { inputShape: [number, number, number, number] };
}): Info {
  const { inputs: { dy, filter }, backend, attrs } = args;
  const { inputShape } = attrs;
  const info = convBackpropGeometry("Conv2DBackpropInput", inputShape, filter.shape, attrs);
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

/** The kernel's registration entry. */
export const conv2DBackpropInputConfig = wasmKernel("Conv2DBackpropInput", conv2DBackpropInput);
