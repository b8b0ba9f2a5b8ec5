/**
 * `omniglot-data-scarcity`: the second challenge of meta-learning, data scarcity, measured.
 * ProtoNet and MAML are meta-trained — and Chen et al.'s transfer Baseline pretrained, the
 * same question asked of transfer learning — on Lake et al.'s background alphabets restricted to
 * the first N characters of one seeded order (N = 25, 50, 100, 200, 400, 964 in the full
 * preset; each set contains the smaller ones), without rotations, so N is the number of
 * meta-training classes; each model is tested on the same 5-way episodes of the evaluation
 * alphabets at 1 and 5 shots, with 95% CIs. Where the curve flattens is where more
 * meta-training classes stop helping; the recorded training times give accuracy against
 * compute as well.
 * @module
 */
import {
  findOmniglotDir,
  loadOmniglot,
  OMNIGLOT_DRAWERS,
  omniglotSplits,
} from "../datasets/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler } from "../tasks/mod.ts";
import type { BaseMetaLearner, TrainingHistory } from "../meta/mod.ts";
import { CHEN_FINE_TUNE, ClassBatchSampler, type EvalResult, evaluate } from "../eval/mod.ts";
import { stoppedBeforeStart, trainWithCheckpoints } from "./training.ts";
import { choiceField, type ConfigOf, intField, numbersField } from "./config.ts";
import { trainingCurve } from "./summary.ts";
import { OMNIGLOT_DATA, type OmniglotConfig, omniglotLearner } from "./omniglot.ts";
import { transferLearner } from "./omniglot_transfer.ts";
import type { Curve, Experiment, Metric } from "./types.ts";

/** The learners compared: two meta-learners and Chen et al.'s transfer Baseline. */
export const SCARCITY_LEARNERS = ["protonet", "maml", "baseline"] as const;
/** A learner of `omniglot-data-scarcity`. */
export type ScarcityLearner = typeof SCARCITY_LEARNERS[number];

/** Characters of Lake et al.'s background set: the most this experiment can train on. */
const BACKGROUND_CHARACTERS = 964;
/** MAML's test-time inner steps (Finn et al.'s 3) and ProtoNet's halving period (Snell et al.). */
const TEST_STEPS = 3;
const HALVE_EVERY = 2000;

const SCHEMA = {
  characters: numbersField(
    5,
    BACKGROUND_CHARACTERS,
    [5, 20, 200],
    [25, 50, 100, 200, 400, 964],
    "meta-training classes: the first N background characters of one seeded order (integers)",
  ),
  shots: numbersField(1, 10, [1, 5], [1, 5], "K of the 5-way test episodes (integers)"),
  queries: intField(1, OMNIGLOT_DRAWERS - 1, 5, 10, "query examples per class"),
  protoSteps: intField(1, 1_000_000, 150, 5000, "ProtoNet training episodes per N"),
  protoTrainWays: intField(
    5,
    60,
    5,
    20,
    "ways of ProtoNet training episodes (at most N; Snell et al. 60 on 4,800 classes)",
  ),
  mamlSteps: intField(1, 1_000_000, 20, 2000, "MAML meta-steps per N (1 inner step α = 0.4)"),
  pretrainSteps: intField(
    1,
    1_000_000,
    150,
    6000,
    "Baseline pretraining batches of 16 per N (full: Chen et al.'s 5 epochs of all 964 characters)",
  ),
  metaBatchSize: intField(1, 64, 2, 8, "MAML tasks per meta-step"),
  filters: intField(4, 128, 32, 64, "Conv-4 filters"),
  evalEpisodes: intField(1, 100_000, 40, 600, "test episodes per shot setting"),
  learners: choiceField<"all" | ScarcityLearner>(
    ["all", ...SCARCITY_LEARNERS],
    "all",
    "all",
    `which learners: all (${SCARCITY_LEARNERS.join(", ")}) or one`,
  ),
};

/** The config of `omniglot-data-scarcity`. */
export type ScarcityConfig = ConfigOf<typeof SCHEMA>;

/** One trained model: a learner on N characters, and its evaluations. */
export interface ScarcityRun {
  /** The learner. */
  learner: ScarcityLearner;
  /** Meta-training characters (= classes). */
  characters: number;
  /** Its training history. */
  history: TrainingHistory;
  /** Training wall time in milliseconds. */
  trainMs: number;
  /** One evaluation per test shot setting, on the same episodes for every model. */
  evals: { shots: number; result: EvalResult }[];
}

/** What `omniglot-data-scarcity` returns. */
export interface ScarcityResult {
  /** One entry per (learner, N) trained, learners in turn, N ascending. */
  runs: ScarcityRun[];
  /** Labels (`learner-Nc`) the time limit reached before their first step. */
  notStarted: string[];
  /** The folder the archives were read from. */
  dataDir: string;
}

/** The checkpoint and saved-model label of `learner` trained on `characters`. */
export function scarcityLabel(learner: string, characters: number): string {
  return `${learner}-${characters}c`;
}

function parseLabel(label: string): { learner: ScarcityLearner; characters: number } {
  const m = /^(protonet|maml|baseline)-(\d+)c$/.exec(label);
  if (!m) {
    throw new Error(
      `unknown omniglot-data-scarcity model "${label}": expected <protonet|maml|baseline>-<N>c, e.g. ` +
        scarcityLabel("protonet", 25),
    );
  }
  return { learner: m[1] as ScarcityLearner, characters: Number(m[2]) };
}

/** The Conv-4 learner of `label` for `config`, untrained (as `run` builds it). */
function scarcityLearner(label: string, config: ScarcityConfig, seed = 0): BaseMetaLearner {
  const { learner, characters } = parseLabel(label);
  if (learner === "baseline") {
    // Chen et al.'s Baseline with a head over the N training characters.
    return transferLearner("baseline", {
      ways: 5,
      shots: config.shots,
      queries: config.queries,
      pretrainSteps: config.pretrainSteps,
      batchSize: 16,
      pretrainClasses: characters,
      pretrainLr: 0.001,
      headEpochs: CHEN_FINE_TUNE.epochs,
      headBatch: CHEN_FINE_TUNE.batchSize,
      headLr: CHEN_FINE_TUNE.lr,
      filters: config.filters,
      evalEpisodes: config.evalEpisodes,
      protocol: "background-evaluation",
      learners: "baseline",
    }, seed);
  }
  const base: OmniglotConfig = {
    ways: 5,
    shots: 1,
    queries: config.queries,
    trainSteps: learner === "protonet" ? config.protoSteps : config.mamlSteps,
    metaBatchSize: config.metaBatchSize,
    protoTrainWays: config.protoTrainWays,
    filters: config.filters,
    evalEpisodes: config.evalEpisodes,
    protocol: "background-evaluation",
    learners: "all",
  };
  return omniglotLearner(learner, base, seed);
}

function problems(config: ScarcityConfig): string[] {
  const out: string[] = [];
  for (const [key, values] of [["characters", config.characters], ["shots", config.shots]]) {
    const bad = (values as number[]).filter((v) => !Number.isInteger(v));
    if (bad.length > 0) out.push(`${key} must be whole numbers, got ${bad.join(", ")}`);
  }
  const most = Math.max(...config.shots);
  if (most + config.queries > OMNIGLOT_DRAWERS) {
    out.push(
      `shots=${most} + queries=${config.queries} needs ${most + config.queries} drawings of a ` +
        `character, but Omniglot has ${OMNIGLOT_DRAWERS}`,
    );
  }
  return out;
}

async function runScarcity(
  config: ScarcityConfig,
  ctx: Parameters<Experiment["run"]>[1],
): Promise<ScarcityResult> {
  const dir = ctx.data?.omniglot ?? findOmniglotDir();
  if (!dir) throw new Error("Omniglot archives not found: run `deno task data omniglot`");
  const omniglot = await loadOmniglot({ dir });
  // No rotations: a class is a character, so N counts meta-training classes exactly.
  const splits = omniglotSplits(omniglot, {
    protocol: "background-evaluation",
    trainRotations: [0],
    testRotations: [0],
  });
  // One seeded order of the background characters; the first N of it, so each set holds
  // the smaller ones and only the amount of data changes along the curve.
  const order = new Rng(ctx.seed + 3).shuffle([...splits.train]);
  const counts = [...new Set(config.characters)].sort((a, b) => a - b);
  const learners = config.learners === "all" ? [...SCARCITY_LEARNERS] : [config.learners];
  const result: ScarcityResult = { runs: [], notStarted: [], dataDir: dir };
  for (const name of learners) {
    for (const characters of counts) {
      const label = scarcityLabel(name, characters);
      const train = { ...splits, train: Int32Array.from(order.slice(0, characters)) };
      const learner = scarcityLearner(label, config, ctx.seed);
      try {
        const proto = name === "protonet";
        const transfer = name === "baseline";
        const start = performance.now();
        const history = await trainWithCheckpoints(learner, ctx, {
          label,
          steps: proto ? config.protoSteps : transfer ? config.pretrainSteps : config.mamlSteps,
          metaBatchSize: learner.objective.config.metaBatchSize,
          // The Baseline pretrains on mini-batches of the same N characters' drawings.
          tasks: transfer
            ? new ClassBatchSampler(train.dataset, train.train, 16)
            : EpisodeSampler.forSplit(train, "train", {
              ways: proto ? Math.min(config.protoTrainWays, characters) : 5,
              shots: 1,
              queries: config.queries,
            }),
          checkpointEvery: name === "maml" ? 10 : undefined,
          lrSchedule: proto ? (step) => 0.001 * 0.5 ** Math.floor(step / HALVE_EVERY) : undefined,
        });
        const trainMs = performance.now() - start;
        if (stoppedBeforeStart(history, ctx)) {
          result.notStarted.push(label);
          continue;
        }
        const evals = config.shots.map((shots) => {
          const test = EpisodeSampler.forSplit(splits, "test", {
            ways: 5,
            shots,
            queries: config.queries,
          });
          // The same generator for every model: every point of a curve sees the same episodes.
          const rng = new Rng(ctx.seed + 2);
          return {
            shots,
            result: evaluate(learner, () => test.sample(rng), {
              episodes: config.evalEpisodes,
              steps: name === "maml" ? TEST_STEPS : undefined,
            }),
          };
        });
        result.runs.push({ learner: name, characters, history, trainMs, evals });
      } finally {
        learner.dispose();
      }
    }
  }
  return result;
}

/** Where more meta-training classes stop helping one learner at one shot setting. */
export interface Saturation {
  /** The learner. */
  learner: ScarcityLearner;
  /** The test shots. */
  shots: number;
  /** The N with the highest accuracy, and that accuracy (%). */
  best: { characters: number; accuracy: number };
  /**
   * The smallest N whose 95% interval overlaps the best one's: beyond it, more classes
   * made no difference this run could tell apart.
   */
  enough: { characters: number; accuracy: number };
}

/**
 * For each learner and test shot setting, the smallest number of meta-training classes
 * whose accuracy is within the 95% intervals of the best (see {@linkcode Saturation}).
 */
export function saturation(result: ScarcityResult): Saturation[] {
  const out: Saturation[] = [];
  for (const learner of SCARCITY_LEARNERS) {
    const runs = result.runs.filter((r) => r.learner === learner);
    if (runs.length === 0) continue;
    for (const { shots } of runs[0].evals) {
      const points = runs.map((r) => {
        const e = r.evals.find((v) => v.shots === shots)!.result;
        return { characters: r.characters, mean: 100 * e.mean, ci: 100 * (e.ci95 ?? 0) };
      }).sort((a, b) => a.characters - b.characters);
      const best = points.reduce((a, b) => (b.mean > a.mean ? b : a));
      const enough = points.find((p) => best.mean - p.mean <= best.ci + p.ci)!;
      out.push({
        learner,
        shots,
        best: { characters: best.characters, accuracy: best.mean },
        enough: { characters: enough.characters, accuracy: enough.mean },
      });
    }
  }
  return out;
}

function summarizeScarcity(r: ScarcityResult, config: ScarcityConfig) {
  const metrics: Metric[] = r.runs.flatMap((run) =>
    run.evals.map(({ shots, result }) => ({
      name: `5-way ${shots}-shot ${run.learner}, ${run.characters} training characters`,
      value: 100 * result.mean,
      ci95: result.ci95 === undefined ? undefined : 100 * result.ci95,
      unit: "%",
      episodes: result.n,
      higherIsBetter: true,
    }))
  );
  const keys = [...new Set(r.runs.map((run) => run.learner))].flatMap((learner) =>
    config.shots.map((shots) => ({ learner, shots }))
  );
  const seriesBy = (x: (run: ScarcityRun) => number) =>
    keys.map(({ learner, shots }) => {
      const runs = r.runs.filter((run) => run.learner === learner);
      const at = runs.map((run) => run.evals.find((e) => e.shots === shots)!.result);
      return {
        name: `${learner} ${shots}-shot`,
        x: runs.map(x),
        y: at.map((e) => 100 * e.mean),
        band: at.map((e) => 100 * (e.ci95 ?? 0)),
      };
    });
  const curves: Curve[] = [
    {
      title: "omniglot-data-scarcity: 5-way accuracy vs meta-training classes (95% CI)",
      xLabel: "meta-training characters N",
      yLabel: "test accuracy (%)",
      series: seriesBy((run) => run.characters),
    },
    {
      title: "omniglot-data-scarcity: 5-way accuracy vs training wall time (95% CI)",
      xLabel: "training wall time (s)",
      yLabel: "test accuracy (%)",
      series: seriesBy((run) => run.trainMs / 1000),
    },
    trainingCurve(
      "omniglot-data-scarcity meta-training accuracy",
      Object.fromEntries(r.runs.map((run) => [scarcityLabel(run.learner, run.characters), run])),
      "accuracy",
    ),
  ];
  const notes = r.runs.map((run) =>
    `${scarcityLabel(run.learner, run.characters)}: ${run.history.step.length} of ${
      ({ protonet: config.protoSteps, maml: config.mamlSteps, baseline: config.pretrainSteps })[
        run.learner
      ]
    } steps, ${(run.trainMs / 1000).toFixed(0)} s`
  );
  for (const label of r.notStarted) {
    notes.push(`${label}: not trained or evaluated (the time limit was reached before it)`);
  }
  for (const p of saturation(r)) {
    notes.push(
      `${p.learner} ${p.shots}-shot: best ${p.best.accuracy.toFixed(1)}% at N = ` +
        `${p.best.characters}; from N = ${p.enough.characters} ` +
        `(${p.enough.accuracy.toFixed(1)}%) on, within the 95% intervals of the best`,
    );
  }
  if (r.runs.some((run) => run.learner === "maml") && config.mamlSteps < 1000) {
    notes.push(
      `MAML after ${config.mamlSteps} meta-steps is near chance at every N: its numbers here ` +
        "are a pipeline check (the full preset trains 2,000 steps); ProtoNet's curve shows " +
        "the direction.",
    );
  }
  if (r.runs.some((run) => run.learner === "baseline") && config.pretrainSteps < 1000) {
    const most = Math.max(...r.runs.map((run) => run.characters));
    notes.push(
      `The Baseline's ${config.pretrainSteps} batches of 16 show each of N = ${most} classes ` +
        `${((config.pretrainSteps * 16) / most).toFixed(0)} images on average: where its ` +
        "accuracy falls at large N it is a short schedule over more classes (compute), not " +
        "less data; the full preset trains 6,000 batches.",
    );
  }
  notes.push(
    "Training characters are the first N of one seeded order of the 964 background " +
      "characters, without rotations (one class per character); tests are 5-way episodes " +
      "of the 659 evaluation characters, the same episodes for every model.",
    `Omniglot read from ${r.dataDir}`,
  );
  return { metrics, curves, notes };
}

/** ProtoNet and MAML vs the number of meta-training classes (25 … 964 characters) and shots. */
export const omniglotDataScarcity: Experiment<typeof SCHEMA, ScarcityResult> = {
  name: "omniglot-data-scarcity",
  title: "Data scarcity: ProtoNet and MAML vs the number of meta-training classes",
  description: "Conv-4 ProtoNet (5,000 20-way episodes, Adam 1e-3 halved every 2,000) and " +
    "MAML (2,000 meta-steps of 8 5-way 1-shot tasks, 1 inner step α = 0.4, 3 at test) " +
    "meta-trained, and Chen et al.'s Baseline pretrained (6,000 batches of 16, a new linear " +
    "head per task), on the first N = 25, 50, 100, 200, 400, 964 background characters of " +
    "Omniglot (no rotations: N classes), each tested on the same 5-way 1- and 5-shot " +
    "episodes of the evaluation alphabets (600, 95% CIs). The quick preset (N = 5, 20, 200; " +
    "150 ProtoNet episodes, 20 MAML steps of 2 tasks, 150 Baseline batches) takes about a minute; the full one " +
    "about 15 hours on two cores, estimated from the quick preset's step times (MAML's " +
    "6 × 2,000 steps of 8 tasks dominate): run it in parts with --resume and --time-limit.",
  needs: [OMNIGLOT_DATA],
  schema: SCHEMA,
  check: problems,
  run: runScarcity,
  summarize: summarizeScarcity,
  learner: (label, config) => scarcityLearner(label, config),
  images: { dataset: "Omniglot", side: 28, files: "dark", bytes: true, testSteps: TEST_STEPS },
};
