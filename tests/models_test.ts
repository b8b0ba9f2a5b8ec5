import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { batchNorm, conv4, mlp, softmaxCrossEntropy, withHead } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { assertAllClose } from "../lib/testing/mod.ts";

await tf.setBackend("cpu");

function dispose(ts: tf.Tensor[]): void {
  ts.forEach((t) => t.dispose());
}

Deno.test("conv4 on 28x28: embedding 64 features, logits [N, 5], param specs", () => {
  const model = conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 8 });
  assert.equal(model.paramSpecs.length, 4 * 3 + 2);
  assert.equal(model.headStart, 12);
  assert.deepEqual(model.paramSpecs[0], { name: "block1/conv/kernel", shape: [3, 3, 1, 8] });
  assert.deepEqual(model.paramSpecs[12].shape, [8, 5]); // 28 → 14 → 7 → 3 → 1
  const params = model.init(new Rng(1));
  const x = tf.randomNormal([3, 28, 28, 1], 0, 1, "float32", 1);
  const logits = model.apply(params, x);
  const emb = model.embed(params, x);
  assert.deepEqual(logits.shape, [3, 5]);
  assert.deepEqual(emb.shape, [3, 8]);
  // Flat input [N, 784] is accepted and equals the NHWC result.
  const flat = model.apply(params, x.reshape([3, 784]));
  assertAllClose(flat, logits, { rtol: 0, atol: 0 });
  // The body alone works for embed.
  assertAllClose(model.embed(params.slice(0, model.headStart), x), emb, { rtol: 0, atol: 0 });
  dispose([...params, x, logits, emb, flat]);
});

Deno.test("conv4 variants: 84x84 → 1600 features, strided → filters features, no head", () => {
  const big = conv4({ inputShape: [84, 84, 3], outputs: 5 });
  assert.deepEqual(big.paramSpecs[big.headStart].shape, [1600, 5]);
  const strided = conv4({ inputShape: [28, 28, 1], outputs: 0, filters: 4, strided: true });
  assert.equal(strided.headStart, strided.paramSpecs.length);
  const p = strided.init(new Rng(2));
  const x = tf.ones([2, 28, 28, 1]);
  const y = strided.apply(p, x);
  assert.deepEqual(y.shape, [2, 4]);
  const noBn = conv4({ inputShape: [16, 16, 1], outputs: 3, filters: 4, batchNorm: false });
  assert.deepEqual(noBn.paramSpecs.map((s) => s.name).slice(0, 2), [
    "block1/conv/kernel",
    "block1/conv/bias",
  ]);
  const q = noBn.init(new Rng(3));
  const z = noBn.apply(q, tf.ones([2, 16, 16, 1]));
  assert.deepEqual(z.shape, [2, 3]);
  dispose([...p, ...q, x, y, z]);
});

Deno.test("batchNorm normalises each channel with the batch's statistics, then γ, β", () => {
  const x = tf.randomNormal([6, 5, 5, 3], 2, 3, "float32", 5);
  const gamma = tf.tensor1d([1, 2, 0.5]);
  const beta = tf.tensor1d([0, -1, 3]);
  const y = batchNorm(x, gamma, beta);
  const { mean, variance } = tf.moments(y, [0, 1, 2]);
  assertAllClose(mean, [0, -1, 3], { atol: 1e-4, rtol: 0 });
  assertAllClose(variance, [1, 4, 0.25], { rtol: 1e-3, atol: 0 });
  // Same numbers whatever the `training` flag: statistics always come from the batch.
  const model = conv4({ inputShape: [16, 16, 1], outputs: 2, filters: 4 });
  const p = model.init(new Rng(4));
  const xi = tf.randomNormal([4, 16, 16, 1], 0, 1, "float32", 6);
  assertAllClose(model.apply(p, xi, { training: true }), model.apply(p, xi, { training: false }), {
    rtol: 0,
    atol: 0,
  });
  dispose([...p, x, gamma, beta, y, mean, variance, xi]);
});

Deno.test("init is deterministic for a seed and differs across seeds", () => {
  const model = conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 8 });
  const a = model.init(new Rng(7));
  const b = model.init(new Rng(7));
  const c = model.init(new Rng(8));
  a.forEach((t, i) => assertAllClose(t, b[i], { rtol: 0, atol: 0 }));
  assert.notDeepEqual(Array.from(a[0].dataSync()), Array.from(c[0].dataSync()));
  // PyTorch default bound for the first conv: 1/√(9·1) = 1/3; γ = 1, β = 0.
  const k = a[0].dataSync();
  assert.ok(k.every((v) => Math.abs(v) <= 1 / 3));
  assertAllClose(a[1], tf.ones([8]), { rtol: 0, atol: 0 });
  assertAllClose(a[2], tf.zeros([8]), { rtol: 0, atol: 0 });
  dispose([...a, ...b, ...c]);
});

Deno.test("withHead swaps the head and keeps the body", () => {
  const m5 = conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 8 });
  const m20 = withHead(m5, 20);
  assert.deepEqual(m20.paramSpecs.slice(0, m20.headStart), m5.paramSpecs.slice(0, m5.headStart));
  assert.deepEqual(m20.paramSpecs[m20.headStart].shape, [8, 20]);
  const p5 = m5.init(new Rng(9));
  const head20 = m20.init(new Rng(10)).slice(m20.headStart);
  const p20 = [...p5.slice(0, m5.headStart), ...head20];
  const x = tf.randomNormal([2, 28, 28, 1], 0, 1, "float32", 2);
  const y = m20.apply(p20, x);
  assert.deepEqual(y.shape, [2, 20]);
  assertAllClose(m20.embed(p20, x), m5.embed(p5, x), { rtol: 0, atol: 0 });
  const net = mlp([1, 40, 40, 1]);
  const wide = withHead(net, 3);
  assert.deepEqual(wide.paramSpecs.map((s) => s.shape).at(-2), [40, 3]);
  assert.equal(wide.headStart, 4);
  assert.throws(() => withHead({ ...net }, 2), /not built by lib\/models/);
  dispose([...p5, ...head20, x, y]);
});

Deno.test("mlp: shapes, tanh, and bad input errors", () => {
  const net = mlp([1, 40, 40, 1], { activation: "tanh" });
  assert.equal(net.paramSpecs.length, 6);
  assert.equal(net.headStart, 4);
  const p = net.init(new Rng(11));
  const x = tf.linspace(-5, 5, 10).reshape([10, 1]);
  assert.deepEqual(net.apply(p, x).shape, [10, 1]);
  assert.deepEqual(net.embed(p, x).shape, [10, 40]);
  assert.ok(net.embed(p, x).abs().max().dataSync()[0] <= 1);
  assert.throws(() => net.apply(p.slice(1), x), /expected 6 parameter tensors/);
  assert.throws(() => net.apply(p, tf.ones([10, 2])), /expected input \[N, 1\]/);
  assert.throws(() => mlp([3]), /sizes must be/);
  assert.throws(() => conv4({ inputShape: [28, 28] as never, outputs: 5 }), /inputShape/);
  assert.throws(() => conv4({ inputShape: [8, 8, 1], outputs: 5 }), /too small/);
  dispose(p);
});

Deno.test("mlp.applyBatched over T tasks equals applying each task's params separately", () => {
  const net = mlp([1, 40, 40, 1]);
  const rng = new Rng(12);
  const tasks = 4;
  const perTask = Array.from({ length: tasks }, () => net.init(rng));
  const stacked = net.paramSpecs.map((_, i) => tf.stack(perTask.map((p) => p[i])));
  const x = tf.randomUniform([tasks, 10, 1], -5, 5, "float32", 3);
  const batched = net.applyBatched(stacked, x);
  assert.deepEqual(batched.shape, [tasks, 10, 1]);
  const xs = tf.unstack(x);
  const separate = tf.stack(perTask.map((p, t) => net.apply(p, xs[t])));
  assertAllClose(batched, separate, { rtol: 1e-5, atol: 1e-5 });
  assert.throws(() => net.applyBatched(perTask[0], x), /leading task dim/);
  perTask.forEach(dispose);
  dispose([...stacked, x, batched, separate, ...xs]);
});

Deno.test("fused batch norm (firstOrderOnly, wasm): value and gradients equal the composite's; a second derivative fails loudly", async () => {
  const previous = tf.getBackend();
  await initBackend("wasm");
  try {
    for (const shape of [[6, 5, 5, 64], [4, 3, 3, 6], [7, 12]]) {
      const c = shape.at(-1)!;
      const rng = new Rng(shape[0] * 100 + c);
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(rng.normalArray(size).map((v) => 3 * v + 1), shape);
      const w = tf.tensor(rng.normalArray(size), shape);
      const gamma = tf.tensor(rng.normalArray(c).map((v) => 1 + 0.3 * v));
      const beta = tf.tensor(rng.normalArray(c));
      const run = (firstOrderOnly: boolean) =>
        tf.tidy(() => {
          const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(batchNorm(a, g, b, { firstOrderOnly }), w));
          const value = loss(x, gamma, beta);
          const grads = tf.grads(loss)([x, gamma, beta]);
          return [value, ...grads].map((t) => t.dataSync() as Float32Array);
        });
      const before = tf.memory().numTensors;
      const fused = run(true);
      assert.equal(tf.memory().numTensors, before, "the fused batch norm leaked tensors");
      const composite = run(false);
      ["value", "dx", "dγ", "dβ"].forEach((name, i) =>
        assertAllClose(fused[i], composite[i], {
          rtol: 1e-4,
          atol: 1e-4,
          label: `${name} ${shape}`,
        })
      );
      // Differentiating the fused gradient again is refused, not silently wrong (here the
      // upstream gradient 2y depends on x, so the second derivative reaches the kernel).
      assert.throws(
        () =>
          tf.tidy(() =>
            tf.grad((a: tf.Tensor) =>
              tf.sum(
                tf.grad((b: tf.Tensor) =>
                  tf.sum(tf.square(batchNorm(b, gamma, beta, { firstOrderOnly: true })))
                )(a),
              )
            )(x)
          ),
        /fused batch norm .* cannot be differentiated twice/,
      );
      tf.dispose([x, w, gamma, beta]);
    }
  } finally {
    await initBackend(previous as "cpu" | "wasm");
  }
});

Deno.test("second-order MAML through a firstOrderOnly Conv-4 stops with the fused batch norm's error", async () => {
  const previous = tf.getBackend();
  await initBackend("wasm");
  try {
    const rng = new Rng(21);
    const model = conv4({ inputShape: [28, 28, 1], outputs: 3, filters: 8 });
    const theta = model.init(rng);
    const x = tf.tensor(rng.normalArray(6 * 784), [6, 28, 28, 1]);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2], "int32");
    const loss = (p: tf.Tensor[]) =>
      softmaxCrossEntropy(model.apply(p, x, { training: true, firstOrderOnly: true }), y);
    assert.throws(
      () =>
        tf.tidy(() =>
          tf.grads((...t: tf.Tensor[]) => {
            const g = tf.grads((...q: tf.Tensor[]) => loss(q))(t);
            return loss(t.map((p, i) => tf.sub(p, tf.mul(g[i], 0.4))));
          })(theta)
        ),
      /fused batch norm .* cannot be differentiated twice/,
    );
    // First order through the same model works and matches the composite batch norm.
    const first = (firstOrderOnly: boolean) =>
      tf.tidy(() =>
        tf.grads((...q: tf.Tensor[]) =>
          softmaxCrossEntropy(model.apply(q, x, { training: true, firstOrderOnly }), y)
        )(theta).map((t) => t.dataSync() as Float32Array)
      );
    const fused = first(true);
    const composite = first(false);
    fused.forEach((g, i) =>
      assertAllClose(g, composite[i], { rtol: 1e-3, atol: 1e-5, label: model.paramSpecs[i].name })
    );
    tf.dispose([...theta, x, y]);
  } finally {
    await initBackend(previous as "cpu" | "wasm");
  }
});

Deno.test("second-order MAML: a fused query pass gives the all-composite meta-gradient", async () => {
  const previous = tf.getBackend();
  await initBackend("wasm");
  try {
    const rng = new Rng(22);
    const model = conv4({ inputShape: [28, 28, 1], outputs: 3, filters: 8 });
    const theta = model.init(rng);
    const xs = tf.tensor(rng.normalArray(6 * 784), [6, 28, 28, 1]);
    const xq = tf.tensor(rng.normalArray(9 * 784), [9, 28, 28, 1]);
    const ys = tf.tensor1d([0, 1, 2, 0, 1, 2], "int32");
    const yq = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2], "int32");
    const metaGradient = (fusedQuery: boolean) =>
      tf.tidy(() =>
        tf.grads((...t: tf.Tensor[]) => {
          const g = tf.grads((...q: tf.Tensor[]) =>
            softmaxCrossEntropy(model.apply(q, xs, { training: true }), ys)
          )(t);
          const phi = t.map((p, i) => tf.sub(p, tf.mul(g[i], 0.4)));
          const out = model.apply(phi, xq, { training: true, firstOrderOnly: fusedQuery });
          return softmaxCrossEntropy(out, yq);
        })(theta).map((t) => t.dataSync() as Float32Array)
      );
    const fused = metaGradient(true);
    const composite = metaGradient(false);
    fused.forEach((g, i) =>
      assertAllClose(g, composite[i], { rtol: 1e-3, atol: 1e-5, label: model.paramSpecs[i].name })
    );
    tf.dispose([...theta, xs, xq, ys, yq]);
  } finally {
    await initBackend(previous as "cpu" | "wasm");
  }
});
