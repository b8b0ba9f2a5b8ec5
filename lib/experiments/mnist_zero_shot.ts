/**
 * `mnist-zero-shot`: recognising digits never seen, from a description of their strokes.
 *
 * A Conv-4 ProtoNet is meta-trained on episodes of the seen digits {2, 3, 4, 5, 6, 8, 9}
 * together with prototypes predicted from the attributes (`AttributeProtoNet`, as Snell et
 * al. train theirs; `embedding=protonet`: a plain few-shot ProtoNet, the map fitted after);
 * digits 0, 1 and 7 are known only by their attribute vectors (`lib/zeroshot/attributes.ts`:
 * loops at the top and bottom, vertical strokes, bars, left-open bowls, crossings). On the
 * same 3-way test episodes of 0, 1 and 7: zero-shot from the attributes (Snell et al.'s prototypes predicted
 * by a linear map fitted on the seen digits' embeddings, and the ESZSL closed form of
 * Romera-Paredes & Torr), ProtoNet at 1, 5 and 10 shots, and both (the described prototype
 * as a prior mean worth one example, then the support examples); then the attributes made
 * noisy. Accuracies with 95% CIs over the episodes; chance is 33.3%.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type LabelledDataset, loadMnist } from "../datasets/mod.ts";
import { conv4 } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler } from "../tasks/mod.ts";
import {
  accuracy,
  negativeSquaredDistances,
  ProtoNet,
  prototypes,
  type TrainingHistory,
} from "../meta/mod.ts";
import { type ConfidenceInterval, confidenceInterval } from "../eval/mod.ts";
import {
  AttributeProtoNet,
  AttributePrototypes,
  digitAttributes,
  eszsl,
  eszslScores,
  MNIST_ATTRIBUTE_NAMES,
  MNIST_DIGIT_ATTRIBUTES,
  MNIST_SEEN_DIGITS,
  MNIST_UNSEEN_DIGITS,
  noisyDescriptors,
  protoNetEmbedding,
} from "../zeroshot/mod.ts";
import { trainWithCheckpoints } from "./training.ts";
import { choiceField, type ConfigOf, intField, numberField, numbersField } from "./config.ts";
import { trainingCurve } from "./summary.ts";
import {
  type Curve,
  type Experiment,
  type Metric,
  type RunContext,
  RunInterrupted,
} from "./types.ts";

const SCHEMA = {
  embedding: choiceField(
    ["joint", "protonet"] as const,
    "joint",
    "joint",
    "joint: f and g trained together on zero-shot + few-shot episodes (Snell et al.); " +
      "protonet: a few-shot ProtoNet's f, g fitted on it afterwards (an f not trained to " +
      "place classes where their attributes say: zero-shot near chance)",
  ),
  trainSteps: intField(
    1,
    1_000_000,
    150,
    2000,
    "ProtoNet episodes (5-way 5-shot) on the seen digits",
  ),
  filters: intField(4, 128, 32, 64, "Conv-4 filters (the embedding size)"),
  fitPerClass: intField(
    10,
    900,
    100,
    400,
    "seen examples per digit that g and ESZSL are fitted on",
  ),
  mapSteps: intField(0, 100_000, 300, 1000, "Adam steps fitting the attribute → prototype map g"),
  testEpisodes: intField(
    2,
    100_000,
    60,
    600,
    "3-way test episodes of the unseen digits (the same for all)",
  ),
  priorWeight: numberField(0, 100, 1, 1, "examples a description counts as in 'both'"),
  gamma: numberField(1e-6, 1e6, 1, 1, "ESZSL's γ (ridge in feature space)"),
  lambda: numberField(1e-6, 1e6, 1, 1, "ESZSL's λ (ridge in attribute space)"),
  noise: numbersField(
    0,
    10,
    [0, 0.25, 0.5, 1],
    [0, 0.1, 0.25, 0.5, 0.75, 1, 2],
    "attribute noise σ",
  ),
};

/** The config of `mnist-zero-shot`. */
export type MnistZeroShotConfig = ConfigOf<typeof SCHEMA>;

const TRAIN_WAYS = 5;
/** The unseen digits, for names and titles ("0/1/7"). */
const UNSEEN = MNIST_UNSEEN_DIGITS.join("/");
const TRAIN_SHOTS = 5;
const QUERIES = 15;
const TEST_SHOTS = [1, 5, 10];
/** Embedding batches as large as a training episode's query set (batch norm uses batch statistics). */
const EMBED_BATCH = TRAIN_WAYS * QUERIES;

/** One method's accuracies (%) at each K (0 = description only). */
export interface AccuracyCurve {
  /** K of each point. */
  shots: number[];
  /** Mean accuracy (%) over the episodes, with its CI, at each K. */
  accuracy: ConfidenceInterval[];
}

/** What `mnist-zero-shot` returns. */
export interface MnistZeroShotResult {
  /** ProtoNet's meta-training history. */
  history: TrainingHistory;
  /** Loss of g's fit, per Adam step. */
  mapLoss: number[];
  /** Method → accuracy vs K on the same test episodes. */
  byShots: Record<string, AccuracyCurve>;
  /** σ of each noise point. */
  noise: number[];
  /** Method → accuracy vs attribute noise σ. */
  byNoise: Record<string, ConfidenceInterval[]>;
  /**
   * Zero-shot ProtoNet's confusions on the unseen digits: `confusion[i][j]` is the fraction of
   * queries of `MNIST_UNSEEN_DIGITS[i]` classified as `MNIST_UNSEEN_DIGITS[j]`.
   */
  confusion: number[][];
  /** Seen-digit accuracy of g's prototypes on its own fitting examples (does the map fit at all). */
  seenFitAccuracy: number;
}

function learnerOf(config: MnistZeroShotConfig, seed: number): ProtoNet | AttributeProtoNet {
  const model = conv4({ inputShape: [28, 28, 1], outputs: 0, filters: config.filters });
  const objective = { metaBatchSize: 1, outerLr: 0.001 };
  if (config.embedding === "protonet") {
    return new ProtoNet(model, { rng: new Rng(seed), objective });
  }
  return new AttributeProtoNet(model, config.filters, {
    rng: new Rng(seed),
    attributes: MNIST_DIGIT_ATTRIBUTES,
    objective,
  });
}

/** Embeds `indices` of `dataset` in batches of {@linkcode EMBED_BATCH} → `[n, D]` rows. */
function embedExamples(
  embed: (x: tf.Tensor) => tf.Tensor,
  dataset: LabelledDataset,
  indices: number[],
): number[][] {
  const rows: number[][] = [];
  const size = dataset.itemSize;
  for (let start = 0; start < indices.length; start += EMBED_BATCH) {
    const chunk = indices.slice(start, start + EMBED_BATCH);
    const buf = new Float32Array(chunk.length * size);
    chunk.forEach((idx, i) => dataset.writeExample(idx, buf, i * size));
    const e = tf.tidy(() => embed(tf.tensor(buf, [chunk.length, ...dataset.itemShape])));
    const d = e.shape[1]!;
    const flat = e.dataSync();
    e.dispose();
    for (let i = 0; i < chunk.length; i++) rows.push(Array.from(flat.subarray(i * d, (i + 1) * d)));
  }
  return rows;
}

function argmaxAccuracy(scores: number[][], labels: ArrayLike<number>): number {
  let right = 0;
  scores.forEach((row, i) => {
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    if (best === labels[i]) right++;
  });
  return (100 * right) / scores.length;
}

function percent(logits: tf.Tensor, labels: tf.Tensor): number {
  return tf.tidy(() => 100 * accuracy(logits, labels).dataSync()[0]);
}

async function run(config: MnistZeroShotConfig, ctx: RunContext): Promise<MnistZeroShotResult> {
  const dataset = loadMnist();
  const learner = learnerOf(config, ctx.seed);
  const g = new AttributePrototypes({
    rng: new Rng(ctx.seed + 5),
    attributeSize: MNIST_ATTRIBUTE_NAMES.length,
    embeddingSize: config.filters,
  });
  try {
    const history = await trainWithCheckpoints(learner, ctx, {
      label: config.embedding === "joint" ? "attribute-protonet" : "protonet",
      steps: config.trainSteps,
      metaBatchSize: 1,
      tasks: new EpisodeSampler(dataset, MNIST_SEEN_DIGITS, {
        ways: TRAIN_WAYS,
        shots: TRAIN_SHOTS,
        queries: QUERIES,
      }, { splitName: "seen digits" }),
    });
    const embed = learner instanceof AttributeProtoNet
      ? (x: tf.Tensor) => learner.embed(x)
      : protoNetEmbedding(learner);
    if (learner instanceof AttributeProtoNet) {
      // g starts from the map learned with f; the fit below refines it on the frozen f.
      const n = learner.params.length;
      g.params[0].assign(learner.params[n - 2]);
      g.params[1].assign(learner.params[n - 1]);
    }

    // g and ESZSL see the seen digits' embeddings only, shuffled so each batch mixes digits.
    const fitRng = new Rng(ctx.seed + 3);
    const fitIndices: number[] = [];
    const fitLabels: number[] = [];
    MNIST_SEEN_DIGITS.forEach((digit, c) => {
      const pool = dataset.classExamples[digit];
      for (const j of fitRng.choose(pool.length, config.fitPerClass)) {
        fitIndices.push(pool[j]);
        fitLabels.push(c);
      }
    });
    const order = fitRng.choose(fitIndices.length, fitIndices.length);
    const features = embedExamples(embed, dataset, order.map((i) => fitIndices[i]));
    const labels = order.map((i) => fitLabels[i]);
    const seenAttributes = digitAttributes(MNIST_SEEN_DIGITS);
    const fx = tf.tensor2d(features);
    const fy = tf.tensor1d(labels, "int32");
    let mapLoss: number[];
    let seenFitAccuracy: number;
    try {
      mapLoss = g.fit(fx, fy, seenAttributes, config.mapSteps);
      const seen = g.adapt(seenAttributes);
      seenFitAccuracy = tf.tidy(() => percent(seen.predict(fx), fy));
      seen.dispose();
    } finally {
      tf.dispose([fx, fy]);
    }
    const v = eszsl(features, labels, seenAttributes, {
      gamma: config.gamma,
      lambda: config.lambda,
    });

    // The test episodes: 3-way over the unseen digits, 10 support examples per class.
    const maxShots = Math.max(...TEST_SHOTS);
    const test = new EpisodeSampler(dataset, MNIST_UNSEEN_DIGITS, {
      ways: MNIST_UNSEEN_DIGITS.length,
      shots: maxShots,
      queries: QUERIES,
    }, { splitName: "unseen digits" });
    const rng = new Rng(ctx.seed + 2);
    const values: Record<string, number[]> = {};
    const record = (name: string, value: number) => (values[name] ??= []).push(value);
    const ways = MNIST_UNSEEN_DIGITS.length;
    const confusion = MNIST_UNSEEN_DIGITS.map(() => MNIST_UNSEEN_DIGITS.map(() => 0));
    for (let e = 0; e < config.testEpisodes; e++) {
      if (ctx.signal.aborted) throw new RunInterrupted(e);
      const task = test.sample(rng);
      const attributes = digitAttributes(task.meta.classes);
      const queryY = Array.from(task.query.y.dataSync());
      const q = tf.tidy(() => embed(task.query.x));
      const qRows = tf.tidy(() => tf.unstack(q)).map((t) => {
        const row = Array.from(t.dataSync());
        t.dispose();
        return row;
      });
      const classify = (protos: tf.Tensor) =>
        tf.tidy(() => percent(negativeSquaredDistances(q, protos), task.query.y));
      const zeroShot = (attrs: number[][], count = false) => {
        const m = g.adapt(attrs);
        const logits = m.predict(q);
        const acc = percent(logits, task.query.y);
        if (count) {
          const predicted = tf.tidy(() => tf.argMax(logits, 1).dataSync());
          const digit = (label: number) => MNIST_UNSEEN_DIGITS.indexOf(task.meta.classes[label]);
          predicted.forEach((p, i) => confusion[digit(queryY[i])][digit(p)]++);
        }
        tf.dispose([logits]);
        m.dispose();
        return acc;
      };
      const both = (attrs: number[][], support: { embeddings: tf.Tensor; labels: tf.Tensor }) => {
        const m = g.adapt(attrs, { support, priorWeight: config.priorWeight });
        const acc = tf.tidy(() => percent(m.predict(q), task.query.y));
        m.dispose();
        return acc;
      };
      record("zero-shot ProtoNet g(a)", zeroShot(attributes, true));
      record("zero-shot ESZSL", argmaxAccuracy(eszslScores(v, qRows, attributes), queryY));
      const supports = TEST_SHOTS.map((k) => {
        // The first k of each class (class-major support: class c's examples start at c·10).
        const idx = Array.from(
          { length: ways * k },
          (_, i) => Math.floor(i / k) * maxShots + i % k,
        );
        return tf.tidy(() => {
          const pick = tf.tensor1d(idx, "int32");
          const x = tf.gather(task.support.x, pick);
          return { embeddings: embed(x), labels: tf.gather(task.support.y, pick) };
        });
      });
      TEST_SHOTS.forEach((k, i) => {
        const s = supports[i];
        record(
          `ProtoNet ${k}-shot`,
          tf.tidy(() => classify(prototypes(s.embeddings, s.labels, ways))),
        );
        record(`both ${k}-shot`, both(attributes, s));
      });
      for (const [j, sigma] of config.noise.entries()) {
        const noisy = noisyDescriptors(attributes, sigma, new Rng(ctx.seed * 7919 + 1000 * j + e));
        record(`noise ${j} zero-shot ProtoNet g(a)`, zeroShot(noisy));
        record(`noise ${j} zero-shot ESZSL`, argmaxAccuracy(eszslScores(v, qRows, noisy), queryY));
        record(`noise ${j} both 1-shot`, both(noisy, supports[0]));
      }
      tf.dispose([q, ...supports.flatMap((s) => [s.embeddings, s.labels])]);
      tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
      ctx.progress(e + 1, config.testEpisodes);
    }
    const ci = (name: string) => confidenceInterval(values[name]);
    const byShots: Record<string, AccuracyCurve> = {
      "zero-shot ProtoNet g(a)": { shots: [0], accuracy: [ci("zero-shot ProtoNet g(a)")] },
      "zero-shot ESZSL": { shots: [0], accuracy: [ci("zero-shot ESZSL")] },
      "ProtoNet K-shot": {
        shots: TEST_SHOTS,
        accuracy: TEST_SHOTS.map((k) => ci(`ProtoNet ${k}-shot`)),
      },
      "both: g(a) as a prior, then K-shot": {
        shots: TEST_SHOTS,
        accuracy: TEST_SHOTS.map((k) => ci(`both ${k}-shot`)),
      },
    };
    const byNoise: Record<string, ConfidenceInterval[]> = {};
    for (const m of ["zero-shot ProtoNet g(a)", "zero-shot ESZSL", "both 1-shot"]) {
      byNoise[m] = config.noise.map((_, j) => ci(`noise ${j} ${m}`));
    }
    const rows = confusion.map((row) => row.reduce((a, b) => a + b, 0));
    return {
      history,
      mapLoss,
      byShots,
      noise: [...config.noise],
      byNoise,
      confusion: confusion.map((row, i) => row.map((c) => c / Math.max(1, rows[i]))),
      seenFitAccuracy,
    };
  } finally {
    g.dispose();
    learner.dispose();
  }
}

function summarize(r: MnistZeroShotResult, config: MnistZeroShotConfig) {
  const metrics: Metric[] = [];
  const push = (name: string, c: ConfidenceInterval) =>
    metrics.push({
      name,
      value: c.mean,
      ci95: c.ci95,
      unit: "%",
      episodes: c.n,
      higherIsBetter: true,
    });
  for (const [method, curve] of Object.entries(r.byShots)) {
    curve.shots.forEach((k, i) =>
      push(k === 0 ? `${method} on ${UNSEEN}` : `${method}, K=${k} on ${UNSEEN}`, curve.accuracy[i])
    );
  }
  for (const [method, points] of Object.entries(r.byNoise)) {
    points.forEach((c, i) => push(`${method}, attribute noise σ=${r.noise[i]}`, c));
  }
  const notes = [
    `zero-shot ProtoNet confusions (rows: true ${MNIST_UNSEEN_DIGITS.join("/")}, columns: ` +
    `predicted): ${
      r.confusion.map((row) => row.map((v) => (100 * v).toFixed(0)).join(" ")).join(" | ")
    } %`,
    `3-way episodes of the unseen digits ${UNSEEN} (chance 33.3%); g's prototypes classify its ` +
    `own seen-digit fitting examples at ${r.seenFitAccuracy.toFixed(1)}%`,
  ];
  if (config.trainSteps < 2000) {
    notes.push(
      `quick schedule (${config.trainSteps} ProtoNet episodes): a pipeline check whose ` +
        "direction (zero-shot above chance, below a few shots) is the lesson",
    );
  }
  const maxShots = Math.max(...TEST_SHOTS);
  const byShots: Curve = {
    title: `digits ${UNSEEN}: test accuracy vs shots K (0 = attributes only)`,
    xLabel: "support examples per class K",
    yLabel: "accuracy (%)",
    series: [
      ...Object.entries(r.byShots).map(([name, c]) =>
        c.shots.length === 1
          ? {
            name,
            x: [0, maxShots],
            y: [c.accuracy[0].mean, c.accuracy[0].mean],
            band: [c.accuracy[0].ci95 ?? 0, c.accuracy[0].ci95 ?? 0],
          }
          : {
            name,
            x: c.shots,
            y: c.accuracy.map((a) => a.mean),
            band: c.accuracy.map((a) => a.ci95 ?? 0),
          }
      ),
      { name: "chance", x: [0, maxShots], y: [100 / 3, 100 / 3], band: [0, 0] },
    ],
  };
  const byNoise: Curve = {
    title: `digits ${UNSEEN}: test accuracy vs attribute noise σ`,
    xLabel: "attribute noise σ",
    yLabel: "accuracy (%)",
    series: Object.entries(r.byNoise).map(([name, points]) => ({
      name,
      x: r.noise,
      y: points.map((p) => p.mean),
      band: points.map((p) => p.ci95 ?? 0),
    })),
  };
  const mapFit: Curve = {
    title: "fitting g: attributes → prototypes on the seen digits",
    xLabel: "Adam step",
    yLabel: "cross-entropy",
    series: [{ name: "g", x: r.mapLoss.map((_, i) => i + 1), y: r.mapLoss }],
  };
  return {
    metrics,
    curves: [
      trainingCurve("mnist-zero-shot meta-training", { [config.embedding]: r }, "loss"),
      mapFit,
      byShots,
      byNoise,
    ],
    notes,
  };
}

/** Zero-shot digits from stroke attributes vs ProtoNet K-shot vs both, and the noise sweep. */
export const mnistZeroShot: Experiment<typeof SCHEMA, MnistZeroShotResult> = {
  name: "mnist-zero-shot",
  title: "MNIST digits from their description: zero-shot vs K-shot vs both",
  description: "Conv-4 ProtoNet meta-trained on 5-way 5-shot episodes of digits " +
    "2, 3, 4, 5, 6, 8, 9 jointly with prototypes predicted from attributes; digits 0, 1, 7 are described by 6 hand-written stroke attributes. " +
    "On the same 3-way episodes of 0, 1, 7: zero-shot ProtoNet (prototypes from a linear map " +
    "of the attributes, Snell et al. 2017) and ESZSL (Romera-Paredes & Torr 2015), ProtoNet " +
    "1/5/10-shot, both (the described prototype as a prior), and noisy attributes. Accuracy " +
    "with 95% CIs; no published number.",
  needs: [],
  schema: SCHEMA,
  run,
  summarize,
};
