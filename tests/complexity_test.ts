/**
 * The cost of meta-learning, measured (lib/eval/complexity.ts): the memory probe against
 * known allocations, the time-and-memory measurement of a meta-step (second-order MAML holds
 * more than first-order MAML, and more per inner step), and the growth-rate fits.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import { conv4 } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { disposeTask, type Episode } from "../lib/tasks/mod.ts";
import { FirstOrderMaml, Maml } from "../lib/meta/mod.ts";
import {
  growthExponent,
  linearFit,
  measureMemory,
  measureMetaStep,
  median,
  wasmHeapBytes,
} from "../lib/eval/mod.ts";
import {
  COMPLEXITY_LEARNERS,
  type ComplexityPoint,
  fitGrowth,
  omniglotComplexity,
  runConfig,
  runExperiment,
} from "../lib/experiments/mod.ts";

await initBackend("wasm");

/** A 5-way 1-shot episode of random 28×28 images (its cost, not its content, matters here). */
function imageTask(rng: Rng, ways = 5, shots = 1, queries = 5): Episode {
  const set = (per: number) => ({
    x: tf.tensor4d(rng.normalArray(ways * per * 784), [ways * per, 28, 28, 1]),
    y: tf.tensor1d(Array.from({ length: ways * per }, (_, i) => Math.floor(i / per)), "int32"),
  });
  return { support: set(shots), query: set(queries) };
}

Deno.test("measureMemory: a kept tensor is new bytes; a freed intermediate is peak bytes only", async () => {
  // 1,000 float32 zeros kept: exactly 4,000 bytes more after, and at least that at the peak.
  const kept = await measureMemory(() => tf.zeros([1000]));
  try {
    assert.equal(kept.newBytes, 4000);
    assert.equal(kept.newTensors, 1);
    assert.ok(kept.peakExtraBytes >= 4000, `peak ${kept.peakExtraBytes}`);
    assert.equal(kept.endBytes - kept.startBytes, 4000);
    assert.equal(kept.result.shape[0], 1000);
  } finally {
    kept.result.dispose();
  }
  // 250,000 float32 (1 MB) made and freed inside a tidy: the peak sees them, nothing is left
  // but the 4-byte sum.
  const freed = await measureMemory(() => tf.tidy(() => tf.ones([250_000]).sum()));
  try {
    assert.equal(freed.newBytes, 4);
    assert.ok(freed.peakExtraBytes >= 1_000_000, `peak ${freed.peakExtraBytes}`);
    assert.ok(freed.peakExtraBytes < 1_100_000, `peak ${freed.peakExtraBytes}: more than made`);
    assert.equal(freed.result.dataSync()[0], 250_000);
  } finally {
    freed.result.dispose();
  }
  // No kernel at all: no peak beyond the start (tf.profile's own peak would be −∞).
  const none = await measureMemory(() => 7);
  assert.equal(none.result, 7);
  assert.equal(none.kernels, 0);
  assert.equal(none.peakExtraBytes, 0);
  assert.equal(none.newBytes, 0);
});

Deno.test("measureMemory: 200,000 kernels (tf.profile overflows the stack there); not nested", async () => {
  // A 32-task second-order MAML meta-step of 3 inner steps on Conv-4 runs more kernels than
  // this; tf.profile's Math.max.apply over one record per kernel throws RangeError here.
  const n = 200_000;
  const probe = await measureMemory(() =>
    tf.tidy(() => {
      let x = tf.scalar(1);
      for (let i = 0; i < n; i++) x = tf.add(x, 1);
      return x;
    })
  );
  assert.equal(probe.kernels, n);
  assert.equal(probe.result.dataSync()[0], n + 1);
  // Inside the tidy every intermediate scalar stays until it ends: the peak holds all of them.
  assert.ok(probe.peakExtraBytes >= 4 * n, `peak ${probe.peakExtraBytes} B for ${n} scalars`);
  assert.equal(probe.newBytes, 4);
  probe.result.dispose();
  await assert.rejects(
    () => measureMemory(() => measureMemory(() => 1)),
    /measureMemory cannot run inside tf.profile or another measureMemory/,
  );
  // The failed nested call left profiling off: a later probe sees its kernels again.
  const after = await measureMemory(() => tf.tidy(() => tf.ones([10]).sum()));
  assert.ok(after.kernels >= 1);
  after.result.dispose();
});

Deno.test("measureMemory: the process's resident size sees a 64 MiB buffer written in full", async () => {
  let keep: Uint8Array | null = null;
  const probe = await measureMemory(() => {
    keep = new Uint8Array(64 * 2 ** 20).fill(1); // filled, so its pages are resident
  });
  assert.ok(keep !== null);
  const grew = probe.rssAfter - probe.rssBefore;
  assert.ok(grew > 48 * 2 ** 20, `rss grew by ${(grew / 2 ** 20).toFixed(1)} MiB`);
  // On wasm the heap is reported, and it is at least what tfjs holds.
  const heap = wasmHeapBytes();
  assert.ok(heap !== null && heap >= tf.memory().numBytes, `wasm heap ${heap}`);
  keep = null;
});

Deno.test("measureMetaStep: second-order MAML holds more per step than first-order, and more with more inner steps", async () => {
  const rng = new Rng(3);
  const tasks = [imageTask(rng), imageTask(rng)];
  const model = conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 8 });
  const cost = async (firstOrder: boolean, innerSteps: number) => {
    const objective = { innerSteps, innerLr: 0.4, metaBatchSize: 2 };
    const learner = firstOrder
      ? new FirstOrderMaml(model, { rng: new Rng(0), objective })
      : new Maml(model, { rng: new Rng(0), objective });
    try {
      return await measureMetaStep(learner, tasks, { warmup: 1, repeats: 2 });
    } finally {
      learner.dispose();
    }
  };
  const tensorsBefore = tf.memory().numTensors;
  try {
    {
      const second1 = await cost(false, 1);
      const second3 = await cost(false, 3);
      const first3 = await cost(true, 3);
      assert.equal(second1.learner, "maml");
      assert.equal(second1.tasks, 2);
      assert.equal(second1.ms.length, 2);
      assert.ok(second1.medianMs > 0);
      assert.equal(second1.newBytes, 0, "a measured step leaks nothing");
      assert.ok(
        second3.peakExtraBytes > 1.5 * second1.peakExtraBytes,
        `3 inner steps ${second3.peakExtraBytes} B vs 1 step ${second1.peakExtraBytes} B`,
      );
      assert.ok(
        first3.peakExtraBytes < second3.peakExtraBytes,
        `first order ${first3.peakExtraBytes} B vs second order ${second3.peakExtraBytes} B`,
      );
    }
    assert.equal(tf.memory().numTensors, tensorsBefore, "the learners are disposed, nothing leaks");
  } finally {
    tasks.forEach(disposeTask);
  }
  await assert.rejects(
    () => measureMetaStep({ name: "x", metaStep: () => ({} as never) }, tasks, { repeats: 0 }),
    /repeats must be an integer ≥ 1, got 0/,
  );
});

Deno.test("linearFit, growthExponent, median: the growth rates stated from a measurement", () => {
  const line = linearFit([1, 2, 3, 5], [12, 22, 32, 52]);
  assert.ok(Math.abs(line.slope - 10) < 1e-12);
  assert.ok(Math.abs(line.intercept - 2) < 1e-12);
  assert.ok(Math.abs(line.r2 - 1) < 1e-12);
  const noisy = linearFit([0, 1, 2], [0, 2, 1]);
  assert.ok(Math.abs(noisy.slope - 0.5) < 1e-12);
  assert.ok(Math.abs(noisy.r2 - 0.25) < 1e-12, `r² ${noisy.r2}`);
  assert.ok(Math.abs(growthExponent([1, 2, 4, 8], [3, 6, 12, 24]) - 1) < 1e-12, "linear");
  assert.ok(Math.abs(growthExponent([1, 2, 4], [5, 5, 5])) < 1e-12, "flat");
  assert.ok(Math.abs(growthExponent([1, 2, 4], [1, 4, 16]) - 2) < 1e-12, "quadratic");
  assert.throws(() => linearFit([1, 2], [1]), /2 x values but 1 y values/);
  assert.throws(() => linearFit([3, 3], [1, 2]), /every x is 3/);
  assert.throws(() => growthExponent([1, 2], [0, 1]), /positive values on log axes, got 0/);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), /no values/);
});

/** A measured point with the given cost (the rest of a StepCost does not enter the fit). */
function point(learner: string, innerSteps: number, ms: number, mib: number): ComplexityPoint {
  return {
    learner,
    innerSteps,
    tasks: 2,
    medianMs: ms,
    ms: [ms],
    peakExtraBytes: mib * 2 ** 20,
    newBytes: 0,
    rssBytes: 0,
    rssGrowthBytes: 0,
    wasmHeapBytes: null,
  };
}

Deno.test("fitGrowth: ms and MiB per inner step, and the exponents on log axes", () => {
  const linear = fitGrowth([1, 2, 5, 10].map((s) => point("maml", s, 100 * s, 40 * s)))!;
  assert.ok(Math.abs(linear.msPerStep - 100) < 1e-9);
  assert.ok(Math.abs(linear.mbPerStep - 40) < 1e-9);
  assert.ok(Math.abs(linear.timeExponent - 1) < 1e-9);
  assert.ok(Math.abs(linear.memoryExponent - 1) < 1e-9);
  const flat = fitGrowth([1, 2, 5].map((s) => point("protonet", s, 60, 26)))!;
  assert.equal(flat.msPerStep, 0);
  assert.ok(Math.abs(flat.memoryExponent) < 1e-12);
  // A step with no memory beyond the parameters still fits (a 1-byte floor on log axes).
  assert.ok(fitGrowth([point("x", 1, 5, 0), point("x", 2, 6, 0)]) !== null);
  assert.equal(fitGrowth([point("x", 3, 5, 1), point("x", 3, 6, 1)]), null, "one step count");
});

const omniglotHere = omniglotComplexity.needs.every((n) => n.available());

Deno.test({
  name:
    "omniglot-complexity: every learner at every inner-step count; MAML's memory grows, FOMAML's and Reptile's are flat",
  ignore: !omniglotHere,
  async fn() {
    const run = await runExperiment(omniglotComplexity, {
      preset: "quick",
      outDir: null,
      overrides: { innerSteps: "3,1", metaBatchSize: 2, filters: 4, queries: 1, warmup: 0 },
      log: () => {},
    });
    const { points, growth } = run.details;
    assert.deepEqual(
      points.map((p) => `${p.learner}@${p.innerSteps}`),
      [1, 3].flatMap((s) => COMPLEXITY_LEARNERS.map((l) => `${l}@${s}`)),
      "inner steps ascending, every learner at each",
    );
    for (const p of points) {
      assert.ok(p.medianMs > 0 && p.peakExtraBytes > 0, `${p.learner}@${p.innerSteps}`);
      assert.equal(p.newBytes, 0, `${p.learner}@${p.innerSteps} leaks`);
    }
    const maml = (s: number) => points.find((p) => p.learner === "maml" && p.innerSteps === s)!;
    const fomaml = points.find((p) => p.learner === "fomaml" && p.innerSteps === 3)!;
    assert.ok(maml(3).peakExtraBytes > maml(1).peakExtraBytes, "second order: more with steps");
    assert.ok(maml(3).peakExtraBytes > fomaml.peakExtraBytes, "second order above first order");
    assert.ok(growth.maml.mbPerStep > 0);
    // First order: each inner step's φ and gradients are freed once taken, and each task's
    // before the next (a 32-task FOMAML meta-step once held 41 MiB more per inner step).
    assert.equal(growth.fomaml.mbPerStep, 0, "first-order MAML: flat in the inner steps");
    // Reptile's Adam loop frees the previous φ each step, except θ at the first: one extra
    // parameter copy from the second step on (2.4 KB here), then flat.
    assert.ok(
      growth.reptile.mbPerStep < growth.maml.mbPerStep / 100,
      `Reptile: ${growth.reptile.mbPerStep} MiB per inner step, MAML ${growth.maml.mbPerStep}`,
    );
    assert.deepEqual(Object.keys(growth).sort(), [...COMPLEXITY_LEARNERS].sort());
    assert.ok(run.metrics.some((m) => m.name === "maml meta-step peak tfjs memory, 3 inner steps"));
    assert.equal(run.curves.length, 3);
    await assert.rejects(
      runConfig(omniglotComplexity, { preset: "quick", overrides: { innerSteps: "1,2.5" } }),
      /innerSteps must be whole numbers, got 2.5/,
    );
  },
});
