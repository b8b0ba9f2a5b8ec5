// MAML's meta-gradient against finite differences (second order through the inner loop),
// the first-order approximation differing from it, batched == per-task, Meta-SGD and the
// task-conditioned MetaClassifier's gradients against finite differences too.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { expFromInput, meanSquaredError, mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import {
  Anil,
  BaseMetaLearner,
  innerLoop,
  Maml,
  MetaClassifier,
  MetaSgd,
  Reptile,
} from "../lib/meta/mod.ts";
import { SinusoidFamily } from "../lib/datasets/mod.ts";
import { disposeTask, RegressionTaskSampler, stackTasks } from "../lib/tasks/mod.ts";
import type { Episode, MetaGradient } from "../lib/meta/mod.ts";
import { assertAllClose } from "../lib/testing/mod.ts";
import { clusterTask, smoothMlp } from "./meta_fixtures.ts";

await initBackend("wasm");

function sineTasks(rng: Rng, n: number, k = 5): Episode[] {
  return Array.from({ length: n }, () => {
    const a = rng.uniform(0.1, 5);
    const p = rng.uniform(0, Math.PI);
    const set = () => {
      const xs = rng.uniformArray(k, -5, 5);
      return {
        x: tf.tensor2d(xs, [k, 1]),
        y: tf.tensor2d(xs.map((x) => a * Math.sin(x - p)), [k, 1]),
      };
    };
    return { support: set(), query: set() };
  });
}

/** The meta-gradient and its parts, computed inside a tidy scope (caller disposes). */
function gradientsOf(learner: BaseMetaLearner, tasks: Episode[]): MetaGradient {
  return tf.tidy(() =>
    learner.metaGradients(tasks) as unknown as tf.TensorContainer
  ) as unknown as MetaGradient;
}

function disposeGradient(g: MetaGradient): void {
  tf.dispose([g.grads, g.total, g.data, g.accuracy ?? []]);
}

/**
 * Directional finite differences: for random unit directions v, compares ∇J·v with
 * (J(θ + εv) − J(θ − εv)) / 2ε (central differences, error O(ε²)).
 */
function checkDirectional(learner: BaseMetaLearner, tasks: Episode[], rng: Rng, eps = 1e-2) {
  const g = gradientsOf(learner, tasks);
  const grads = g.grads;
  const analytic: number[] = [];
  const numeric: number[] = [];
  for (let d = 0; d < 4; d++) {
    const v = learner.params.map((p) => tf.tensor(rng.normalArray(p.size), p.shape));
    const norm = Math.sqrt(v.reduce((s, t) => s + tf.sum(tf.square(t)).dataSync()[0], 0));
    const unit = v.map((t) => tf.div(t, norm));
    const at = (sign: number) =>
      tf.tidy(() => {
        const shifted = learner.params.map((p, i) => tf.add(p, tf.mul(sign * eps, unit[i])));
        return learner.metaLoss(shifted, tasks).dataSync()[0];
      });
    numeric.push((at(1) - at(-1)) / (2 * eps));
    analytic.push(
      tf.tidy(() => tf.addN(grads.map((g, i) => tf.sum(tf.mul(g, unit[i])))).dataSync()[0]),
    );
    tf.dispose([v, unit]);
  }
  disposeGradient(g);
  return { analytic, numeric };
}

Deno.test("MAML second-order meta-gradient matches finite differences; first order differs", () => {
  const model = smoothMlp([1, 16, 16, 1]);
  const objective = { innerSteps: 2, innerLr: 0.05, l2: 1e-3, proximal: 0.1, innerProximal: 0.5 };
  const maml = new Maml(model, { rng: new Rng(3), kind: "regression", objective, batched: false });
  const fo = new Maml(model, { rng: new Rng(3), kind: "regression", objective, firstOrder: true });
  const tasks = sineTasks(new Rng(4), 3);
  const { analytic, numeric } = checkDirectional(maml, tasks, new Rng(5));
  assertAllClose(analytic, numeric, {
    rtol: 2e-2,
    atol: 2e-3,
    label: "MAML directional derivative",
  });

  // First-order gradient: a different vector (the Hessian terms are missing).
  const [g2, g1] = [maml, fo].map((l) => {
    const g = gradientsOf(l, tasks);
    const flat = tf.concat(g.grads.map((t) => t.flatten()));
    disposeGradient(g);
    return flat;
  });
  const rel = tf.tidy(() => tf.norm(tf.sub(g2, g1)).div(tf.norm(g2)).dataSync()[0]);
  assert.ok(rel > 1e-2, `first-order gradient should differ from second order (rel diff ${rel})`);
  assert.ok(rel < 1, `first-order gradient should still be related (rel diff ${rel})`);
  tf.dispose([g1, g2]);
  disposeTask(tasks);
  maml.dispose();
  fo.dispose();
});

Deno.test("batched sinusoid meta-gradient equals the per-task one", () => {
  const model = mlp([1, 40, 40, 1]);
  const objective = { innerSteps: 2, innerLr: 0.01, l2: 1e-3, proximal: 0.05, innerProximal: 0.2 };
  const batched = new Maml(model, { rng: new Rng(1), kind: "regression", objective });
  const looped = new Maml(model, {
    rng: new Rng(1),
    kind: "regression",
    objective,
    batched: false,
  });
  const tasks = sineTasks(new Rng(2), 6, 10);
  assert.ok(batched.canBatch(tasks) && !looped.canBatch(tasks));
  const a = gradientsOf(batched, tasks);
  const b = gradientsOf(looped, tasks);
  assertAllClose(a.total, b.total, { rtol: 1e-4, label: "meta-loss" });
  a.grads.forEach((g, i) =>
    assertAllClose(g, b.grads[i], { rtol: 1e-3, atol: 1e-5, label: model.paramSpecs[i].name })
  );
  disposeGradient(a);
  disposeGradient(b);
  disposeTask(tasks);
  batched.dispose();
  looped.dispose();
});

Deno.test("task-by-task meta-gradient equals the whole-batch one (mean and sum, with every regulariser)", () => {
  for (const reduction of ["mean", "sum"] as const) {
    const objective = {
      innerSteps: 2,
      innerLr: 0.2,
      l2: 1e-2,
      proximal: 0.3,
      innerProximal: 0.5,
      reduction,
    };
    const maml = new Maml(smoothMlp([8, 12, 3]), { rng: new Rng(5), objective });
    const tasks = [1, 2, 3, 4].map((s) => clusterTask(new Rng(s), { ways: 3, shots: 2 }));
    const whole = tf.tidy(() =>
      maml.wholeBatchGradients(tasks) as unknown as tf.TensorContainer
    ) as unknown as MetaGradient;
    const perTask = tf.tidy(() =>
      maml.taskByTaskGradients(tasks) as unknown as tf.TensorContainer
    ) as unknown as MetaGradient;
    assertAllClose(perTask.total, whole.total, { rtol: 1e-5, label: `${reduction}: J` });
    assertAllClose(perTask.data, whole.data, { rtol: 1e-5, label: `${reduction}: data term` });
    assertAllClose(perTask.accuracy!, whole.accuracy!, { label: `${reduction}: accuracy` });
    perTask.grads.forEach((g, i) =>
      assertAllClose(g, whole.grads[i], {
        rtol: 1e-4,
        atol: 1e-6,
        label: `${reduction}: ${maml.paramNames[i]}`,
      })
    );
    disposeGradient(whole);
    disposeGradient(perTask);
    disposeTask(tasks);
    maml.dispose();
  }
});

Deno.test("Meta-SGD meta-gradient (θ and learned rates) matches finite differences", () => {
  const learner = new MetaSgd(smoothMlp([8, 12, 3]), {
    rng: new Rng(7),
    objective: { innerSteps: 1, innerLr: 0.3 },
  });
  const tasks = [1, 2].map((s) => clusterTask(new Rng(s), { ways: 3, shots: 2, queries: 3 }));
  const { analytic, numeric } = checkDirectional(learner, tasks, new Rng(8));
  assertAllClose(analytic, numeric, { rtol: 2e-2, atol: 2e-3, label: "Meta-SGD" });
  disposeTask(tasks);
  learner.dispose();
});

Deno.test("MetaClassifier (context inner loop) meta-gradient matches finite differences (batched)", () => {
  const learner = new MetaClassifier(smoothMlp([1, 12, 12, 1]), {
    rng: new Rng(9),
    kind: "regression",
    inputShape: [1],
    outputs: 1,
    contextSize: 3,
    hiddenActivation: (x) => tf.log(tf.add(1, expFromInput(x))),
    objective: { innerSteps: 2, innerLr: 0.5, proximal: 0.1 },
  });
  const tasks = sineTasks(new Rng(10), 2);
  assert.ok(learner.canBatch(tasks), "a regression meta-batch on an MLP base runs batched");
  const { analytic, numeric } = checkDirectional(learner, tasks, new Rng(11));
  assertAllClose(analytic, numeric, { rtol: 2e-2, atol: 2e-3, label: "MetaClassifier" });
  disposeTask(tasks);
  learner.dispose();
});

Deno.test("MetaClassifier: the batched meta-gradient equals the task-by-task one", () => {
  const options = {
    kind: "regression" as const,
    inputShape: [1],
    outputs: 1,
    contextSize: 4,
    objective: { innerSteps: 2, innerLr: 0.5, l2: 1e-3, proximal: 0.1, innerProximal: 0.3 },
  };
  const batched = new MetaClassifier(mlp([1, 20, 20, 1]), { ...options, rng: new Rng(4) });
  const looped = new MetaClassifier(mlp([1, 20, 20, 1]), {
    ...options,
    rng: new Rng(4),
    batched: false,
  });
  const tasks = sineTasks(new Rng(6), 5, 10);
  assert.ok(batched.canBatch(tasks) && !looped.canBatch(tasks));
  const a = gradientsOf(batched, tasks);
  const b = gradientsOf(looped, tasks);
  assertAllClose(a.total, b.total, { rtol: 1e-4, label: "meta-loss" });
  assertAllClose(a.data, b.data, { rtol: 1e-4, label: "data term" });
  a.grads.forEach((g, i) =>
    assertAllClose(g, b.grads[i], { rtol: 1e-3, atol: 1e-5, label: batched.paramNames[i] })
  );
  disposeGradient(a);
  disposeGradient(b);
  disposeTask(tasks);
  batched.dispose();
  looped.dispose();
});

Deno.test("first-order MAML and Reptile: mean_i ∇_φ L(φ_i; D'_i) and mean_i (θ − φ_i), plus 2λθ", () => {
  const model = smoothMlp([1, 8, 1]);
  const objective = { innerSteps: 2, innerLr: 0.05, l2: 1e-2 };
  const fo = new Maml(model, { rng: new Rng(13), kind: "regression", objective, firstOrder: true });
  const reptile = new Reptile(model, { rng: new Rng(13), kind: "regression", objective });
  const tasks = sineTasks(new Rng(12), 3);
  const queryLoss = (p: tf.Tensor[], task: Episode) =>
    meanSquaredError(model.apply(p, task.query.x), task.query.y);
  // The definitions, written out: φ_i from θ by the inner loop, d_i per task, their mean.
  const expected = (
    learner: BaseMetaLearner,
    direction: (theta: tf.Tensor[], phi: tf.Tensor[], task: Episode) => tf.Tensor[],
  ) =>
    tf.tidy(() => {
      const theta = learner.params as tf.Tensor[];
      let sum = theta.map((t) => tf.zerosLike(t));
      let data = 0;
      for (const task of tasks) {
        const phi = innerLoop(model, "regression", theta, task.support, { steps: 2, lr: 0.05 });
        const d = direction(theta, phi, task);
        sum = sum.map((s, i) => tf.add(s, tf.div(d[i], tasks.length)));
        data += queryLoss(phi, task).dataSync()[0] / tasks.length;
      }
      return { grads: sum.map((s, i) => tf.add(s, tf.mul(2 * 1e-2, theta[i]))), data };
    });
  const cases = [
    {
      learner: fo,
      direction: (_: tf.Tensor[], phi: tf.Tensor[], task: Episode) =>
        tf.grads((...p: tf.Tensor[]) => queryLoss(p, task))(phi),
    },
    {
      learner: reptile,
      direction: (theta: tf.Tensor[], phi: tf.Tensor[]) => theta.map((t, i) => tf.sub(t, phi[i])),
    },
  ];
  for (const { learner, direction } of cases) {
    const want = expected(learner, direction);
    const got = gradientsOf(learner, tasks);
    assert.equal(learner.canBatch(tasks), false, `${learner.name} has no batched path`);
    assertAllClose(got.data, want.data, { rtol: 1e-5, label: `${learner.name}: data term` });
    got.grads.forEach((g, i) =>
      assertAllClose(g, want.grads[i], {
        rtol: 1e-4,
        atol: 1e-6,
        label: `${learner.name}: ${learner.paramNames[i]}`,
      })
    );
    disposeGradient(got);
    tf.dispose(want.grads);
  }
  disposeTask(tasks);
  fo.dispose();
  reptile.dispose();
});

Deno.test("canBatch is the one test of the batched path: regression, ≥ 2 tasks of equal shapes, a batched inner loop", () => {
  const objective = { innerSteps: 1, innerLr: 0.01 };
  const regression = { rng: new Rng(1), kind: "regression" as const, objective };
  const maml = new Maml(mlp([1, 8, 1]), regression);
  const anil = new Anil(mlp([1, 8, 1]), regression);
  const classifier = new Maml(mlp([1, 8, 1]), { rng: new Rng(1), objective });
  const tasks = sineTasks(new Rng(3), 3, 5);
  const uneven = [...sineTasks(new Rng(4), 1, 5), ...sineTasks(new Rng(5), 1, 6)];
  assert.equal(maml.canBatch(tasks), true);
  assert.equal(maml.canBatch(tasks.slice(0, 1)), false, "one task");
  assert.equal(maml.canBatch(uneven), false, "tasks of different sizes");
  assert.equal(anil.canBatch(tasks), false, "ANIL adapts only the head");
  assert.equal(classifier.canBatch(tasks), false, "classification");
  // The path refuses what canBatch refuses, saying why.
  const stacked = stackTasks(tasks);
  assert.throws(
    () => classifier.batchedGradients(stacked),
    /maml\.batchedGradients: needs a regression learner with a batched inner loop \(kind "classification"/,
  );
  assert.throws(
    () => maml.batchedGradients(tasks[0]),
    /expected a stacked meta-batch \(x \[T, n, …\].*got support x \[5,1\], query x \[5,1\]/,
  );
  disposeTask([...tasks, ...uneven, stacked]);
  [maml, anil, classifier].forEach((l) => l.dispose());
});

Deno.test("the batched path takes a sampler's stacked meta-batch: sampleBatch gives the gradient of the same tasks", () => {
  const sampler = new RegressionTaskSampler(new SinusoidFamily(), { shots: 5, queries: 5 });
  const objective = { innerSteps: 2, innerLr: 0.01, l2: 1e-3, proximal: 0.05, innerProximal: 0.2 };
  const maml = new Maml(mlp([1, 20, 20, 1]), { rng: new Rng(1), kind: "regression", objective });
  const looped = new Maml(mlp([1, 20, 20, 1]), {
    rng: new Rng(1),
    kind: "regression",
    objective,
    batched: false,
  });
  const rng = new Rng(21);
  const tasks = Array.from({ length: 4 }, () => sampler.sample(rng));
  const batch = sampler.sampleBatch(new Rng(21), 4); // the same four tasks, stacked as drawn
  const a = gradientsOf(maml, tasks);
  const b = tf.tidy(() =>
    maml.batchedGradients(batch) as unknown as tf.TensorContainer
  ) as unknown as MetaGradient;
  const c = gradientsOf(looped, tasks);
  assertAllClose(b.total, a.total, { rtol: 1e-6, label: "J: sampleBatch vs stacked tasks" });
  b.grads.forEach((g, i) => {
    assertAllClose(g, a.grads[i], { rtol: 1e-6, atol: 1e-7, label: `stacked ${i}` });
    assertAllClose(g, c.grads[i], { rtol: 1e-3, atol: 1e-5, label: `task by task ${i}` });
  });
  [a, b, c].forEach(disposeGradient);
  disposeTask([...tasks, batch]);
  maml.dispose();
  looped.dispose();
});
