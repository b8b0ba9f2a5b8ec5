/**
 * First and second derivatives through the ops MetaLab's models use (conv2d, max-pool,
 * batch norm, ReLU, softmax cross-entropy), checked against central finite differences on
 * cpu and wasm; MAML's second-order meta-gradient through a small Conv-4; determinism; leaks.
 *
 * Finite differences in float32: directional derivatives along random unit-scale directions
 * with ε = 1e-3 (truncation O(ε²), rounding ≈ 1e-7·|f|/ε ≈ 1e-4 for |f| ≈ 1), compared with
 * rtol 2e-2 and a small atol; inputs are random normals, so max-pool ties and ReLU kinks are
 * not within ε of the evaluation point.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { batchNorm, softmaxCrossEntropy } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";
import { conv4MamlProblem } from "./meta_fixtures.ts";

const BACKENDS = ["cpu", "wasm"] as const;
const EPS = 1e-3;
const FD_TOL = { rtol: 2e-2, atol: 2e-4 };

type ScalarFn = (params: tf.Tensor[]) => tf.Scalar;

function randomLike(rng: Rng, ts: tf.Tensor[]): tf.Tensor[] {
  return ts.map((t) => tf.tensor(rng.normalArray(t.size), t.shape));
}

function dot(a: tf.Tensor[], b: tf.Tensor[]): number {
  return tf.tidy(() => a.reduce((s, t, i) => s + tf.sum(tf.mul(t, b[i])).dataSync()[0], 0));
}

/** (f(p + εv) − f(p − εv)) / 2ε */
function finiteDifference(f: ScalarFn, params: tf.Tensor[], dir: tf.Tensor[]): number {
  return tf.tidy(() => {
    const plus = f(params.map((p, i) => tf.add(p, tf.mul(dir[i], EPS)))).dataSync()[0];
    const minus = f(params.map((p, i) => tf.sub(p, tf.mul(dir[i], EPS)))).dataSync()[0];
    return (plus - minus) / (2 * EPS);
  });
}

/** h(p) = ⟨∇f(p), u⟩: its gradient is the Hessian-vector product H·u (a second derivative). */
function gradientAlong(f: ScalarFn, u: tf.Tensor[]): ScalarFn {
  return (params) =>
    tf.tidy(() => {
      const g = tf.grads((...p: tf.Tensor[]) => f(p))(params);
      return g.reduce((s, gi, i) => tf.add(s, tf.sum(tf.mul(gi, u[i]))), tf.scalar(0)) as tf.Scalar;
    });
}

/** Checks ∇f (first order) and ∇⟨∇f, u⟩ (second order) along a random direction. */
function checkFirstAndSecond(label: string, f: ScalarFn, params: tf.Tensor[], seed: number): void {
  const rng = new Rng(seed);
  const v = randomLike(rng, params);
  const u = randomLike(rng, params);
  const grads = tf.grads((...p: tf.Tensor[]) => f(p))(params);
  assertAllClose(dot(grads, v), finiteDifference(f, params, v), {
    ...FD_TOL,
    label: `${label}: 1st`,
  });
  const h = gradientAlong(f, u);
  const hessU = tf.grads((...p: tf.Tensor[]) => h(p))(params);
  const analytic = dot(hessU, v);
  assert.ok(Math.abs(analytic) > 1e-3, `${label}: 2nd derivative is trivially small (${analytic})`);
  assertAllClose(analytic, finiteDifference(h, params, v), { ...FD_TOL, label: `${label}: 2nd` });
  tf.dispose([...v, ...u, ...grads, ...hessU]);
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: conv2d (stride 1 and 2, 'same'), 1st and 2nd derivatives vs finite differences`, async () => {
    await initBackend(backend);
    const rng = new Rng(10);
    const x = tf.tensor(rng.normalArray(2 * 7 * 7 * 3), [2, 7, 7, 3]);
    const w = tf.tensor(rng.normalArray(3 * 3 * 3 * 4), [3, 3, 3, 4]).mul(0.3);
    for (const stride of [1, 2] as const) {
      const outShape = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, "same").shape;
      const weights = tf.tensor(rng.normalArray(outShape.reduce((a, b) => a * b)), outShape).mul(
        0.1,
      );
      const f: ScalarFn = ([a, k]) =>
        tf.tidy(() =>
          tf.sum(
            tf.mul(
              weights,
              tf.square(tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, stride, "same")),
            ),
          )
        );
      checkFirstAndSecond(`${backend} conv2d stride ${stride}`, f, [x, w], 20 + stride);
      weights.dispose();
    }
    tf.dispose([x, w]);
  });

  Deno.test(`${backend}: maxPool 2×2 (valid, odd size) through a conv, 1st and 2nd derivatives`, async () => {
    await initBackend(backend);
    const rng = new Rng(11);
    const x = tf.tensor(rng.normalArray(2 * 7 * 7 * 2), [2, 7, 7, 2]);
    const w = tf.tensor(rng.normalArray(3 * 3 * 2 * 3), [3, 3, 2, 3]).mul(0.4);
    const weights = tf.tensor(rng.normalArray(2 * 3 * 3 * 3), [2, 3, 3, 3]).mul(0.2);
    // maxPool is piecewise linear, so the square makes its second derivative non-trivial
    // (through MaxPoolGrad's own gradient).
    const f: ScalarFn = ([a, k]) =>
      tf.tidy(() => {
        const z = tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 1, "same");
        return tf.sum(tf.mul(weights, tf.square(tf.maxPool(z, 2, 2, "valid"))));
      });
    checkFirstAndSecond(`${backend} maxPool`, f, [x, w], 30);
    tf.dispose([x, w, weights]);
  });

  Deno.test(`${backend}: batch norm (batch statistics), 1st and 2nd derivatives`, async () => {
    await initBackend(backend);
    const rng = new Rng(12);
    const x = tf.tensor(rng.normalArray(4 * 3 * 3 * 3), [4, 3, 3, 3]).mul(2).add(1);
    const gamma = tf.tensor(rng.uniformArray(3, 0.5, 1.5));
    const beta = tf.tensor(rng.normalArray(3)).mul(0.1);
    const weights = tf.tensor(rng.normalArray(4 * 3 * 3 * 3), [4, 3, 3, 3]);
    const f: ScalarFn = ([a, g, b]) =>
      tf.tidy(() => tf.sum(tf.mul(weights, tf.tanh(batchNorm(a, g, b)))));
    checkFirstAndSecond(`${backend} batchNorm`, f, [x, gamma, beta], 40);
    tf.dispose([x, gamma, beta, weights]);
  });
}

/**
 * Finite differences of the meta-loss along directions that move only the head. Why only the
 * head: the inner gradient contains ReLU and max-pool switches (step functions of the body's
 * pre-activations), so along a direction that moves the body it jumps wherever any of the
 * thousands of units crosses a kink, and a float32 difference quotient is meaningless (we saw
 * 5.0, −10.5, −69, 11.6 for ε = 1e-2 … 3e-4). Moving the head leaves the support pass's
 * activation pattern unchanged, so the meta-loss is smooth along it, while its derivative
 * still runs through the whole second-order path: ∂(inner gradient of the body)/∂head is the
 * derivative of the backward pass (conv input/filter gradients, max-pool and batch-norm
 * gradients) with respect to its upstream gradient. Derivatives with respect to the body are
 * checked op by op above.
 */
function headDirection(rng: Rng, params: tf.Tensor[], headStart: number): tf.Tensor[] {
  return params.map((t, i) =>
    i < headStart ? tf.zerosLike(t) : tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), 0.1)
  );
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: second-order MAML meta-gradient through Conv-4 matches finite differences; first-order differs`, async () => {
    await initBackend(backend);
    const { model, params, metaLoss, firstOrder, dispose, rng } = conv4MamlProblem(50);
    const metaGrad = tf.grads((...p: tf.Tensor[]) => metaLoss(p))(params);
    assert.ok(metaGrad.every((g) => g.isFinite().all().dataSync()[0] === 1));
    const fo = firstOrder(params);
    for (let d = 0; d < 2; d++) {
      const v = headDirection(rng, params, model.headStart);
      const fd = finiteDifference(metaLoss, params, v);
      const second = dot(metaGrad, v);
      const first = dot(fo, v);
      assertAllClose(second, fd, {
        rtol: 3e-2,
        atol: 2e-3,
        label: `${backend} MAML direction ${d}`,
      });
      assert.ok(
        Math.abs(first - fd) > 3 * (2e-3 + 3e-2 * Math.abs(fd)),
        `first-order MAML (${first}) should differ from the true meta-gradient (${fd})`,
      );
      tf.dispose(v);
    }
    tf.dispose([...metaGrad, ...fo]);
    dispose();
  });
}

Deno.test("softmaxCrossEntropy (primitive ops) has correct 2nd derivatives on cpu and wasm", async () => {
  for (const backend of BACKENDS) {
    await initBackend(backend);
    const rng = new Rng(90);
    const logits = tf.tensor(rng.normalArray(6 * 4), [6, 4]);
    const labels = tf.tensor1d([0, 1, 2, 3, 1, 2], "int32");
    checkFirstAndSecond(`${backend} cross-entropy`, ([l]) => softmaxCrossEntropy(l, labels), [
      logits,
    ], 91);
    // Matches tfjs's own value (whose gradient is not second-order safe).
    const ours = softmaxCrossEntropy(logits, labels);
    const theirs = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 4), logits);
    assertAllClose(ours, theirs, { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([logits, labels, ours, theirs]);
  }
});

Deno.test("cpu and wasm give the same MAML meta-gradient (rtol 1e-3)", async () => {
  const run = async (backend: string) => {
    await initBackend(backend);
    const { params, metaLoss, dispose } = conv4MamlProblem(60);
    const g = tf.grads((...p: tf.Tensor[]) => metaLoss(p))(params);
    const out = g.map((t) => Array.from(t.dataSync()));
    tf.dispose(g);
    dispose();
    return out;
  };
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  cpu.forEach((c, i) => {
    const scale = Math.max(...c.map(Math.abs));
    assertAllClose(wasm[i], c, { rtol: 1e-3, atol: 1e-4 * scale, label: `param ${i}` });
  });
});

Deno.test("wasm: one seed reproduces a meta-gradient exactly", async () => {
  await initBackend("wasm");
  const once = () => {
    const { params, metaLoss, dispose } = conv4MamlProblem(70);
    const g = tf.grads((...p: tf.Tensor[]) => metaLoss(p))(params);
    const out = g.map((t) => Array.from(t.dataSync()));
    tf.dispose(g);
    dispose();
    return out;
  };
  const a = once();
  const b = once();
  a.forEach((t, i) => assert.deepEqual(t, b[i], `param ${i} differs between identical runs`));
  const c = (() => {
    const { params, dispose } = conv4MamlProblem(71);
    const out = Array.from(params[0].dataSync());
    dispose();
    return out;
  })();
  assert.notDeepEqual(c, Array.from(tf.tidy(() => conv4MamlProblem(70).params[0].dataSync())));
});

Deno.test("wasm: no tensor leaks over MAML meta-steps with Adam", async () => {
  await initBackend("wasm");
  const { params, metaLoss, dispose } = conv4MamlProblem(80);
  const vars = params.map((p) => tf.variable(p));
  const opt = tf.train.adam(1e-3);
  await assertNoTensorLeak(() => {
    const l = opt.minimize(() => metaLoss(vars), true, vars);
    l?.dispose();
  }, { iterations: 3 });
  opt.dispose();
  tf.dispose(vars);
  dispose();
});
