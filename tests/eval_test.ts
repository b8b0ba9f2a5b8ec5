// Episodic evaluation: the 95% CI formula, the comparison with published numbers, the
// evaluation loop's bookkeeping, and sinusoid MAML beating the pretrained baseline after
// one gradient step (Finn et al. 2017, Fig. 2, small configuration).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { Maml, metaTrain, taskSampler } from "../lib/meta/mod.ts";
import type { AdaptedModel, LabelledSet } from "../lib/meta/mod.ts";
import {
  agreement,
  compareWithPublished,
  confidenceInterval,
  describeHeavyTail,
  evaluate,
  PretrainedBaseline,
  PUBLISHED,
} from "../lib/eval/mod.ts";
import { SinusoidFamily } from "../lib/datasets/mod.ts";
import { RegressionTaskSampler } from "../lib/tasks/mod.ts";
import { assertAllClose } from "../lib/testing/mod.ts";
import { clusterTask } from "./meta_fixtures.ts";

await initBackend("wasm");

Deno.test("confidenceInterval: mean ± 1.96·std/√n (ddof = 0)", () => {
  const ci = confidenceInterval([1, 2, 3, 4]);
  const std = Math.sqrt(((1.5 ** 2) * 2 + (0.5 ** 2) * 2) / 4);
  assertAllClose([ci.mean, ci.std, ci.ci95 ?? NaN, ci.n], [2.5, std, (1.96 * std) / 2, 4]);
  assertAllClose([confidenceInterval([0.7, 0.7, 0.7]).ci95 ?? NaN], [0], { atol: 1e-12 });
  assert.throws(() => confidenceInterval([]), /no values/);
});

Deno.test("describeHeavyTail: names the few episodes that dominate a mean, else null", () => {
  const values = Array.from({ length: 600 }, (_, i) => 0.05 + (i % 10) * 0.01);
  assert.equal(describeHeavyTail(values), null, "an ordinary spread is not a heavy tail");
  values[250] = 152169;
  assert.equal(
    describeHeavyTail(values),
    "mean 254 is dominated by 1 of 600 episodes (largest: 152169); median 0.100, " +
      "mean without it 0.0951",
  );
  values[3] = 9000;
  assert.match(
    describeHeavyTail(values)!,
    /dominated by 2 of 600 episodes \(largest: 152169, 9000\)/,
  );
  // Outliers of 1e20 beside values of 1: a total's rounding noise must not pass for the rest
  // (a MAML adaptation that diverged on a few of 600 sinusoid tasks).
  const diverged = Array.from({ length: 600 }, (_, i) => 1 + (i % 7) * 0.1);
  diverged[10] = 2.34e20;
  diverged[20] = 2.1e11;
  diverged[30] = 5.2e7;
  assert.equal(
    describeHeavyTail(diverged),
    "mean 3.90e+17 is dominated by 3 of 600 episodes (largest: 2.34e+20, 2.10e+11, 5.20e+7); " +
      "median 1.30, mean without them 1.30",
  );
});

Deno.test("compareWithPublished: within when the 95% intervals overlap", () => {
  const p = PUBLISHED["omniglot/5w1s/maml"];
  assert.equal(p.value, 0.987);
  const near = compareWithPublished({ mean: 0.98, ci95: 0.004 }, p);
  assert.deepEqual(
    [near.ours, near.ci95, near.published, near.within],
    [0.98, 0.004, 0.987, true],
  );
  assert.equal(compareWithPublished({ mean: 0.95, ci95: 0.01 }, p).within, false);
  assert.ok(PUBLISHED["sinusoid/k5/maml/10"].value === 0.35);
});

Deno.test("agreement: the 95% intervals overlap (a missing half-width is 0); null without a published number", () => {
  const finn = PUBLISHED["omniglot/5w1s/maml"]; // 0.987 ± 0.004
  // |0.98 − 0.987| = 0.007: within 0.004 + 0.004, not within 0.002 + 0.004.
  assert.equal(agreement(0.98, 0.004, finn), true);
  assert.equal(agreement(0.98, 0.002, finn), false);
  // No half-width of ours: only the paper's interval counts.
  assert.equal(agreement(0.985, undefined, finn), true);
  assert.equal(agreement(0.98, undefined, finn), false);
  // Neither gives one (Snell et al.): the values must be equal.
  const snell = PUBLISHED["omniglot/5w1s/protonet"];
  assert.equal(snell.ci95, undefined);
  assert.equal(agreement(snell.value, undefined, snell), true);
  assert.equal(agreement(snell.value + 1e-3, undefined, snell), false);
  assert.equal(agreement(0.5, 0.1, undefined), null);
  // compareWithPublished reports the same verdict.
  for (const [mean, ci95] of [[0.98, 0.004], [0.98, 0.002], [0.99, 0]]) {
    assert.equal(compareWithPublished({ mean, ci95 }, finn).within, agreement(mean, ci95, finn));
  }
});

Deno.test("evaluate: one value per episode, accuracy of a perfect and a constant learner", () => {
  // A learner that predicts the true label (through the support set's class centres) and one
  // that always says class 0: accuracies 1 and exactly 1/ways.
  const nearest = {
    kind: "classification" as const,
    adapt(support: LabelledSet): AdaptedModel {
      const centres = support.x.clone();
      return {
        predict: (x) =>
          tf.tidy(() => {
            const d = tf.sum(tf.square(tf.sub(x.expandDims(1), centres.expandDims(0))), 2);
            return tf.neg(d);
          }),
        dispose: () => centres.dispose(),
      };
    },
  };
  const constant = {
    kind: "classification" as const,
    adapt: (): AdaptedModel => ({
      predict: (x) => tf.oneHot(tf.zeros([x.shape[0]], "int32"), 5),
      dispose: () => {},
    }),
  };
  const rng = new Rng(1);
  const seen: number[] = [];
  const far = () => clusterTask(rng, { ways: 5, shots: 1, queries: 4, dim: 400 });
  const good = evaluate(nearest, far, { episodes: 20, onEpisode: (i) => seen.push(i) });
  assert.equal(good.values.length, 20);
  assert.equal(seen.length, 20);
  assert.ok(good.mean > 0.95, `nearest centre in 400-d: ${good.mean}`);
  const flat = evaluate(constant, far, { episodes: 10 });
  assertAllClose([flat.mean, flat.ci95 ?? NaN], [0.2, 0]);
  assert.equal(flat.metric, "accuracy");
  assert.throws(() => evaluate(constant, far, { episodes: 0 }), /episodes must be/);
});

Deno.test("sinusoid: MAML beats the pretrained baseline after one gradient step (K = 10)", async () => {
  const source = new RegressionTaskSampler(new SinusoidFamily(), { shots: 10, queries: 10 });
  const objective = { innerSteps: 1, innerLr: 0.01, metaBatchSize: 25, outerLr: 0.001 };
  const maml = new Maml(mlp([1, 40, 40, 1]), { rng: new Rng(0), kind: "regression", objective });
  const pretrained = new PretrainedBaseline(mlp([1, 40, 40, 1]), { rng: new Rng(0), objective });
  await metaTrain(maml, taskSampler(source, new Rng(1)), { steps: 700 });
  await metaTrain(pretrained, taskSampler(source, new Rng(1)), { steps: 700 });
  const score = (learner: Maml | PretrainedBaseline, steps: number) => {
    const rng = new Rng(77); // the same 200 test tasks for both
    return evaluate(learner, () => source.sample(rng), { episodes: 200, steps });
  };
  const m1 = score(maml, 1);
  const p1 = score(pretrained, 1);
  const m0 = score(maml, 0);
  assert.equal(m1.metric, "mse");
  assert.ok(
    m1.mean + (m1.ci95 ?? NaN) < p1.mean - (p1.ci95 ?? NaN),
    `MAML 1-step MSE ${m1.mean.toFixed(3)} ± ${m1.ci95?.toFixed(3)} vs pretrained ${
      p1.mean.toFixed(3)
    } ± ${p1.ci95?.toFixed(3)}`,
  );
  assert.ok(m1.mean < m0.mean, "one inner step improves MAML's fit");
  maml.dispose();
  pretrained.dispose();
});
