// Tiny Omniglot runs on Conv-4: ProtoNets and second-order MAML beat chance (20%) on
// 5-way 1-shot episodes of characters never seen in training. Skipped, with a message,
// where the Omniglot archives are not present.
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { findOmniglotDir, loadOmniglot, omniglotSplits } from "../lib/datasets/mod.ts";
import { EpisodeSampler } from "../lib/tasks/mod.ts";
import { conv4 } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { Maml, type MetaLearner, metaTrain, ProtoNet, taskSampler } from "../lib/meta/mod.ts";
import { evaluate } from "../lib/eval/mod.ts";

await initBackend("wasm");
const dir = findOmniglotDir();
if (!dir) console.log("meta_omniglot_test: Omniglot archives not found: skipped");

const load = async () => {
  const splits = omniglotSplits(await loadOmniglot({ dir: dir! }));
  const spec = { ways: 5, shots: 1, queries: 5 };
  return {
    train: EpisodeSampler.forSplit(splits, "train", spec),
    test: EpisodeSampler.forSplit(splits, "test", spec),
  };
};

async function trainAndScore(learner: MetaLearner, steps: number, testSteps?: number) {
  const { train, test } = await load();
  await metaTrain(learner, taskSampler(train, new Rng(1)), { steps });
  const rng = new Rng(2);
  const r = evaluate(learner, () => test.sample(rng), { episodes: 60, steps: testSteps });
  console.log(
    `${learner.name}: ${(100 * r.mean).toFixed(1)}% ± ${(100 * (r.ci95 ?? NaN)).toFixed(1)}`,
  );
  return r;
}

Deno.test({
  name: "Omniglot 5-way 1-shot: ProtoNet (Conv-4) beats chance after 40 episodes",
  ignore: !dir,
  async fn() {
    const model = conv4({ inputShape: [28, 28, 1], outputs: 0, filters: 16 });
    const learner = new ProtoNet(model, { rng: new Rng(0), objective: { metaBatchSize: 1 } });
    const r = await trainAndScore(learner, 40);
    assert.ok(r.mean > 0.45, `ProtoNet accuracy ${r.mean.toFixed(3)} ± ${r.ci95?.toFixed(3)}`);
    learner.dispose();
  },
});

Deno.test({
  name: "Omniglot 5-way 1-shot: second-order MAML (Conv-4) beats chance after 30 meta-steps",
  ignore: !dir,
  async fn() {
    const model = conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 16 });
    const learner = new Maml(model, {
      rng: new Rng(0),
      objective: { innerSteps: 1, innerLr: 0.4, metaBatchSize: 2, outerLr: 0.003 },
    });
    const r = await trainAndScore(learner, 30, 3);
    assert.ok(r.mean > 0.3, `MAML accuracy ${r.mean.toFixed(3)} ± ${r.ci95?.toFixed(3)}`);
    learner.dispose();
  },
});
