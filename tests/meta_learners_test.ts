// Every learner beats chance clearly on a quick synthetic few-shot run (5-way 1-shot
// Gaussian-cluster tasks: chance is 20%), evaluated on new tasks it has never seen.
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
} from "../lib/meta/mod.ts";
import { evaluate } from "../lib/eval/mod.ts";
import { clusterSampler, clusterTask } from "./meta_fixtures.ts";

await initBackend("wasm");

const inner = { innerLr: 0.5, innerSteps: 1, outerLr: 0.005 };
const learners: Record<string, { make: () => MetaLearner; min: number }> = {
  maml: { make: () => new Maml(mlp([8, 32, 5]), { rng: new Rng(0), objective: inner }), min: 0.5 },
  fomaml: {
    make: () => new FirstOrderMaml(mlp([8, 32, 5]), { rng: new Rng(0), objective: inner }),
    min: 0.45,
  },
  anil: { make: () => new Anil(mlp([8, 32, 5]), { rng: new Rng(0), objective: inner }), min: 0.5 },
  metasgd: {
    make: () => new MetaSgd(mlp([8, 32, 5]), { rng: new Rng(0), objective: inner }),
    min: 0.5,
  },
  reptile: {
    make: () =>
      new Reptile(mlp([8, 32, 5]), {
        rng: new Rng(0),
        objective: { innerLr: 0.5, innerSteps: 5, outerLr: 0.5 },
      }),
    min: 0.6,
  },
  protonet: {
    make: () => new ProtoNet(mlp([8, 32, 16]), { rng: new Rng(0), objective: { outerLr: 0.005 } }),
    min: 0.7,
  },
  matchingnet: {
    make: () =>
      new MatchingNet(mlp([8, 32, 16]), { rng: new Rng(0), objective: { outerLr: 0.005 } }),
    min: 0.7,
  },
  metaclassifier: {
    make: () =>
      new MetaClassifier(mlp([8, 32, 5]), {
        rng: new Rng(0),
        inputShape: [8],
        outputs: 5,
        contextSize: 8,
        objective: { innerLr: 1, innerSteps: 2, outerLr: 0.005 },
      }),
    min: 0.35,
  },
};

for (const [name, { make, min }] of Object.entries(learners)) {
  Deno.test(`${name} beats chance (20%) on new 5-way 1-shot cluster tasks`, async () => {
    const learner = make();
    const history = await metaTrain(learner, clusterSampler(new Rng(1)), {
      steps: 150,
      metaBatchSize: 8,
    });
    assert.equal(history.loss.length, 150);
    const testRng = new Rng(1234);
    const result = evaluate(learner, () => clusterTask(testRng), { episodes: 100 });
    assert.ok(
      result.mean > min,
      `${name}: test accuracy ${result.mean.toFixed(3)} ± ${result.ci95?.toFixed(3)} ≤ ${min}`,
    );
    learner.dispose();
    assert.ok(tf.memory().numTensors < 50, `tensors left: ${tf.memory().numTensors}`);
  });
}
