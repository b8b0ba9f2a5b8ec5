/**
 * Every learner on the Omniglot table: Reptile's inner loop as Nichol et al. run it (Adam
 * with β₁ = 0, mini-batches of the support set, non-transductive predictions), and the
 * experiments `omniglot-reptile`, `omniglot-matching` and `omniglot-transfer`, each trained
 * and evaluated at a tiny size (skipped without Omniglot).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import { conv4, mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { disposeTask } from "../lib/tasks/mod.ts";
import {
  innerMiniBatches,
  MatchingNet,
  metaTrain,
  Reptile,
  type ReptileOptions,
  taskLoss,
} from "../lib/meta/mod.ts";
import { evaluate, PUBLISHED, TransferBaseline } from "../lib/eval/mod.ts";
import {
  ConfigError,
  findExperiment,
  loadSavedLearner,
  omniglotTransfer,
  resolveConfig,
  runConfig,
  runExperiment,
} from "../lib/experiments/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";
import { clusterSampler, clusterTask } from "./meta_fixtures.ts";

await initBackend("wasm");

Deno.test("innerMiniBatches: shuffled passes cut into batches, as Nichol et al.'s _mini_batches", () => {
  // Omniglot training: 50 examples, 5 batches of 10 = exactly one pass.
  const train = innerMiniBatches(50, 10, 5, new Rng(0));
  assert.deepEqual(train.map((b) => b.length), [10, 10, 10, 10, 10]);
  assert.deepEqual(train.flat().sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  // A batch may straddle two passes: 3 examples in batches of 2 → passes of 3, cut every 2.
  const small = innerMiniBatches(3, 2, 3, new Rng(1));
  const stream = small.flat();
  assert.deepEqual(stream.slice(0, 3).sort(), [0, 1, 2], "the first pass");
  assert.deepEqual(stream.slice(3, 6).sort(), [0, 1, 2], "the second pass");
  // Larger than the set: the batch repeats examples (1-shot 5-way with a batch of 10).
  const big = innerMiniBatches(5, 10, 1, new Rng(2))[0];
  assert.deepEqual([...big].sort(), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  assert.deepEqual(
    innerMiniBatches(50, 10, 5, new Rng(0)),
    train,
    "the same generator, the same batches",
  );
  assert.throws(
    () => innerMiniBatches(5, 0, 1, new Rng(0)),
    /batchSize must be an integer ≥ 1, got 0/,
  );
  assert.throws(() => innerMiniBatches(0, 2, 1, new Rng(0)), /must have ≥ 1 example, got 0/);
});

/** A Reptile over a small MLP, 3-way, with options. */
function smallReptile(options: Partial<ReptileOptions> = {}, lr = 0.05): Reptile {
  return new Reptile(mlp([4, 6, 3]), {
    rng: new Rng(0),
    objective: { innerLr: lr, innerSteps: 4 },
    ...options,
  });
}

function smallSupport(rng: Rng, n = 8) {
  return {
    x: tf.tensor2d(rng.normalArray(n * 4), [n, 4]),
    y: tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), "int32"),
  };
}

Deno.test("Reptile's inner Adam takes the steps tf.train.adam takes on the same mini-batches", () => {
  for (const beta1 of [0, 0.5]) {
    const reptile = smallReptile({
      innerOptimizer: "adam",
      innerAdam: { beta1 },
      innerBatchSize: 3,
    });
    const support = smallSupport(new Rng(4));
    const ours = tf.tidy(() =>
      reptile.adaptParams(reptile.params, support, 4, 0.05, 3, new Rng(9)).map((t) => t.clone())
    );
    // The reference: tfjs's Adam on variables, over the batches the same generator draws.
    const vars = reptile.params.map((p) => tf.variable(p.clone()));
    const optimizer = tf.train.adam(0.05, beta1, 0.999, 1e-8);
    for (const batch of innerMiniBatches(8, 3, 4, new Rng(9))) {
      const index = tf.tensor1d(batch, "int32");
      const xb = tf.gather(support.x, index);
      const yb = tf.gather(support.y, index);
      optimizer.minimize(
        () => taskLoss("classification", reptile.model.apply(vars, xb), yb),
        false,
        vars,
      );
      tf.dispose([index, xb, yb]);
    }
    // tfjs adds ε to √v̂ where TensorFlow 1 (Nichol et al.'s) adds it to √v: 1e-8 either way.
    ours.forEach((t, i) =>
      assertAllClose(t, vars[i], { rtol: 1e-4, atol: 1e-6, label: `β₁=${beta1} param ${i}` })
    );
    // And Adam moved the parameters (4 steps of ≈ α each): not the initial values.
    assert.ok(
      tf.tidy(() => tf.max(tf.abs(tf.sub(ours[0], reptile.params[0]))).dataSync()[0]) > 0.05,
    );
    tf.dispose([...ours, ...vars, support.x, support.y]);
    optimizer.dispose();
    reptile.dispose();
  }
});

Deno.test("Reptile's inner SGD on mini-batches: each step is φ − α∇L(φ; batch)", () => {
  const reptile = smallReptile({ innerBatchSize: 3 }, 0.3);
  const support = smallSupport(new Rng(5));
  tf.tidy(() => {
    const ours = reptile.adaptParams(reptile.params, support, 4, 0.3, 3, new Rng(3));
    let phi: tf.Tensor[] = reptile.params;
    for (const batch of innerMiniBatches(8, 3, 4, new Rng(3))) {
      const index = tf.tensor1d(batch, "int32");
      const [xb, yb] = [tf.gather(support.x, index), tf.gather(support.y, index)];
      const g = tf.grads((...p: tf.Tensor[]) =>
        taskLoss("classification", reptile.model.apply(p, xb), yb)
      )(phi);
      phi = phi.map((p, i) => tf.sub(p, tf.mul(0.3, g[i])));
    }
    ours.forEach((t, i) =>
      assertAllClose(t, phi[i], { rtol: 1e-5, atol: 1e-6, label: `param ${i}` })
    );
    // Full-batch SGD (the default) takes other steps: the batches matter.
    const full = reptile.adaptParams(reptile.params, support, 4, 0.3);
    assert.ok(tf.max(tf.abs(tf.sub(full[0], ours[0]))).dataSync()[0] > 1e-4);
  });
  tf.dispose([support.x, support.y]);
  reptile.dispose();
});

Deno.test("Reptile non-transductive: each query row is predicted in a batch of the support set and itself", () => {
  const model = conv4({ inputShape: [16, 16, 1], outputs: 3, filters: 4 });
  const options = { rng: new Rng(0), objective: { innerSteps: 2, innerLr: 0.1 } };
  const alone = new Reptile(model, { ...options, transductive: false });
  const shared = new Reptile(model, options);
  const rng = new Rng(6);
  const support = {
    x: tf.tensor4d(rng.uniformArray(6 * 256), [6, 16, 16, 1]),
    y: tf.tensor1d([0, 0, 1, 1, 2, 2], "int32"),
  };
  const queries = tf.tensor4d(rng.uniformArray(4 * 256), [4, 16, 16, 1]);
  tf.tidy(() => {
    const adapted = alone.adapt(support);
    const out = adapted.predict(queries);
    assert.deepEqual(out.shape, [4, 3]);
    const phi = alone.adaptParams(alone.params, support);
    for (let i = 0; i < 4; i++) {
      const row = tf.slice(queries, i, 1);
      const expected = tf.slice(model.apply(phi, tf.concat([support.x, row])), 6, 1);
      assertAllClose(tf.slice(out, i, 1), expected, { rtol: 1e-4, atol: 1e-5, label: `row ${i}` });
    }
    // A row's prediction does not depend on the other queries...
    assertAllClose(tf.slice(out, 0, 1), adapted.predict(tf.slice(queries, 0, 1)), {
      rtol: 1e-4,
      atol: 1e-5,
    });
    // ...whereas the transductive prediction shares the query batch's statistics.
    const together = shared.adapt(support);
    const diff = tf.max(tf.abs(tf.sub(together.predict(queries), out))).dataSync()[0];
    assert.ok(diff > 1e-3, `transductive and non-transductive differ (by ${diff})`);
    adapted.dispose();
    together.dispose();
  });
  tf.dispose([support.x, support.y, queries]);
  alone.dispose();
  shared.dispose();
});

Deno.test("Reptile's inner batches in meta-training depend on the step index alone (exact resume)", () => {
  const make = () => smallReptile({ innerOptimizer: "adam", innerBatchSize: 3 });
  const tasks = [0, 1].map((i) => ({
    support: smallSupport(new Rng(20 + i)),
    query: smallSupport(new Rng(30 + i)),
  }));
  const after = (learner: Reptile, stepsTaken: number) => {
    learner.stepsTaken = stepsTaken;
    learner.metaStep(tasks);
    const values = learner.params.map((p) => Array.from(p.dataSync()));
    learner.dispose();
    return values;
  };
  const a = after(make(), 7);
  assert.deepEqual(after(make(), 7), a, "the same step, the same batches, the same update");
  assert.notDeepEqual(after(make(), 8), a, "another step draws other batches");
  for (const t of tasks) disposeTask(t);
});

Deno.test("Reptile with Nichol et al.'s inner Adam and mini-batches beats chance on new cluster tasks", async () => {
  const learner = new Reptile(mlp([8, 32, 5]), {
    rng: new Rng(0),
    objective: { innerLr: 0.01, innerSteps: 5, outerLr: 1.0, metaBatchSize: 5 },
    innerOptimizer: "adam",
    innerBatchSize: 10,
    testInnerBatchSize: 5,
  });
  // Train on 10-shot tasks (5 batches of 10 = one pass), test on 1-shot with 50 steps.
  await metaTrain(learner, clusterSampler(new Rng(1), { shots: 10, queries: 2 }), {
    steps: 100,
    lrSchedule: (step) => 1.0 * (1 - step / 100),
  });
  const testRng = new Rng(1234);
  const result = evaluate(learner, () => clusterTask(testRng), { episodes: 30, steps: 50 });
  assert.ok(result.mean > 0.6, `test accuracy ${result.mean.toFixed(3)} (chance 0.2)`);
  learner.dispose();
});

Deno.test("no tensor leaks: Reptile's Adam inner loop, its meta-step and its non-transductive predictions", async () => {
  const learner = smallReptile({
    innerOptimizer: "adam",
    innerBatchSize: 3,
    transductive: false,
  });
  const rng = new Rng(3);
  await assertNoTensorLeak(() => {
    const task = { support: smallSupport(rng), query: smallSupport(rng, 3) };
    learner.metaStep([task]);
    const adapted = learner.adapt(task.support, { steps: 3 });
    adapted.predict(task.query.x).dispose();
    adapted.dispose();
    disposeTask(task);
  });
  learner.dispose();
  assert.throws(
    () => smallReptile({ innerBatchSize: 0 }),
    /innerBatchSize must be an integer ≥ 1, got 0/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => smallReptile({ innerOptimizer: "rmsprop" as any }),
    /innerOptimizer must be "sgd" or "adam", got "rmsprop"/,
  );
});

Deno.test("omniglot-reptile and omniglot-matching build their learners with the published settings", () => {
  const reptile = findExperiment("omniglot-reptile");
  const config = resolveConfig(reptile.schema, "full");
  assert.equal(config.trainSteps, 100_000);
  assert.equal(config.metaBatchSize, 5);
  const learner = reptile.learner!("reptile", config) as Reptile;
  assert.ok(learner instanceof Reptile);
  assert.equal(learner.innerOptimizer, "adam");
  assert.equal(learner.innerAdam.beta1, 0);
  assert.equal(learner.innerBatchSize, 10);
  assert.equal(learner.testInnerBatchSize, 5);
  assert.equal(learner.transductive, false);
  const c = learner.objective.config;
  assert.deepEqual([c.innerSteps, c.innerLr, c.optimizer, c.outerLr, c.metaBatchSize], [
    5,
    0.001,
    "sgd",
    1.0,
    5,
  ]);
  assert.equal(reptile.images?.testSteps, 50, "a saved Reptile adapts with 50 steps");
  learner.dispose();

  const matching = findExperiment("omniglot-matching");
  const net = matching.learner!("matchingnet", resolveConfig(matching.schema, "full"));
  assert.ok(net instanceof MatchingNet);
  assert.equal((net as MatchingNet).scale, 1, "the paper's unscaled cosine");
  assert.equal(net.objective.config.metaBatchSize, 1, "one episode per step");
  net.dispose();

  for (const key of ["5w1s", "5w5s", "20w1s", "20w5s"]) {
    assert.ok(PUBLISHED[`omniglot/${key}/reptile`], `published reptile ${key}`);
    assert.ok(PUBLISHED[`omniglot/${key}/matchingnet`], `published matchingnet ${key}`);
  }
  assert.equal(PUBLISHED["omniglot/5w1s/reptile"].value, 0.9539);
  assert.equal(PUBLISHED["omniglot/20w5s/matchingnet"].value, 0.985);
});

Deno.test("omniglot-transfer: its learners are Chen et al.'s, and impossible configs are refused before any data loads", async () => {
  const transfer = omniglotTransfer;
  const full = resolveConfig(transfer.schema, "full");
  assert.equal(full.pretrainSteps, 30_000, "5 epochs of 96,000 images at 16 per batch");
  assert.deepEqual(full.shots, [1, 5, 10]);
  const small = { ...full, filters: 4 };
  const baseline = transfer.learner!("pretrain-linear", small) as TransferBaseline;
  assert.equal(baseline.classes, 4800);
  assert.equal(baseline.head, "linear");
  assert.deepEqual(
    [baseline.fineTune.epochs, baseline.fineTune.batchSize, baseline.fineTune.lr],
    [100, 4, 0.01],
  );
  assert.equal(baseline.objective.config.outerLr, 0.001);
  const plus = transfer.learner!("pretrain-cosine", small) as TransferBaseline;
  assert.deepEqual([plus.head, plus.fewShot, plus.scale], ["cosine", "cosine", 10]);
  const background = transfer.learner!("baseline", {
    ...small,
    protocol: "background-evaluation",
  });
  assert.equal((background as TransferBaseline).classes, 964 * 4);
  for (const l of [baseline, plus, background]) l.dispose();
  await assert.rejects(
    runConfig(transfer, { preset: "full", overrides: { queries: "15" } }),
    (e) => e instanceof ConfigError && /shots=10 \+ queries=15 needs 25 drawings/.test(e.message),
  );
  await assert.rejects(
    runConfig(transfer, { preset: "quick", overrides: { shots: "1,2.5" } }),
    (e) => e instanceof ConfigError && /shots must be whole numbers, got 2.5/.test(e.message),
  );
});

const omniglotHere = findExperiment("omniglot-reptile").needs.every((n) => n.available());

/** Runs `name` at a tiny size into a fresh folder; the caller checks and removes it. */
async function tinyRun(name: string, overrides: Record<string, unknown>, out: string) {
  return await runExperiment(findExperiment(name), {
    outDir: out,
    preset: "quick",
    overrides,
    log: () => {},
  });
}

Deno.test({
  name:
    "omniglot-reptile and omniglot-matching: a tiny quick run trains and evaluates, with the published number beside it",
  ignore: !omniglotHere,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "metalab-learners-" });
    try {
      const tiny = { trainSteps: 2, filters: 4, queries: 1, evalEpisodes: 2 };
      const reptile = await tinyRun("omniglot-reptile", { ...tiny, metaBatchSize: 2 }, out);
      assert.deepEqual(reptile.metrics.map((m) => m.name), [
        "5-way 1-shot reptile (50 test steps)",
      ]);
      assert.equal(reptile.metrics[0].episodes, 2);
      const value = reptile.metrics[0].value;
      assert.ok(value !== null && value >= 0 && value <= 100, `reptile: ${value}`);
      assert.equal(reptile.metrics[0].published?.value, 95.39);
      const matching = await tinyRun("omniglot-matching", tiny, out);
      assert.deepEqual(matching.metrics.map((m) => m.name), ["5-way 1-shot matchingnet"]);
      assert.equal(matching.metrics[0].published?.value, 98.1);
      for (
        const [name, label] of [["omniglot-reptile", "reptile"], [
          "omniglot-matching",
          "matchingnet",
        ]]
      ) {
        const file = JSON.parse(await Deno.readTextFile(`${out}/${name}/result.json`));
        assert.deepEqual(file.models, [`models/${label}`], `${name} keeps its trained model`);
        assert.match(file.notes.join("\n"), new RegExp(`${label}: 2 of 2 meta-steps`));
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "omniglot-transfer: a tiny quick run pretrains, evaluates every rule at every shot on the same episodes, and its saved models give the same numbers again",
  ignore: !omniglotHere,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "metalab-transfer-" });
    try {
      const tiny = {
        pretrainSteps: 3,
        pretrainClasses: 0, // all 4,800, as Chen et al. (the quick preset takes 100)
        filters: 4,
        shots: "1,5",
        queries: 2,
        headEpochs: 2,
        evalEpisodes: 2,
      };
      const transferRun = (overrides: Record<string, unknown>, outDir: string | null) =>
        runExperiment(omniglotTransfer, { outDir, preset: "quick", overrides, log: () => {} });
      const run = await transferRun(tiny, out);
      assert.deepEqual(run.metrics.map((m) => m.name), [
        "5-way 1-shot baseline",
        "5-way 5-shot baseline",
        "5-way 1-shot centroid",
        "5-way 5-shot centroid",
        "5-way 1-shot baseline++",
        "5-way 5-shot baseline++",
      ]);
      for (const m of run.metrics) {
        assert.equal(m.episodes, 2, m.name);
        assert.ok(m.value !== null && m.value >= 0 && m.value <= 100, `${m.name}: ${m.value}`);
      }
      const file = JSON.parse(await Deno.readTextFile(`${out}/omniglot-transfer/result.json`));
      assert.deepEqual(file.models, ["models/pretrain-linear", "models/pretrain-cosine"]);
      assert.match(
        file.notes[0],
        /pretrain-linear: 3 of 3 mini-batches of 16 .* over 4800 classes/,
      );
      const shots = file.curves.find((c: { title: string }) => /accuracy vs shots/.test(c.title));
      assert.deepEqual(shots.series.map((s: { name: string }) => s.name), [
        "baseline",
        "centroid",
        "baseline++",
      ]);
      assert.deepEqual(shots.series[0].x, [1, 5]);
      // The episodes do not depend on which rules run: the centroid alone scores the same.
      const alone = await transferRun({ ...tiny, learners: "centroid" }, null);
      assert.deepEqual(
        alone.details.evals.centroid.map((e) => e.result.values),
        run.details.evals.centroid.map((e) => e.result.values),
      );
      // Evaluating the saved models without pretraining gives the same numbers.
      const again = await runExperiment(omniglotTransfer, {
        from: out,
        outDir: `${out}/eval`,
        log: () => {},
      });
      assert.deepEqual(JSON.parse(JSON.stringify(again.metrics)), file.metrics);
      // A saved model is rebuilt on its own (what `deno task classify` loads): Baseline++.
      const saved = await loadSavedLearner(`${out}/omniglot-transfer/models/pretrain-cosine`);
      assert.equal(saved.learner.name, "baseline++");
      assert.equal((saved.learner as TransferBaseline).classes, 4800);
      saved.dispose();
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
