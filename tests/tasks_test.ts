import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { ArrayDataset, loadMnist, makeClassSplits, SinusoidFamily } from "../lib/datasets/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import {
  composeTransforms,
  disposeTask,
  EpisodeSampler,
  kShots,
  nWays,
  RegressionTaskSampler,
  remapLabels,
  sameShapes,
  stackTasks,
} from "../lib/tasks/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";

await tf.setBackend("cpu");

/** `classes` classes × `perClass` examples of 2×2×1; each value encodes (example, pixel). */
function toy(classes = 10, perClass = 8): ArrayDataset {
  const n = classes * perClass;
  const data = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) for (let p = 0; p < 4; p++) data[i * 4 + p] = i * 10 + p;
  const labels = Array.from({ length: n }, (_, i) => Math.floor(i / perClass));
  return new ArrayDataset({ name: "toy", data, itemShape: [2, 2, 1], labels });
}

Deno.test("episodes are deterministic for a seed and differ across seeds", () => {
  const ds = toy();
  const sampler = new EpisodeSampler(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], {
    ways: 3,
    shots: 2,
    queries: 3,
  });
  const a = sampler.sample(new Rng(7));
  const b = sampler.sample(new Rng(7));
  const c = sampler.sample(new Rng(8));
  assert.deepEqual(a.meta.classes, b.meta.classes);
  assertAllClose(a.support.x, b.support.x, { rtol: 0, atol: 0 });
  assertAllClose(a.query.x, b.query.x, { rtol: 0, atol: 0 });
  assert.notDeepEqual(
    [a.meta.classes, Array.from(a.meta.supportIndices)],
    [c.meta.classes, Array.from(c.meta.supportIndices)],
  );
  [a, b, c].forEach(disposeTask);
});

Deno.test("labels are remapped to 0..N−1, class-major, balanced, and match the data", () => {
  const ds = toy();
  const [ways, shots, queries] = [4, 3, 2];
  const sampler = new EpisodeSampler(ds, [1, 3, 5, 7, 9], { ways, shots, queries });
  const rng = new Rng(1);
  for (let trial = 0; trial < 20; trial++) {
    const task = sampler.sample(rng);
    const sy = Array.from(task.support.y.dataSync());
    const qy = Array.from(task.query.y.dataSync());
    assert.deepEqual(sy, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    assert.deepEqual(qy, [0, 0, 1, 1, 2, 2, 3, 3]);
    assert.deepEqual(task.support.x.shape, [ways * shots, 2, 2, 1]);
    assert.deepEqual(task.query.x.shape, [ways * queries, 2, 2, 1]);
    assert.equal(task.support.y.dtype, "int32");
    // Chosen classes come from the split and are distinct.
    assert.equal(new Set(task.meta.classes).size, ways);
    assert.ok(task.meta.classes.every((c) => [1, 3, 5, 7, 9].includes(c)));
    // Each example belongs to the class its episode label stands for.
    const check = (indices: Int32Array, labels: number[]) =>
      indices.forEach((ex, i) => assert.equal(ds.labels[ex], task.meta.classes[labels[i]]));
    check(task.meta.supportIndices, sy);
    check(task.meta.queryIndices, qy);
    // Support and query never share an example.
    const support = new Set(task.meta.supportIndices);
    assert.ok(Array.from(task.meta.queryIndices).every((i) => !support.has(i)));
    // Rows hold the dataset's values.
    const x = task.support.x.dataSync();
    task.meta.supportIndices.forEach((ex, i) => {
      for (let p = 0; p < 4; p++) assert.equal(x[i * 4 + p], ex * 10 + p);
    });
    disposeTask(task);
  }
});

Deno.test("classes are drawn uniformly from the split (rough balance over many episodes)", () => {
  const ds = toy(10, 4);
  const sampler = new EpisodeSampler(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], {
    ways: 5,
    shots: 1,
    queries: 1,
  });
  const counts = new Array(10).fill(0);
  const rng = new Rng(11);
  for (let i = 0; i < 2000; i++) for (const c of sampler.plan(rng).classes) counts[c]++;
  // Expected 1000 each; 5 standard deviations of a binomial(2000, 0.5) is ≈ 112.
  assert.ok(counts.every((n) => Math.abs(n - 1000) < 112), `counts ${counts}`);
});

Deno.test("a meta-batch stacks T episodes identical to sequential samples", () => {
  const ds = toy();
  const spec = { ways: 3, shots: 1, queries: 2 };
  const sampler = new EpisodeSampler(ds, [0, 2, 4, 6, 8], spec);
  const batch = sampler.sampleBatch(new Rng(5), 4);
  assert.deepEqual(batch.support.x.shape, [4, 3, 2, 2, 1]);
  assert.deepEqual(batch.support.y.shape, [4, 3]);
  assert.deepEqual(batch.query.x.shape, [4, 6, 2, 2, 1]);
  assert.equal(batch.metas.length, 4);
  const rng = new Rng(5);
  for (let t = 0; t < 4; t++) {
    const task = sampler.sample(rng);
    const bx = tf.tidy(() => batch.support.x.gather([t]).squeeze([0]));
    const qx = tf.tidy(() => batch.query.x.gather([t]).squeeze([0]));
    assertAllClose(bx, task.support.x, { rtol: 0, atol: 0 });
    assertAllClose(qx, task.query.x, { rtol: 0, atol: 0 });
    assert.deepEqual(batch.metas[t].classes, task.meta.classes);
    tf.dispose([bx, qx]);
    disposeTask(task);
  }
  disposeTask(batch);
});

Deno.test("task transforms compose learn2learn-style", () => {
  const ds = toy();
  const pool = Int32Array.from([0, 1, 2, 3]);
  const withoutRemap = composeTransforms([nWays(pool, 2), kShots(ds, 3)])(new Rng(2));
  assert.deepEqual(withoutRemap.labels, withoutRemap.classes); // original labels kept
  assert.ok(
    withoutRemap.examples.every((e, i) =>
      e.length === 3 && e.every((x) => ds.labels[x] === withoutRemap.classes[i])
    ),
  );
  const remapped = composeTransforms([nWays(pool, 2), kShots(ds, 3), remapLabels()])(new Rng(2));
  assert.deepEqual(remapped.classes, withoutRemap.classes);
  assert.deepEqual(remapped.labels, [0, 1]);
});

Deno.test("bad episode specs fail before any work, naming the value", () => {
  const ds = toy(5, 6);
  const all = [0, 1, 2, 3, 4];
  const make = (ways: number, shots: number, queries: number, classes = all) =>
    new EpisodeSampler(ds, classes, { ways, shots, queries }, { splitName: "train split" });
  assert.throws(() => make(6, 1, 1), /ways=6 is more than the 5 classes in the train split/);
  assert.throws(
    () => make(2, 4, 3),
    /shots \+ queries = 4 \+ 3 = 7 is more than the 6 examples of class 0 in the train split/,
  );
  assert.throws(() => make(2.5, 1, 1), /ways must be an integer, got 2.5/);
  assert.throws(() => make(2, -1, 1), /shots must be non-negative, got -1/);
  assert.throws(() => make(2, 1, 0.5), /queries must be an integer, got 0.5/);
  assert.throws(() => make(0, 1, 1), /ways must be ≥ 1, got 0/);
  assert.throws(() => make(2, 0, 0), /shots \+ queries must be ≥ 1/);
  assert.throws(() => make(2, 1, 1, [0, 0, 1]), /class 0 is listed twice/);
  assert.throws(() => make(2, 1, 1, [0, 9]), /class index 9 is outside/);
  const sampler = make(2, 1, 1);
  assert.throws(() => sampler.sampleBatch(new Rng(0), 0), /tasks must be ≥ 1, got 0/);
  assert.throws(
    () => makeClassSplits(ds, { train: [0, 1, 2], test: [2, 3] }),
    /overlapping splits/,
  );
});

Deno.test("within-group episodes draw all N classes from one group (e.g. one alphabet)", () => {
  const n = 12 * 3;
  const classes = Array.from({ length: 12 }, (_, c) => ({
    id: `c${c}`,
    source: `c${c}`,
    group: c < 3 ? "small" : c < 8 ? "A" : "B",
  }));
  const ds = new ArrayDataset({
    name: "grouped",
    data: new Float32Array(n),
    itemShape: [1],
    labels: Array.from({ length: n }, (_, i) => i % 12),
    classes,
  });
  const all = Array.from({ length: 12 }, (_, c) => c);
  const sampler = new EpisodeSampler(ds, all, { ways: 4, shots: 1, queries: 1 }, {
    withinGroup: true,
  });
  const seen = new Set<string>();
  const rng = new Rng(4);
  for (let i = 0; i < 50; i++) {
    const groups = new Set(sampler.plan(rng).classes.map((c) => classes[c].group));
    assert.equal(groups.size, 1);
    seen.add([...groups][0]);
  }
  assert.deepEqual([...seen].sort(), ["A", "B"]); // "small" has only 3 classes
  assert.throws(
    () => new EpisodeSampler(ds, all, { ways: 6, shots: 1, queries: 1 }, { withinGroup: true }),
    /ways=6 is more than the classes of any one group \(the largest has 5\)/,
  );
});

Deno.test("EpisodeSampler.forSplit samples meta-test classes only (MNIST digits)", () => {
  const mnist = loadMnist();
  const splits = makeClassSplits(mnist, { train: [0, 1, 2, 3, 4], val: [5], test: [6, 7, 8, 9] });
  const sampler = EpisodeSampler.forSplit(splits, "test", { ways: 4, shots: 5, queries: 5 });
  const task = sampler.sample(new Rng(0));
  assert.deepEqual([...task.meta.classes].sort(), [6, 7, 8, 9]);
  assert.deepEqual(task.support.x.shape, [20, 28, 28, 1]);
  disposeTask(task);
  assert.throws(
    () => EpisodeSampler.forSplit(splits, "val", { ways: 2, shots: 1, queries: 1 }),
    /ways=2 is more than the 1 classes in the val split/,
  );
});

Deno.test("sinusoid tasks keep their generating parameters and fit them exactly", () => {
  const family = new SinusoidFamily();
  const sampler = new RegressionTaskSampler(family, { shots: 10, queries: 15 });
  const task = sampler.sample(new Rng(3));
  assert.deepEqual(task.support.x.shape, [10, 1]);
  assert.deepEqual(task.query.y.shape, [15, 1]);
  const { amplitude, phase } = task.meta.params;
  const x = task.query.x.dataSync();
  const expected = Array.from(x, (v) => amplitude * Math.sin(v - phase));
  assertAllClose(task.query.y, expected, { rtol: 1e-5, atol: 1e-5 });
  assert.ok(Array.from(x).every((v) => v >= -5 && v < 5));
  disposeTask(task);

  const batch = sampler.sampleBatch(new Rng(3), 25);
  assert.deepEqual(batch.support.x.shape, [25, 10, 1]);
  assert.deepEqual(batch.query.y.shape, [25, 15, 1]);
  assert.deepEqual(batch.metas[0].params, task.meta.params); // same stream as `sample`
  const again = sampler.sampleBatch(new Rng(3), 25);
  assertAllClose(again.query.y, batch.query.y, { rtol: 0, atol: 0 });
  disposeTask(batch);
  disposeTask(again);
  assert.throws(
    () => new RegressionTaskSampler(family, { shots: -2, queries: 1 }),
    /shots must be non-negative, got -2/,
  );
});

Deno.test("sampling and disposing episodes leaks no tensors", async () => {
  const ds = toy();
  const sampler = new EpisodeSampler(ds, [0, 1, 2, 3, 4], { ways: 2, shots: 1, queries: 1 });
  const reg = new RegressionTaskSampler(new SinusoidFamily(), { shots: 5, queries: 5 });
  const rng = new Rng(0);
  await assertNoTensorLeak(() => {
    disposeTask(sampler.sample(rng));
    disposeTask(sampler.sampleBatch(rng, 3));
    disposeTask(reg.sampleBatch(rng, 3));
    disposeTask([reg.sample(rng), sampler.sample(rng)]); // a list of tasks
    const pair = [reg.sample(rng), reg.sample(rng)];
    disposeTask(stackTasks(pair)); // the stacked copy
    disposeTask(pair);
  }, { iterations: 5 });
});

Deno.test("stackTasks gives sampleBatch's layout; episodes of different shapes are refused, naming both", () => {
  const sampler = new RegressionTaskSampler(new SinusoidFamily(), { shots: 4, queries: 6 });
  const rng = new Rng(11);
  const tasks = [sampler.sample(rng), sampler.sample(rng), sampler.sample(rng)];
  const stacked = stackTasks(tasks);
  const batch = sampler.sampleBatch(new Rng(11), 3);
  for (const set of ["support", "query"] as const) {
    assert.deepEqual(stacked[set].x.shape, batch[set].x.shape, `${set}.x`);
    assertAllClose(stacked[set].x, batch[set].x, { rtol: 0, atol: 0, label: `${set}.x` });
    assertAllClose(stacked[set].y, batch[set].y, { rtol: 0, atol: 0, label: `${set}.y` });
  }
  assert.ok(sameShapes(tasks));
  const other = new RegressionTaskSampler(new SinusoidFamily(), { shots: 5, queries: 6 });
  const odd = other.sample(rng);
  assert.equal(sameShapes([...tasks, odd]), false);
  assert.throws(
    () => stackTasks([tasks[0], tasks[1], odd]),
    /episode 0 has support x \[4,1\].*episode 2 has support x \[5,1\]/,
  );
  assert.throws(() => stackTasks([]), /at least one episode, got 0/);
  disposeTask([...tasks, odd, stacked, batch]);
});
