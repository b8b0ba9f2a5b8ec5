/**
 * `sinusoid-zero-shot`: a sinusoid predicted from its description alone, against K-shot
 * adaptation, on the same new tasks.
 *
 * A MetaClassifier (CAVIA-style context, as in `sinusoid-k10`) and MAML are meta-trained on
 * K = 10 tasks; then g_ψ (`lib/zeroshot`'s {@linkcode DescriptorContext}) learns to map a
 * task's descriptor d = (A, b) to the MetaClassifier's context, and a second g_ψ sees the
 * amplitude alone. On the same test tasks: zero-shot (d only), 1-, 5- and 10-shot adaptation
 * (MAML; the MetaClassifier from c = 0) and both (the MetaClassifier from c = g_ψ(d), then
 * the same steps); then the descriptor made noisy (σ in units of half the parameter's range)
 * for zero-shot and both. Every number is a mean over the test tasks with its 95% CI.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { SinusoidFamily, type SinusoidParams } from "../datasets/mod.ts";
import { mlp } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { RegressionTaskSampler } from "../tasks/mod.ts";
import {
  type AdaptedModel,
  emptyHistory,
  type LabelledSet,
  Maml,
  MetaClassifier,
  type TrainingHistory,
} from "../meta/mod.ts";
import { type ConfidenceInterval, confidenceInterval, describeHeavyTail } from "../eval/mod.ts";
import {
  DescriptorContext,
  descriptorSize,
  type SinusoidDescription,
  sinusoidDescriptor,
} from "../zeroshot/mod.ts";
import { stepRng, trainWithCheckpoints } from "./training.ts";
import { boolField, type ConfigOf, intField, numbersField } from "./config.ts";
import { trainingCurve } from "./summary.ts";
import {
  type Curve,
  type Experiment,
  type Metric,
  type RunContext,
  RunInterrupted,
} from "./types.ts";

const SCHEMA = {
  trainSteps: intField(
    1,
    1_000_000,
    1000,
    20_000,
    "meta-training steps of the MetaClassifier and of MAML (K = 10, 25 tasks per step)",
  ),
  encoderSteps: intField(1, 1_000_000, 1000, 10_000, "Adam steps of each g_ψ (25 tasks each)"),
  testTasks: intField(2, 100_000, 60, 600, "new test tasks (the same for every method)"),
  adaptSteps: intField(1, 100, 10, 10, "test-time steps of every K-shot method"),
  noise: numbersField(
    0,
    10,
    [0, 0.1, 0.3, 1],
    [0, 0.05, 0.1, 0.2, 0.3, 0.5, 1],
    "descriptor noise σ (a descriptor entry spans [−1, 1])",
  ),
  maml: boolField(true, true, "also train and test MAML at K shots"),
};

/** The config of `sinusoid-zero-shot`. */
export type SinusoidZeroShotConfig = ConfigOf<typeof SCHEMA>;

/** Fixed parts of the setting (Finn et al.'s family and network; CAVIA's 4-number context). */
const TRAIN_SHOTS = 10;
const TRAIN_QUERIES = 10;
const TEST_QUERIES = 50;
const SHOTS = [1, 5, 10];
const META_BATCH = 25;
const MAML_LR = 0.01;
const CONTEXT_LR = 1.0;
/** The K of the "both" curve in the noise sweep (1 shot: where the prior matters most). */
const NOISE_SHOTS = [1, 5];

/** A mean MSE over the test tasks with its CI; `tail` says when a few tasks dominate it. */
export type ScoredMse = ConfidenceInterval & { tail?: string };

/** One method's errors at each K (0 = zero-shot). */
export interface ShotsCurve {
  /** K of each point. */
  shots: number[];
  /** Mean MSE over the test tasks, with its CI, at each K. */
  mse: ScoredMse[];
}

/** What `sinusoid-zero-shot` returns. */
export interface SinusoidZeroShotResult {
  /** Meta-training histories (`metaclassifier`, `maml`) and g_ψ's (`encoder`, `encoder (A only)`). */
  histories: Record<string, TrainingHistory>;
  /** Method → MSE vs K on the same test tasks. */
  byShots: Record<string, ShotsCurve>;
  /** σ of each noise point. */
  noise: number[];
  /** Method → MSE vs σ (zero-shot, both at 1 and 5 shots). */
  byNoise: Record<string, ScoredMse[]>;
  /** One test task and each method's prediction on a grid. */
  fit: {
    params: SinusoidParams;
    x: number[];
    truth: number[];
    support: { x: number[]; y: number[] };
    predictions: Record<string, number[]>;
  };
}

interface TestTask {
  params: SinusoidParams;
  supportX: Float32Array;
  supportY: Float32Array;
  query: LabelledSet;
}

function learners(seed: number) {
  const mc = new MetaClassifier(mlp([1, 40, 40, 1]), {
    rng: new Rng(seed),
    kind: "regression",
    inputShape: [1],
    outputs: 1,
    contextSize: 4,
    objective: { innerSteps: 1, innerLr: CONTEXT_LR, outerLr: 0.001, metaBatchSize: META_BATCH },
  });
  const maml = new Maml(mlp([1, 40, 40, 1]), {
    rng: new Rng(seed),
    kind: "regression",
    objective: { innerSteps: 1, innerLr: MAML_LR, outerLr: 0.001, metaBatchSize: META_BATCH },
  });
  return { mc, maml };
}

/** Trains g_ψ for `description` on fresh tasks (support and query points both serve as targets). */
async function trainEncoder(
  encoder: DescriptorContext,
  description: SinusoidDescription,
  steps: number,
  source: RegressionTaskSampler<SinusoidParams>,
  ctx: RunContext,
  label: string,
): Promise<TrainingHistory> {
  const history = emptyHistory();
  const t0 = performance.now();
  const family = source.family as SinusoidFamily;
  for (let s = 0; s < steps; s++) {
    if (ctx.signal.aborted) throw new RunInterrupted(s);
    if (Date.now() >= ctx.deadline) {
      // No checkpoint: g_ψ is cheap and seeded, a resumed run retrains it from the start.
      ctx.log(`${label}: time limit reached at step ${s} of ${steps}`);
      ctx.onStopped({ label, step: s, steps });
      break;
    }
    const batch = source.sampleBatch(stepRng(ctx.seed + 17, s), META_BATCH);
    const descriptors = tf.tensor2d(
      batch.metas.map((m) => sinusoidDescriptor(family, m.params, description)),
    );
    const x = tf.concat([batch.support.x, batch.query.x], 1);
    const y = tf.concat([batch.support.y, batch.query.y], 1);
    const loss = encoder.step({ descriptors, x, y });
    tf.dispose([descriptors, x, y, batch.support.x, batch.support.y, batch.query.x, batch.query.y]);
    history.step.push(s);
    history.loss.push(loss);
    history.dataLoss.push(loss);
    ctx.progress(s + 1, steps, { loss });
    // Let a notebook's display and Ctrl-C through now and then.
    if (s % 100 === 99) await new Promise((r) => setTimeout(r, 0));
  }
  history.wallMs = performance.now() - t0;
  return history;
}

function mse(model: AdaptedModel, query: LabelledSet): number {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(model.predict(query.x), query.y))).dataSync()[0]);
}

function supportOf(task: TestTask, k: number): LabelledSet {
  return {
    x: tf.tensor2d(task.supportX.subarray(0, k), [k, 1]),
    y: tf.tensor2d(task.supportY.subarray(0, k), [k, 1]),
  };
}

/** The mean MSE over `tasks` of the model `make` builds for each (disposed after use). */
function score(
  tasks: TestTask[],
  make: (task: TestTask, index: number, support: LabelledSet | undefined) => AdaptedModel,
  shots = 0,
): ScoredMse {
  const values = tasks.map((task, i) => {
    const support = shots > 0 ? supportOf(task, shots) : undefined;
    const model = make(task, i, support);
    try {
      return mse(model, task.query);
    } finally {
      model.dispose();
      if (support) tf.dispose([support.x, support.y]);
    }
  });
  const tail = describeHeavyTail(values);
  return tail ? { ...confidenceInterval(values), tail } : confidenceInterval(values);
}

async function run(
  config: SinusoidZeroShotConfig,
  ctx: RunContext,
): Promise<SinusoidZeroShotResult> {
  const family = new SinusoidFamily();
  const source = new RegressionTaskSampler(family, {
    shots: TRAIN_SHOTS,
    queries: TRAIN_QUERIES,
  });
  const { mc, maml } = learners(ctx.seed);
  const full = new DescriptorContext(mc, {
    rng: new Rng(ctx.seed + 5),
    descriptorSize: descriptorSize("amplitude+phase"),
  });
  const partial = new DescriptorContext(mc, {
    rng: new Rng(ctx.seed + 6),
    descriptorSize: descriptorSize("amplitude"),
  });
  // The test tasks: drawn once, each with 10 support points (K-shot uses the first K).
  const rng = new Rng(ctx.seed + 2);
  const tasks: TestTask[] = Array.from({ length: config.testTasks }, () => {
    const params = family.sampleParams(rng);
    const supportX = rng.uniformArray(TRAIN_SHOTS, ...family.inputRange);
    const queryX = rng.uniformArray(TEST_QUERIES, ...family.inputRange);
    return {
      params,
      supportX,
      supportY: family.evaluate(params, supportX),
      query: {
        x: tf.tensor2d(queryX, [TEST_QUERIES, 1]),
        y: tf.tensor2d(family.evaluate(params, queryX), [TEST_QUERIES, 1]),
      },
    };
  });
  try {
    const histories: Record<string, TrainingHistory> = {};
    histories.metaclassifier = await trainWithCheckpoints(mc, ctx, {
      label: "metaclassifier",
      steps: config.trainSteps,
      metaBatchSize: META_BATCH,
      tasks: source,
    });
    if (config.maml) {
      histories.maml = await trainWithCheckpoints(maml, ctx, {
        label: "maml",
        steps: config.trainSteps,
        metaBatchSize: META_BATCH,
        tasks: source,
      });
    }
    histories.encoder = await trainEncoder(
      full,
      "amplitude+phase",
      config.encoderSteps,
      source,
      ctx,
      "encoder",
    );
    histories["encoder (A only)"] = await trainEncoder(
      partial,
      "amplitude",
      config.encoderSteps,
      source,
      ctx,
      "encoder (A only)",
    );

    const d = (t: TestTask) => sinusoidDescriptor(family, t.params);
    const steps = config.adaptSteps;
    const byShots: Record<string, ShotsCurve> = {};
    const curve = (points: [number, ScoredMse][]): ShotsCurve => ({
      shots: points.map((p) => p[0]),
      mse: points.map((p) => p[1]),
    });
    byShots["zero-shot g(A, b)"] = curve([[0, score(tasks, (t) => full.adapt(d(t)))]]);
    byShots["zero-shot g(A) (phase unknown)"] = curve([[
      0,
      score(tasks, (t) => partial.adapt(sinusoidDescriptor(family, t.params, "amplitude"))),
    ]]);
    byShots["no description, no examples (c = 0)"] = curve([[
      0,
      score(tasks, () => full.adapt(null)),
    ]]);
    byShots["MetaClassifier K-shot (c from 0)"] = curve(SHOTS.map((k) => [
      k,
      score(tasks, (_t, _i, s) => full.adapt(null, s, { steps, lr: CONTEXT_LR }), k),
    ]));
    byShots["both: g(A, b), then K-shot"] = curve(SHOTS.map((k) => [
      k,
      score(tasks, (t, _i, s) => full.adapt(d(t), s, { steps, lr: CONTEXT_LR }), k),
    ]));
    if (config.maml) {
      byShots["MAML K-shot"] = curve(SHOTS.map((k) => [
        k,
        score(tasks, (_t, _i, s) => maml.adapt(s!, { steps, lr: MAML_LR }), k),
      ]));
    }

    // The noise sweep: each σ its own seeded noise, the same for every method.
    const byNoise: Record<string, ScoredMse[]> = { "zero-shot g(A, b + noise)": [] };
    for (const k of NOISE_SHOTS) byNoise[`both, ${k}-shot`] = [];
    for (const [j, sigma] of config.noise.entries()) {
      const noisy = tasks.map((t, i) =>
        sinusoidDescriptor(family, t.params, "amplitude+phase", {
          sigma,
          rng: new Rng(ctx.seed * 7919 + 1000 * j + i),
        })
      );
      byNoise["zero-shot g(A, b + noise)"].push(score(tasks, (_t, i) => full.adapt(noisy[i])));
      for (const k of NOISE_SHOTS) {
        byNoise[`both, ${k}-shot`].push(
          score(tasks, (_t, i, s) => full.adapt(noisy[i], s, { steps, lr: CONTEXT_LR }), k),
        );
      }
    }

    // One task's predictions on a grid, for the plot.
    const task = tasks[0];
    const grid = Array.from({ length: 100 }, (_, i) => -5 + (10 * i) / 99);
    const gx = tf.tensor2d(grid, [grid.length, 1]);
    const predictions: Record<string, number[]> = {};
    const show = (name: string, model: AdaptedModel) => {
      const y = model.predict(gx);
      predictions[name] = Array.from(y.dataSync());
      y.dispose();
      model.dispose();
    };
    const one = supportOf(task, 1);
    try {
      show("zero-shot g(A, b)", full.adapt(d(task)));
      show("zero-shot g(A)", partial.adapt(sinusoidDescriptor(family, task.params, "amplitude")));
      show("MetaClassifier 1-shot", full.adapt(null, one, { steps, lr: CONTEXT_LR }));
      show("both, 1-shot", full.adapt(d(task), one, { steps, lr: CONTEXT_LR }));
    } finally {
      tf.dispose([gx, one.x, one.y]);
    }
    return {
      histories,
      byShots,
      noise: [...config.noise],
      byNoise,
      fit: {
        params: task.params,
        x: grid,
        truth: Array.from(family.evaluate(task.params, grid)),
        support: { x: [task.supportX[0]], y: [task.supportY[0]] },
        predictions,
      },
    };
  } finally {
    for (const t of tasks) tf.dispose([t.query.x, t.query.y]);
    full.dispose();
    partial.dispose();
    mc.dispose();
    maml.dispose();
  }
}

function summarize(r: SinusoidZeroShotResult, config: SinusoidZeroShotConfig) {
  const metrics: Metric[] = [];
  const notes: string[] = [];
  const push = (name: string, c: ScoredMse) => {
    if (c.tail) notes.push(`${name}: ${c.tail}`);
    metrics.push({
      name,
      value: c.mean,
      ci95: c.ci95,
      unit: "MSE",
      episodes: c.n,
      higherIsBetter: false,
    });
  };
  for (const [method, curve] of Object.entries(r.byShots)) {
    curve.shots.forEach((k, i) => push(k === 0 ? method : `${method}, K=${k}`, curve.mse[i]));
  }
  for (const [method, points] of Object.entries(r.byNoise)) {
    points.forEach((c, i) => push(`${method}, σ=${r.noise[i]}`, c));
  }
  const zeroShot = r.byShots["zero-shot g(A, b)"].mse[0].mean;
  const tenShot = r.byShots["MetaClassifier K-shot (c from 0)"];
  notes.unshift(
    `zero-shot from (A, b): MSE ${zeroShot.toPrecision(3)}; the MetaClassifier from 10 examples: ${
      tenShot.mse[tenShot.shots.indexOf(10)].mean.toPrecision(3)
    } (${config.adaptSteps} steps)`,
  );
  if (config.trainSteps < 20_000) {
    notes.push(
      `quick schedule (${config.trainSteps} meta-steps, ${config.encoderSteps} encoder steps): ` +
        "the ordering of the methods is the lesson, the values are not converged",
    );
  }
  const lines = Object.entries(r.byShots);
  const maxShots = Math.max(...SHOTS);
  const byShots: Curve = {
    title: "sinusoid: test MSE vs support points K (0 = description only)",
    xLabel: "support points K",
    yLabel: "query MSE",
    series: lines.map(([name, c]) =>
      c.shots.length === 1
        // A zero-shot method is a level, drawn across the K axis.
        ? {
          name,
          x: [0, maxShots],
          y: [c.mse[0].mean, c.mse[0].mean],
          band: [c.mse[0].ci95 ?? 0, c.mse[0].ci95 ?? 0],
        }
        : {
          name,
          x: c.shots,
          y: c.mse.map((m) => m.mean),
          band: c.mse.map((m) => m.ci95 ?? 0),
        }
    ),
  };
  const byNoise: Curve = {
    title: "sinusoid: test MSE vs descriptor noise σ",
    xLabel: "descriptor noise σ",
    yLabel: "query MSE",
    series: Object.entries(r.byNoise).map(([name, points]) => ({
      name,
      x: r.noise,
      y: points.map((p) => p.mean),
      band: points.map((p) => p.ci95 ?? 0),
    })),
  };
  const f = r.fit;
  const fit: Curve = {
    title: `one new task (A=${f.params.amplitude.toFixed(2)}, b=${f.params.phase.toFixed(2)})`,
    xLabel: "x",
    yLabel: "y",
    series: [
      { name: "ground truth", x: f.x, y: f.truth },
      ...Object.entries(f.predictions).map(([name, y]) => ({ name, x: f.x, y })),
      { name: "the 1 support point", x: f.support.x, y: f.support.y, markers: true },
    ],
  };
  const meta = Object.fromEntries(
    Object.entries(r.histories).filter(([k]) => !k.startsWith("encoder"))
      .map(([k, history]) => [k, { history }]),
  );
  const enc = Object.fromEntries(
    Object.entries(r.histories).filter(([k]) => k.startsWith("encoder"))
      .map(([k, history]) => [k, { history }]),
  );
  return {
    metrics,
    curves: [
      trainingCurve("sinusoid-zero-shot meta-training", meta, "loss"),
      { ...trainingCurve("sinusoid-zero-shot encoder training", enc, "loss"), yLabel: "MSE" },
      byShots,
      byNoise,
      fit,
    ],
    notes,
  };
}

/** Zero-shot vs K-shot vs both on new sinusoids, and the descriptor-noise sweep. */
export const sinusoidZeroShot: Experiment<typeof SCHEMA, SinusoidZeroShotResult> = {
  name: "sinusoid-zero-shot",
  title: "Sinusoids from their description: zero-shot vs K-shot vs both",
  description: "A MetaClassifier (CAVIA context of 4) and MAML meta-trained on K=10 sinusoid " +
    "tasks; a network g_ψ maps a task's descriptor (A, b) to the MetaClassifier's context. " +
    "On the same new tasks: zero-shot from (A, b) and from A alone, 1/5/10-shot adaptation " +
    "(MAML, MetaClassifier from c = 0) and both (from c = g_ψ(A, b)), and the descriptor " +
    "made noisy. MSE with 95% CIs; no published number (Finn et al.'s family and network).",
  needs: [],
  schema: SCHEMA,
  run,
  summarize,
};
