/**
 * Experiment functions behind notebooks 02 and 03 (and, later, `deno task reproduce`):
 * plain config in, plain result out; each builds its learners, trains, evaluates and
 * disposes everything it made.
 *
 * - {@linkcode sinusoidExperiment}: MAML vs the pretrained baseline (and the task-conditioned
 *   MetaClassifier) on the sinusoid family, Finn et al. 2017 Fig. 2.
 * - {@linkcode regularisationSweep}: meta-overfitting with few training tasks and what λR(θ)
 *   does to meta-train vs meta-test loss.
 * - {@linkcode omniglotExperiment}: Omniglot N-way K-shot with ProtoNets and MAML-family
 *   learners on Conv-4.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { findOmniglotDir, loadOmniglot, omniglotSplits, SinusoidFamily } from "../datasets/mod.ts";
import { conv4, mlp } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler, RegressionTaskSampler } from "../tasks/mod.ts";
import {
  Anil,
  FirstOrderMaml,
  Maml,
  MetaClassifier,
  type MetaLearner,
  type MetaObjectiveConfig,
  MetaSgd,
  metaTrain,
  ProtoNet,
  type StepStats,
  taskSampler,
  type TrainingHistory,
} from "../meta/mod.ts";
import type { Episode } from "../meta/mod.ts";
import { type EvalResult, evaluate, scoreEpisode } from "./episodic.ts";
import { compareWithPublished, type Comparison, PUBLISHED } from "./published.ts";
import { PretrainedBaseline } from "./pretrained.ts";

/** Progress callback shared by the experiments: which learner, and its step. */
export type ExperimentProgress = (learner: string, stats: StepStats) => void | Promise<void>;

// ---------------------------------------------------------------------------------------------
// Sinusoid: MAML vs pretrained (Finn et al. 2017, Fig. 2)

/** Configuration of {@linkcode sinusoidExperiment} (defaults: Finn et al.'s full run). */
export interface SinusoidConfig {
  /** K support points per task (10 in Fig. 2; 5 for the table). */
  shots: number;
  /** Query points per task during meta-training. */
  queries: number;
  /** Meta-training steps (70,000 in the paper). */
  trainSteps: number;
  /** Tasks per meta-batch (25). */
  metaBatchSize: number;
  /** Inner step size α (0.01). */
  innerLr: number;
  /** Outer Adam rate β (0.001). */
  outerLr: number;
  /** Hidden layer sizes (40, 40). */
  hidden: number[];
  /** Test episodes (600). */
  evalEpisodes: number;
  /** Test-time gradient steps to evaluate (1 and 10). */
  evalSteps: number[];
  /** Also train the task-conditioned MetaClassifier (CAVIA-style). */
  metaClassifier: boolean;
  /** Its meta-training steps (it runs tasks one by one, so it is slower per step). */
  metaClassifierSteps: number;
  /** Seed of everything. */
  seed: number;
}

/** Finn et al.'s settings. */
export const SINUSOID_FULL: Readonly<SinusoidConfig> = Object.freeze({
  shots: 10,
  queries: 10,
  trainSteps: 70000,
  metaBatchSize: 25,
  innerLr: 0.01,
  outerLr: 0.001,
  hidden: [40, 40],
  evalEpisodes: 600,
  evalSteps: [1, 10],
  metaClassifier: true,
  metaClassifierSteps: 70000,
  seed: 0,
});

/** A configuration that runs in well under a minute. */
export const SINUSOID_QUICK: Readonly<SinusoidConfig> = Object.freeze({
  ...SINUSOID_FULL,
  trainSteps: 1000,
  metaClassifierSteps: 200,
  evalEpisodes: 100,
});

/** Predictions of adapted models on a grid, for one task (the Fig. 2 panels). */
export interface FitCurves {
  /** The grid of inputs. */
  x: number[];
  /** The task's true function on the grid. */
  truth: number[];
  /** The K support points used for adaptation. */
  support: { x: number[]; y: number[] };
  /** learner name → steps → predictions on the grid. */
  fits: Record<string, Record<number, number[]>>;
  /** The generating amplitude and phase. */
  params: { amplitude: number; phase: number };
}

/** One learner's part of a result. */
export interface LearnerResult {
  /** Meta-training history. */
  history: TrainingHistory;
  /** Test-time steps → evaluation on new tasks. */
  eval: Record<number, EvalResult>;
}

/** Result of {@linkcode sinusoidExperiment}. */
export interface SinusoidResult {
  /** The configuration run. */
  config: SinusoidConfig;
  /** `maml`, `pretrained` and (if asked) `metaclassifier`. */
  learners: Record<string, LearnerResult>;
  /** Fits after 0, 1 and 10 steps on one test task. */
  curves: FitCurves;
  /** Comparisons with Finn et al. (for K = 5 only; the paper's table is K = 5). */
  comparisons: Record<string, Comparison>;
  /** Wall time in milliseconds. */
  wallMs: number;
}

/** Predictions of `learner` on `grid` after adapting to `task` with each of `steps`. */
export function fitCurves(
  learner: MetaLearner,
  task: Episode,
  steps: number[],
  grid: number[],
): Record<number, number[]> {
  const out: Record<number, number[]> = {};
  const x = tf.tensor2d(grid, [grid.length, 1]);
  for (const s of steps) {
    const adapted = learner.adapt(task.support, { steps: s });
    out[s] = Array.from(tf.tidy(() => adapted.predict(x)).dataSync());
    adapted.dispose();
  }
  x.dispose();
  return out;
}

/**
 * Sinusoid regression (Finn et al. 2017, section 5.1 and Fig. 2): meta-trains MAML (second
 * order, tasks batched), the pretrained baseline and optionally the MetaClassifier on the
 * same task stream, evaluates each after `evalSteps` test-time steps on the same new tasks,
 * and returns the fits on one test task after 0, 1 and 10 steps.
 */
export async function sinusoidExperiment(
  overrides: Partial<SinusoidConfig> = {},
  onStep?: ExperimentProgress,
): Promise<SinusoidResult> {
  const config: SinusoidConfig = { ...SINUSOID_FULL, ...overrides };
  const t0 = performance.now();
  const source = new RegressionTaskSampler(new SinusoidFamily(), {
    shots: config.shots,
    queries: config.queries,
  });
  const sizes = [1, ...config.hidden, 1];
  const objective: Partial<MetaObjectiveConfig> = {
    innerSteps: 1,
    innerLr: config.innerLr,
    outerLr: config.outerLr,
    metaBatchSize: config.metaBatchSize,
  };
  const learners: Record<string, MetaLearner> = {
    maml: new Maml(mlp(sizes), { rng: new Rng(config.seed), kind: "regression", objective }),
    pretrained: new PretrainedBaseline(mlp(sizes), { rng: new Rng(config.seed), objective }),
  };
  if (config.metaClassifier) {
    learners.metaclassifier = new MetaClassifier(mlp(sizes), {
      rng: new Rng(config.seed),
      kind: "regression",
      inputShape: [1],
      outputs: 1,
      contextSize: 4,
      objective: { ...objective, innerLr: 1.0 },
    });
  }
  const results: Record<string, LearnerResult> = {};
  const grid = Array.from({ length: 100 }, (_, i) => -5 + (10 * i) / 99);
  const curveTask = source.sample(new Rng(config.seed + 999));
  const curves: FitCurves = {
    x: grid,
    truth: Array.from(new SinusoidFamily().evaluate(curveTask.meta.params, grid)),
    support: {
      x: Array.from(curveTask.support.x.dataSync()),
      y: Array.from(curveTask.support.y.dataSync()),
    },
    fits: {},
    params: curveTask.meta.params,
  };
  try {
    for (const [name, learner] of Object.entries(learners)) {
      const history = await metaTrain(learner, taskSampler(source, new Rng(config.seed + 1)), {
        steps: name === "metaclassifier" ? config.metaClassifierSteps : config.trainSteps,
        onStep: onStep ? (s) => onStep(name, s) : undefined,
      });
      const evals: Record<number, EvalResult> = {};
      for (const steps of [0, ...config.evalSteps]) {
        const rng = new Rng(config.seed + 2); // the same test tasks for every learner
        evals[steps] = evaluate(learner, () => source.sample(rng), {
          episodes: config.evalEpisodes,
          steps,
        });
      }
      results[name] = { history, eval: evals };
      curves.fits[name] = fitCurves(learner, curveTask, [0, 1, 10], grid);
    }
  } finally {
    Object.values(learners).forEach((l) => l.dispose());
    tf.dispose([curveTask.support.x, curveTask.support.y, curveTask.query.x, curveTask.query.y]);
  }
  const comparisons: Record<string, Comparison> = {};
  if (config.shots === 5) {
    for (const name of ["maml", "pretrained"]) {
      for (const steps of [1, 10]) {
        const key = `sinusoid/k5/${name}/${steps}`;
        const r = results[name]?.eval[steps];
        if (r && PUBLISHED[key]) comparisons[key] = compareWithPublished(r, PUBLISHED[key]);
      }
    }
  }
  return { config, learners: results, curves, comparisons, wallMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// λR(θ) sweep: meta-overfitting with few training tasks

/** Configuration of {@linkcode regularisationSweep}. */
export interface SweepConfig {
  /** Number of distinct meta-training tasks (few, so that meta-overfitting shows). */
  trainTasks: number;
  /** Which regulariser λ scales: `"l2"` (λ‖θ‖²) or `"proximal"` (λ·mean‖φ_i − θ‖²). */
  regulariser: "l2" | "proximal";
  /** The λ values. */
  lambdas: number[];
  /** Meta-training steps per λ. */
  trainSteps: number;
  /** Tasks per meta-batch (drawn from the training pool). */
  metaBatchSize: number;
  /** Evaluate every this many steps. */
  evalEvery: number;
  /** New tasks for the meta-test curve. */
  testTasks: number;
  /** K support points. */
  shots: number;
  /** Inner steps during training and evaluation. */
  innerSteps: number;
  /** Inner rate. */
  innerLr: number;
  /** Outer rate. */
  outerLr: number;
  /** Hidden layer sizes. */
  hidden: number[];
  /** Seed. */
  seed: number;
}

/** Defaults of the sweep (a run of a few minutes). */
export const SWEEP_FULL: Readonly<SweepConfig> = Object.freeze({
  trainTasks: 8,
  regulariser: "l2",
  lambdas: [0, 1e-3, 1e-2, 1e-1],
  trainSteps: 3000,
  metaBatchSize: 8,
  evalEvery: 100,
  testTasks: 200,
  shots: 10,
  innerSteps: 1,
  innerLr: 0.01,
  outerLr: 0.001,
  hidden: [40, 40],
  seed: 0,
});

/** A sweep that runs in well under a minute. */
export const SWEEP_QUICK: Readonly<SweepConfig> = Object.freeze({
  ...SWEEP_FULL,
  lambdas: [0, 1e-2, 1e-1],
  trainSteps: 1000,
  evalEvery: 100,
  testTasks: 50,
});

/** One λ's curves. */
export interface SweepCurve {
  /** λ. */
  lambda: number;
  /** Steps at which the curves were measured. */
  step: number[];
  /** Mean query MSE after adaptation on the training tasks. */
  metaTrain: number[];
  /** Mean query MSE after adaptation on new tasks, with its 95% half-width. */
  metaTest: number[];
  /** 95% half-width of `metaTest`. */
  metaTestCi95: number[];
}

/** Result of {@linkcode regularisationSweep}. */
export interface SweepResult {
  /** The configuration run. */
  config: SweepConfig;
  /** One entry per λ. */
  curves: SweepCurve[];
  /** Wall time in milliseconds. */
  wallMs: number;
}

/**
 * Sinusoid MAML meta-trained on only `trainTasks` fixed tasks, once per λ: measures the
 * meta-train loss (on those tasks) and the meta-test loss (on new tasks) as training goes.
 * With few tasks, meta-train loss falls while meta-test loss stalls or rises:
 * meta-overfitting; λR(θ) trades one against the other.
 */
export async function regularisationSweep(
  overrides: Partial<SweepConfig> = {},
  onStep?: ExperimentProgress,
): Promise<SweepResult> {
  const config: SweepConfig = { ...SWEEP_FULL, ...overrides };
  const t0 = performance.now();
  const source = new RegressionTaskSampler(new SinusoidFamily(), {
    shots: config.shots,
    queries: config.shots,
  });
  const poolRng = new Rng(config.seed + 10);
  const pool = Array.from({ length: config.trainTasks }, () => source.sample(poolRng));
  const testRng = new Rng(config.seed + 20);
  const tests = Array.from({ length: config.testTasks }, () => source.sample(testRng));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const curves: SweepCurve[] = [];
  try {
    for (const lambda of config.lambdas) {
      const learner = new Maml(mlp([1, ...config.hidden, 1]), {
        rng: new Rng(config.seed),
        kind: "regression",
        objective: {
          innerSteps: config.innerSteps,
          innerLr: config.innerLr,
          outerLr: config.outerLr,
          metaBatchSize: config.metaBatchSize,
          [config.regulariser]: lambda,
        },
      });
      const pick = new Rng(config.seed + 1);
      const curve: SweepCurve = { lambda, step: [], metaTrain: [], metaTest: [], metaTestCi95: [] };
      const measure = (step: number) => {
        const opts = { steps: config.innerSteps };
        curve.step.push(step);
        curve.metaTrain.push(mean(pool.map((t) => scoreEpisode(learner, t, opts))));
        const values = tests.map((t) => scoreEpisode(learner, t, opts));
        const m = mean(values);
        const sd = Math.sqrt(mean(values.map((v) => (v - m) ** 2)));
        curve.metaTest.push(m);
        curve.metaTestCi95.push((1.96 * sd) / Math.sqrt(values.length));
      };
      measure(0);
      await metaTrain(
        learner,
        (n) => Array.from({ length: n }, () => pool[pick.int(pool.length)]),
        {
          steps: config.trainSteps,
          disposeTasks: false, // the pool is reused
          reportEvery: config.evalEvery,
          onStep: async (s) => {
            measure(s.step + 1);
            await onStep?.(`λ=${lambda}`, s);
          },
        },
      );
      curves.push(curve);
      learner.dispose();
    }
  } finally {
    for (const t of [...pool, ...tests]) {
      tf.dispose([t.support.x, t.support.y, t.query.x, t.query.y]);
    }
  }
  return { config, curves, wallMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// Omniglot few-shot

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
): Promise<OmniglotResult> {
  const config: OmniglotConfig = { ...OMNIGLOT_FULL, ...overrides };
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
  for (const name of config.learners) {
    const rng = new Rng(config.seed);
    const objective: Partial<MetaObjectiveConfig> = {
      innerSteps: config.innerSteps,
      innerLr: config.innerLr,
      outerLr: config.outerLr,
      metaBatchSize: name === "protonet" ? 1 : config.metaBatchSize,
    };
    const head = conv4({ inputShape, outputs: config.ways, filters: config.filters });
    const learner: MetaLearner = name === "protonet"
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
      const history = await metaTrain(
        learner,
        taskSampler(trainSampler, new Rng(config.seed + 1)),
        {
          steps: config.trainSteps,
          lrSchedule: config.halveEvery > 0
            ? (step) => config.outerLr * 0.5 ** Math.floor(step / config.halveEvery)
            : undefined,
          onStep: onStep ? (s) => onStep(name, s) : undefined,
        },
      );
      const trainMs = performance.now() - start;
      const testRng = new Rng(config.seed + 2);
      const steps = name === "protonet" ? 0 : config.testSteps;
      const result = evaluate(learner, () => testSampler.sample(testRng), {
        episodes: config.evalEpisodes,
        steps: name === "protonet" ? undefined : steps,
      });
      results[name] = { history, eval: { [steps]: result }, trainMs };
      const key = `omniglot/${config.ways}w${config.shots}s/${name === "fomaml" ? "maml" : name}`;
      if (PUBLISHED[key]) comparisons[key] = compareWithPublished(result, PUBLISHED[key]);
    } finally {
      learner.dispose();
    }
  }
  return { config, learners: results, comparisons, wallMs: performance.now() - t0 };
}
