/**
 * The λR(θ) sweep behind notebook 02: meta-overfitting with few training tasks, and what
 * the regulariser does to meta-train vs meta-test loss.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { SinusoidFamily } from "../datasets/mod.ts";
import { mlp } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { RegressionTaskSampler } from "../tasks/mod.ts";
import { Maml, metaTrain } from "../meta/mod.ts";
import { scoreEpisode } from "../eval/mod.ts";
import type { ExperimentProgress } from "./training.ts";

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
