// Interpretability (lib/interpret): linear CKA against Kornblith et al.'s reference code and
// its invariances, PCA, calibration (ECE), gradient attributions on models whose answer is
// known in closed form, layer-by-layer forward passes equal to the models' own, feature
// reuse (ANIL's body is untouched by adaptation), adaptation and context trajectories.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { conv4, type FunctionalModel, mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { Anil, Maml, MetaClassifier, ProtoNet } from "../lib/meta/mod.ts";
import { SinusoidFamily } from "../lib/datasets/mod.ts";
import { disposeTask, type Episode, RegressionTaskSampler } from "../lib/tasks/mod.ts";
import {
  adaptationTrajectory,
  calibration,
  confidencesOf,
  contextTrajectory,
  episodeCalibration,
  factorCorrelations,
  featureReuse,
  inputGradient,
  integratedGradients,
  layerRepresentations,
  linearCka,
  objectiveGradient,
  objectiveIntegratedGradients,
  objectiveSmoothGrad,
  pca,
  pearson,
  projectPca,
  saliencyImages,
  smoothGrad,
} from "../lib/interpret/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";
import { courseLearners, sinusoidK10 } from "../lib/experiments/mod.ts";
import { clusterTask } from "./meta_fixtures.ts";

await initBackend("wasm");

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** rows × cols matrix with entries f(i, j). */
const matrix = (rows: number, cols: number, f: (i: number, j: number) => number) =>
  range(rows).map((i) => range(cols).map((j) => f(i, j)));

// --- linear CKA --------------------------------------------------------------------------

// Reference values: Kornblith et al.'s own code (the google-research CKA colab's
// `cka(gram_linear(X), gram_linear(Y))`, equal to its `feature_space_linear_cka`) run with
// numpy 2.4 in float64 on these matrices.
const X_A = matrix(12, 5, (i, j) => Math.sin(1 + 0.7 * i + 1.3 * j));
const Y_A = matrix(12, 3, (i, j) => Math.cos(0.3 * i * (j + 1)) + 0.5 * X_A[i][j]);
const W_B = matrix(6, 20, (i, j) => Math.sin(0.5 * i * j + 0.1 * j) + 0.01 * j);
const V_B = matrix(6, 4, (i, j) => (i - 2.5) ** 2 * Math.cos(j) + (i * j) / 10);
const Z_C = X_A.map((r) => r.map((v) => Math.max(v, 0)));

Deno.test("linearCka: Kornblith et al.'s reference values (their code, numpy float64)", () => {
  assertAllClose(linearCka(X_A, Y_A), 0.838633080053331, { rtol: 1e-5, label: "12 × 5 vs 12 × 3" });
  assertAllClose(linearCka(W_B, V_B), 0.4359336157088833, {
    rtol: 1e-5,
    label: "more features than examples (6 × 20 vs 6 × 4)",
  });
  assertAllClose(linearCka(X_A, Z_C), 0.9706250228997084, { rtol: 1e-5, label: "X vs relu(X)" });
  // Symmetric in its arguments, and a tensor gives what its rows give.
  assertAllClose(linearCka(Y_A, X_A), 0.838633080053331, { rtol: 1e-5 });
  const t = tf.tensor(X_A.flat(), [12, 5, 1]);
  assertAllClose(linearCka(t, Y_A), 0.838633080053331, { rtol: 1e-5, label: "[n, …] flattened" });
  t.dispose();
});

Deno.test("linearCka: 1 for identical representations, invariant to rotation, scale and shift", () => {
  const x = tf.randomNormal([40, 8], 0, 1, "float32", 1);
  // A random orthogonal matrix: Q of a QR decomposition.
  const [q, r] = tf.linalg.qr(tf.randomNormal([8, 8], 0, 1, "float32", 2));
  assertAllClose(linearCka(x, x), 1, { rtol: 1e-6, label: "identical" });
  const rotated = tf.matMul(x, q);
  assertAllClose(linearCka(x, rotated), 1, { rtol: 1e-5, label: "orthogonal transform" });
  const scaled = tf.mul(x, 7.5);
  assertAllClose(linearCka(x, scaled), 1, { rtol: 1e-5, label: "isotropic scaling" });
  const shifted = tf.add(x, 3);
  assertAllClose(linearCka(x, shifted), 1, { rtol: 1e-5, label: "translation" });
  // ...but not invariant to an anisotropic scaling (an invertible linear map): the property
  // that separates CKA from CCA.
  const stretched = tf.mul(x, tf.tensor1d([10, 1, 1, 1, 1, 1, 1, 0.1]));
  const s = linearCka(x, stretched);
  assert.ok(s < 0.9, `CKA under an anisotropic stretch should drop well below 1, got ${s}`);
  const other = tf.randomNormal([40, 8], 0, 1, "float32", 3);
  const u = linearCka(x, other);
  assert.ok(u < 0.5, `independent representations should have a low CKA, got ${u}`);
  tf.dispose([x, q, r, rotated, scaled, shifted, stretched, other]);
});

Deno.test("linearCka: errors name the mismatch; no tensor leaks", async () => {
  assert.throws(() => linearCka(X_A, W_B), /same examples, got 12 and 6 rows/);
  assert.throws(() => linearCka(X_A, matrix(12, 2, () => 4)), /y does not vary/);
  assert.throws(() => linearCka([[1, 2]], [[3]]), /at least 2 examples/);
  const x = tf.randomNormal([10, 4], 0, 1, "float32", 4);
  const y = tf.mul(x, 2);
  await assertNoTensorLeak(() => linearCka(x, y) && undefined);
  tf.dispose([x, y]);
});

// --- PCA ------------------------------------------------------------------------------------

Deno.test("pca: recovers known principal directions and variances; both solver paths agree", () => {
  // Points spread along (3, 4, 0)/5 (variance 25·var(t)) and a little along (0, 0, 1).
  const ts = range(9).map((i) => i - 4);
  const points = ts.map((t, i) => [3 * t, 4 * t, i % 2 ? 0.5 : -0.5]);
  const fit = pca(points, 2);
  const varT = ts.reduce((s, t) => s + t * t, 0) / (ts.length - 1);
  assertAllClose(fit.components[0], [0.6, 0.8, 0], { atol: 1e-9, label: "first direction" });
  assertAllClose(fit.components[1].map(Math.abs), [0, 0, 1], { atol: 1e-9, label: "second" });
  assertAllClose(fit.variance[0], 25 * varT, { rtol: 1e-9 });
  assertAllClose(fit.projected.map((p) => p[0]), ts.map((t) => 5 * t), { atol: 1e-9 });
  assert.ok(
    fit.varianceRatio[0] > 0.99 && fit.varianceRatio[0] + fit.varianceRatio[1] <= 1 + 1e-12,
  );
  // More dimensions than points: the Gram-matrix path gives the covariance path's answer.
  const wide = matrix(5, 30, (i, j) => Math.sin(i * 1.7 + j * 0.3) + (j === 3 ? i : 0));
  const gramFit = pca(wide, 2);
  // The same points twice: the sum of squares doubles and n − 1 goes from 4 to 9.
  const twice = pca([...wide, ...wide], 2);
  assertAllClose(twice.variance, gramFit.variance.map((v) => (v * 2 * 4) / 9), {
    rtol: 1e-9,
    label: "duplicated points",
  });
  const narrow = pca(wide.map((r) => r.slice(0, 4)), 2); // 5 points in 4-D: covariance path
  const narrowGram = pca(wide.map((r) => [...r.slice(0, 4), 0, 0, 0, 0]), 2); // 8-D: Gram path
  assertAllClose(narrow.variance, narrowGram.variance, { rtol: 1e-9, label: "paths agree" });
  assertAllClose(narrow.projected, narrowGram.projected, { atol: 1e-9, label: "same coordinates" });
  // A new point is centred with the fitted mean, then read along each component.
  const meanZ = points.reduce((sum, p) => sum + p[2], 0) / points.length;
  assertAllClose(projectPca(fit, [[3, 4, 0]]), [[5, -meanZ * fit.components[1][2]]], {
    atol: 1e-9,
  });
  assert.throws(() => pca([[1, 2]]), /at least 2 points/);
  assert.throws(() => pca(points, 4), /k must be an integer in \[1, 3\]/);
  assert.throws(
    () => projectPca(fit, [[1, 2]]),
    /point 0 has 2 coordinates, the PCA was fitted on 3/,
  );
});

// --- calibration ----------------------------------------------------------------------------

Deno.test("calibration: a perfectly calibrated synthetic predictor has ECE ≈ 0", () => {
  const rng = new Rng(5);
  const n = 200_000;
  const confidences = range(n).map(() => rng.uniform(0.2, 1));
  const correct = confidences.map((p) => rng.next() < p); // right with probability p
  const c = calibration(confidences, correct, 10);
  assert.ok(c.ece < 0.01, `ECE of a calibrated predictor should be ≈ 0, got ${c.ece}`);
  assert.equal(c.bins.length, 10);
  assert.equal(c.bins.reduce((s, b) => s + b.count, 0), n);
  assert.equal(c.bins[0].count, 0, "no confidence below 0.2 lands in the first bin");
  assert.ok(Number.isNaN(c.bins[0].accuracy));
  for (const b of c.bins.slice(2)) {
    assert.ok(Math.abs(b.accuracy - b.confidence) < 0.02, `bin ${b.lower}: ${JSON.stringify(b)}`);
  }
});

Deno.test("calibration: ECE and MCE of an over-confident predictor, exactly", () => {
  // Ten predictions at 0.9 of which 6 right (gap 0.3), ten at 0.55 of which 5 right (gap 0.05).
  const confidences = [...Array(10).fill(0.9), ...Array(10).fill(0.55)];
  const correct = range(20).map((i) => (i < 10 ? i < 6 : i < 15));
  const c = calibration(confidences, correct, 10);
  assertAllClose([c.ece, c.mce, c.accuracy, c.confidence], [
    0.5 * 0.3 + 0.5 * 0.05,
    0.3,
    0.55,
    0.725,
  ], {
    atol: 1e-12,
  });
  assert.deepEqual(c.bins.map((b) => b.count), [0, 0, 0, 0, 0, 10, 0, 0, 10, 0]);
  // Edges: a bin is (lower, upper]; 0 goes to the first.
  assert.deepEqual(
    calibration([0, 0.1, 0.1000001, 1], [true, true, true, true], 10).bins.map((b) => b.count),
    [
      2,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
    ],
  );
  assert.throws(() => calibration([1.2], [true]), /confidence 0 is 1.2, expected a probability/);
  assert.throws(() => calibration([0.5], [true, false]), /1 confidences but 2 correctness flags/);
});

Deno.test("confidencesOf: top softmax probability and whether the top class is the label", () => {
  const logits = tf.tensor2d([[2, 0, 0], [0, 0, 5], [1, 1.5, 0]]);
  const labels = tf.tensor1d([0, 1, 1], "int32");
  const { confidences, correct } = confidencesOf(logits, labels);
  const e = Math.exp;
  assertAllClose(
    confidences,
    [e(2) / (e(2) + 2), e(5) / (e(5) + 2), e(1.5) / (e(1) + e(1.5) + 1)],
    {
      rtol: 1e-6,
    },
  );
  assert.deepEqual(correct, [true, false, true]);
  tf.dispose([logits, labels]);
});

// --- saliency -------------------------------------------------------------------------------

Deno.test("saliency of a linear model: the input gradient is its weights, SmoothGrad too, IG is (x − x̄) ⊙ w", async () => {
  const w = tf.tensor2d([[1, -2], [0.5, 3], [-1, 0], [2, 1]]); // 4 inputs, 2 classes
  const b = tf.tensor1d([0.3, -0.1]);
  const score = (x: tf.Tensor) => tf.add(tf.matMul(x, w), b);
  const x = tf.tensor2d([[1, 2, 3, 4], [0, -1, 0.5, 2], [3, 3, 3, 3]]);
  const targets = [0, 1, 1];
  const column = (t: number) => range(4).map((i) => w.arraySync()[i][t]);
  const g = inputGradient(score, x, targets);
  assertAllClose(g, targets.map(column), { atol: 1e-6, label: "input gradient = W[:, t]" });
  const sg = smoothGrad(score, x, targets, { rng: new Rng(0), samples: 5 });
  assertAllClose(sg, targets.map(column), { atol: 1e-5, label: "SmoothGrad of a linear model" });
  const baseline = tf.onesLike(x);
  const ig = integratedGradients(score, x, targets, { baseline, steps: 3 });
  const xs = x.arraySync();
  assertAllClose(ig, targets.map((t, i) => column(t).map((wi, j) => (xs[i][j] - 1) * wi)), {
    atol: 1e-5,
    label: "IG = (x − x̄) ⊙ W[:, t]",
  });
  await assertNoTensorLeak(() => {
    tf.dispose([
      inputGradient(score, x, targets),
      smoothGrad(score, x, targets, { rng: new Rng(1), samples: 2 }),
      integratedGradients(score, x, targets, { steps: 2 }),
    ]);
  });
  assert.throws(() => inputGradient(score, x, [0, 1]), /2 targets for a batch of 3 inputs/);
  assert.throws(() => inputGradient((v) => tf.sum(v), x, targets), /must return \[3, k\]/);
  tf.dispose([w, b, x, g, sg, baseline, ig]);
});

Deno.test("integratedGradients: attributions add up to s(x) − s(x̄) on a non-linear model", () => {
  const model = mlp([6, 16, 3], { activation: "tanh" });
  const params = model.init(new Rng(2));
  const score = (x: tf.Tensor) => model.apply(params, x);
  const x = tf.randomNormal([4, 6], 0, 1, "float32", 6);
  const targets = [2, 0, 1, 1];
  const ig = integratedGradients(score, x, targets, { steps: 64 });
  const [total, gap] = tf.tidy(() => {
    const pick = (v: tf.Tensor) =>
      tf.sum(tf.mul(score(v), tf.oneHot(tf.tensor1d(targets, "int32"), 3)));
    return [tf.sum(ig).dataSync()[0], tf.sub(pick(x), pick(tf.zerosLike(x))).dataSync()[0]];
  });
  assertAllClose(total, gap, { rtol: 1e-3, atol: 1e-4, label: "completeness" });
  tf.dispose([...params, x, ig]);
});

Deno.test("objective attributions: of Σx², the gradient is 2x, SmoothGrad ≈ 2x, IG exactly x²", async () => {
  const x = tf.tensor2d([[1, -2, 0.5], [3, 0, -1]]);
  const objective = (v: tf.Tensor) => tf.sum(tf.square(v)) as tf.Scalar;
  const g = objectiveGradient(objective, x);
  assertAllClose(g, [[2, -4, 1], [6, 0, -2]], { atol: 1e-6 });
  // The gradient at x + ε is 2(x + ε), so SmoothGrad is 2x + 2·mean(ε): replay the same seeded
  // noise (σ = 0.1 · (max x − min x) = 0.5, drawn sample by sample in row-major order).
  const sg = objectiveSmoothGrad(objective, x, { rng: new Rng(3), samples: 40, noiseLevel: 0.1 });
  const replay = new Rng(3);
  const meanNoise = [0, 0, 0, 0, 0, 0];
  for (let s = 0; s < 40; s++) {
    for (let i = 0; i < 6; i++) meanNoise[i] += replay.normal(0, 0.5) / 40;
  }
  assertAllClose(sg, [2, -4, 1, 6, 0, -2].map((v, i) => v + 2 * meanNoise[i]), { atol: 1e-5 });
  // The integrand 2αx is linear in α, so the midpoint rule is exact with any number of points.
  const ig = objectiveIntegratedGradients(objective, x, { steps: 2 });
  assertAllClose(ig, [[1, 4, 0.25], [9, 0, 1]], { atol: 1e-5 });
  await assertNoTensorLeak(() => {
    tf.dispose([
      objectiveGradient(objective, x),
      objectiveIntegratedGradients(objective, x, { steps: 3 }),
    ]);
  });
  assert.throws(
    () => objectiveIntegratedGradients(objective, x, { steps: 0 }),
    /steps must be a positive integer, got 0/,
  );
  tf.dispose([x, g, sg, ig]);
});

Deno.test("saliencyImages: |attribution| summed over channels, each image scaled to peak 1", () => {
  const a = tf.tensor4d([1, -2, 0, 4, 0, 0, 0, -0.5], [2, 2, 2, 1]);
  const img = saliencyImages(a);
  assert.deepEqual(img.shape, [2, 2, 2]);
  assertAllClose(img.data, [0.25, 0.5, 0, 1, 0, 0, 0, 1], { atol: 1e-6 });
  const flat = tf.reshape(a, [2, 4]);
  assertAllClose(saliencyImages(flat, [2, 2, 1]).data, img.data, { atol: 1e-6 });
  assert.throws(() => saliencyImages(flat), /not \[n, h, w, c\] images/);
  tf.dispose([a, flat]);
});

// --- layers, feature reuse, trajectories ------------------------------------------------------

function lastLayerIsApply(model: FunctionalModel, x: tf.Tensor, expected: string[]) {
  const params = model.init(new Rng(3));
  const layers = layerRepresentations(model, params, x);
  assert.deepEqual(layers.map((l) => l.name), expected);
  const out = model.apply(params, x);
  assertAllClose(layers[layers.length - 1].value, tf.reshape(out, [x.shape[0], -1]), {
    rtol: 1e-4,
    atol: 1e-5,
    label: `${model.name}: last layer = apply`,
  });
  tf.dispose([...params, out, ...layers.map((l) => l.value)]);
}

Deno.test("layerRepresentations: the layer-by-layer pass ends where the model's own apply does", () => {
  const images = tf.randomUniform([6, 28, 28, 1], 0, 1, "float32", 7);
  const blocks = ["block1", "block2", "block3", "block4", "head"];
  lastLayerIsApply(conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 8 }), images, blocks);
  lastLayerIsApply(
    conv4({ inputShape: [28, 28, 1], outputs: 3, filters: 4, strided: true, batchNorm: false }),
    images,
    blocks,
  );
  const flat = tf.reshape(images, [6, 784]);
  lastLayerIsApply(conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 4 }), flat, blocks);
  const embedding = conv4({ inputShape: [28, 28, 1], outputs: 0, filters: 4 });
  const p = embedding.init(new Rng(0));
  const layers = layerRepresentations(embedding, p, images);
  assert.deepEqual(layers.map((l) => `${l.name} ${l.value.shape}`), [
    "block1 6,784",
    "block2 6,196",
    "block3 6,36",
    "block4 6,4",
  ]);
  const e = embedding.apply(p, images);
  assertAllClose(layers[3].value, e, {
    rtol: 1e-4,
    atol: 1e-5,
    label: "head-less conv4: embedding",
  });
  const xs = tf.randomNormal([7, 1], 0, 1, "float32", 8);
  lastLayerIsApply(mlp([1, 40, 40, 1]), xs, ["layer1", "layer2", "head"]);
  lastLayerIsApply(mlp([1, 10, 2], { activation: "tanh" }), xs, ["layer1", "head"]);
  const odd = { ...mlp([1, 1]), paramSpecs: [{ name: "w", shape: [1, 1] }], name: "odd" };
  assert.throws(() => layerRepresentations(odd, [], xs), /takes 1 parameters, got 0/);
  assert.throws(
    () => layerRepresentations(odd, [tf.zeros([1, 1])], xs),
    /neither a conv4 nor an mlp/,
  );
  tf.dispose([images, flat, ...p, ...layers.map((l) => l.value), e, xs]);
});

function imageEpisode(rng: Rng): Episode {
  const make = (per: number) => ({
    x: tf.tensor4d(Float32Array.from(range(3 * per * 28 * 28), () => rng.next()), [
      3 * per,
      28,
      28,
      1,
    ]),
    y: tf.tensor1d(range(3 * per).map((i) => Math.floor(i / per)), "int32"),
  });
  return { support: make(1), query: make(4) };
}

Deno.test("featureReuse: ANIL leaves the body as it was (CKA 1), its head moves; MAML with 0 steps moves nothing", async () => {
  const model = conv4({ inputShape: [28, 28, 1], outputs: 3, filters: 8 });
  const rng = new Rng(9);
  const episodes = [imageEpisode(rng), imageEpisode(rng)];
  const anil = new Anil(model, { rng: new Rng(1), objective: { innerSteps: 3, innerLr: 2 } });
  const reuse = featureReuse(anil, episodes);
  assert.deepEqual(reuse.map((l) => l.layer), ["block1", "block2", "block3", "block4", "head"]);
  for (const l of reuse.slice(0, 4)) {
    assertAllClose(l.perEpisode, [1, 1], { atol: 1e-6, label: l.layer });
  }
  const head = reuse[4].cka.mean;
  assert.ok(head < 0.999, `ANIL's head should change with 3 steps at α = 2, CKA ${head}`);
  assert.equal(reuse[4].perEpisode.length, 2);
  const maml = new Maml(model, { rng: new Rng(1) });
  for (const l of featureReuse(maml, episodes, { steps: 0 })) {
    assertAllClose(l.cka.mean, 1, { atol: 1e-6, label: `0 steps, ${l.layer}` });
  }
  await assertNoTensorLeak(
    () => featureReuse(maml, episodes.slice(0, 1), { steps: 1, lr: 0.1 }) && undefined,
    {
      iterations: 2,
    },
  );
  assert.throws(() => featureReuse(maml, []), /no episodes/);
  anil.dispose();
  maml.dispose();
  episodes.forEach(disposeTask);
});

Deno.test("adaptationTrajectory and contextTrajectory: step s is what adapt / inferContext give after s steps", async () => {
  const family = new SinusoidFamily();
  const sampler = new RegressionTaskSampler(family, { shots: 5, queries: 5 });
  const task = sampler.sample(new Rng(4));
  const grid = tf.tensor2d(range(7).map((i) => [-5 + i]), [7, 1]);
  const maml = new Maml(mlp([1, 20, 1]), { rng: new Rng(2), kind: "regression" });
  const fits = adaptationTrajectory(maml, task.support, grid, [0, 2]);
  assert.equal(fits.length, 2);
  const zero = maml.model.apply(maml.params, grid);
  assertAllClose(fits[0], zero, { atol: 1e-6, label: "0 steps: θ's predictions" });
  const two = maml.adapt(task.support, { steps: 2 });
  const y2 = two.predict(grid);
  assertAllClose(fits[1], y2, { atol: 1e-6, label: "2 steps" });
  tf.dispose([zero, y2]);
  two.dispose();
  assert.throws(
    () => adaptationTrajectory(maml, task.support, grid, [-1]),
    /non-negative integers, got -1/,
  );

  const mc = new MetaClassifier(mlp([1, 20, 1]), {
    rng: new Rng(3),
    kind: "regression",
    inputShape: [1],
    outputs: 1,
    contextSize: 3,
  });
  const path = contextTrajectory(mc, task.support, 3, 0.5);
  assert.equal(path.length, 4);
  assert.deepEqual(path[0], [0, 0, 0], "c⁽⁰⁾ = 0");
  const c3 = tf.tidy(() => mc.inferContext(mc.params, task.support, 3, 0.5));
  assertAllClose(path[3], c3, { atol: 1e-6, label: "c⁽³⁾" });
  assert.ok(path[1].some((v) => v !== 0), "a step moves the context");
  c3.dispose();
  await assertNoTensorLeak(() => {
    adaptationTrajectory(maml, task.support, grid, [1]);
    contextTrajectory(mc, task.support, 2);
  }, { iterations: 2 });
  maml.dispose();
  mc.dispose();
  grid.dispose();
  disposeTask(task);
});

Deno.test("pearson and factorCorrelations: ±1 for linear relations, 0 for an orthogonal pattern", () => {
  assertAllClose(pearson([1, 2, 3, 4], [2, 4, 6, 8]), 1, { atol: 1e-12 });
  assertAllClose(pearson([1, 2, 3, 4], [5, 3, 1, -1]), -1, { atol: 1e-12 });
  assertAllClose(pearson([1, 2, 3, 4, 5], [1, -1, 0, -1, 1]), 0, { atol: 1e-12 });
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])), "a constant sample has no correlation");
  const amplitude = [0.5, 1, 2, 4, 5];
  const phase = [3, 0.1, 2, 1, 0.5];
  const vectors = amplitude.map((a, i) => [2 * a + 1, -phase[i]]);
  const r = factorCorrelations(vectors, { amplitude, phase });
  assertAllClose(r.amplitude[0], 1, { atol: 1e-12 });
  assertAllClose(r.phase[1], -1, { atol: 1e-12 });
  assert.throws(
    () => factorCorrelations(vectors, { phase: [1, 2] }),
    /"phase" has 2 values for 5 vectors/,
  );
  assert.throws(() => pearson([1], [1]), /length ≥ 2/);
});

Deno.test("episodeCalibration: pools an adapted classifier's query predictions over episodes", () => {
  const rng = new Rng(11);
  const episodes = [clusterTask(rng), clusterTask(rng), clusterTask(rng)];
  const protonet = new ProtoNet(mlp([8, 16]), { rng: new Rng(0) });
  const c = episodeCalibration(protonet, episodes, { bins: 5 });
  assert.equal(c.count, 3 * 25, "3 episodes × 25 queries");
  // Recompute by hand from the adapted model's logits.
  const confidences: number[] = [];
  const correct: boolean[] = [];
  for (const e of episodes) {
    const a = protonet.adapt(e.support);
    const logits = a.predict(e.query.x);
    const r = confidencesOf(logits, e.query.y);
    confidences.push(...r.confidences);
    correct.push(...r.correct);
    logits.dispose();
    a.dispose();
  }
  assertAllClose(c.ece, calibration(confidences, correct, 5).ece, { atol: 1e-12 });
  const regression = new Maml(mlp([1, 4, 1]), { rng: new Rng(0), kind: "regression" });
  assert.throws(
    () => episodeCalibration(regression, episodes),
    /regression learner, not a classifier/,
  );
  protonet.dispose();
  regression.dispose();
  episodes.forEach(disposeTask);
});

// --- courseLearners (lib/experiments/interpret.ts) ----------------------------------------------

Deno.test("courseLearners: trained mode loads the shipped sinusoid-k10 learners; without models it trains here", async () => {
  const trained = await courseLearners(sinusoidK10, ["maml", "metaclassifier"], {
    mode: "trained",
    resultsDir: "/nonexistent",
  });
  assert.equal(trained.mode, "trained");
  assert.match(
    trained.label,
    /trained models from .*models\/sinusoid-k10 \(the full schedule, commit [0-9a-f]{7}\)/,
  );
  assert.ok(
    trained.learners.maml instanceof Maml &&
      trained.learners.metaclassifier instanceof MetaClassifier,
  );
  assert.equal(trained.saved.maml.info.steps, 70_000, "the shipped model's recorded steps");
  assert.ok(trained.metrics.length > 0, "the metrics recorded with the models");
  trained.dispose();
  await assert.rejects(
    () =>
      courseLearners(sinusoidK10, ["reptile"], {
        mode: "trained",
        resultsDir: "/nonexistent",
        overrides: { trainSteps: 1, metaClassifierSteps: 1, evalEpisodes: 1 },
      }),
    /holds no model "reptile" of sinusoid-k10 \(it has: maml, metaclassifier, pretrained\)/,
    "a missing label falls back to training, then names what the run saved",
  );
  const empty = await Deno.makeTempDir();
  const quick = await courseLearners(sinusoidK10, ["maml"], {
    mode: "trained",
    resultsDir: empty,
    shippedDir: empty,
    overrides: { trainSteps: 2, metaClassifierSteps: 2, evalEpisodes: 2 },
  });
  assert.equal(quick.mode, "quick");
  assert.match(
    quick.label,
    /^no trained maml models of sinusoid-k10 found .*QUICK preset trained here.*trainSteps=2/,
  );
  assert.equal(quick.saved.maml.info.steps, 2);
  quick.dispose();
  await Deno.remove(empty, { recursive: true });
});
