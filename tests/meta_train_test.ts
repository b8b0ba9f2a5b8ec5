// The meta-training loop: no tensor leaks over many meta-steps (every learner, including the
// batched sinusoid path and evaluation), determinism for a seed, the history and callbacks.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import {
  Anil,
  FirstOrderMaml,
  Maml,
  MatchingNet,
  MetaClassifier,
  type MetaLearner,
  MetaSgd,
  metaTrain,
  ProtoNet,
  Reptile,
  taskSampler,
} from "../lib/meta/mod.ts";
import { evaluate, PretrainedBaseline } from "../lib/eval/mod.ts";
import { SinusoidFamily } from "../lib/datasets/mod.ts";
import { disposeTask, RegressionTaskSampler } from "../lib/tasks/mod.ts";
import { assertNoTensorLeak } from "../lib/testing/mod.ts";
import { clusterSampler, clusterTask } from "./meta_fixtures.ts";

await initBackend("wasm");

const o = { innerLr: 0.3, outerLr: 0.003, l2: 1e-4, proximal: 0.01, clipNorm: 5 };
const classifiers: Record<string, () => MetaLearner> = {
  maml: () => new Maml(mlp([8, 16, 5]), { rng: new Rng(0), objective: o }),
  fomaml: () => new FirstOrderMaml(mlp([8, 16, 5]), { rng: new Rng(0), objective: o }),
  anil: () => new Anil(mlp([8, 16, 5]), { rng: new Rng(0), objective: o }),
  metasgd: () => new MetaSgd(mlp([8, 16, 5]), { rng: new Rng(0), objective: o }),
  reptile: () => new Reptile(mlp([8, 16, 5]), { rng: new Rng(0), objective: { innerSteps: 2 } }),
  protonet: () => new ProtoNet(mlp([8, 16, 8]), { rng: new Rng(0) }),
  matchingnet: () => new MatchingNet(mlp([8, 16, 8]), { rng: new Rng(0) }),
  metaclassifier: () =>
    new MetaClassifier(mlp([8, 16, 5]), { rng: new Rng(0), inputShape: [8], outputs: 5 }),
};

Deno.test("no tensor leaks over many meta-steps and evaluations (every learner)", async () => {
  for (const [name, make] of Object.entries(classifiers)) {
    const learner = make();
    const sample = clusterSampler(new Rng(1), { ways: 5, shots: 2, queries: 3 });
    const evalRng = new Rng(2);
    await assertNoTensorLeak(async () => {
      await metaTrain(learner, sample, { steps: 3, metaBatchSize: 3 });
      evaluate(learner, () => clusterTask(evalRng), { episodes: 2, steps: 2 });
    }, { iterations: 4 }).catch((e) => {
      throw new Error(`${name}: ${e.message}`);
    });
    learner.dispose();
  }
});

Deno.test("no tensor leaks: batched sinusoid MAML (2nd and 1st order) and the pretrained baseline", async () => {
  const source = new RegressionTaskSampler(new SinusoidFamily(), { shots: 5, queries: 5 });
  const objective = { innerSteps: 2, metaBatchSize: 5, innerProximal: 0.1 };
  const learners = [
    new Maml(mlp([1, 20, 20, 1]), { rng: new Rng(0), kind: "regression", objective }),
    new FirstOrderMaml(mlp([1, 20, 20, 1]), { rng: new Rng(0), kind: "regression", objective }),
    new PretrainedBaseline(mlp([1, 20, 20, 1]), { rng: new Rng(0), objective }),
  ];
  for (const learner of learners) {
    const rng = new Rng(3);
    await assertNoTensorLeak(async () => {
      await metaTrain(learner, taskSampler(source, rng), { steps: 5 });
      evaluate(learner, () => source.sample(rng), { episodes: 2, steps: 3 });
    }, { iterations: 4 });
    learner.dispose();
  }
});

Deno.test("determinism: the same seed gives the same history and parameters", async () => {
  const run = async () => {
    const learner = new Maml(mlp([8, 16, 5]), { rng: new Rng(42), objective: o });
    const history = await metaTrain(learner, clusterSampler(new Rng(7)), {
      steps: 6,
      metaBatchSize: 3,
    });
    const params = learner.params.map((p) => Array.from(p.dataSync()));
    learner.dispose();
    return { loss: history.loss, accuracy: history.accuracy, params };
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  assert.equal(a.loss.length, 6);
  assert.equal(a.accuracy.length, 6);
});

Deno.test("metaTrain: onStep every n steps, lrSchedule applied, bad options named", async () => {
  const learner = new Maml(mlp([8, 16, 5]), {
    rng: new Rng(0),
    objective: { optimizer: "sgd", outerLr: 0.1 },
  });
  const seen: number[] = [];
  const sampler = clusterSampler(new Rng(1));
  const before = learner.params.map((p) => p.clone());
  await metaTrain(learner, sampler, {
    steps: 5,
    metaBatchSize: 2,
    reportEvery: 2,
    lrSchedule: () => 0, // a zero rate: parameters must not move
    onStep: (s) => {
      seen.push(s.step);
    },
  });
  assert.deepEqual(seen, [1, 3, 4]);
  learner.params.forEach((p, i) =>
    assert.deepEqual(Array.from(p.dataSync()), Array.from(before[i].dataSync()))
  );
  tf.dispose(before);
  await assert.rejects(metaTrain(learner, sampler, { steps: -1 }), /steps must be/);
  await assert.rejects(
    metaTrain(learner, sampler, { steps: 1, metaBatchSize: 0 }),
    /metaBatchSize must be/,
  );
  disposeTask([]);
  learner.dispose();
});

Deno.test("metaTrain: without metaBatchSize it draws the learner's objective's meta-batch size", async () => {
  const learner = new Maml(mlp([8, 16, 5]), {
    rng: new Rng(0),
    objective: { metaBatchSize: 3 },
  });
  const drawn: number[] = [];
  const clusters = clusterSampler(new Rng(1));
  await metaTrain(learner, (n) => {
    drawn.push(n);
    return clusters(n);
  }, { steps: 2 });
  assert.deepEqual(drawn, [3, 3]);
  learner.dispose();
});
