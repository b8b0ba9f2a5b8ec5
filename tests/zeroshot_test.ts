// Zero-shot transfer (lib/zeroshot): ESZSL's closed form against a case worked by hand, the
// attribute-prototype prior against its formula, describability of the MNIST split, and the
// descriptor-conditioned MetaClassifier on a seeded toy family predicting a task it never saw
// from its description alone; determinism per seed; no tensor leaks.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { type FunctionFamily, SinusoidFamily } from "../lib/datasets/mod.ts";
import { mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { RegressionTaskSampler } from "../lib/tasks/mod.ts";
import { MetaClassifier, metaTrain, taskSampler } from "../lib/meta/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";
import {
  mnistZeroShot,
  resolveConfig,
  runContext,
  sinusoidZeroShot,
} from "../lib/experiments/mod.ts";
import {
  AttributeProtoNet,
  AttributePrototypes,
  describability,
  DescriptorContext,
  digitAttributes,
  eszsl,
  eszslScores,
  MNIST_DIGIT_ATTRIBUTES,
  MNIST_SEEN_DIGITS,
  MNIST_UNSEEN_DIGITS,
  noisyDescriptors,
  sinusoidDescriptor,
  solveSpd,
} from "../lib/zeroshot/mod.ts";

await initBackend("cpu");

Deno.test("solveSpd solves a 2×2 system worked by hand, and refuses a matrix that is not positive definite", () => {
  // [[4, 2], [2, 3]]⁻¹ = 1/8 [[3, −2], [−2, 4]], so z = 1/8 [3 − 4, −2 + 8] for b = [1, 2].
  assertAllClose(solveSpd([[4, 2], [2, 3]], [[1], [2]]).flat(), [-1 / 8, 6 / 8], { atol: 1e-12 });
  assert.throws(() => solveSpd([[1, 2], [2, 1]], [[1], [1]]), /not positive definite/);
});

Deno.test("eszsl: V = (XᵀX + γI)⁻¹ XᵀYS (SᵀS + λI)⁻¹ on a case worked by hand", () => {
  // X = I₂ (two examples, two features), labels [0, 1] → Y = [[1, −1], [−1, 1]];
  // S = [[1], [2]] (one attribute); γ = λ = 1: XᵀX + γI = 2I, XᵀYS = [[−1], [1]],
  // SᵀS + λ = 6, so V = [[−1/12], [1/12]].
  const v = eszsl([[1, 0], [0, 1]], [0, 1], [[1], [2]], { gamma: 1, lambda: 1 });
  assertAllClose(v.flat(), [-1 / 12, 1 / 12], { atol: 1e-12 });
  // Scores x V s_k for x = [1, 0] and classes s = 1, 2, −1: −1/12 · s.
  assertAllClose(eszslScores(v, [[1, 0]], [[1], [2], [-1]]).flat(), [-1 / 12, -2 / 12, 1 / 12], {
    atol: 1e-12,
  });
  assert.throws(() => eszsl([[1, 0]], [2], [[1], [2]], { gamma: 1, lambda: 1 }), /label 0 is 2/);
  assert.throws(() => eszsl([[1, 0]], [0], [[1], [2]], { gamma: 0, lambda: 1 }), /must be > 0/);
});

/** A synthetic linear world: features are a fixed linear image of a class's attributes plus noise. */
function linearWorld(seed: number) {
  const rng = new Rng(seed);
  const mix = Array.from({ length: 3 }, () => Array.from({ length: 6 }, () => rng.normal()));
  const sample = (s: number[]) =>
    mix[0].map((_, j) => s.reduce((acc, v, k) => acc + v * mix[k][j], 0) + 0.1 * rng.normal());
  const seen = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]];
  const x: number[][] = [];
  const y: number[] = [];
  seen.forEach((s, c) => {
    for (let i = 0; i < 20; i++) (x.push(sample(s)), y.push(c));
  });
  const test = (unseen: number[][]) =>
    unseen.flatMap((s, c) => Array.from({ length: 20 }, () => ({ x: sample(s), c })));
  return { seen, x, y, test };
}

function pairAccuracy(scores: number[][], truth: number[]): number {
  return scores.filter((row, i) => (row[0] > row[1] ? 0 : 1) === truth[i]).length / truth.length;
}

Deno.test("eszsl recognises unseen classes of a linear world from their attributes, but a dot product cannot tell a class from its superset", () => {
  // The setting ESZSL assumes; the seen classes span the attribute space.
  const world = linearWorld(3);
  const v = eszsl(world.x, world.y, world.seen, { gamma: 0.1, lambda: 0.1 });
  const apart = world.test([[1, 0, 1], [0, 1, 1]]);
  const acc = pairAccuracy(
    eszslScores(v, apart.map((t) => t.x), [[1, 0, 1], [0, 1, 1]]),
    apart.map((t) => t.c),
  );
  assert.ok(acc >= 0.9, `[1,0,1] vs [0,1,1]: accuracy ${acc} < 0.9`);
  // x V s ≈ s_true · s: for s_true = [1, 0, 1] that is 2 against both [1, 0, 1] and [1, 1, 1],
  // so ESZSL is at chance there (ProtoNet's distance is not: next test).
  const nested = world.test([[1, 0, 1], [1, 1, 1]]);
  const tie = pairAccuracy(
    eszslScores(v, nested.map((t) => t.x), [[1, 0, 1], [1, 1, 1]]),
    nested.map((t) => t.c),
  );
  assert.ok(tie <= 0.65, `[1,0,1] vs [1,1,1]: ESZSL accuracy ${tie}, expected near chance`);
});

Deno.test("AttributePrototypes (zero-shot ProtoNet) tells a class from its superset in the same linear world", () => {
  const world = linearWorld(3);
  const g = new AttributePrototypes({ rng: new Rng(2), attributeSize: 3, embeddingSize: 6 });
  const x = tf.tensor2d(world.x);
  const y = tf.tensor1d(world.y, "int32");
  g.fit(x, y, world.seen, 500);
  const nested = world.test([[1, 0, 1], [1, 1, 1]]);
  const m = g.adapt([[1, 0, 1], [1, 1, 1]]);
  const logits = m.predict(tf.tensor2d(nested.map((t) => t.x)));
  const scores = tf.unstack(logits).map((t) => Array.from(t.dataSync()));
  const acc = pairAccuracy(scores, nested.map((t) => t.c));
  assert.ok(acc >= 0.9, `[1,0,1] vs [1,1,1]: accuracy ${acc} < 0.9`);
  tf.dispose([x, y, logits]);
  m.dispose();
  g.dispose();
});

Deno.test("describability: the MNIST split's unseen digits are affine combinations of the seen ones; a row off the span is measured", () => {
  const seen = digitAttributes(MNIST_SEEN_DIGITS);
  for (const [i, d] of describability(seen, digitAttributes(MNIST_UNSEEN_DIGITS)).entries()) {
    assert.ok(d.residual < 1e-6, `digit ${MNIST_UNSEEN_DIGITS[i]}: residual ${d.residual}`);
    assertAllClose(d.coefficients.reduce((s, c) => s + c, 0), 1, { atol: 1e-6 });
  }
  // Two seen rows (1, 0) and (0, 1): their affine span is the line x + y = 1. (½, ½) is on it,
  // (1, 1) is not: in the augmented space min_t ‖(t, t, 2t) − (1, 1, 1)‖ = 1/√3 at t = 2/3.
  const [on, off] = describability([[1, 0], [0, 1]], [[0.5, 0.5], [1, 1]]);
  assertAllClose(on.residual, 0, { atol: 1e-6 });
  assertAllClose(on.coefficients, [0.5, 0.5], { atol: 1e-6 });
  assertAllClose(off.residual, 1 / Math.sqrt(3), { atol: 1e-6 });
  // Every digit has its own row, and the unseen digits are never seen.
  assert.equal(new Set(MNIST_DIGIT_ATTRIBUTES.map((r) => r.join())).size, 10);
  assert.ok(MNIST_UNSEEN_DIGITS.every((d) => !MNIST_SEEN_DIGITS.includes(d)));
});

Deno.test("descriptors: the sinusoid's (A, b) rescaled to [−1, 1]; noise is seeded", () => {
  const family = new SinusoidFamily();
  assertAllClose(sinusoidDescriptor(family, { amplitude: 5, phase: 0 }), [1, -1], { atol: 1e-12 });
  assertAllClose(sinusoidDescriptor(family, { amplitude: 2.55, phase: Math.PI }, "amplitude"), [
    0,
  ], { atol: 1e-12 });
  const noisy = (seed: number) =>
    sinusoidDescriptor(family, { amplitude: 1, phase: 1 }, "amplitude+phase", {
      sigma: 0.1,
      rng: new Rng(seed),
    });
  assert.deepEqual(noisy(1), noisy(1));
  assert.notDeepEqual(noisy(1), noisy(2));
  assert.deepEqual(noisyDescriptors([[1, 0]], 0, new Rng(0)), [[1, 0]]);
  assert.throws(() => noisyDescriptors([[1]], -1, new Rng(0)), /sigma must be/);
});

Deno.test("AttributePrototypes.adapt: c_k = (w·g(a_k) + Σ f(x)) / (w + K), logits −‖q − c_k‖²", () => {
  const g = new AttributePrototypes({ rng: new Rng(0), attributeSize: 2, embeddingSize: 2 });
  g.params[0].assign(tf.tensor2d([[1, 0], [0, 1]])); // g(a) = a
  g.params[1].assign(tf.zeros([2]));
  const embeddings = tf.tensor2d([[3, 0], [1, 0], [0, 4]]);
  const labels = tf.tensor1d([0, 0, 1], "int32");
  const q = tf.tensor2d([[5 / 3, 0], [0, 2.5]]);
  // Class 0: (1·[1, 0] + [3, 0] + [1, 0]) / 3 = [5/3, 0]; class 1: (1·[0, 1] + [0, 4]) / 2 = [0, 2.5].
  const both = g.adapt([[1, 0], [0, 1]], { support: { embeddings, labels }, priorWeight: 1 });
  const d01 = (5 / 3) ** 2 + 2.5 ** 2;
  assertAllClose(both.predict(q), [[0, -d01], [-d01, 0]], { atol: 1e-5 });
  both.dispose();
  // Zero-shot: the prototypes are g(a) themselves.
  const zero = g.adapt([[1, 0], [0, 1]]);
  assertAllClose(zero.predict(tf.tensor2d([[1, 0]])), [[0, -2]], { atol: 1e-6 });
  zero.dispose();
  assert.throws(() => g.adapt([[1, 0]], { priorWeight: 0 }), /priorWeight 0 with no support set/);
  tf.dispose([embeddings, labels, q]);
  g.dispose();
});

Deno.test("AttributePrototypes.fit learns a map that places unseen classes from their attributes", () => {
  // Embeddings are 2·a + noise: the fitted g must send an unseen attribute row near 2·a.
  const rng = new Rng(1);
  const seen = [[1, 0], [0, 1], [0, 0]];
  const rows: number[][] = [];
  const labels: number[] = [];
  seen.forEach((a, c) => {
    for (let i = 0; i < 30; i++) {
      rows.push(a.map((v) => 2 * v + 0.1 * rng.normal()));
      labels.push(c);
    }
  });
  const g = new AttributePrototypes({ rng: new Rng(2), attributeSize: 2, embeddingSize: 2 });
  const x = tf.tensor2d(rows);
  const y = tf.tensor1d(labels, "int32");
  const losses = g.fit(x, y, seen, 400);
  assert.ok(losses.at(-1)! < losses[0] / 4, `loss ${losses[0]} → ${losses.at(-1)}`);
  const zero = g.adapt([[1, 1], [2, 0]]); // never seen
  const logits = zero.predict(tf.tensor2d([[2, 2], [4, 0]]));
  assert.deepEqual(Array.from(tf.argMax(logits, 1).dataSync()), [0, 1]);
  tf.dispose([x, y, logits]);
  zero.dispose();
  g.dispose();
});

Deno.test("AttributeProtoNet: needs the episode's classes; a meta-step leaks no tensor", async () => {
  const attributes = [[1, 0], [0, 1], [1, 1]];
  const learner = new AttributeProtoNet(mlp([4, 8]), 8, {
    rng: new Rng(0),
    attributes,
    objective: { metaBatchSize: 1, outerLr: 0.01 },
  });
  const rng = new Rng(5);
  const episode = () => ({
    support: { x: tf.tensor2d(rng.normalArray(8), [2, 4]), y: tf.tensor1d([0, 1], "int32") },
    query: { x: tf.tensor2d(rng.normalArray(8), [2, 4]), y: tf.tensor1d([0, 1], "int32") },
  });
  const bare = episode();
  assert.throws(() => learner.metaStep([bare]), /meta\.classes/);
  tf.dispose([bare.support.x, bare.support.y, bare.query.x, bare.query.y]);
  await assertNoTensorLeak(() => {
    const task = { ...episode(), meta: { classes: [2, 0] } };
    learner.metaStep([task]);
    tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
  });
  learner.dispose();
});

/** A toy family: lines y = w·x, w ∈ [−2, 2], x ∈ [−1, 1]; the descriptor is w/2. */
const lines: FunctionFamily<{ slope: number }> = {
  name: "lines",
  inputRange: [-1, 1],
  sampleParams: (rng) => ({ slope: rng.uniform(-2, 2) }),
  evaluate: ({ slope }, xs) => Float32Array.from(xs, (x) => slope * x),
};

async function trainedToy(seed: number, { metaSteps = 150, encoderSteps = 300 } = {}) {
  const mc = new MetaClassifier(mlp([1, 20, 20, 1]), {
    rng: new Rng(seed),
    kind: "regression",
    inputShape: [1],
    outputs: 1,
    contextSize: 2,
    objective: { innerSteps: 1, innerLr: 1.0, outerLr: 0.01, metaBatchSize: 10 },
  });
  const source = new RegressionTaskSampler(lines, { shots: 5, queries: 5 });
  await metaTrain(mc, taskSampler(source, new Rng(seed + 1)), {
    steps: metaSteps,
    metaBatchSize: 10,
  });
  const zs = new DescriptorContext(mc, {
    rng: new Rng(seed + 2),
    descriptorSize: 1,
    hidden: [16],
    lr: 0.01,
  });
  const rng = new Rng(seed + 3);
  for (let s = 0; s < encoderSteps; s++) {
    const batch = source.sampleBatch(rng, 10);
    const descriptors = tf.tensor2d(batch.metas.map((m) => [m.params.slope / 2]));
    zs.step({ descriptors, x: batch.query.x, y: batch.query.y });
    tf.dispose([descriptors, batch.support.x, batch.support.y, batch.query.x, batch.query.y]);
  }
  return { mc, zs };
}

Deno.test("DescriptorContext predicts a line it never saw from its slope alone (MSE < 5% of the task's variance)", async () => {
  const { mc, zs } = await trainedToy(0);
  const x = tf.tensor2d(Array.from({ length: 41 }, (_, i) => [-1 + i / 20]));
  try {
    for (const slope of [1.3, -0.7]) {
      const truth = tf.mul(slope, x);
      const model = zs.adapt([slope / 2]);
      const err = tf.tidy(() => tf.mean(tf.square(tf.sub(model.predict(x), truth))).dataSync()[0]);
      // Var(y) = slope² · E[x²] ≈ slope² · 0.35 on this grid.
      const variance = tf.tidy(() => tf.mean(tf.square(truth)).dataSync()[0]);
      assert.ok(err < 0.05 * variance, `slope ${slope}: MSE ${err} vs variance ${variance}`);
      // Knowing nothing (c = 0) is far worse: the description carries the task.
      const blind = zs.adapt(null);
      const blindErr = tf.tidy(() =>
        tf.mean(tf.square(tf.sub(blind.predict(x), truth))).dataSync()[0]
      );
      assert.ok(blindErr > 4 * err, `slope ${slope}: blind ${blindErr} vs described ${err}`);
      tf.dispose([truth]);
      model.dispose();
      blind.dispose();
    }
    // "Both": from g(d), steps on a support set of the task keep the error small.
    const support = { x: tf.tensor2d([[-0.5], [0.5]]), y: tf.tensor2d([[-0.65], [0.65]]) };
    const refined = zs.adapt([1.3 / 2], support, { steps: 3, lr: 0.5 });
    const err = tf.tidy(() =>
      tf.mean(tf.square(tf.sub(refined.predict(x), tf.mul(1.3, x)))).dataSync()[0]
    );
    assert.ok(err < 0.05, `both: MSE ${err}`);
    refined.dispose();
    tf.dispose([support.x, support.y]);
    assert.throws(() => zs.adapt([0.1], undefined, { steps: 2 }), /no support set/);
    assert.throws(() => zs.adapt([0.1, 0.2]), /length 1/);
  } finally {
    x.dispose();
    zs.dispose();
    mc.dispose();
  }
});

Deno.test("DescriptorContext is deterministic per seed and leaks no tensor", async () => {
  const short = { metaSteps: 20, encoderSteps: 20 }; // determinism needs no converged model
  const a = await trainedToy(4, short);
  const b = await trainedToy(4, short);
  const c = await trainedToy(5, short);
  const d = tf.tensor2d([[0.3], [-0.8]]);
  const ctx = (m: typeof a) => Array.from(m.zs.contexts(d).dataSync());
  try {
    assert.deepEqual(ctx(a), ctx(b));
    assert.notDeepEqual(ctx(a), ctx(c));
    const source = new RegressionTaskSampler(lines, { shots: 3, queries: 3 });
    const rng = new Rng(9);
    await assertNoTensorLeak(() => {
      const batch = source.sampleBatch(rng, 4);
      const descriptors = tf.tensor2d(batch.metas.map((m) => [m.params.slope / 2]));
      a.zs.step({ descriptors, x: batch.query.x, y: batch.query.y });
      const task = source.sample(rng);
      const model = a.zs.adapt([0.2], task.support, { steps: 2 });
      model.predict(task.query.x).dispose();
      model.dispose();
      tf.dispose([descriptors, batch.support.x, batch.support.y, batch.query.x, batch.query.y]);
      tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
    });
    const g = new AttributePrototypes({ rng: new Rng(0), attributeSize: 2, embeddingSize: 3 });
    const e = tf.tensor2d([[1, 2, 3], [0, 1, 0]]);
    const l = tf.tensor1d([0, 1], "int32");
    await assertNoTensorLeak(() => {
      g.fit(e, l, [[1, 0], [0, 1]], 2);
      const m = g.adapt([[1, 0], [0, 1]], { support: { embeddings: e, labels: l } });
      m.predict(e).dispose();
      m.dispose();
    });
    tf.dispose([e, l]);
    g.dispose();
  } finally {
    d.dispose();
    for (const m of [a, b, c]) (m.zs.dispose(), m.mc.dispose());
  }
});

Deno.test("sinusoid-zero-shot and mnist-zero-shot on tiny configs: the same numbers per seed, no tensor left behind", async () => {
  const cases = [
    {
      experiment: sinusoidZeroShot,
      overrides: { trainSteps: 2, encoderSteps: 3, testTasks: 3, noise: [0, 1] },
      otherSeed: true,
    },
    {
      experiment: mnistZeroShot,
      overrides: {
        trainSteps: 1,
        filters: 4,
        fitPerClass: 10,
        mapSteps: 2,
        testEpisodes: 2,
        noise: [0, 1],
      },
      otherSeed: false, // a Conv-4 on the cpu backend is slow; sinusoids show seeds matter
    },
  ] as const;
  for (const { experiment, overrides, otherSeed } of cases) {
    // deno-lint-ignore no-explicit-any
    const e = experiment as any;
    const config = resolveConfig(e.schema, "quick", overrides);
    const metrics = async (seed: number) =>
      e.summarize(await e.run(config, runContext(seed)), config).metrics;
    const before = tf.memory().numTensors;
    const first = await metrics(3);
    assert.equal(tf.memory().numTensors, before, `${experiment.name}: tensors left behind`);
    assert.deepEqual(await metrics(3), first, `${experiment.name}: seed 3 twice`);
    if (otherSeed) {
      assert.notDeepEqual(await metrics(4), first, `${experiment.name}: seeds 3 and 4`);
    }
    assert.ok(first.every((m: { value: number }) => Number.isFinite(m.value)), experiment.name);
  }
});
