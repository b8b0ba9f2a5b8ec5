/**
 * The `native` backend's batch-norm, max-pool and ReLU kernels (oneDNN primitives through
 * Deno's FFI, where oneDNN is installed: `apt-get install -y libdnnl2`): each against wasm's
 * kernel on Conv-4's shapes and odd ones, the path each call took, what stays on wasm, and a
 * Conv-4 step's gradients end to end. Without oneDNN the tests are ignored, with the reason.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { dnnlAvailable, initBackend } from "../lib/backend/mod.ts";
import {
  BATCH_NORM_FORWARD_KERNEL,
  BATCH_NORM_GRAD_KERNEL,
  RELU_GRAD_KERNEL,
} from "../lib/backend/kernel_names.ts";
import { primitiveCallCounts } from "../lib/backend/native/primitive.ts";
import { minNativeElements } from "../lib/backend/native/shared.ts";
import { conv4, softmaxCrossEntropy } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";
import { runDenoJson } from "./subprocess.ts";

const available = dnnlAvailable();
if (!available.ok) console.log(`native_ops_test: oneDNN tests ignored: ${available.reason}`);
const needsDnnl = { ignore: !available.ok };

/** Runs kernel `name` on fresh copies of `inputs` on `backend`; its outputs' values. */
async function kernel(
  backend: string,
  name: string,
  inputs: Record<string, { shape: number[]; values: Float32Array }>,
  attrs: Record<string, unknown> = {},
): Promise<Float32Array[]> {
  await initBackend(backend);
  const tensors = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]),
  );
  const out = tf.engine().runKernel(name, tensors, attrs as tf.NamedAttrMap);
  const outs = Array.isArray(out) ? out : [out];
  const values = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose([...outs, ...Object.values(tensors)]);
  return values;
}

/** `values` of `shape`, normal from `seed`; with `zeros`, the negative ones set to 0 (ReLU's). */
function input(shape: number[], seed: number, zeros = false) {
  const values = new Float32Array(new Rng(seed).normalArray(shape.reduce((a, b) => a * b)));
  if (zeros) values.forEach((v, i) => values[i] = Math.max(v, 0));
  return { shape, values };
}

/** The native executions of `family` that `f` made. */
async function nativeCalls(family: string, f: () => Promise<unknown>): Promise<number> {
  const before = primitiveCallCounts()[family] ?? 0;
  await f();
  return (primitiveCallCounts()[family] ?? 0) - before;
}

/** Conv-4's activations (80 images: a 5-way ProtoNet episode) and odd shapes above the cut. */
const SHAPES = [[80, 28, 28, 64], [80, 7, 7, 64], [6, 17, 15, 40], [3, 33, 31, 7]];

Deno.test({
  name: "native Relu, ReLU gradient and MaxPool equal wasm's exactly; on oneDNN's path",
  ...needsDnnl,
  fn: async () => {
    for (const [i, shape] of SHAPES.entries()) {
      const x = input(shape, 10 + i);
      const dy = input(shape, 20 + i);
      for (
        const [family, name, inputs] of [
          ["relu", "Relu", { x }],
          ["reluGrad", RELU_GRAD_KERNEL, { dy, x }],
        ] as const
      ) {
        const wasm = await kernel("wasm", name, inputs);
        let native: Float32Array[] = [];
        const calls = await nativeCalls(family, async () => {
          native = await kernel("native", name, inputs);
        });
        assert.equal(calls, 1, `${name} ${shape}: ran in oneDNN`);
        // Equal values (a ReLU gradient's −0 for a negative dy is wasm's +0).
        assert.ok(native[0].every((v, k) => v === wasm[0][k]), `${name} ${shape}`);
      }
      // 2×2 stride 2 (Conv-4's), 3×3 stride 2 'same' (overlapping, padded), 3×3 stride 1.
      for (
        const attrs of [
          { filterSize: 2, strides: 2, pad: "valid" },
          { filterSize: 3, strides: 2, pad: "same" },
          { filterSize: [3, 2], strides: 1, pad: "valid" },
        ]
      ) {
        const wasm = await kernel("wasm", "MaxPool", { x }, attrs);
        let native: Float32Array[] = [];
        const calls = await nativeCalls("maxPool", async () => {
          native = await kernel("native", "MaxPool", { x }, attrs);
        });
        assert.equal(calls, 1, `MaxPool ${shape} ${JSON.stringify(attrs)}: ran in oneDNN`);
        assert.deepEqual(native[0], wasm[0], `MaxPool ${shape} ${JSON.stringify(attrs)}`);
      }
    }
  },
});

Deno.test({
  name: "native MaxPoolGrad equals wasm's (and cpu's) bit for bit, ties broken the same way",
  ...needsDnnl,
  fn: async () => {
    for (const [i, shape] of SHAPES.entries()) {
      // ReLU'd inputs: windows of equal zeros are common, and the first one gets the gradient.
      const x = input(shape, 30 + i, true);
      for (
        const attrs of [
          { filterSize: 2, strides: 2, pad: "valid" },
          { filterSize: 2, strides: 2, pad: "same" },
          { filterSize: 3, strides: 3, pad: "same" },
        ]
      ) {
        const y = (await kernel("wasm", "MaxPool", { x }, attrs))[0];
        const out = tf.backend_util.computePool2DInfo(
          shape as [number, number, number, number],
          attrs.filterSize,
          attrs.strides,
          1,
          attrs.pad as "valid",
        ).outShape;
        const inputs = { dy: input(out, 40 + i), input: x, output: { shape: out, values: y } };
        const label = `MaxPoolGrad ${shape} ${JSON.stringify(attrs)}`;
        const wasm = await kernel("wasm", "MaxPoolGrad", inputs, attrs);
        const cpu = await kernel("cpu", "MaxPoolGrad", inputs, attrs);
        let native: Float32Array[] = [];
        const calls = await nativeCalls("maxPoolGrad", async () => {
          native = await kernel("native", "MaxPoolGrad", inputs, attrs);
        });
        assert.equal(calls, 1, `${label}: ran in oneDNN`);
        assert.deepEqual(native[0], wasm[0], `${label} native vs wasm`);
        assert.deepEqual(native[0], cpu[0], `${label} native vs cpu`);
      }
    }
  },
});

Deno.test({
  name: "native fused batch norm, forward and gradient, agrees with wasm's to float32 rounding",
  ...needsDnnl,
  fn: async () => {
    for (const [i, shape] of [...SHAPES, [300, 64]].entries()) {
      const c = shape[shape.length - 1];
      // Centred per channel, as lib/models/batch_norm.ts hands it over, with a scale per channel.
      const raw = input(shape, 50 + i);
      const rows = raw.values.length / c;
      const mean = new Float64Array(c);
      raw.values.forEach((v, k) => mean[k % c] += v / rows);
      const centred = {
        shape,
        values: raw.values.map((v, k) => (v - mean[k % c]) * (1 + (k % c) / 8)),
      };
      const gamma = input([c], 60 + i);
      const beta = input([c], 70 + i);
      const fwd = { centred, gamma, beta };
      const label = `batch norm ${shape}`;
      const wasmF = await kernel("wasm", BATCH_NORM_FORWARD_KERNEL, fwd, { epsilon: 1e-5 });
      let nativeF: Float32Array[] = [];
      assert.equal(
        await nativeCalls("batchNormForward", async () => {
          nativeF = await kernel("native", BATCH_NORM_FORWARD_KERNEL, fwd, { epsilon: 1e-5 });
        }),
        1,
        `${label}: forward ran in oneDNN`,
      );
      ["y", "invStd", "k"].forEach((what, k) =>
        assertAllClose(nativeF[k], wasmF[k], { rtol: 1e-5, atol: 1e-5, label: `${label} ${what}` })
      );
      const grad = {
        dy: input(shape, 80 + i),
        centred,
        invStd: { shape: [c], values: wasmF[1] },
        k: { shape: [c], values: wasmF[2] },
      };
      const wasmG = await kernel("wasm", BATCH_NORM_GRAD_KERNEL, grad);
      let nativeG: Float32Array[] = [];
      assert.equal(
        await nativeCalls("batchNormGrad", async () => {
          nativeG = await kernel("native", BATCH_NORM_GRAD_KERNEL, grad);
        }),
        1,
        `${label}: gradient ran in oneDNN`,
      );
      assertAllClose(nativeG[0], wasmG[0], { rtol: 1e-4, atol: 1e-4, label: `${label} dx` });
      // dβ = Σ dy over up to 62,720 rows, summed in another order: both within float32's
      // rounding of the exact (float64) sum, relative to Σ|dy| of the channel.
      const exact = new Float64Array(c);
      const scale = new Float64Array(c);
      grad.dy.values.forEach((v, k) => {
        exact[k % c] += v;
        scale[k % c] += Math.abs(v);
      });
      for (const [who, got] of [["native", nativeG[2]], ["wasm", wasmG[2]]] as const) {
        got.forEach((v, ch) =>
          assert.ok(
            Math.abs(v - exact[ch]) <= 1e-5 * scale[ch],
            `${label} ${who} dβ[${ch}] = ${v}, exact ${exact[ch]} (Σ|dy| ${scale[ch]})`,
          )
        );
      }
      const s2 = wasmF[1];
      assertAllClose(nativeG[1].map((v, ch) => v / s2[ch]), wasmG[1].map((v, ch) => v / s2[ch]), {
        rtol: 1e-3,
        atol: 1e-5 * rows,
        label: `${label} dγ/s`,
      });
    }
  },
});

Deno.test({
  name: "native batch norm is bit-for-bit reproducible run to run (at one thread count)",
  ...needsDnnl,
  fn: async () => {
    const shape = [80, 28, 28, 64];
    const centred = input(shape, 95);
    const fwd = { centred, gamma: input([64], 96), beta: input([64], 97) };
    const grad = { dy: input(shape, 98), centred, invStd: fwd.gamma, k: fwd.beta };
    const runs: Float32Array[][] = [];
    for (let r = 0; r < 3; r++) {
      runs.push([
        ...(await kernel("native", BATCH_NORM_FORWARD_KERNEL, fwd, { epsilon: 1e-5 })),
        ...(await kernel("native", BATCH_NORM_GRAD_KERNEL, grad)),
      ]);
    }
    for (const run of runs.slice(1)) {
      run.forEach((values, k) => assert.deepEqual(values, runs[0][k], `output ${k}`));
    }
  },
});

/** a [batchA…, M, K] · b [batchB…, K, N] cases: transposes, a batch of one on either side. */
const MATMULS: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
  { a: [25, 10, 40], b: [25, 40, 40], ta: false, tb: false }, // the sinusoid MLP's layer
  { a: [25, 10, 40], b: [25, 10, 40], ta: true, tb: false }, // its weight gradient
  { a: [25, 10, 40], b: [25, 40, 40], ta: false, tb: true },
  { a: [25, 40, 10], b: [25, 40, 40], ta: true, tb: true },
  { a: [1, 30, 50], b: [7, 50, 20], ta: false, tb: false },
  { a: [7, 30, 50], b: [50, 20], ta: false, tb: false },
  { a: [2, 3, 20, 30], b: [2, 3, 30, 40], ta: false, tb: false },
  { a: [130, 70], b: [90, 70], ta: false, tb: true },
];

Deno.test({
  name: "native BatchMatMul agrees with wasm and cpu: transposes, broadcast batches, ranks 2-4",
  ...needsDnnl,
  fn: async () => {
    for (const [i, c] of MATMULS.entries()) {
      const label = `BatchMatMul ${JSON.stringify(c)}`;
      const inputs = { a: input(c.a, 100 + i), b: input(c.b, 110 + i) };
      const attrs = { transposeA: c.ta, transposeB: c.tb };
      const wasm = await kernel("wasm", "BatchMatMul", inputs, attrs);
      const cpu = await kernel("cpu", "BatchMatMul", inputs, attrs);
      let native: Float32Array[] = [];
      const calls = await nativeCalls("batchMatMul", async () => {
        native = await kernel("native", "BatchMatMul", inputs, attrs);
      });
      assert.equal(calls, 1, `${label}: ran in oneDNN`);
      assertAllClose(native[0], wasm[0], { rtol: 1e-4, atol: 1e-4, label: `${label} vs wasm` });
      assertAllClose(native[0], cpu[0], { rtol: 1e-4, atol: 1e-4, label: `${label} vs cpu` });
    }
  },
});

Deno.test({
  name: "native: second derivatives through batched matmuls (sinusoid MAML's) equal wasm's",
  ...needsDnnl,
  fn: async () => {
    const run = async (backend: string) => {
      await initBackend(backend);
      const rng = new Rng(120);
      const w = tf.tensor3d(rng.normalArray(25 * 40 * 40), [25, 40, 40]);
      const x = tf.tensor3d(rng.normalArray(25 * 10 * 40), [25, 10, 40]);
      // One inner step of gradient descent on ‖tanh(x·w)‖², then the loss at the adapted w:
      // its gradient differentiates the inner gradient (matmuls of matmuls' gradients).
      const loss = (v: tf.Tensor) => tf.sum(tf.square(tf.tanh(tf.matMul(x, v as tf.Tensor3D))));
      const outer = (v: tf.Tensor) => loss(tf.sub(v, tf.mul(tf.grad(loss)(v), 0.01)));
      const g = tf.grad(outer)(w);
      const values = g.dataSync() as Float32Array;
      tf.dispose([w, x, g]);
      return values;
    };
    const wasm = await run("wasm");
    const before = primitiveCallCounts().batchMatMul ?? 0;
    const native = await run("native");
    assert.ok((primitiveCallCounts().batchMatMul ?? 0) - before >= 4, "matmuls ran in oneDNN");
    assertAllClose(native, wasm, { rtol: 1e-3, atol: 1e-3, label: "second-order gradient" });
  },
});

Deno.test({
  name: `native leaves tensors under ${minNativeElements()} elements, and int32, to wasm`,
  ...needsDnnl,
  fn: async () => {
    const small = input([2, 8, 8, 16], 90); // 2,048 elements
    for (
      const [family, name, inputs] of [
        ["relu", "Relu", { x: small }],
        ["maxPool", "MaxPool", { x: small }],
      ] as const
    ) {
      const attrs = { filterSize: 2, strides: 2, pad: "valid" };
      const wasm = await kernel("wasm", name, inputs, attrs);
      let native: Float32Array[] = [];
      const calls = await nativeCalls(family, async () => {
        native = await kernel("native", name, inputs, attrs);
      });
      assert.equal(calls, 0, `${name} on 2,048 elements stays on wasm`);
      assert.deepEqual(native[0], wasm[0]);
    }
    const small2 = { a: input([4, 10, 20], 91), b: input([4, 20, 5], 92) }; // 4,000 multiply-adds
    let nativeMm: Float32Array[] = [];
    const mmCalls = await nativeCalls("batchMatMul", async () => {
      nativeMm = await kernel("native", "BatchMatMul", small2, {
        transposeA: false,
        transposeB: false,
      });
    });
    assert.equal(mmCalls, 0, "a 4,000 multiply-add BatchMatMul stays on wasm");
    assert.deepEqual(
      nativeMm[0],
      (await kernel("wasm", "BatchMatMul", small2, { transposeA: false, transposeB: false }))[0],
    );
    await initBackend("native");
    const calls = await nativeCalls("relu", () => {
      const t = tf.relu(tf.range(-20000, 20000, 1, "int32"));
      assert.equal(t.dtype, "int32");
      assert.equal(t.dataSync()[39999], 19999);
      t.dispose();
      return Promise.resolve();
    });
    assert.equal(calls, 0, "int32 ReLU stays on wasm");
  },
});

Deno.test({
  name: "native: a first-order Conv-4 ProtoNet-size step's gradients equal wasm's; no leaks",
  ...needsDnnl,
  fn: async () => {
    const step = async (backend: string) => {
      await initBackend(backend);
      const rng = new Rng(7);
      const model = conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 32 });
      const params = model.init(rng);
      const x = tf.tensor4d(rng.normalArray(20 * 28 * 28), [20, 28, 28, 1]);
      const y = tf.tensor1d([...Array(20).keys()].map((k) => k % 5), "int32");
      const loss = (...p: tf.Tensor[]) =>
        softmaxCrossEntropy(model.apply(p, x, { firstOrderOnly: true }), y);
      const grads = tf.grads(loss)(params);
      const values = grads.map((g) => g.dataSync() as Float32Array);
      if (backend === "native") {
        await assertNoTensorLeak(() => tf.dispose(tf.grads(loss)(params)));
      }
      tf.dispose([...grads, ...params, x, y]);
      return values;
    };
    const wasm = await step("wasm");
    const before = primitiveCallCounts();
    const native = await step("native");
    const after = primitiveCallCounts();
    for (const family of ["batchNormForward", "batchNormGrad", "maxPool", "maxPoolGrad", "relu"]) {
      assert.ok((after[family] ?? 0) > (before[family] ?? 0), `${family} ran in oneDNN`);
    }
    native.forEach((g, i) =>
      assertAllClose(g, wasm[i], { rtol: 1e-3, atol: 1e-4, label: `∇θ${i}` })
    );
  },
});

Deno.test({
  name: "METALAB_NATIVE_MIN_ELEMENTS: Infinity keeps every non-conv op on wasm; a bad value " +
    "is named",
  ...needsDnnl,
  fn: async () => {
    // Subprocesses: the size is read once per process.
    const code = `import * as tf from "@tensorflow/tfjs";
import { initBackend } from "${new URL("../lib/backend/mod.ts", import.meta.url)}";
import { primitiveCallCounts } from "${new URL(
      "../lib/backend/native/primitive.ts",
      import.meta.url,
    )}";
let error = null;
try {
  await initBackend("native");
  tf.dispose(tf.relu(tf.ones([100000])));
} catch (e) { error = e.message; }
console.log(JSON.stringify({ calls: primitiveCallCounts().relu ?? 0, error }));`;
    const env = { METALAB_WASM_THREADS: "1" };
    assert.deepEqual(await runDenoJson(code, env), { calls: 1, error: null });
    const off = await runDenoJson(code, { ...env, METALAB_NATIVE_MIN_ELEMENTS: "Infinity" });
    assert.deepEqual(off, { calls: 0, error: null });
    const bad = await runDenoJson(code, { ...env, METALAB_NATIVE_MIN_ELEMENTS: "lots" });
    assert.match(bad.error, /METALAB_NATIVE_MIN_ELEMENTS must be a number .* got "lots"/);
  },
});
