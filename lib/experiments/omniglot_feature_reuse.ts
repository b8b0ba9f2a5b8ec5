/**
 * `omniglot-feature-reuse`: what MAML's inner loop changes, layer by layer (Raghu, Raghu,
 * Bengio & Vinyals 2020, "Rapid learning or feature reuse?"). MAML and ANIL are meta-trained
 * on Omniglot 5-way 1-shot (Conv-4, Finn et al.'s inner step α = 0.4, 1 step in training and
 * 3 at test time); then, on new test tasks, each layer's representation of the query images
 * under θ is compared with the one under the adapted φ_i by linear CKA (Kornblith et al.
 * 2019), and the calibration (ECE) of the query predictions is measured before and after
 * adaptation. Feature reuse shows as a body CKA near 1 and a head CKA far below; ANIL's body
 * CKA is exactly 1 by construction, a check of the measurement.
 *
 * This is a measurement, not the reproduction of a published accuracy: its full preset is a
 * budget that trains on a laptop (600 meta-steps of 8 tasks, 32 filters), not Finn et al.'s
 * 60,000 steps of 32 tasks; `omniglot-maml` is that reproduction.
 * @module
 */
import { findOmniglotDir, loadOmniglot, omniglotSplits } from "../datasets/mod.ts";
import { evaluate } from "../eval/mod.ts";
import { episodeCalibration, featureReuse, type LayerSimilarity } from "../interpret/mod.ts";
import type { Maml, TrainingHistory } from "../meta/mod.ts";
import { Rng } from "../random/mod.ts";
import { disposeTask, EpisodeSampler } from "../tasks/mod.ts";
import { type ConfigOf, intField } from "./config.ts";
import {
  OMNIGLOT_DATA,
  type OmniglotConfig,
  omniglotLearner,
  type OmniglotPresets,
  omniglotProblems,
  omniglotSchema,
} from "./omniglot.ts";
import { trainingCurve } from "./summary.ts";
import { stoppedBeforeStart, trainWithCheckpoints } from "./training.ts";
import type { Experiment, Metric } from "./types.ts";

/** The learners compared. */
const LEARNERS = ["maml", "anil"] as const;
/** Test-time inner steps (Finn et al.'s Omniglot evaluation). */
const TEST_STEPS = 3;

const PRESETS: OmniglotPresets = {
  ways: 5,
  shots: 1,
  trainSteps: [20, 600],
  metaBatchSize: [4, 8],
  protoTrainWays: [5, 5],
  protocol: "standard",
  filters: [32, 32],
  evalEpisodes: [20, 200],
};

const SCHEMA = {
  ...omniglotSchema(PRESETS, LEARNERS),
  ckaEpisodes: intField(2, 10_000, 10, 50, "test tasks CKA and calibration are measured on"),
};

/** The config of `omniglot-feature-reuse`. */
export type FeatureReuseConfig = ConfigOf<typeof SCHEMA>;

/** One learner's part of the result. */
export interface FeatureReuseLearner {
  /** Meta-training history (empty in an evaluation-only run). */
  history: TrainingHistory;
  /** Accuracy after {@linkcode TEST_STEPS} test steps. */
  accuracy: { mean: number; ci95?: number; n: number };
  /** CKA(θ, φ_i) per layer after the test steps. */
  layers: LayerSimilarity[];
  /** ECE of the query predictions before (θ) and after adaptation. */
  ece: { before: number; after: number };
}

/** What `omniglot-feature-reuse` returns. */
export interface FeatureReuseResult {
  /** Learner → its measurements. */
  learners: Record<string, FeatureReuseLearner>;
  /** The folder the archives were read from. */
  dataDir: string;
}

async function run(
  config: FeatureReuseConfig,
  ctx: Parameters<Experiment["run"]>[1],
): Promise<FeatureReuseResult> {
  const dir = ctx.data?.omniglot ?? findOmniglotDir();
  if (!dir) throw new Error("Omniglot archives not found: run `deno task data omniglot`");
  const splits = omniglotSplits(await loadOmniglot({ dir }), { protocol: config.protocol });
  const spec = { ways: config.ways, shots: config.shots, queries: config.queries };
  const testSampler = EpisodeSampler.forSplit(splits, "test", spec);
  const result: FeatureReuseResult = { learners: {}, dataDir: dir };
  const names = config.learners === "all" ? [...LEARNERS] : [config.learners];
  for (const name of names) {
    const learner = omniglotLearner(name, config as OmniglotConfig, ctx.seed) as Maml;
    try {
      const history = await trainWithCheckpoints(learner, ctx, {
        label: name,
        metaBatchSize: config.metaBatchSize,
        tasks: EpisodeSampler.forSplit(splits, "train", spec),
        checkpointEvery: 10,
        steps: config.trainSteps,
      });
      if (stoppedBeforeStart(history, ctx)) continue;
      const testRng = new Rng(ctx.seed + 2);
      const e = evaluate(learner, () => testSampler.sample(testRng), {
        episodes: config.evalEpisodes,
        steps: TEST_STEPS,
      });
      // The same new tasks for every learner and measurement.
      const ckaRng = new Rng(ctx.seed + 3);
      const episodes = Array.from({ length: config.ckaEpisodes }, () => testSampler.sample(ckaRng));
      try {
        result.learners[name] = {
          history,
          accuracy: { mean: e.mean, ci95: e.ci95, n: e.n },
          layers: featureReuse(learner, episodes, { steps: TEST_STEPS }),
          ece: {
            before: episodeCalibration(learner, episodes, { steps: 0 }).ece,
            after: episodeCalibration(learner, episodes, { steps: TEST_STEPS }).ece,
          },
        };
      } finally {
        episodes.forEach(disposeTask);
      }
    } finally {
      learner.dispose();
    }
  }
  return result;
}

/** Linear CKA per layer of MAML vs ANIL on Omniglot, with accuracy and calibration (see the module doc). */
export const omniglotFeatureReuse: Experiment<typeof SCHEMA, FeatureReuseResult> = {
  name: "omniglot-feature-reuse",
  title: "Feature reuse in MAML vs ANIL: CKA per layer before vs after adaptation (Omniglot)",
  description: "Conv-4 MAML and ANIL, 5-way 1-shot, meta-trained on Omniglot (full preset: " +
    "600 meta-steps of 8 tasks, 32 filters); on new test tasks, linear CKA between each " +
    "layer's representation of the queries under θ and under φ_i after 3 inner steps " +
    "(Raghu et al. 2020), accuracy, and the ECE of the predictions before and after adaptation.",
  needs: [OMNIGLOT_DATA],
  schema: SCHEMA,
  check: (config) =>
    omniglotProblems(config as OmniglotConfig, {
      learners: [...LEARNERS],
      halveEvery: 0,
      fullNote: "",
    }),
  run,
  summarize(result, config) {
    const metrics: Metric[] = [];
    for (const [name, r] of Object.entries(result.learners)) {
      metrics.push({
        name: `${config.ways}-way ${config.shots}-shot ${name} (${TEST_STEPS} test steps)`,
        value: 100 * r.accuracy.mean,
        ci95: r.accuracy.ci95 === undefined ? undefined : 100 * r.accuracy.ci95,
        unit: "%",
        episodes: r.accuracy.n,
        higherIsBetter: true,
      });
      for (const l of r.layers) {
        metrics.push({
          name: `${name} CKA(θ, φ) ${l.layer}`,
          value: l.cka.mean,
          ci95: l.cka.ci95,
          unit: "CKA",
          episodes: l.cka.n,
          // Neither direction is "better": a high body CKA is the finding, not a goal.
          higherIsBetter: true,
        });
      }
      for (const [when, value] of Object.entries(r.ece)) {
        metrics.push({
          name: `${name} ECE ${
            when === "before" ? "before adaptation" : `after ${TEST_STEPS} steps`
          }`,
          value: 100 * value,
          unit: "%",
          episodes: config.ckaEpisodes,
          higherIsBetter: false,
        });
      }
    }
    return {
      metrics,
      curves: [
        {
          title: "omniglot-feature-reuse CKA(θ, φ_i) per layer",
          xLabel: "layer (1–4: conv blocks, 5: head)",
          yLabel: "linear CKA",
          series: Object.entries(result.learners).map(([name, r]) => ({
            name,
            x: r.layers.map((_, i) => i + 1),
            y: r.layers.map((l) => l.cka.mean),
            band: r.layers.map((l) => l.cka.ci95 ?? 0),
          })),
        },
        trainingCurve("omniglot-feature-reuse meta-training loss", result.learners, "loss"),
      ],
      notes: [
        `CKA and ECE on ${config.ckaEpisodes} new test tasks, after ${TEST_STEPS} inner steps`,
        `Omniglot read from ${result.dataDir}`,
        "a measurement on a laptop budget, not Finn et al.'s schedule (omniglot-maml reproduces that)",
      ],
    };
  },
  learner: (label, config) => omniglotLearner(label, config as OmniglotConfig, 0),
};
