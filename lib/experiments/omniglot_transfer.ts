/**
 * `omniglot-transfer`: transfer learning against which meta-learning is measured (Chen et
 * al. 2019, "A Closer Look at Few-shot Classification"). A Conv-4 classifier is pretrained
 * with cross-entropy over all 4,800 meta-training classes of Omniglot's standard split
 * (1,200 characters × 4 rotations), then each test episode is classified from its fixed
 * features: Baseline (a new linear head), Baseline++ (pretrained and fine-tuned with a cosine
 * head) and the nearest centroid (no fine-tuning; Baseline's features). All three see the
 * same 5-way test episodes at 1, 5 and 10 shots as `omniglot-protonet`'s evaluation draws.
 * The quick preset pretrains on 100 seeded classes of the 4,800 (`pretrainClasses`): its 300
 * batches over all of them would see each class once and learn nothing.
 * @module
 */
import {
  findOmniglotDir,
  loadOmniglot,
  OMNIGLOT_DRAWERS,
  omniglotSplits,
} from "../datasets/mod.ts";
import { conv4 } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler } from "../tasks/mod.ts";
import type { TrainingHistory } from "../meta/mod.ts";
import {
  CHEN_FINE_TUNE,
  ClassBatchSampler,
  type EvalResult,
  evaluate,
  type FewShotHead,
  type PretrainHead,
  TransferBaseline,
} from "../eval/mod.ts";
import { stoppedBeforeStart, trainWithCheckpoints } from "./training.ts";
import { choiceField, type ConfigOf, intField, numberField, numbersField } from "./config.ts";
import { publishedNumber, trainingCurve } from "./summary.ts";
import { OMNIGLOT_DATA } from "./omniglot.ts";
import type { Curve, Experiment, Metric } from "./types.ts";

/** The few-shot rules this experiment evaluates. */
export type TransferRule = "baseline" | "baseline++" | "centroid";

/** Chen et al.'s Omniglot pretraining: 5 epochs (their `train.py`) of batches of 16, Adam 1e-3. */
const CHEN_EPOCHS = 5;
const CHEN_BATCH = 16;
/**
 * The quick preset's pretraining classes. Its 300 batches of 16 see each of 4,800 classes
 * once: the loss stays at ln 4,800 (chance), the features are the initial ones, and
 * Baseline++'s cosine features die (most ReLUs zero), so its new heads predict one class.
 * On 100 classes the same batches see each class ~48 times and the rules separate.
 */
const QUICK_CLASSES = 100;
/** Omniglot's training images in the standard split: 4,800 classes × 20 drawings. */
const STANDARD_IMAGES = 4800 * OMNIGLOT_DRAWERS;

const SCHEMA = {
  ways: intField(2, 60, 5, 5, "N classes per test episode"),
  shots: numbersField(
    1,
    OMNIGLOT_DRAWERS - 1,
    [1, 5, 10],
    [1, 5, 10],
    "K support examples per class: one evaluation per value (integers)",
  ),
  queries: intField(
    1,
    OMNIGLOT_DRAWERS - 1,
    5,
    10,
    `query examples per class (the largest shots + queries ≤ the ${OMNIGLOT_DRAWERS} drawers)`,
  ),
  pretrainSteps: intField(
    1,
    10_000_000,
    300,
    (CHEN_EPOCHS * STANDARD_IMAGES) / CHEN_BATCH,
    `pretraining mini-batches per head (Chen et al.: ${CHEN_EPOCHS} epochs of the ` +
      `${STANDARD_IMAGES.toLocaleString("en")} training images at ${CHEN_BATCH} per batch)`,
  ),
  batchSize: intField(1, 1024, CHEN_BATCH, CHEN_BATCH, "pretraining batch (Chen et al.: 16)"),
  pretrainLr: numberField(0, 1, 0.001, 0.001, "pretraining Adam rate (Chen et al.: 1e-3)"),
  headEpochs: intField(
    0,
    10_000,
    CHEN_FINE_TUNE.epochs,
    CHEN_FINE_TUNE.epochs,
    "epochs of a new head over the support set (Chen et al.: 100)",
  ),
  headBatch: intField(
    1,
    1000,
    CHEN_FINE_TUNE.batchSize,
    CHEN_FINE_TUNE.batchSize,
    "support examples per step of a new head (Chen et al.: 4)",
  ),
  headLr: numberField(
    0,
    10,
    CHEN_FINE_TUNE.lr,
    CHEN_FINE_TUNE.lr,
    "SGD rate of a new head (Chen et al.: 0.01, momentum 0.9, dampening 0.9, weight decay 0.001)",
  ),
  filters: intField(4, 128, 32, 64, "Conv-4 filters"),
  evalEpisodes: intField(1, 100_000, 50, 600, "test episodes per shot setting"),
  pretrainClasses: intField(
    0,
    4800,
    QUICK_CLASSES,
    0,
    "pretraining classes: 0 for all of the split's (Chen et al.), else the first N of one " +
      "seeded order (the quick preset: 300 batches cannot learn 4,800 classes)",
  ),
  protocol: choiceField(
    ["standard", "background-evaluation"] as const,
    "standard",
    "standard",
    "class split",
  ),
  learners: choiceField(
    ["all", "baseline", "baseline++", "centroid"] as const,
    "all",
    "all",
    "which rules to evaluate: all, or one (centroid uses Baseline's pretrained model)",
  ),
};

/** The config of `omniglot-transfer`. */
export type TransferConfig = ConfigOf<typeof SCHEMA>;

/** One pretrained model (a training phase, saved as `models/<label>`). */
export interface PretrainedPhase {
  /** Pretraining history (one entry per mini-batch). */
  history: TrainingHistory;
  /** Pretraining wall time in milliseconds. */
  trainMs: number;
}

/** What `omniglot-transfer` returns. */
export interface TransferResult {
  /** Phase label (`pretrain-linear`, `pretrain-cosine`) → its pretraining. */
  pretrained: Record<string, PretrainedPhase>;
  /** Rule → one evaluation per shot setting, on the same episodes for every rule. */
  evals: Record<string, { shots: number; result: EvalResult }[]>;
  /** Phases the run's time limit reached before their first step (their rules not evaluated). */
  notStarted: string[];
  /** Mini-batches in one pass over the training images. */
  stepsPerEpoch: number;
  /** Pretraining classes (4,800 in the standard split). */
  classes: number;
  /** The folder the archives were read from. */
  dataDir: string;
}

/** Pretraining classes of a config: characters × 4 rotations, or the `pretrainClasses` asked for. */
function trainingClasses(config: Pick<TransferConfig, "protocol" | "pretrainClasses">): number {
  // 1,200 characters in the standard split; Lake et al.'s background set has 964.
  const all = (config.protocol === "standard" ? 1200 : 964) * 4;
  return config.pretrainClasses > 0 ? Math.min(config.pretrainClasses, all) : all;
}

/**
 * The pretraining phase (its checkpoint and saved-model label) each rule needs: the linear
 * head's model serves Baseline and the nearest centroid, the cosine head's Baseline++.
 */
const PHASE_OF: Record<TransferRule, "pretrain-linear" | "pretrain-cosine"> = {
  "baseline": "pretrain-linear",
  "baseline++": "pretrain-cosine",
  "centroid": "pretrain-linear",
};

/** Pretraining head and few-shot rule of each phase label and rule name. */
const HEAD_OF: Record<string, { head: PretrainHead; fewShot: FewShotHead }> = {
  "pretrain-linear": { head: "linear", fewShot: "linear" },
  "pretrain-cosine": { head: "cosine", fewShot: "cosine" },
  "baseline": { head: "linear", fewShot: "linear" },
  "baseline++": { head: "cosine", fewShot: "cosine" },
  "centroid": { head: "linear", fewShot: "centroid" },
};

/**
 * The learner of `label` (a phase: `pretrain-linear`, `pretrain-cosine`; or a rule: `baseline`,
 * `baseline++`, `centroid`) for `config`, untrained, as `omniglot-transfer` builds it.
 */
export function transferLearner(
  label: string,
  config: TransferConfig,
  seed = 0,
): TransferBaseline {
  const kind = HEAD_OF[label];
  if (!kind) {
    throw new Error(
      `unknown omniglot-transfer learner "${label}": expected ${Object.keys(HEAD_OF).join(", ")}`,
    );
  }
  return new TransferBaseline(
    conv4({
      inputShape: [28, 28, 1],
      outputs: trainingClasses(config),
      filters: config.filters,
    }),
    {
      rng: new Rng(seed),
      ...kind,
      fineTune: { epochs: config.headEpochs, batchSize: config.headBatch, lr: config.headLr },
      objective: { outerLr: config.pretrainLr, metaBatchSize: 1 },
    },
  );
}

/**
 * The classes a config pretrains on: all of the split's training classes, or the first
 * `pretrainClasses` of one seeded order of them (whole characters are not kept together:
 * a class is a character at one rotation).
 */
export function pretrainingClasses(
  train: Int32Array,
  config: Pick<TransferConfig, "protocol" | "pretrainClasses">,
  seed: number,
): Int32Array {
  const n = trainingClasses(config);
  if (n >= train.length) return train;
  return Int32Array.from(new Rng(seed + 3).shuffle([...train]).slice(0, n));
}

function rulesOf(config: TransferConfig): TransferRule[] {
  return config.learners === "all" ? ["baseline", "baseline++", "centroid"] : [config.learners];
}

function problems(config: TransferConfig): string[] {
  const out: string[] = [];
  const bad = config.shots.filter((s) => !Number.isInteger(s));
  if (bad.length > 0) out.push(`shots must be whole numbers, got ${bad.join(", ")}`);
  const most = Math.max(...config.shots);
  if (most + config.queries > OMNIGLOT_DRAWERS) {
    out.push(
      `shots=${most} + queries=${config.queries} needs ${
        most + config.queries
      } drawings of a character, but Omniglot has ${OMNIGLOT_DRAWERS}`,
    );
  }
  return out;
}

/**
 * Pretrains the models the rules need (checkpointed and resumable like meta-training, saved
 * to `ctx.models`), then evaluates each rule on the same test episodes per shot setting.
 */
async function runTransfer(
  config: TransferConfig,
  ctx: Parameters<Experiment["run"]>[1],
): Promise<TransferResult> {
  const dir = ctx.data?.omniglot ?? findOmniglotDir();
  if (!dir) throw new Error("Omniglot archives not found: run `deno task data omniglot`");
  const omniglot = await loadOmniglot({ dir });
  const splits = omniglotSplits(omniglot, { protocol: config.protocol });
  const batches = new ClassBatchSampler(
    splits.dataset,
    pretrainingClasses(splits.train, config, ctx.seed),
    config.batchSize,
  );
  if (batches.numClasses !== trainingClasses(config)) {
    throw new Error(
      `omniglot-transfer: the ${config.protocol} split gives ${batches.numClasses} ` +
        `pretraining classes, expected ${trainingClasses(config)}`,
    );
  }
  const rules = rulesOf(config);
  const phases = [...new Set(rules.map((r) => PHASE_OF[r]))];
  const result: TransferResult = {
    pretrained: {},
    evals: {},
    notStarted: [],
    stepsPerEpoch: batches.stepsPerEpoch,
    classes: batches.numClasses,
    dataDir: dir,
  };
  for (const phase of phases) {
    const learner = transferLearner(phase, config, ctx.seed);
    try {
      const start = performance.now();
      const history = await trainWithCheckpoints(learner, ctx, {
        label: phase,
        steps: config.pretrainSteps,
        metaBatchSize: 1,
        tasks: batches,
      });
      const trainMs = performance.now() - start;
      if (stoppedBeforeStart(history, ctx)) {
        result.notStarted.push(phase);
        continue;
      }
      result.pretrained[phase] = { history, trainMs };
      for (const rule of rules.filter((r) => PHASE_OF[r] === phase)) {
        const classifier = learner.withFewShot(HEAD_OF[rule].fewShot);
        result.evals[rule] = config.shots.map((shots) => {
          const test = EpisodeSampler.forSplit(splits, "test", {
            ways: config.ways,
            shots,
            queries: config.queries,
          });
          // The same generator for every rule: each rule sees the same episodes.
          const rng = new Rng(ctx.seed + 2);
          return {
            shots,
            result: evaluate(classifier, () => test.sample(rng), {
              episodes: config.evalEpisodes,
            }),
          };
        });
      }
    } finally {
      learner.dispose();
    }
  }
  return result;
}

function summarizeTransfer(r: TransferResult, config: TransferConfig) {
  const metrics: Metric[] = [];
  for (const [rule, evals] of Object.entries(r.evals)) {
    for (const { shots, result } of evals) {
      metrics.push({
        name: `${config.ways}-way ${shots}-shot ${rule}`,
        value: 100 * result.mean,
        ci95: result.ci95 === undefined ? undefined : 100 * result.ci95,
        unit: "%",
        episodes: result.n,
        higherIsBetter: true,
        published: publishedNumber(`omniglot/${config.ways}w${shots}s/${rule}`, 100),
      });
    }
  }
  const notes = Object.entries(r.pretrained).map(([phase, p]) =>
    `${phase}: ${p.history.step.length} of ${config.pretrainSteps} mini-batches ` +
    `of ${config.batchSize} (${(p.history.step.length / r.stepsPerEpoch).toFixed(2)} epochs ` +
    `over ${r.classes} classes), ${(p.trainMs / 1000).toFixed(0)} s`
  );
  for (const phase of r.notStarted) {
    notes.push(`${phase}: not pretrained or evaluated (the time limit was reached before it)`);
  }
  if (config.pretrainClasses > 0) {
    notes.push(
      `Pretrained on ${r.classes} of the split's training classes (a seeded subset): 300 ` +
        "batches of 16 over all 4,800 see each class once and learn nothing (the loss stays " +
        "at ln 4,800, Baseline++ at chance); on 100 classes the same batches see each ~48 " +
        "times. Chen et al. pretrain on all classes (the full preset).",
    );
  }
  notes.push(`Omniglot read from ${r.dataDir}`);
  notes.push(
    "Where this differs from Chen et al.: batches are drawn independently (uniformly, with " +
      "replacement across batches) rather than by a shuffle per epoch, so that a run resumes " +
      "exactly; batch norm normalises with each batch's own statistics at test time too (a " +
      "support set, a query set), as every MetaLab learner does, where their features come " +
      "from running averages; no data augmentation; Conv-4 weights start from PyTorch's " +
      "default initialisation; their Omniglot split has 4,112 base classes, this one the " +
      "standard 4,800. Chen et al.'s code stops Omniglot pretraining after 5 epochs " +
      "(the full preset).",
  );
  const shotsCurve: Curve = {
    title: `omniglot-transfer: ${config.ways}-way accuracy vs shots (95% CI)`,
    xLabel: "shots K",
    yLabel: "test accuracy (%)",
    series: Object.entries(r.evals).map(([rule, evals]) => ({
      name: rule,
      x: evals.map((e) => e.shots),
      y: evals.map((e) => 100 * e.result.mean),
      band: evals.map((e) => 100 * (e.result.ci95 ?? 0)),
    })),
  };
  const pretrainCurve = (key: "loss" | "accuracy"): Curve => ({
    ...trainingCurve(
      `omniglot-transfer meta-training ${key} (pretraining on ${r.classes} classes)`,
      r.pretrained,
      key,
    ),
    xLabel: `pretraining step (batch of ${config.batchSize})`,
    yLabel: key === "loss" ? "cross-entropy" : "batch accuracy",
  });
  return { metrics, curves: [pretrainCurve("loss"), pretrainCurve("accuracy"), shotsCurve], notes };
}

/** Chen et al.'s Baseline, Baseline++ and the nearest centroid on Omniglot, 1/5/10 shots. */
export const omniglotTransfer: Experiment<typeof SCHEMA, TransferResult> = {
  name: "omniglot-transfer",
  title: "Omniglot transfer baselines: Baseline, Baseline++, nearest centroid (Chen et al. 2019)",
  description: "A Conv-4 classifier pretrained with cross-entropy over all 4,800 meta-training " +
    "classes (1,200 characters × 4 rotations; Adam 1e-3, batches of 16, 5 epochs), then per " +
    "test episode: a new linear head (Baseline) or cosine head (Baseline++, pretrained with " +
    "one too) trained on the fixed support features for 100 epochs of batches of 4 (SGD " +
    "0.01, momentum 0.9, dampening 0.9, weight decay 0.001), or the nearest class centroid " +
    "of Baseline's features. The same 5-way episodes at 1, 5 and 10 shots for every rule, " +
    "with 95% CIs.",
  needs: [OMNIGLOT_DATA],
  schema: SCHEMA,
  check: problems,
  run: runTransfer,
  summarize: summarizeTransfer,
  learner: (label, config) => transferLearner(label, config),
  // Black-on-white 105×105 PNGs read as ink, area-resized to 28×28, kept as bytes.
  images: { dataset: "Omniglot", side: 28, files: "dark", bytes: true },
};
