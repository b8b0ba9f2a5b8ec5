// The meta-objective: its terms computed right (λ‖θ‖², λ·mean‖φ_i − θ‖², the inner proximal
// term, sum vs mean), option validation, clipping by global norm, and a NaN loss stopping
// training with an error naming the step while the last checkpoint stays intact.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import {
  meanSquaredError,
  mlp,
  negativeLogLikelihood,
  softmaxCrossEntropy,
} from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import {
  innerLoop,
  Maml,
  MetaObjective,
  metaTrain,
  NonFiniteLossError,
  taskLoss,
} from "../lib/meta/mod.ts";
import { disposeTask, type Episode } from "../lib/tasks/mod.ts";
import { loadParams, saveLearner } from "../lib/io/mod.ts";
import { assertAllClose } from "../lib/testing/mod.ts";

await initBackend("wasm");

function lineTasks(rng: Rng, n: number, nan = false): Episode[] {
  return Array.from({ length: n }, () => {
    const slope = rng.uniform(-2, 2);
    const set = () => {
      const xs = rng.uniformArray(6, -1, 1);
      const ys = xs.map((x) => (nan ? NaN : slope * x));
      return { x: tf.tensor2d(xs, [6, 1]), y: tf.tensor2d(ys, [6, 1]) };
    };
    return { support: set(), query: set() };
  });
}

Deno.test("objective terms: data mean/sum, λ‖θ‖², λ·mean‖φ−θ‖², inner proximal step", () => {
  const model = mlp([1, 4, 1]);
  const cfg = { innerSteps: 2, innerLr: 0.1, l2: 0.01, proximal: 0.5, innerProximal: 2 };
  const learner = new Maml(model, { rng: new Rng(1), kind: "regression", objective: cfg });
  const tasks = lineTasks(new Rng(2), 3);
  const theta = learner.params as tf.Tensor[];

  // Reference: the inner loop written out by hand, step by step.
  const manual = tasks.map((task) =>
    tf.tidy(() => {
      let phi = theta.map((t) => t.clone());
      for (let s = 0; s < 2; s++) {
        const g = tf.grads((...p: tf.Tensor[]) => {
          const fit = meanSquaredError(model.apply(p, task.support.x), task.support.y);
          const prox = tf.addN(p.map((q, i) => tf.sum(tf.square(tf.sub(q, theta[i])))));
          return tf.add(fit, tf.mul(cfg.innerProximal / 2, prox));
        })(phi);
        phi = phi.map((p, i) => tf.sub(p, tf.mul(cfg.innerLr, g[i])));
      }
      const loss = meanSquaredError(model.apply(phi, task.query.x), task.query.y).dataSync()[0];
      const dist = tf.addN(phi.map((q, i) => tf.sum(tf.square(tf.sub(q, theta[i])))))
        .dataSync()[0];
      return { loss, dist };
    })
  );
  const sqNorm = tf.tidy(() => tf.addN(theta.map((t) => tf.sum(tf.square(t)))).dataSync()[0]);
  const meanLoss = manual.reduce((s, m) => s + m.loss, 0) / 3;
  const meanDist = manual.reduce((s, m) => s + m.dist, 0) / 3;

  const terms = tf.tidy(() => {
    const t = learner.metaLossTerms(theta, tasks);
    return [t.data, t.l2, t.proximal, t.total, t.taskLosses].map((x) => Array.from(x.dataSync()));
  });
  assertAllClose(terms[4], manual.map((m) => m.loss), { rtol: 1e-4, label: "task losses" });
  assertAllClose(terms[0], [meanLoss], { rtol: 1e-4, label: "data (mean)" });
  assertAllClose(terms[1], [0.01 * sqNorm], { rtol: 1e-4, label: "λ‖θ‖²" });
  assertAllClose(terms[2], [0.5 * meanDist], { rtol: 1e-4, label: "λ·mean‖φ−θ‖²" });
  assertAllClose(terms[3], [meanLoss + 0.01 * sqNorm + 0.5 * meanDist], { rtol: 1e-4 });

  // Sum reduction and the inner loop helper agree with the same numbers.
  const summed = new Maml(model, {
    rng: new Rng(1),
    kind: "regression",
    objective: { ...cfg, reduction: "sum", l2: 0, proximal: 0 },
  });
  const total = tf.tidy(() => summed.metaLoss(summed.params, tasks).dataSync()[0]);
  assertAllClose([total], [3 * meanLoss], { rtol: 1e-4, label: "data (sum)" });
  const phi = tf.tidy(() =>
    innerLoop(model, "regression", theta, tasks[0].support, {
      steps: 2,
      lr: 0.1,
      innerProximal: 2,
    }).map((t) => t.clone())
  );
  const d = tf.tidy(() =>
    tf.addN(phi.map((q, i) => tf.sum(tf.square(tf.sub(q, theta[i]))))).dataSync()[0]
  );
  assertAllClose([d], [manual[0].dist], { rtol: 1e-4, label: "innerLoop" });
  tf.dispose(phi);
  disposeTask(tasks);
  learner.dispose();
  summed.dispose();
});

Deno.test("objective: describe() shows the formula; bad options name the key", () => {
  const o = new MetaObjective({ l2: 1e-3, proximal: 0.1, innerSteps: 5, clipNorm: 10 });
  const text = o.describe();
  for (const part of ["0.001·‖θ‖²", "‖φ_i − θ‖²", "5 SGD step", "clip ‖g‖ ≤ 10"]) {
    assert.ok(text.includes(part), `describe() lacks "${part}": ${text}`);
  }
  assert.throws(() => new MetaObjective({ l2: -1 }), /objective\.l2/);
  assert.throws(() => new MetaObjective({ innerSteps: 1.5 }), /objective\.innerSteps/);
  assert.throws(() => new MetaObjective({ metaBatchSize: 0 }), /objective\.metaBatchSize/);
  assert.throws(() => new MetaObjective({ clipNorm: 0 }), /objective\.clipNorm/);
  assert.throws(
    () => new MetaObjective({ optimizer: "rmsprop" as "sgd" }),
    /objective\.optimizer/,
  );
  assert.equal(o.with({ l2: 0 }).config.l2, 0);
});

Deno.test("gradient clipping bounds the update by the global norm", () => {
  const clip = 1e-3;
  const learner = new Maml(mlp([1, 8, 1]), {
    rng: new Rng(3),
    kind: "regression",
    objective: { optimizer: "sgd", outerLr: 1, clipNorm: clip },
  });
  const before = learner.params.map((p) => p.clone());
  const tasks = lineTasks(new Rng(4), 2);
  const stats = learner.metaStep(tasks);
  assert.ok(stats.gradNorm > clip, "test needs a gradient larger than the clip");
  const moved = tf.tidy(() =>
    Math.sqrt(
      tf.addN(learner.params.map((p, i) => tf.sum(tf.square(tf.sub(p, before[i]))))).dataSync()[0],
    )
  );
  assertAllClose([moved], [clip], { rtol: 1e-3, label: "SGD step length = clip" });
  tf.dispose(before);
  disposeTask(tasks);
  learner.dispose();
});

Deno.test("a NaN loss stops training with an error naming the step; the checkpoint stays", async () => {
  const dir = await Deno.makeTempDir();
  const learner = new Maml(mlp([1, 8, 1]), { rng: new Rng(5), kind: "regression" });
  const rng = new Rng(6);
  let calls = 0;
  const sampler = (n: number) => lineTasks(rng, n, calls++ === 3); // step 3 gets NaN targets
  let saved: Record<string, number[]> = {};
  await assert.rejects(
    metaTrain(learner, sampler, {
      steps: 10,
      checkpoint: {
        every: 1,
        save: async (step) => {
          await saveLearner(`${dir}/ckpt`, learner, { seed: 5, extra: { step } });
          saved = Object.fromEntries(
            learner.params.map((p, i) => [learner.paramNames[i], Array.from(p.dataSync())]),
          );
        },
      },
    }),
    (e: unknown) => {
      assert.ok(e instanceof NonFiniteLossError);
      assert.equal(e.step, 3);
      assert.match(e.message, /NaN at step 3/);
      return true;
    },
  );
  assert.equal(learner.stepsTaken, 3, "the NaN step was not applied");
  const loaded = await loadParams(`${dir}/ckpt`);
  assert.equal(loaded.extra.step, 2);
  for (const name of loaded.names) {
    assert.deepEqual(Array.from(loaded.tensors[name].dataSync()), saved[name]);
  }
  // The parameters in memory are the checkpoint's: the NaN step changed nothing.
  learner.params.forEach((p, i) => assertAllClose(p, saved[learner.paramNames[i]], { rtol: 0 }));
  tf.dispose(Object.values(loaded.tensors));
  learner.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("task losses: cross-entropy of class ids or one-hot rows, MSE in the predictions' shape, mismatches named", () => {
  tf.tidy(() => {
    const logits = tf.tensor2d([[2, 0, 0], [0, 3, 0]]);
    const ids = tf.tensor1d([0, 1], "int32");
    const oneHot = tf.tensor2d([[1, 0, 0], [0, 1, 0]]);
    // mean_i log(1 + 2e^{−margin_i}) with margins 2 and 3.
    const expected = (Math.log(1 + 2 * Math.exp(-2)) + Math.log(1 + 2 * Math.exp(-3))) / 2;
    const losses = [
      softmaxCrossEntropy(logits, ids),
      softmaxCrossEntropy(logits, oneHot),
      taskLoss("classification", logits, ids),
      negativeLogLikelihood(tf.logSoftmax(logits), ids),
    ];
    losses.forEach((l, i) => assertAllClose(l, expected, { rtol: 1e-5, label: `loss ${i}` }));
    assert.throws(
      () => softmaxCrossEntropy(logits, tf.tensor1d([0, 1, 2], "int32")),
      /labels \[3\] do not match scores \[2,3\]: expected 2 class ids or one-hot labels \[2,3\]/,
    );
    const predictions = tf.tensor2d([[1], [2], [4]]);
    const flat = tf.tensor1d([1, 1, 1]);
    assertAllClose(meanSquaredError(predictions, flat), (0 + 1 + 9) / 3, { label: "[n] targets" });
    assertAllClose(taskLoss("regression", predictions, flat.reshape([3, 1])), 10 / 3);
    assert.throws(
      () => meanSquaredError(predictions, tf.tensor1d([1, 1])),
      /sizes differ: predictions \[3,1\], targets \[2\]/,
    );
  });
});
