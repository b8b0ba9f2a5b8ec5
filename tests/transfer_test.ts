/**
 * The transfer-learning baselines (lib/eval/transfer.ts): Baseline++'s cosine head against
 * hand-computed values, the fine-tuning loop against the same steps taken with `tf.grads`,
 * learning on seeded cluster families, determinism per seed, and no tensor leaks.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import { ArrayDataset } from "../lib/datasets/mod.ts";
import { accuracy, metaTrain, negativeSquaredDistances, prototypes } from "../lib/meta/mod.ts";
import { taskSampler } from "../lib/meta/mod.ts";
import { conv4, mlp, softmaxCrossEntropy, torchDefaultUniform } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { disposeTask } from "../lib/tasks/mod.ts";
import {
  CHEN_FINE_TUNE,
  chenCosineScale,
  ClassBatchSampler,
  columnNorms,
  cosineLogits,
  epochBatches,
  evaluate,
  fineTuneHead,
  headLogits,
  type HeadTraining,
  type PretrainHead,
  TransferBaseline,
} from "../lib/eval/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";
import { clusterTask } from "./meta_fixtures.ts";

await initBackend("wasm");

Deno.test("Baseline++'s cosine head is scale · gain · cos(f, w), as computed by hand", () => {
  // f_0 = (3, 4) (norm 5), f_1 = (0, −2) (norm 2); w_0 = (1, 0), w_1 = (0, 2), w_2 = (1, 1).
  const features = tf.tensor2d([[3, 4], [0, -2]]);
  const weight = tf.tensor2d([[1, 0, 1], [0, 2, 1]]);
  const gain = tf.tensor1d([1, 0.5, 3]);
  // cos(f_0, ·) = 0.6, 0.8, 7/(5√2) = 0.98995; cos(f_1, ·) = 0, −1, −1/√2 = −0.70711.
  assertAllClose(cosineLogits(features, weight, 2), [[1.2, 1.6, 1.97990], [0, -2, -1.41421]], {
    rtol: 1e-4,
    atol: 1e-4,
    label: "scale 2, no gain",
  });
  assertAllClose(
    cosineLogits(features, weight, 2, gain),
    [[1.2, 0.8, 5.93970], [0, -1, -4.24264]],
    { rtol: 1e-4, atol: 1e-4, label: "scale 2, gains 1, 0.5, 3" },
  );
  // The same through headLogits, and Chen et al.'s scale for 5 ways and for 4,800 classes.
  assertAllClose(headLogits("cosine", [weight, gain], features, 10), [
    [6, 4, 29.6985],
    [0, -5, -21.2132],
  ], { rtol: 1e-4, atol: 1e-4 });
  assert.equal(chenCosineScale(5), 2);
  assert.equal(chenCosineScale(200), 2);
  assert.equal(chenCosineScale(201), 10);
  assert.equal(chenCosineScale(4800), 10);
  assert.throws(() => chenCosineScale(0), /classes must be an integer ≥ 1, got 0/);
  assert.throws(
    () => cosineLogits(features, tf.zeros([3, 2]), 2),
    /expected features \[n, d\] and weight \[d, classes\], got features \[2,2\] and weight \[3,2\]/,
  );
  assert.throws(() => cosineLogits(features, weight, 2, tf.ones([2])), /expected gain \[3\]/);
  // A zero feature vector (ReLU can give one) has logits 0 and the finite gradient of
  // f / (‖f‖ + ε) at 0, I/ε, not NaN: here 2/ε · Σ_k ŵ_k.
  const g = tf.grads((f: tf.Tensor) => tf.sum(cosineLogits(f, weight, 2)))([tf.zeros([1, 2])]);
  const eps = 1e-5;
  assertAllClose(g[0], [[
    (2 / eps) * (1 / (1 + eps) + 1 / (Math.SQRT2 + eps)),
    (2 / eps) * (2 / (2 + eps) + 1 / (Math.SQRT2 + eps)),
  ]], { rtol: 1e-4, label: "gradient at f = 0" });
});

Deno.test("epochBatches: one shuffle per epoch, cut into batches of 4 (the last one smaller)", () => {
  const batches = epochBatches(6, 2, 4, new Rng(0));
  assert.deepEqual(batches.map((b) => b.length), [4, 2, 4, 2]);
  for (const epoch of [batches.slice(0, 2), batches.slice(2)]) {
    assert.deepEqual(
      epoch.flat().sort(),
      [0, 1, 2, 3, 4, 5],
      "each epoch visits every example once",
    );
  }
  assert.notDeepEqual(batches[0], batches[2], "a new order each epoch");
});

/**
 * The fine-tuning loop written with tensors and `tf.grads`: the same initial draws and batch
 * order as `fineTuneHead`, and PyTorch's SGD rule spelled out.
 */
function referenceFineTune(
  features: tf.Tensor2D,
  labels: tf.Tensor1D,
  ways: number,
  head: PretrainHead,
  o: HeadTraining,
): tf.Tensor[] {
  const rng = new Rng(o.seed);
  const [n, d] = features.shape;
  let p: tf.Tensor[] = [torchDefaultUniform(rng, [d, ways], d)];
  if (head === "linear") p.push(torchDefaultUniform(rng, [ways], d));
  else if (o.learnedNorm !== false) p.push(columnNorms(p[0]));
  let buf: tf.Tensor[] | null = null;
  for (const batch of epochBatches(n, o.epochs, o.batchSize, rng)) {
    const index = tf.tensor1d(batch, "int32");
    const xb = tf.gather(features, index);
    const yb = tf.gather(labels, index);
    const g = tf.grads((...q: tf.Tensor[]) =>
      softmaxCrossEntropy(headLogits(head, q, xb, o.scale), yb)
    )(p);
    const step = g.map((gi, i) => tf.add(gi, tf.mul(o.weightDecay, p[i])));
    // PyTorch: the first step's buffer is the gradient itself, then m·buf + (1 − dampening)·g.
    buf = buf === null
      ? step
      : buf.map((b, i) => tf.add(tf.mul(o.momentum, b), tf.mul(1 - o.dampening, step[i])));
    p = p.map((pi, i) => tf.sub(pi, tf.mul(o.lr, buf![i])));
  }
  return p;
}

Deno.test("fineTuneHead takes the SGD steps (momentum, dampening, weight decay) that tf.grads gives", () => {
  const rng = new Rng(7);
  const features = tf.tensor2d(rng.normalArray(7 * 5), [7, 5]);
  const labels = tf.tensor1d([0, 1, 2, 0, 1, 2, 0], "int32");
  // A large rate and few epochs: every step matters, and a wrong gradient shows at once.
  const o: HeadTraining = { ...CHEN_FINE_TUNE, epochs: 3, lr: 0.5, seed: 3, scale: 2 };
  const cases: [PretrainHead, boolean][] = [["linear", true], ["cosine", true], ["cosine", false]];
  for (const [head, learnedNorm] of cases) {
    const label = `${head}${
      head === "cosine" ? (learnedNorm ? " with gain" : " without gain") : ""
    }`;
    tf.tidy(() => {
      const ours = fineTuneHead(features, labels, 3, head, { ...o, learnedNorm });
      const ref = referenceFineTune(features, labels, 3, head, { ...o, learnedNorm });
      assert.equal(ours.length, ref.length, `${label}: parameter count`);
      ours.forEach((t, i) => {
        assert.deepEqual(t.shape, ref[i].shape, `${label}: parameter ${i} shape`);
        assertAllClose(t, ref[i], { rtol: 1e-4, atol: 1e-5, label: `${label}: parameter ${i}` });
      });
      // And the steps moved the head: the initial draw alone would not match.
      const start = torchDefaultUniform(new Rng(3), [5, 3], 5);
      assert.ok(tf.max(tf.abs(tf.sub(ours[0], start))).dataSync()[0] > 0.05, `${label}: moved`);
    });
  }
  assert.throws(
    () => fineTuneHead(features, labels, 3, "linear", { ...o, batchSize: 0 }),
    /batchSize must be an integer ≥ 1, got 0/,
  );
  assert.throws(
    () => fineTuneHead(features, labels, 2, "linear", o),
    /label 2 is outside 0 … 1/,
  );
  tf.dispose([features, labels]);
});

Deno.test("fine-tuning on separable clusters: accuracy far above chance, the same for a seed, another for another seed", () => {
  const rng = new Rng(11);
  for (const head of ["linear", "cosine"] as const) {
    const accuracies: number[] = [];
    for (let e = 0; e < 10; e++) {
      const task = clusterTask(rng, { ways: 5, shots: 5, queries: 10 });
      tf.tidy(() => {
        const o = { ...CHEN_FINE_TUNE, scale: chenCosineScale(5) };
        const w = fineTuneHead(task.support.x, task.support.y, 5, head, o);
        accuracies.push(
          accuracy(headLogits(head, w, task.query.x, o.scale), task.query.y).dataSync()[0],
        );
        if (e === 0) {
          const again = fineTuneHead(task.support.x, task.support.y, 5, head, o);
          const other = fineTuneHead(task.support.x, task.support.y, 5, head, { ...o, seed: 1 });
          assert.deepEqual(again[0].dataSync(), w[0].dataSync(), `${head}: same seed, same head`);
          assert.notDeepEqual(other[0].dataSync(), w[0].dataSync(), `${head}: seed 1 differs`);
        }
      });
      disposeTask(task);
    }
    const mean = accuracies.reduce((a, b) => a + b) / accuracies.length;
    assert.ok(mean > 0.8, `${head}: 5-way 5-shot accuracy ${mean.toFixed(3)} (chance 0.2)`);
  }
});

/** `classes` Gaussian clusters in 8 dimensions, `per` points each (centres ~ N(0, 2²I)). */
function clusterDataset(rng: Rng, classes: number, per: number): ArrayDataset {
  const dim = 8;
  const data = new Float32Array(classes * per * dim);
  const labels: number[] = [];
  for (let c = 0; c < classes; c++) {
    const centre = rng.normalArray(dim, 0, 2);
    for (let k = 0; k < per; k++) {
      const row = c * per + k;
      labels.push(c);
      for (let j = 0; j < dim; j++) data[row * dim + j] = centre[j] + rng.normal();
    }
  }
  return new ArrayDataset({ name: "clusters", data, itemShape: [dim], labels });
}

Deno.test("ClassBatchSampler: batches over the named classes, labelled by their position", () => {
  const ds = clusterDataset(new Rng(0), 10, 4);
  const sampler = new ClassBatchSampler(ds, [3, 7], 5);
  assert.equal(sampler.numClasses, 2);
  assert.equal(sampler.stepsPerEpoch, 2, "8 examples at 5 per batch");
  const batch = sampler.sample(new Rng(1));
  assert.deepEqual(batch.support.x.shape, [5, 8]);
  assert.deepEqual(batch.query.x.shape, [0, 8], "the query set is empty");
  const x = batch.support.x.arraySync() as number[][];
  const y = Array.from(batch.support.y.dataSync());
  for (let i = 0; i < 5; i++) {
    const c = [3, 7][y[i]];
    const rows = Array.from(ds.classExamples[c]).map((e) =>
      Array.from(ds.data.slice(e * 8, e * 8 + 8))
    );
    assert.ok(
      rows.some((r) => r.every((v, j) => v === x[i][j])),
      `row ${i} (label ${y[i]}) is an example of class ${c}`,
    );
  }
  disposeTask(batch);
  const same = sampler.sample(new Rng(1));
  assert.deepEqual(same.support.x.arraySync(), x, "the same generator state, the same batch");
  disposeTask(same);
  assert.throws(() => new ClassBatchSampler(ds, [3], 0), /batchSize must be an integer ≥ 1, got 0/);
  assert.throws(
    () => new ClassBatchSampler(ds, [3, 12], 4),
    /class 12 is outside clusters's 10 classes/,
  );
});

Deno.test("TransferBaseline: its parameters are the body and the head Chen et al. pretrain", () => {
  const model = mlp([8, 16, 20]);
  const linear = new TransferBaseline(model, { rng: new Rng(0) });
  assert.equal(linear.name, "baseline");
  assert.deepEqual(linear.paramNames, ["layer1/kernel", "layer1/bias", "head/kernel", "head/bias"]);
  assert.deepEqual(
    Array.from(linear.params[3].dataSync()),
    new Array(20).fill(0),
    "bias starts at 0",
  );
  assert.equal(linear.scale, 2, "20 classes");
  const cosine = new TransferBaseline(model, { rng: new Rng(0), head: "cosine" });
  assert.equal(cosine.name, "baseline++");
  assert.deepEqual(cosine.paramNames, ["layer1/kernel", "layer1/bias", "head/kernel", "head/gain"]);
  assertAllClose(cosine.params[3], columnNorms(cosine.params[2]), { label: "gain = ‖w_k‖" });
  const plain = new TransferBaseline(model, {
    rng: new Rng(0),
    head: "cosine",
    learnedNorm: false,
  });
  assert.equal(plain.params.length, 3, "no gain, no bias");
  const omniglot = new TransferBaseline(
    conv4({ inputShape: [28, 28, 1], outputs: 4800, filters: 4 }),
    { rng: new Rng(0), head: "cosine" },
  );
  assert.equal(omniglot.scale, 10, "Chen et al.'s scale for 4,800 classes");
  assert.equal(omniglot.classes, 4800);
  assert.equal(omniglot.withFewShot("centroid").name, "cosine-pretrained centroid");
  assert.equal(linear.withFewShot("centroid").name, "centroid");
  assert.throws(
    () => new TransferBaseline(conv4({ inputShape: [28, 28, 1], outputs: 0 }), { rng: new Rng(0) }),
    /needs a head/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new TransferBaseline(model, { rng: new Rng(0), fewShot: "knn" as any }),
    /fewShot must be "linear", "cosine" or "centroid", got "knn"/,
  );
  for (const l of [linear, cosine, plain, omniglot]) l.dispose();
});

Deno.test("pretrained on 20 cluster classes, all three rules classify new clusters far above chance", async () => {
  const ds = clusterDataset(new Rng(5), 20, 30);
  const batches = new ClassBatchSampler(ds, Array.from({ length: 20 }, (_, c) => c), 16);
  for (const head of ["linear", "cosine"] as const) {
    const learner = new TransferBaseline(mlp([8, 32, 20]), {
      rng: new Rng(0),
      head,
      objective: { outerLr: 0.01 },
    });
    const history = await metaTrain(learner, taskSampler(batches, new Rng(1)), { steps: 150 });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b) / xs.length;
    assert.ok(
      mean(history.loss.slice(-20)) < 0.5 * mean(history.loss.slice(0, 20)),
      `${head}: pretraining loss ${mean(history.loss.slice(0, 20)).toFixed(3)} → ${
        mean(history.loss.slice(-20)).toFixed(3)
      }`,
    );
    const rules = head === "linear" ? [learner, learner.withFewShot("centroid")] : [learner];
    for (const rule of rules) {
      const rng = new Rng(99);
      const result = evaluate(rule, () => clusterTask(rng, { ways: 5, shots: 5, queries: 5 }), {
        episodes: 20,
      });
      assert.ok(
        result.mean > 0.7,
        `${rule.name}: new-cluster accuracy ${result.mean.toFixed(3)} (chance 0.2)`,
      );
    }
    learner.dispose();
  }
});

Deno.test("the nearest centroid is ProtoNet's rule on the pretrained features", () => {
  const learner = new TransferBaseline(mlp([8, 16, 20]), { rng: new Rng(2), fewShot: "centroid" });
  const task = clusterTask(new Rng(3), { ways: 3, shots: 2, queries: 4 });
  tf.tidy(() => {
    const adapted = learner.adapt(task.support);
    const body = learner.params.slice(0, learner.model.headStart);
    const expected = negativeSquaredDistances(
      learner.features(body, task.query.x),
      prototypes(learner.features(body, task.support.x), task.support.y, 3),
    );
    assertAllClose(adapted.predict(task.query.x), expected, { rtol: 1e-5, atol: 1e-5 });
    adapted.dispose();
  });
  disposeTask(task);
  learner.dispose();
});

Deno.test("no tensor leaks: pretraining steps, batches, and adapting with each rule", async () => {
  const ds = clusterDataset(new Rng(0), 6, 5);
  const batches = new ClassBatchSampler(ds, [0, 1, 2, 3, 4, 5], 4);
  const learner = new TransferBaseline(mlp([8, 16, 6]), { rng: new Rng(0), head: "cosine" });
  const rng = new Rng(1);
  await assertNoTensorLeak(() => {
    const batch = batches.sample(rng);
    learner.metaStep([batch]);
    disposeTask(batch);
  });
  for (const rule of ["linear", "cosine", "centroid"] as const) {
    const classifier = learner.withFewShot(rule);
    await assertNoTensorLeak(() => {
      const task = clusterTask(rng, { ways: 3, shots: 2, queries: 2 });
      const adapted = classifier.adapt(task.support, { steps: 3 });
      adapted.predict(task.query.x).dispose();
      adapted.dispose();
      disposeTask(task);
    });
  }
  learner.dispose();
});
