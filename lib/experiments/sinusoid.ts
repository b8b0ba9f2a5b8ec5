/**
 * Sinusoid regression (Finn et al. 2017, section 5.1 and Fig. 2): MAML vs the pretrained
 * baseline (and the task-conditioned MetaClassifier). Notebook 03 and `deno task reproduce`
 * both call {@linkcode sinusoidExperiment}.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { SinusoidFamily } from "../datasets/mod.ts";
import { mlp } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { RegressionTaskSampler } from "../tasks/mod.ts";
import {
  type BaseMetaLearner,
  type Episode,
  Maml,
  MetaClassifier,
  type MetaLearner,
  type MetaObjectiveConfig,
  type TrainingHistory,
} from "../meta/mod.ts";
import {
  compareWithPublished,
  type Comparison,
  type EvalResult,
  evaluate,
  PretrainedBaseline,
  PUBLISHED,
} from "../eval/mod.ts";
import {
  type ExperimentProgress,
  runContext,
  stoppedBeforeStart,
  trainWithCheckpoints,
} from "./training.ts";
import type { RunContext } from "./types.ts";

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
  /** Its meta-training steps (its meta-batches run batched, like MAML's). */
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
  run: Partial<RunContext> = {},
): Promise<SinusoidResult> {
  const config: SinusoidConfig = { ...SINUSOID_FULL, ...overrides };
  const ctx = runContext(config.seed, run);
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
  const learners: Record<string, BaseMetaLearner> = {
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
      const history = await trainWithCheckpoints(learner, ctx, {
        label: name,
        metaBatchSize: learner.objective.config.metaBatchSize,
        sampleTasks: (rng, count) => Array.from({ length: count }, () => source.sample(rng)),
        steps: name === "metaclassifier" ? config.metaClassifierSteps : config.trainSteps,
        onStep: onStep ? (s) => onStep(name, s) : undefined,
      });
      if (stoppedBeforeStart(history, ctx)) continue; // the time limit came first
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
