/**
 * `sinusoid-regularisation`: the λR(θ) sweep behind notebook 02. Sinusoid MAML
 * meta-trained on only a few fixed tasks, once per λ, measuring the meta-train loss (on
 * those tasks) and the meta-test loss (on new tasks) as training goes. With few tasks the
 * meta-train loss falls while the meta-test loss stalls or rises — meta-overfitting — and
 * λR(θ) trades one against the other.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { SinusoidFamily } from "../datasets/mod.ts";
import { mlp } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { RegressionTaskSampler } from "../tasks/mod.ts";
import { Maml, metaTrain } from "../meta/mod.ts";
import { confidenceInterval, scoreEpisode } from "../eval/mod.ts";
import { choiceField, type ConfigOf, intField, numberField, numbersField } from "./config.ts";
import type { Experiment, Metric } from "./types.ts";

const SCHEMA = {
  trainTasks: intField(
    1,
    100_000,
    8,
    8,
    "distinct meta-training tasks (few, so that meta-overfitting shows)",
  ),
  regulariser: choiceField(
    ["l2", "proximal"] as const,
    "l2",
    "l2",
    "what λ scales: l2 (λ‖θ‖²) or proximal (λ·mean‖φ_i − θ‖²)",
  ),
  lambdas: numbersField(0, 100, [0, 1e-2, 1e-1], [0, 1e-3, 1e-2, 1e-1], "the λ values"),
  // Quick keeps the full schedule's length: meta-overfitting only begins after ~1,000 steps.
  trainSteps: intField(1, 1_000_000, 3000, 3000, "meta-training steps per λ"),
  metaBatchSize: intField(1, 1000, 8, 8, "tasks per meta-step (drawn from the training pool)"),
  evalEvery: intField(1, 100_000, 100, 100, "steps between measurements"),
  testTasks: intField(1, 100_000, 100, 200, "new tasks for the meta-test curve"),
  shots: intField(1, 1000, 10, 10, "K support (and query) points per task"),
  innerSteps: intField(1, 100, 1, 1, "inner steps in training and evaluation"),
  innerLr: numberField(0, 10, 0.01, 0.01, "inner SGD step α"),
  outerLr: numberField(0, 1, 0.001, 0.001, "outer Adam rate β"),
};

/** The config of `sinusoid-regularisation`. */
export type SweepConfig = ConfigOf<typeof SCHEMA>;

const HIDDEN = [40, 40];

/** One λ's curves. */
export interface SweepCurve {
  /** λ. */
  lambda: number;
  /** Steps at which the curves were measured. */
  step: number[];
  /** Mean query MSE after adaptation on the training tasks. */
  metaTrain: number[];
  /** Mean query MSE after adaptation on new tasks. */
  metaTest: number[];
  /** 95% half-width of `metaTest`. */
  metaTestCi95: number[];
}

/** What `sinusoid-regularisation` returns: one entry per λ. */
export interface SweepResult {
  /** The curves, in the order of `lambdas`. */
  curves: SweepCurve[];
}

/** The λR(θ) sweep on few sinusoid tasks (notebook 02). */
export const sinusoidRegularisation: Experiment<typeof SCHEMA, SweepResult> = {
  name: "sinusoid-regularisation",
  title: "Meta-overfitting and λR(θ): sinusoid MAML on a few training tasks",
  description: "MLP 1-40-40-1, second-order MAML meta-trained on 8 fixed sinusoid tasks " +
    "(10 shots, 1 inner step α=0.01, Adam 1e-3) once per λ of the regulariser; meta-train " +
    "loss on those tasks and meta-test loss on new tasks, measured every 100 steps.",
  needs: [],
  schema: SCHEMA,
  async run(config, ctx) {
    if (ctx.models?.evalOnly) {
      throw new Error(
        "sinusoid-regularisation has no evaluation-only mode: its result is the curves " +
          "measured during training",
      );
    }
    const source = new RegressionTaskSampler(new SinusoidFamily(), {
      shots: config.shots,
      queries: config.shots,
    });
    const poolRng = new Rng(ctx.seed + 10);
    const pool = Array.from({ length: config.trainTasks }, () => source.sample(poolRng));
    const testRng = new Rng(ctx.seed + 20);
    const tests = Array.from({ length: config.testTasks }, () => source.sample(testRng));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const curves: SweepCurve[] = [];
    try {
      for (const lambda of config.lambdas) {
        const label = `lambda=${lambda}`;
        const learner = new Maml(mlp([1, ...HIDDEN, 1]), {
          rng: new Rng(ctx.seed),
          kind: "regression",
          objective: {
            innerSteps: config.innerSteps,
            innerLr: config.innerLr,
            outerLr: config.outerLr,
            metaBatchSize: config.metaBatchSize,
            [config.regulariser]: lambda,
          },
        });
        try {
          const pick = new Rng(ctx.seed + 1);
          const curve: SweepCurve = {
            lambda,
            step: [],
            metaTrain: [],
            metaTest: [],
            metaTestCi95: [],
          };
          const measure = (step: number) => {
            const opts = { steps: config.innerSteps };
            curve.step.push(step);
            curve.metaTrain.push(mean(pool.map((t) => scoreEpisode(learner, t, opts))));
            const test = confidenceInterval(tests.map((t) => scoreEpisode(learner, t, opts)));
            curve.metaTest.push(test.mean);
            curve.metaTestCi95.push(test.ci95 ?? NaN); // one test task: no interval
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
                if (ctx.signal.aborted) throw new Error("interrupted");
                measure(s.step + 1);
                ctx.progress(s.step + 1, config.trainSteps, { [label]: s.loss });
                await ctx.onStep(label, s);
              },
            },
          );
          curves.push(curve);
          await ctx.models?.save(label, learner, {
            done: config.trainSteps,
            schedule: config.trainSteps,
          });
        } finally {
          learner.dispose();
        }
      }
    } finally {
      for (const t of [...pool, ...tests]) {
        tf.dispose([t.support.x, t.support.y, t.query.x, t.query.y]);
      }
    }
    return { curves };
  },
  summarize(r, config) {
    const metrics: Metric[] = r.curves.flatMap((c) => {
      const last = c.step.length - 1;
      return [
        {
          name: `λ=${c.lambda} (${config.regulariser}): meta-test MSE after ${c.step[last]} steps`,
          value: c.metaTest[last],
          ci95: c.metaTestCi95[last],
          unit: "MSE",
          episodes: config.testTasks,
          higherIsBetter: false,
        },
        {
          name: `λ=${c.lambda} (${config.regulariser}): meta-train MSE after ${c.step[last]} steps`,
          value: c.metaTrain[last],
          unit: "MSE",
          episodes: config.trainTasks,
          higherIsBetter: false,
        },
      ];
    });
    return {
      metrics,
      curves: [{
        title: `meta-train (dashed in notebook 02) vs meta-test MSE, ${config.trainTasks} ` +
          `training tasks, R = ${config.regulariser}`,
        xLabel: "meta-step",
        yLabel: "query MSE after adaptation",
        series: r.curves.flatMap((c) => [
          { name: `λ=${c.lambda} meta-train`, x: c.step, y: c.metaTrain },
          { name: `λ=${c.lambda} meta-test`, x: c.step, y: c.metaTest, band: c.metaTestCi95 },
        ]),
      }],
      notes: [],
    };
  },
};
