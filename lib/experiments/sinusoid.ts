/**
 * Sinusoid regression (Finn et al. 2017, section 5.1 and Fig. 2): MAML vs the pretrained
 * baseline and the task-conditioned MetaClassifier, on one task stream. The experiments
 * `sinusoid-k5` and `sinusoid-k10` (`sinusoid_k5.ts`, `sinusoid_k10.ts`) are this one
 * definition at K = 5 and K = 10 support points.
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
import { describeHeavyTail, type EvalResult, evaluate, PretrainedBaseline } from "../eval/mod.ts";
import { stoppedBeforeStart, trainWithCheckpoints } from "./training.ts";
import { boolField, type ConfigOf, intField, numberField } from "./config.ts";
import { publishedNumber, trainingCurve } from "./summary.ts";
import { divergedEpisodes } from "./results.ts";
import type { Curve, Experiment, Metric } from "./types.ts";

/** The knobs of the sinusoid experiments, with their quick and full (Finn et al.) values. */
export const SINUSOID_SCHEMA = {
  trainSteps: intField(
    1,
    1_000_000,
    1000,
    70_000,
    "meta-training steps of MAML and the pretrained model (Finn et al.: 70,000)",
  ),
  metaBatchSize: intField(1, 1000, 25, 25, "tasks per meta-step"),
  innerLr: numberField(0, 10, 0.01, 0.01, "inner SGD step α"),
  outerLr: numberField(0, 1, 0.001, 0.001, "outer Adam rate β"),
  evalEpisodes: intField(1, 100_000, 100, 600, "new test tasks"),
  metaClassifier: boolField(true, true, "also train the task-conditioned MetaClassifier"),
  metaClassifierSteps: intField(
    1,
    1_000_000,
    1000,
    70_000,
    "its meta-training steps (the same budget as MAML's by default)",
  ),
};

/** A sinusoid experiment's config. */
export type SinusoidConfig = ConfigOf<typeof SINUSOID_SCHEMA>;

/** Fixed parts of Finn et al.'s setting (not knobs). */
const QUERIES = 10;
const HIDDEN = [40, 40];
const EVAL_STEPS = [0, 1, 10];

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

/** What a sinusoid experiment returns. */
export interface SinusoidResult {
  /** K support points per task. */
  shots: number;
  /** `maml`, `pretrained` and (if asked) `metaclassifier`. */
  learners: Record<string, LearnerResult>;
  /** Fits after 0, 1 and 10 steps on one test task. */
  curves: FitCurves;
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
    const y = adapted.predict(x); // a tidy would hand this tensor back, undisposed
    out[s] = Array.from(y.dataSync());
    y.dispose();
    adapted.dispose();
  }
  x.dispose();
  return out;
}

function objectiveOf(config: SinusoidConfig): Partial<MetaObjectiveConfig> {
  return {
    innerSteps: 1,
    innerLr: config.innerLr,
    outerLr: config.outerLr,
    metaBatchSize: config.metaBatchSize,
  };
}

/** The learner `label` (`maml`, `pretrained` or `metaclassifier`), untrained, for `config`. */
function sinusoidLearner(label: string, config: SinusoidConfig, seed = 0): BaseMetaLearner {
  const sizes = [1, ...HIDDEN, 1];
  const objective = objectiveOf(config);
  const rng = new Rng(seed);
  switch (label) {
    case "maml":
      return new Maml(mlp(sizes), { rng, kind: "regression", objective });
    case "pretrained":
      return new PretrainedBaseline(mlp(sizes), { rng, objective });
    case "metaclassifier":
      // CAVIA-style: a 4-dimensional context inferred with inner rate 1.0, FiLM on features.
      return new MetaClassifier(mlp(sizes), {
        rng,
        kind: "regression",
        inputShape: [1],
        outputs: 1,
        contextSize: 4,
        objective: { ...objective, innerLr: 1.0 },
      });
    default:
      throw new Error(
        `unknown sinusoid learner "${label}": expected maml, pretrained or metaclassifier`,
      );
  }
}

/**
 * Meta-trains MAML (second order, tasks batched), the pretrained baseline and optionally
 * the MetaClassifier on the same task stream, evaluates each after 0, 1 and 10 test-time
 * steps on the same new tasks, and returns the fits on one test task.
 */
async function runSinusoid(
  shots: number,
  config: SinusoidConfig,
  ctx: Parameters<Experiment["run"]>[1],
): Promise<SinusoidResult> {
  const source = new RegressionTaskSampler(new SinusoidFamily(), { shots, queries: QUERIES });
  const names = ["maml", "pretrained", ...(config.metaClassifier ? ["metaclassifier"] : [])];
  const results: Record<string, LearnerResult> = {};
  const grid = Array.from({ length: 100 }, (_, i) => -5 + (10 * i) / 99);
  const curveTask = source.sample(new Rng(ctx.seed + 999));
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
    for (const name of names) {
      const learner = sinusoidLearner(name, config, ctx.seed);
      try {
        const history = await trainWithCheckpoints(learner, ctx, {
          label: name,
          metaBatchSize: learner.objective.config.metaBatchSize,
          tasks: source,
          steps: name === "metaclassifier" ? config.metaClassifierSteps : config.trainSteps,
        });
        if (stoppedBeforeStart(history, ctx)) continue; // the time limit came first
        const evals: Record<number, EvalResult> = {};
        for (const steps of EVAL_STEPS) {
          const rng = new Rng(ctx.seed + 2); // the same test tasks for every learner
          evals[steps] = evaluate(learner, () => source.sample(rng), {
            episodes: config.evalEpisodes,
            steps,
          });
        }
        results[name] = { history, eval: evals };
        curves.fits[name] = fitCurves(learner, curveTask, EVAL_STEPS, grid);
      } finally {
        learner.dispose();
      }
    }
  } finally {
    tf.dispose([curveTask.support.x, curveTask.support.y, curveTask.query.x, curveTask.query.y]);
  }
  return { shots, learners: results, curves };
}

function summarizeSinusoid(r: SinusoidResult, config: SinusoidConfig) {
  const metrics: Metric[] = [];
  const notes: string[] = [];
  for (const [name, learner] of Object.entries(r.learners)) {
    for (const [steps, e] of Object.entries(learner.eval)) {
      metrics.push({
        name: `K=${r.shots} ${name}, MSE after ${steps} step${steps === "1" ? "" : "s"}`,
        value: e.mean,
        ci95: e.ci95,
        unit: "MSE",
        episodes: e.n,
        diverged: divergedEpisodes(e.values),
        higherIsBetter: false,
        published: publishedNumber(`sinusoid/k${r.shots}/${name}/${steps}`),
      });
      const tail = describeHeavyTail(e.values);
      if (tail) notes.push(`K=${r.shots} ${name} after ${steps} step(s): ${tail}`);
    }
  }
  if (config.trainSteps < 70_000) {
    notes.push(
      `trained ${config.trainSteps} meta-steps (the paper: 70,000); numbers are not comparable until the full preset`,
    );
  }
  const c = r.curves;
  const fits: Curve = {
    title: `fits to one new task after 0, 1, 10 steps (A=${c.params.amplitude.toFixed(2)}, ` +
      `b=${c.params.phase.toFixed(2)}; Finn et al. Fig. 2)`,
    xLabel: "x",
    yLabel: "y",
    series: [
      { name: "ground truth", x: c.x, y: c.truth },
      ...Object.entries(c.fits).flatMap(([name, bySteps]) =>
        Object.entries(bySteps).map(([steps, y]) => ({
          name: `${name}, ${steps} step${steps === "1" ? "" : "s"}`,
          x: c.x,
          y,
        }))
      ),
      { name: `the ${r.shots} support points`, x: c.support.x, y: c.support.y, markers: true },
    ],
  };
  return {
    metrics,
    curves: [trainingCurve("sinusoid meta-training", r.learners, "loss"), fits],
    notes,
  };
}

/** The sinusoid experiment with K = `shots` support points per task. */
export function sinusoidRegression(
  shots: 5 | 10,
): Experiment<typeof SINUSOID_SCHEMA, SinusoidResult> {
  return {
    name: `sinusoid-k${shots}`,
    title: `Sinusoid regression, K=${shots}: MAML vs pretrained (Finn et al. 2017)`,
    description: `MLP 1-40-40-1 meta-trained with second-order MAML (1 inner step, α=0.01, ` +
      `25 tasks per step, Adam 1e-3), a model pretrained on all tasks, and the task-conditioned ` +
      `MetaClassifier; MSE on 600 new tasks after 1 and 10 test-time steps.`,
    needs: [],
    schema: SINUSOID_SCHEMA,
    run: (config, ctx) => runSinusoid(shots, config, ctx),
    summarize: summarizeSinusoid,
    learner: (label, config) => sinusoidLearner(label, config),
  };
}
