/**
 * The SIMD body of ReLU's gradient in one pass (`kernels/MetaLabReluGrad.ts`), where tfjs
 * composes a Step and a Multiply.
 * @module
 */
import { bump, countDown, op, type WasmFunction } from "./encoder.ts";

const [DY, X, DX, N] = [0, 1, 2, 3];

/** `reluGrad(dy, x, dx, vectors)`: `dx = x > 0 ? dy : 0` over `4·vectors` floats. */
export const reluGrad: WasmFunction = {
  name: "reluGrad",
  params: 4,
  locals: [],
  body: countDown(N, [
    ...op.get(DX),
    ...op.get(DY),
    ...op.v128Load,
    ...op.get(X),
    ...op.v128Load,
    ...op.v128Const(Array(16).fill(0)),
    ...op.f32x4Gt,
    ...op.v128And,
    ...op.v128Store,
    ...bump(DY, 16),
    ...bump(X, 16),
    ...bump(DX, 16),
  ]),
};
