/**
 * Omniglot N-way K-shot with Prototypical Networks and the MAML family on Conv-4 (Snell et
 * al. 2017; Finn et al. 2017). Notebook 03 and `deno task reproduce` both call
 * {@linkcode omniglotExperiment}.
 * @module
 */
import { findOmniglotDir, loadOmniglot, omniglotSplits } from "../datasets/mod.ts";
import { conv4 } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler } from "../tasks/mod.ts";
import {
  Anil,
  type BaseMetaLearner,
  FirstOrderMaml,
  Maml,
  type MetaObjectiveConfig,
  MetaSgd,
  ProtoNet,
} from "../meta/mod.ts";
import { compareWithPublished, type Comparison, evaluate, PUBLISHED } from "../eval/mod.ts";
import {
  type ExperimentProgress,
  runContext,
  stoppedBeforeStart,
  trainWithCheckpoints,
} from "./training.ts";
import type { LearnerResult } from "./sinusoid.ts";
import type { RunContext } from "./types.ts";

/** Learners {@linkcode omniglotExperiment} can train. */
export type OmniglotLearnerName = "protonet" | "maml" | "fomaml" | "anil" | "metasgd";

/** Configuration of {@linkcode omniglotExperiment}. */
export interface OmniglotConfig {
  /** Which learners. */
  learners: OmniglotLearnerName[];
  /** N ways (test and, for MAML-family, training). */
  ways: number;
  /** K shots. */
  shots: number;
  /** Query examples per class. */
  queries: number;
  /** Ways of the ProtoNet training episodes (Snell et al. train with more ways, e.g. 60). */
  protoTrainWays: number;
  /** Queries per class of the ProtoNet training episodes (Snell et al.: 5). */
  protoTrainQueries: number;
  /** Meta-training steps per learner. */
  trainSteps: number;
  /** Tasks per meta-batch (MAML family; ProtoNets use 1 episode per step). */
  metaBatchSize: number;
  /** Inner steps (training) and inner rate (MAML family: 1 step, 0.4 in Finn et al.). */
  innerSteps: number;
  /** Inner rate. */
  innerLr: number;
  /** Test-time inner steps (MAML family; Finn et al. use 3). */
  testSteps: number;
  /** Outer Adam rate. */
  outerLr: number;
  /** Halve the outer rate every this many steps (0: never; ProtoNets: 2,000). */
  halveEvery: number;
  /** Conv filters (64). */
  filters: number;
  /** Test episodes. */
  evalEpisodes: number;
  /** `standard` (1,200 training characters + rotations) or `background-evaluation`. */
  protocol: "standard" | "background-evaluation";
  /** Folder with the Omniglot archives (default: `findOmniglotDir()`). */
  dir?: string;
  /** Seed. */
  seed: number;
}

/** Full settings (Snell et al. / Finn et al.). */
export const OMNIGLOT_FULL: Readonly<OmniglotConfig> = Object.freeze({
  learners: ["protonet", "maml"] as OmniglotLearnerName[],
  ways: 5,
  shots: 1,
  queries: 15,
  protoTrainWays: 60,
  protoTrainQueries: 5,
  trainSteps: 20000,
  metaBatchSize: 32,
  innerSteps: 1,
  innerLr: 0.4,
  testSteps: 3,
  outerLr: 0.001,
  halveEvery: 2000,
  filters: 64,
  evalEpisodes: 600,
  protocol: "standard",
  seed: 0,
});

/** A quick run (a minute or two on two cores). */
export const OMNIGLOT_QUICK: Readonly<OmniglotConfig> = Object.freeze({
  ...OMNIGLOT_FULL,
  protoTrainWays: 5,
  protoTrainQueries: 5,
  queries: 5,
  trainSteps: 60,
  metaBatchSize: 4,
  filters: 32,
  evalEpisodes: 100,
});

/** Result of {@linkcode omniglotExperiment}. */
export interface OmniglotResult {
  /** The configuration run. */
  config: OmniglotConfig;
  /** learner → training history and evaluation (keyed by test steps). */
  learners: Record<string, LearnerResult & { trainMs: number }>;
  /** Comparisons with the published numbers that match this configuration. */
  comparisons: Record<string, Comparison>;
  /** Learners the run's time limit reached before their first step (neither trained nor evaluated). */
  notStarted: string[];
  /** Wall time in milliseconds. */
  wallMs: number;
}

/**
 * Omniglot N-way K-shot: loads the archives (cached after the first time), splits the
 * characters, meta-trains each learner on Conv-4 and evaluates on new characters.
 * Throws a clear error when the archives are not found.
 */
export async function omniglotExperiment(
  overrides: Partial<OmniglotConfig> = {},
  onStep?: ExperimentProgress,
  run: Partial<RunContext> = {},
): Promise<OmniglotResult> {
  const config: OmniglotConfig = { ...OMNIGLOT_FULL, ...overrides };
  const ctx = runContext(config.seed, run);
  const t0 = performance.now();
  const dir = config.dir ?? findOmniglotDir();
  if (!dir) {
    throw new Error(
      "Omniglot archives not found: run `deno task data omniglot` (or pass dir)",
    );
  }
  const omniglot = await loadOmniglot({ dir });
  const splits = omniglotSplits(omniglot, { protocol: config.protocol });
  const spec = { ways: config.ways, shots: config.shots, queries: config.queries };
  const testSampler = EpisodeSampler.forSplit(splits, "test", spec);
  const inputShape: [number, number, number] = [28, 28, 1];
  const results: OmniglotResult["learners"] = {};
  const comparisons: Record<string, Comparison> = {};
  const notStarted: string[] = [];
  for (const name of config.learners) {
    const rng = new Rng(config.seed);
    const objective: Partial<MetaObjectiveConfig> = {
      innerSteps: config.innerSteps,
      innerLr: config.innerLr,
      outerLr: config.outerLr,
      metaBatchSize: name === "protonet" ? 1 : config.metaBatchSize,
    };
    const head = conv4({ inputShape, outputs: config.ways, filters: config.filters });
    const learner: BaseMetaLearner = name === "protonet"
      ? new ProtoNet(conv4({ inputShape, outputs: 0, filters: config.filters }), { rng, objective })
      : name === "maml"
      ? new Maml(head, { rng, objective })
      : name === "fomaml"
      ? new FirstOrderMaml(head, { rng, objective })
      : name === "anil"
      ? new Anil(head, { rng, objective })
      : new MetaSgd(head, { rng, objective });
    const trainSpec = name === "protonet"
      ? { ...spec, ways: config.protoTrainWays, queries: config.protoTrainQueries }
      : spec;
    const trainSampler = EpisodeSampler.forSplit(splits, "train", trainSpec);
    const start = performance.now();
    try {
      const history = await trainWithCheckpoints(learner, ctx, {
        label: name,
        metaBatchSize: learner.objective.config.metaBatchSize,
        sampleTasks: (rng, count) => Array.from({ length: count }, () => trainSampler.sample(rng)),
        // A MAML-family step on 32 Conv-4 tasks takes seconds: checkpoint more often.
        checkpointEvery: name === "protonet" ? undefined : 10,
        steps: config.trainSteps,
        lrSchedule: config.halveEvery > 0
          ? (step) => config.outerLr * 0.5 ** Math.floor(step / config.halveEvery)
          : undefined,
        onStep: onStep ? (s) => onStep(name, s) : undefined,
      });
      const trainMs = performance.now() - start;
      if (stoppedBeforeStart(history, ctx)) {
        notStarted.push(name);
        continue;
      }
      const testRng = new Rng(config.seed + 2);
      const steps = name === "protonet" ? 0 : config.testSteps;
      const result = evaluate(learner, () => testSampler.sample(testRng), {
        episodes: config.evalEpisodes,
        steps: name === "protonet" ? undefined : steps,
      });
      results[name] = { history, eval: { [steps]: result }, trainMs };
      const key = `omniglot/${config.ways}w${config.shots}s/${name}`;
      if (PUBLISHED[key]) comparisons[key] = compareWithPublished(result, PUBLISHED[key]);
    } finally {
      learner.dispose();
    }
  }
  return {
    config,
    learners: results,
    comparisons,
    notStarted,
    wallMs: performance.now() - t0,
  };
}
