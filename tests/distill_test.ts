/**
 * Knowledge distillation (lib/distill): Hinton et al.'s loss against a value computed by
 * hand, its α = 0 and T → ∞ limits, the T² factor keeping the soft gradient's size
 * independent of T, a distilled student beating the same student trained alone where it
 * must, the few-shot student learning from a ProtoNet teacher, the cost measures, and no
 * tensor leaks in either training loop.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import {
  Classifier,
  countErrors,
  distillationLoss,
  DistilledProtoNet,
  ExampleBatches,
  flopsPerExample,
  parameterCount,
  softTargetLoss,
  softTargets,
  type Teacher,
  teacherLogits,
  teacherOf,
  timePerEpisode,
} from "../lib/distill/mod.ts";
import { ArrayDataset } from "../lib/datasets/mod.ts";
import {
  mnistDistill,
  type MnistDistillResult,
  mnistDistillSplit,
  omniglotDistill,
  resolveConfig,
} from "../lib/experiments/mod.ts";
import { metaTrain, ProtoNet, taskSampler } from "../lib/meta/mod.ts";
import { conv4, mlp, softmaxCrossEntropy } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import type { Episode } from "../lib/tasks/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";
import { clusterSampler, clusterTask } from "./meta_fixtures.ts";

await initBackend("wasm");

const ids = (values: number[]) => tf.tensor1d(values, "int32");

Deno.test("distillationLoss: the value computed by hand", () => {
  // Student z = (1, 0), teacher v = (0, 1), label 0, T = 2, α = 0.5.
  // At T = 2: student (σ(½), σ(−½)) = (0.622459, 0.377541), teacher the reverse, and as
  // ln(0.622459 / 0.377541) = ½, KL(teacher ‖ student) = (0.622459 − 0.377541) · ½ = 0.122459;
  // T²·KL = 0.489836. Hard term −ln σ(1) = ln(1 + e⁻¹) = 0.313262.
  // L = 0.5 · 0.489836 + 0.5 · 0.313262 = 0.401549.
  const z = tf.tensor2d([[1, 0]]);
  const v = tf.tensor2d([[0, 1]]);
  const loss = distillationLoss(z, v, ids([0]), { temperature: 2, alpha: 0.5 });
  assertAllClose(loss, 0.401549, { atol: 1e-5 });
  assertAllClose(softTargetLoss(z, v, 2), 0.489836, { atol: 1e-5 });
  assertAllClose(softTargets(tf.tensor2d([[4, 0]]), 4), [[0.731059, 0.268941]], { atol: 1e-5 });
  tf.dispose([z, v, loss]);
});

Deno.test("distillationLoss: α = 0 is cross-entropy, α = 1 ignores the labels", () => {
  const rng = new Rng(3);
  const z = tf.tensor2d(rng.normalArray(4 * 5, 0, 2), [4, 5]);
  const v = tf.tensor2d(rng.normalArray(4 * 5, 0, 2), [4, 5]);
  const y = ids([0, 3, 1, 4]);
  assertAllClose(
    distillationLoss(z, v, y, { temperature: 3, alpha: 0 }),
    softmaxCrossEntropy(z, y),
    { atol: 1e-7 },
  );
  const a = distillationLoss(z, v, y, { temperature: 3, alpha: 1 });
  const b = distillationLoss(z, v, ids([2, 2, 2, 2]), { temperature: 3, alpha: 1 });
  assertAllClose(a, b, { atol: 0 });
  assertAllClose(a, softTargetLoss(z, v, 3), { atol: 0 });
  // Identical logits: no soft loss at any temperature.
  assertAllClose(softTargetLoss(z, z, 7), 0, { atol: 1e-6 });
});

Deno.test("distillationLoss: T → ∞ tends to matching mean-centred logits, (1/2C)·Σ(d − d̄)²", () => {
  const rng = new Rng(5);
  const classes = 5;
  const zData = rng.normalArray(3 * classes);
  const vData = rng.normalArray(3 * classes);
  const z = tf.tensor2d(zData, [3, classes]);
  const v = tf.tensor2d(vData, [3, classes]);
  let limit = 0;
  for (let r = 0; r < 3; r++) {
    const d = Array.from(
      { length: classes },
      (_, i) => zData[r * classes + i] - vData[r * classes + i],
    );
    const mean = d.reduce((s, x) => s + x, 0) / classes;
    limit += d.reduce((s, x) => s + (x - mean) ** 2, 0) / (2 * classes) / 3;
  }
  const gap = (t: number) => Math.abs(softTargetLoss(z, v, t).dataSync()[0] - limit) / limit;
  // The expansion's next term is O(1/T): the relative gap shrinks about tenfold from T = 3 to 30.
  assert.ok(gap(30) < 0.03, `T = 30: ${gap(30)} from the limit ${limit}`);
  assert.ok(gap(30) < gap(3) / 5, `gap at T = 3: ${gap(3)}, at T = 30: ${gap(30)}`);
  tf.dispose([z, v]);
});

Deno.test("the T² factor: the soft term's gradient has the same size at every high T", () => {
  const rng = new Rng(8);
  const z = tf.tensor2d(rng.normalArray(6 * 10, 0, 3), [6, 10]);
  const v = tf.tensor2d(rng.normalArray(6 * 10, 0, 3), [6, 10]);
  const norm = (t: number, scaled: boolean) =>
    tf.tidy(() => {
      const g = tf.grad((s: tf.Tensor) =>
        scaled ? softTargetLoss(s, v, t) : tf.div(softTargetLoss(s, v, t), t * t)
      )(z);
      return tf.norm(g).dataSync()[0];
    });
  const [n10, n20, n40] = [10, 20, 40].map((t) => norm(t, true));
  assert.ok(Math.abs(n20 / n40 - 1) < 0.02, `with T²: |∇| ${n20} at T = 20, ${n40} at T = 40`);
  assert.ok(Math.abs(n10 / n40 - 1) < 0.06, `with T²: |∇| ${n10} at T = 10, ${n40} at T = 40`);
  // Without it, doubling T divides the gradient by about 4: what the factor undoes.
  const ratio = norm(20, false) / norm(40, false);
  assert.ok(Math.abs(ratio - 4) < 0.1, `without T²: |∇(T = 20)| / |∇(T = 40)| = ${ratio}`);
  tf.dispose([z, v]);
});

Deno.test("distillation options: a bad temperature or α names the value", () => {
  const z = tf.tensor2d([[1, 0]]);
  assert.throws(() => distillationLoss(z, z, ids([0]), { temperature: 0 }), /temperature.*got 0/);
  assert.throws(() => distillationLoss(z, z, ids([0]), { alpha: 1.5 }), /alpha.*got 1.5/);
  assert.throws(() => softTargetLoss(z, tf.tensor2d([[1, 0, 0]]), 2), /same shape/);
  z.dispose();
});

/**
 * A toy problem where distillation must win: 5 classes in 12 dimensions, labels given by a
 * linear teacher's argmax, and only 20 labelled training points. Alone, a linear student
 * sees 20 hard labels, too few to find the 5 × 12 boundary; distilled, it sees the
 * teacher's 5 logits per point, from which a linear student can recover the teacher almost
 * exactly (20 points × 4 centred logits ≥ its 12 × 4 free weights per centred class).
 */
function toyProblem() {
  const rng = new Rng(11);
  const dim = 12;
  const classes = 5;
  const w = tf.tensor2d(rng.normalArray(dim * classes, 0, 2), [dim, classes]);
  const teacher: Teacher = { logits: (x) => tf.matMul(x, w) };
  const points = (n: number) => {
    const x = tf.tensor2d(rng.normalArray(n * dim), [n, dim]);
    const y = tf.tidy(() => tf.cast(tf.argMax(teacher.logits(x), -1), "int32"));
    return { x, y };
  };
  const train = points(20);
  const test = points(1000);
  const xData = train.x.dataSync().slice();
  const yData = train.y.dataSync().slice();
  // The whole training set as one batch each step (fresh tensors: training disposes them).
  const batches = {
    sample: (): Episode => ({
      support: { x: tf.tensor2d(xData, [20, dim]), y: tf.tensor1d(yData, "int32") },
      query: { x: tf.zeros([0, dim]), y: tf.zeros([0], "int32") },
    }),
  };
  return {
    dim,
    classes,
    teacher,
    train,
    test,
    batches,
    dispose: () => tf.dispose([w, train, test]),
  };
}

Deno.test("a distilled student beats the same student trained alone (seeded toy problem)", async () => {
  const toy = toyProblem();
  const errors = async (teacher?: Teacher) => {
    const student = new Classifier(mlp([toy.dim, toy.classes]), {
      rng: new Rng(1),
      objective: { outerLr: 0.05 },
      teacher,
      distill: { temperature: 5, alpha: 0.9 },
    });
    await metaTrain(student, taskSampler(toy.batches, new Rng(2)), {
      steps: 500,
      metaBatchSize: 1,
    });
    const wrong = countErrors(student, toy.test.x, toy.test.y);
    student.dispose();
    return wrong;
  };
  const alone = await errors();
  const distilled = await errors(toy.teacher);
  // The student fits its 20 labels alone (they are separable), yet errs on many test points;
  // distilled it is close to the teacher, which errs on none.
  assert.ok(alone > 100, `alone: ${alone} of 1000 test errors`);
  assert.ok(distilled < 60 && distilled < alone / 5, `distilled ${distilled} vs alone ${alone}`);
  toy.dispose();
});

Deno.test("Classifier: α = 0 trains exactly as without a teacher; the teacher is not changed", async () => {
  const toy = toyProblem();
  const train = async (teacher?: Teacher) => {
    const c = new Classifier(mlp([toy.dim, 8, toy.classes]), {
      rng: new Rng(4),
      teacher,
      distill: { alpha: 0, temperature: 3 },
    });
    await metaTrain(c, taskSampler(toy.batches, new Rng(2)), { steps: 5, metaBatchSize: 1 });
    const out = c.params.map((p) => p.arraySync());
    c.dispose();
    return out;
  };
  assert.deepEqual(await train(toy.teacher), await train());
  // A trained Classifier as teacher: its parameters are the same after the student's steps.
  const teacher = new Classifier(mlp([toy.dim, toy.classes]), { rng: new Rng(6) });
  const before = teacher.params.map((p) => p.arraySync());
  const student = new Classifier(mlp([toy.dim, toy.classes]), {
    rng: new Rng(7),
    teacher: teacherOf(teacher),
  });
  await metaTrain(student, taskSampler(toy.batches, new Rng(2)), { steps: 5, metaBatchSize: 1 });
  assert.deepEqual(teacher.params.map((p) => p.arraySync()), before);
  assert.equal(student.name, "distilled");
  tf.dispose([teacher, student].map((l) => l.dispose()) as never);
  toy.dispose();
});

Deno.test("countErrors counts the wrong rows and checks the labels' length", () => {
  const fixed = { adapt: () => ({ predict: (x: tf.Tensor) => tf.clone(x), dispose: () => {} }) };
  const logits = tf.tensor2d([[2, 1], [0, 3], [5, 4]]); // argmax 0, 1, 0
  assert.equal(countErrors(fixed, logits, ids([0, 0, 1]), 2), 2);
  assert.throws(() => countErrors(fixed, logits, ids([0])), /3 inputs but 1 labels/);
  logits.dispose();
});

Deno.test("DistilledProtoNet learns from a ProtoNet teacher's episode logits", async () => {
  const embedding = (width: number) => mlp([8, width, width]);
  const objective = { outerLr: 0.01 };
  const teacher = new ProtoNet(embedding(32), { rng: new Rng(0), objective });
  await metaTrain(teacher, clusterSampler(new Rng(1)), { steps: 100, metaBatchSize: 1 });
  const student = new DistilledProtoNet(embedding(8), {
    rng: new Rng(2),
    objective,
    teacher,
    distill: { temperature: 2, alpha: 0.5 },
  });
  // How far the student's episode logits are from the teacher's, on 20 held-out episodes.
  const held = Array.from({ length: 20 }, (_, i) => clusterTask(new Rng(100 + i)));
  const gapToTeacher = () =>
    held.reduce((sum, task) =>
      sum + tf.tidy(() =>
        softTargetLoss(
          student.logits(student.params, task.support, task.query.x),
          teacher.logits(teacher.params, task.support, task.query.x),
          2,
        ).dataSync()[0]
      ), 0) / held.length;
  const accuracyNow = () =>
    held.reduce((sum, task) => {
      const adapted = student.adapt(task.support);
      const acc = tf.tidy(() =>
        tf.mean(
          tf.cast(tf.equal(tf.argMax(adapted.predict(task.query.x), -1), task.query.y), "float32"),
        )
          .dataSync()[0]
      );
      adapted.dispose();
      return sum + acc;
    }, 0) / held.length;
  const before = gapToTeacher();
  const teacherBefore = teacher.params.map((p) => p.arraySync());
  await metaTrain(student, clusterSampler(new Rng(3)), { steps: 100, metaBatchSize: 1 });
  assert.deepEqual(teacher.params.map((p) => p.arraySync()), teacherBefore);
  const after = gapToTeacher();
  assert.ok(after < before / 2, `T²·KL to the teacher ${before} → ${after}`);
  // At test time it is a ProtoNet on its own embedding: well above chance (20%) on new clusters.
  const acc = accuracyNow();
  assert.ok(acc > 0.5, `student accuracy ${acc}`);
  assert.equal(student.name, "protonet-distilled");
  tf.dispose(held.flatMap((e) => [e.support, e.query]) as never);
  teacher.dispose();
  student.dispose();
});

Deno.test("no tensor leaks: the student's step, with a classifier and with a ProtoNet teacher", async () => {
  const toy = toyProblem();
  const student = new Classifier(mlp([toy.dim, 6, toy.classes]), {
    rng: new Rng(1),
    teacher: toy.teacher,
  });
  await assertNoTensorLeak(() => {
    const [batch] = taskSampler(toy.batches, new Rng(0))(1);
    student.metaStep([batch]);
    tf.dispose([batch.support, batch.query] as never);
  });
  await assertNoTensorLeak(() => countErrors(student, toy.test.x, toy.test.y));
  student.dispose();
  toy.dispose();

  const teacher = new ProtoNet(mlp([8, 16, 16]), { rng: new Rng(0) });
  const fewShot = new DistilledProtoNet(mlp([8, 4, 4]), { rng: new Rng(1), teacher });
  const rng = new Rng(2);
  await assertNoTensorLeak(() => {
    const task = clusterTask(rng);
    fewShot.metaStep([task]);
    tf.dispose([task.support, task.query] as never);
  });
  const episodes = [clusterTask(rng), clusterTask(rng)];
  await assertNoTensorLeak(() => timePerEpisode(fewShot, episodes, { warmup: 0 }));
  tf.dispose(episodes.flatMap((e) => [e.support, e.query]) as never);
  teacher.dispose();
  fewShot.dispose();
});

Deno.test("parameters and FLOPs per example, as counted by hand", () => {
  // 784·30 + 30 + 30·30 + 30 + 30·10 + 10 = 24,790; FLOPs 2·(784·30 + 30·30 + 30·10) = 49,440.
  const small = mlp([784, 30, 30, 10]);
  assert.equal(parameterCount(small), 24_790);
  assert.equal(flopsPerExample(small, [784]), 49_440);
  // Conv-4 (64, bn): block 1 9·1·64 + 2·64 = 704; blocks 2–4: 9·64·64 + 128 = 36,992 each.
  const big = conv4({ inputShape: [28, 28, 1], outputs: 0 });
  assert.equal(parameterCount(big), 704 + 3 * 36_992);
  // 28×28 → 14 → 7 → 3: 2·9·(1·64·784 + 64·64·196 + 64·64·49 + 64·64·9).
  assert.equal(flopsPerExample(big, [28, 28, 1]), 2 * 9 * (64 * 784 + 4096 * (196 + 49 + 9)));
  // Conv-4 with 20 filters: about 10× fewer parameters.
  const student = conv4({ inputShape: [28, 28, 1], outputs: 0, filters: 20 });
  const ratio = parameterCount(big) / parameterCount(student);
  assert.ok(ratio > 9.9 && ratio < 10.2, `parameter ratio ${ratio}`);
  assert.throws(() => flopsPerExample(big, [784]), /expected inputShape \[H, W, C\]/);
});

Deno.test("timePerEpisode times every episode after the warm-up", () => {
  let calls = 0;
  const learner = {
    adapt: () => ({
      predict: (x: tf.Tensor) => {
        calls++;
        return tf.clone(x);
      },
      dispose: () => {},
    }),
  };
  const task = clusterTask(new Rng(0));
  const t = timePerEpisode(learner, [task, task, task], { warmup: 2 });
  assert.equal(calls, 5);
  assert.equal(t.episodes, 3);
  assert.ok(t.medianMs >= 0 && t.meanMs >= 0);
  assert.throws(() => timePerEpisode(learner, []), /no episodes/);
  tf.dispose([task.support, task.query] as never);
});

Deno.test("ExampleBatches serve the teacher's precomputed logits of exactly the batch drawn", () => {
  const rng = new Rng(4);
  const data = new ArrayDataset({
    name: "toy",
    data: rng.normalArray(30 * 6),
    itemShape: [2, 3],
    labels: Array.from({ length: 30 }, (_, i) => i % 3),
  });
  const w = tf.tensor2d(rng.normalArray(6 * 3), [6, 3]);
  const teacher: Teacher = { logits: (x) => tf.matMul(tf.reshape(x, [-1, 6]), w) };
  const train = Array.from({ length: 20 }, (_, i) => i + 5); // examples 5 … 24
  const logits = teacherLogits(teacher, data, train, { batchSize: 7 });
  assert.equal(logits.length, 20 * 3);
  const batches = new ExampleBatches(data, train, { batchSize: 8, teacherLogits: logits });
  const batch = batches.sample(new Rng(1));
  assert.deepEqual(batch.support.x.shape, [8, 2, 3]);
  assert.deepEqual(batch.query.x.shape, [0, 2, 3]);
  // Looked up, not recomputed, yet the same numbers as the teacher's forward pass.
  assertAllClose(batches.logits(batch.support.x), teacher.logits(batch.support.x), { atol: 1e-5 });
  assert.throws(() => batches.logits(tf.zeros([8, 2, 3])), /not the input of a batch/);
  // Labels are the examples' own; flattened inputs are rows.
  const flat = new ExampleBatches(data, train, { batchSize: 4, flatten: true });
  const b = flat.sample(new Rng(2));
  assert.deepEqual(b.support.x.shape, [4, 6]);
  const rows = b.support.x.arraySync() as number[][];
  const ys = b.support.y.arraySync() as number[];
  rows.forEach((row, i) => {
    const example = train.find((e) => data.data[e * 6] === row[0])!;
    assert.equal(ys[i], data.labels[example]);
  });
  assert.throws(() => flat.logits(b.support.x), /no teacher/);
  assert.throws(() => new ExampleBatches(data, [30], { batchSize: 1 }), /example 30 is outside/);
  tf.dispose([w, batch.support, batch.query, b.support, b.query] as never);
});

Deno.test("mnist-distill's split: 2,000 test digits, every 5th, disjoint from the 8,000 training ones", () => {
  const { train, test } = mnistDistillSplit();
  assert.equal(train.length, 8000);
  assert.equal(test.length, 2000);
  assert.ok(test.every((i) => i % 5 === 4));
  const seen = new Set(train);
  assert.ok(test.every((i) => !seen.has(i)));
});

Deno.test("ExampleBatches' jitter shifts each image by at most the given pixels, zeros where it left", () => {
  const image = Array.from({ length: 9 }, (_, i) => i + 1); // 3×3: 1 2 3 / 4 5 6 / 7 8 9
  const data = new ArrayDataset({
    name: "one",
    data: Float32Array.from(image),
    itemShape: [3, 3, 1],
    labels: [0],
  });
  const shifted = (dx: number, dy: number) =>
    image.map((_, i) => {
      const [r, c] = [Math.floor(i / 3) - dy, (i % 3) - dx];
      return r >= 0 && r < 3 && c >= 0 && c < 3 ? image[r * 3 + c] : 0;
    });
  const all = [-1, 0, 1].flatMap((dx) => [-1, 0, 1].map((dy) => shifted(dx, dy).join()));
  const batches = new ExampleBatches(data, [0], { batchSize: 40, jitter: 1 });
  const b = batches.sample(new Rng(0));
  const rows = (b.support.x.reshape([40, 9]).arraySync() as number[][]).map((r) => r.join());
  assert.ok(
    rows.every((r) => all.includes(r)),
    `a shift of more than 1 pixel: ${rows.find((r) => !all.includes(r))}`,
  );
  assert.ok(new Set(rows).size > 3, `40 draws gave only ${new Set(rows).size} different shifts`);
  assert.throws(() => new ExampleBatches(data, [0], { batchSize: 1, jitter: 1.5 }), /jitter/);
  tf.dispose([b.support, b.query] as never);
});

Deno.test("mnist-distill's summary: teacher, then per size alone and each T, mean ± CI over seeds", () => {
  const config = resolveConfig(mnistDistill.schema, "full", {});
  const history = {
    step: [0],
    loss: [1],
    dataLoss: [1],
    accuracy: [0.5],
    gradNorm: [1],
    wallMs: 1,
  };
  const model = (
    method: "teacher" | "alone" | "distilled",
    hidden: number,
    seed: number,
    errors: number,
    temperature?: number,
  ) => ({
    label: `${method}-${hidden}-${temperature}-${seed}`,
    method,
    hidden,
    seed,
    errors,
    temperature,
    history,
  });
  const result: MnistDistillResult = {
    testSize: 2000,
    trainSize: 8000,
    models: [
      model("teacher", 400, 0, 40),
      model("alone", 30, 0, 140),
      model("alone", 30, 1, 150),
      model("distilled", 30, 0, 130, 2),
      model("distilled", 30, 1, 130, 2),
    ],
    costs: [],
    ambiguous: { index: 0, label: 0, pixels: [], logits: [] },
    wallMs: 1000,
  };
  const out = mnistDistill.summarize(result, { ...config, studentSizes: [30], temperatures: [2] });
  assert.deepEqual(out.metrics.map((m) => [m.name, m.value, m.episodes]), [
    ["teacher MLP 2×400 test errors", 40, undefined],
    ["student MLP 2×30 alone test errors", 145, 2],
    ["student MLP 2×30 distilled T=2 test errors", 130, 2],
  ]);
  // 1.96 · std / √n with std = 5 (ddof 0) over 2 seeds; equal values: a CI of 0.
  assertAllClose(out.metrics[1].ci95!, 1.96 * 5 / Math.SQRT2, { atol: 1e-9 });
  assert.equal(out.metrics[2].ci95, 0);
  assert.ok(out.metrics.every((m) => m.higherIsBetter === false && m.unit === "errors of 2000"));
  assert.throws(
    () => mnistDistill.learner!("nobody", config),
    /unknown mnist-distill learner "nobody"/,
  );
  assert.equal(mnistDistill.learner!("distilled-h30-T2-s1", config).params[0].shape[1], 30);
  assert.deepEqual(mnistDistill.check!({ ...config, studentSizes: [30.5] }), [
    "studentSizes: 30.5 is not a whole number of units",
  ]);
});

Deno.test("omniglot-distill refuses a shipped teacher of another size and too many shots", () => {
  const quick = resolveConfig(omniglotDistill.schema, "quick", {});
  assert.deepEqual(omniglotDistill.check!(quick), []);
  const problems = omniglotDistill.check!({ ...quick, teacherFilters: 32, testShots: [1, 10] });
  assert.match(problems.join("\n"), /teacher=shipped is a 64-filter Conv-4, but teacherFilters=32/);
  assert.match(problems.join("\n"), /testShots 10 \+ queries 15 > Omniglot's 20 drawings/);
  // The student's network is 10× smaller than the teacher's.
  const teacher = omniglotDistill.learner!("teacher", quick);
  const student = omniglotDistill.learner!("distilled", quick);
  const count = (l: typeof teacher) => l.params.reduce((n, p) => n + p.size, 0);
  assert.ok(Math.abs(count(teacher) / count(student) - 10) < 0.1);
  assert.throws(() => omniglotDistill.learner!("nobody", quick), /expected teacher, student/);
  teacher.dispose();
  student.dispose();
});
