/**
 * The compute layer: backend choice, and agreement of every kernel MetaLab adds or replaces
 * on wasm with tfjs's own cpu kernels.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { BACKEND_NAMES, initBackend } from "../lib/backend/mod.ts";
import { simdKernelsFor } from "../lib/backend/simd/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { assertAllClose } from "../lib/testing/mod.ts";

/** float32 kernels that sum in different orders agree to this (relative to the values' scale). */
const TOL = { rtol: 1e-4, atol: 1e-4 };

function randn(rng: Rng, shape: number[]): Float32Array {
  return rng.normalArray(shape.reduce((a, b) => a * b, 1));
}

/** Runs `f` on cpu and on wasm with the same inputs; returns both results as arrays. */
async function onBoth(
  f: () => tf.Tensor,
): Promise<{ cpu: Float32Array; wasm: Float32Array; shape: number[] }> {
  await initBackend("cpu");
  const c = tf.tidy(f);
  const cpu = c.dataSync() as Float32Array;
  const shape = c.shape;
  c.dispose();
  await initBackend("wasm");
  const w = tf.tidy(f);
  const wasm = w.dataSync() as Float32Array;
  assert.deepEqual(w.shape, shape);
  w.dispose();
  return { cpu, wasm, shape };
}

Deno.test("initBackend: auto picks wasm here (no real GPU), reports SIMD, threads and versions", async () => {
  const info = await initBackend();
  assert.equal(info.requested, "auto");
  assert.ok(["webgpu", "wasm"].includes(info.name), `auto chose ${info.name}`);
  if (info.name === "wasm") {
    assert.equal(info.simd, true);
    assert.ok(info.threads! >= 1);
    assert.ok(info.wasmDir?.startsWith("file://"));
    assert.ok(info.kernelsAdded.includes("Conv2DBackpropFilter"));
  }
  assert.equal(info.tfjsVersion, "4.22.0");
  assert.equal(info.versions["tfjs-backend-wasm"], "4.22.0");
  assert.ok(info.gradientsAdded.includes("MaxPoolGrad"));
  // Idempotent: a second call (and switching back and forth) changes nothing.
  assert.equal((await initBackend("cpu")).name, "cpu");
  assert.equal((await initBackend("wasm")).name, "wasm");
});

Deno.test("initBackend: an unknown name lists the choices; webgpu without a GPU says why", async () => {
  await assert.rejects(() => initBackend("tpu"), (e: Error) => {
    assert.match(e.message, /unknown backend "tpu"/);
    for (const name of BACKEND_NAMES) assert.ok(e.message.includes(name));
    return true;
  });
  const gpu = await initBackend("auto");
  if (gpu.name !== "webgpu") {
    await assert.rejects(() => initBackend("webgpu"), /webgpu" is not available/);
  }
});

const CONV_CASES: Array<{ x: number[]; f: number[]; s: 1 | 2; pad: "same" | "valid" }> = [
  { x: [5, 9, 9, 3], f: [3, 3, 3, 4], s: 1, pad: "same" },
  { x: [4, 10, 10, 2], f: [3, 3, 2, 5], s: 2, pad: "same" },
  { x: [3, 9, 9, 2], f: [3, 3, 2, 3], s: 2, pad: "same" },
  { x: [3, 8, 7, 2], f: [3, 3, 2, 3], s: 1, pad: "valid" },
  { x: [2, 9, 9, 3], f: [2, 2, 3, 2], s: 2, pad: "valid" },
  // Filters of more than 32 rows (kh·kw·Cin) take the transposed-conv path of the filter
  // gradient; the ones above, im2col + matMul.
  { x: [3, 8, 8, 8], f: [3, 3, 8, 4], s: 1, pad: "same" },
  { x: [2, 9, 9, 6], f: [3, 3, 6, 3], s: 2, pad: "same" },
  { x: [2, 8, 7, 4], f: [3, 3, 4, 2], s: 2, pad: "valid" },
];

Deno.test("wasm Conv2DBackpropFilter and Conv2DBackpropInput agree with cpu (rtol 1e-4)", async () => {
  for (const { x, f, s, pad } of CONV_CASES) {
    const rng = new Rng(x.join() === "5,9,9,3" ? 1 : x[0] * 100 + x[1]);
    const xv = randn(rng, x);
    const fv = randn(rng, f);
    const outShape = tf.tidy(() =>
      tf.conv2d(
        tf.zeros<tf.Rank>(x) as tf.Tensor4D,
        tf.zeros<tf.Rank>(f) as tf.Tensor4D,
        s,
        pad,
      )
        .shape
    );
    const dyv = randn(rng, outShape);
    const label = `x ${x} f ${f} stride ${s} ${pad}`;
    const dW = await onBoth(() => {
      const [, gW] = tf.grads((a: tf.Tensor, w: tf.Tensor) =>
        tf.sum(
          tf.mul(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, s, pad), tf.tensor(dyv, outShape)),
        )
      )([tf.tensor(xv, x), tf.tensor(fv, f)]);
      return gW;
    });
    assertAllClose(dW.wasm, dW.cpu, { ...TOL, label: `dW ${label}` });
    const dX = await onBoth(() =>
      tf.conv2dTranspose(
        tf.tensor4d(dyv, outShape as [number, number, number, number]),
        tf.tensor4d(fv, f as [number, number, number, number]),
        x as [number, number, number, number],
        s,
        pad,
      )
    );
    assertAllClose(dX.wasm, dX.cpu, { ...TOL, label: `dX ${label}` });
  }
});

Deno.test("wasm MaxPoolGrad agrees with cpu, ties included (first maximum wins)", async () => {
  const rng = new Rng(3);
  for (
    const [shape, size, stride, pad] of [
      [[3, 8, 8, 5], 2, 2, "valid"],
      [[2, 7, 7, 3], 2, 2, "valid"],
      // Channels in fours: MetaLab's SIMD kernel (even and odd sizes).
      [[3, 8, 8, 8], 2, 2, "valid"],
      [[2, 7, 9, 12], 2, 2, "valid"],
      // 2×2 'same' on odd sizes pads the bottom and right: the general loop, not the unrolled
      // 2×2 paths (which once read and wrote past the last row, corrupting the heap).
      [[2, 7, 9, 12], 2, 2, "same"],
      [[3, 33, 31, 7], 2, 2, "same"],
      [[2, 7, 9, 3], 3, 2, "same"],
      [[2, 6, 6, 2], 3, 1, "same"],
    ] as Array<[number[], number, number, "valid" | "same"]>
  ) {
    // Rounded values make ties common (as ReLU zeros do in a real network).
    const xv = randn(rng, shape).map((v) => Math.max(0, Math.round(v * 2) / 2));
    const r = await onBoth(() => {
      const x = tf.tensor<tf.Rank>(xv, shape) as tf.Tensor4D;
      const y = tf.maxPool(x, size, stride, pad);
      const dy = tf.tensor(randn(new Rng(4), y.shape), y.shape);
      return tf.grad((a: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, size, stride, pad), dy))
      )(x);
    });
    assertAllClose(r.wasm, r.cpu, {
      ...TOL,
      label: `maxPoolGrad ${shape} ${size}/${stride} ${pad}`,
    });
  }
});

Deno.test("wasm Sum and Mean over leading axes (and others) agree with cpu", async () => {
  const rng = new Rng(5);
  const xv = randn(rng, [6, 9, 10, 7]).map((v) => v + 3);
  for (
    const [axes, keep] of [[[0, 1, 2], false], [[0, 1, 2], true], [[0], false], [[1, 2], false], [
      3,
      true,
    ]] as Array<[number | number[], boolean]>
  ) {
    const s = await onBoth(() => tf.sum(tf.tensor(xv, [6, 9, 10, 7]), axes, keep));
    assertAllClose(s.wasm, s.cpu, { ...TOL, label: `sum ${axes}` });
    const m = await onBoth(() => tf.mean(tf.tensor(xv, [6, 9, 10, 7]), axes, keep));
    assertAllClose(m.wasm, m.cpu, { ...TOL, label: `mean ${axes}` });
    assert.deepEqual(s.shape, m.shape);
  }
});

Deno.test("wasm Tile (block copies) agrees with cpu for broadcasts and general tiles", async () => {
  const rng = new Rng(6);
  for (
    const [shape, reps] of [
      [[1, 1, 1, 5], [4, 3, 2, 1]],
      [[2, 3], [3, 2]],
      [[2, 1, 3], [1, 4, 2]],
      [[3], [1]],
      [[2, 2, 1, 2], [2, 1, 3, 2]],
    ] as Array<[number[], number[]]>
  ) {
    const xv = randn(rng, shape);
    const r = await onBoth(() => tf.tile(tf.tensor(xv, shape), reps));
    assertAllClose(r.wasm, r.cpu, { rtol: 0, atol: 0, label: `tile ${shape} × ${reps}` });
  }
  const ints = await onBoth(() =>
    tf.cast(tf.tile(tf.tensor([1, 2, 3], [3, 1], "int32"), [2, 2]), "float32")
  );
  assertAllClose(ints.wasm, ints.cpu, { rtol: 0, atol: 0, label: "int32 tile" });
});

Deno.test("wasm Identity/Cast share buffers safely: a clone outlives its source", async () => {
  await initBackend("wasm");
  const before = tf.memory().numTensors;
  const a = tf.tensor([1.5, -2, 3]);
  const b = a.clone();
  const c = tf.cast(a, "float32");
  const d = tf.cast(a, "int32");
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1.5, -2, 3]);
  assert.deepEqual(Array.from(c.dataSync()), [1.5, -2, 3]);
  assert.deepEqual(Array.from(d.dataSync()), [1, -2, 3]);
  const init = tf.tensor([1, 2]);
  const next = tf.tensor([5, 6]);
  const v = tf.variable(init);
  const snapshot = v.clone();
  v.assign(next);
  assert.deepEqual(Array.from(snapshot.dataSync()), [1, 2]);
  assert.deepEqual(Array.from(v.dataSync()), [5, 6]);
  tf.dispose([b, c, d, v, snapshot, init, next]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("SIMD maxPoolGrad2x2Row: the first maximum of each window gets dy, NaN and −∞ never", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const kernels = simdKernelsFor(memory);
  assert.ok(kernels, "the SIMD module instantiates (Deno has wasm SIMD)");
  const [outWidth, c] = [5, 8];
  const rowFloats = 2 * outWidth * c;
  const f = new Float32Array(memory.buffer);
  const [x, dx, dy] = [0, 1024, 2048]; // float offsets of two input rows, their dx, one dy row
  const rng = new Rng(9);
  const pool = [0, 0, 1, 1, 2, NaN, -Infinity, -1];
  for (let i = 0; i < 2 * rowFloats; i++) f[x + i] = pool[Math.floor(rng.uniform(0, pool.length))];
  for (let i = 0; i < outWidth * c; i++) f[dy + i] = i + 1;
  f.fill(123, dx, dx + 2 * rowFloats); // garbage: every entry must be written
  kernels!.maxPoolGrad2x2Row(4 * dx, 4 * x, 4 * dy, outWidth, c / 4, 4 * c, 4 * rowFloats);
  for (let ox = 0; ox < outWidth; ox++) {
    for (let ch = 0; ch < c; ch++) {
      const at = [0, c, rowFloats, rowFloats + c].map((d) => 2 * ox * c + ch + d);
      // The cpu backend's rule: strictly greater than the best so far, starting from −∞.
      let best = -Infinity;
      let winner = -1;
      at.forEach((i, k) => {
        if (f[x + i] > best) [best, winner] = [f[x + i], k];
      });
      at.forEach((i, k) => {
        const expected = k === winner ? f[dy + ox * c + ch] : 0;
        assert.equal(f[dx + i], expected, `window ${ox}, channel ${ch}, entry ${k}`);
      });
    }
  }
});

Deno.test("wasm Transpose (SIMD 4×4 blocks and the fallbacks) equals cpu exactly", async () => {
  const rng = new Rng(11);
  const cases: Array<[number[], number[]]> = [
    [[75, 16, 16, 64], [3, 1, 2, 0]], // conv filter gradient: batch ↔ channels
    [[919, 64], [1, 0]], // a matrix
    [[9, 130, 7], [1, 0, 2]], // block moves: tfjs's kernel
    [[5, 37, 66], [0, 2, 1]], // batched matrices, sizes not multiples of 4
    [[3, 1, 50, 1, 41], [4, 1, 2, 3, 0]], // size-1 axes dropped, then [2, 1, 0]
    [[6, 7, 8, 9], [1, 3, 0, 2]], // no fast case: tfjs's kernel
    [[2, 3], [1, 0]], // small: tfjs's kernel
  ];
  for (const [shape, perm] of cases) {
    const xv = randn(rng, shape);
    const r = await onBoth(() => tf.transpose(tf.tensor(xv, shape), perm));
    assert.deepEqual(r.wasm, r.cpu, `transpose ${shape} by ${perm}`);
  }
});

Deno.test("wasm one-pass ReLU gradient agrees with cpu, to second order", async () => {
  const rng = new Rng(13);
  for (const shape of [[3, 7, 7, 8], [5, 3]]) {
    // Exact zeros too (ReLU's kink: both backends give 0 there).
    const xv = randn(rng, shape).map((v) => Math.round(v * 4) / 4);
    const wv = randn(rng, shape);
    const first = await onBoth(() =>
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), tf.tensor(wv, shape))))(
        tf.tensor(xv, shape),
      )
    );
    // Equal values (the one-pass kernel writes +0 where dy·step(x) may give −0).
    assertAllClose(first.wasm, first.cpu, { rtol: 0, atol: 0, label: `first order ${shape}` });
    // ∇ Σ w·∇(Σ relu(x)³): the gradient of ReLU's gradient w.r.t. its upstream gradient.
    const second = await onBoth(() =>
      tf.grad((a: tf.Tensor) =>
        tf.sum(
          tf.mul(
            tf.grad((b: tf.Tensor) => tf.sum(tf.pow(tf.relu(b), 3)))(a),
            tf.tensor(wv, shape),
          ),
        )
      )(tf.tensor(xv, shape))
    );
    assertAllClose(second.wasm, second.cpu, { ...TOL, label: `second order ${shape}` });
  }
});
