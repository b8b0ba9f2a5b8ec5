/**
 * What the Omniglot experiments share (`omniglot_protonet.ts`, `omniglot_protonet_anchor.ts`,
 * `omniglot_maml.ts`, `omniglot_anil_metasgd.ts`, `omniglot_reptile.ts`,
 * `omniglot_matching.ts`): their knobs, the Conv-4 learners, and one
 * training-and-evaluation loop over the learners an experiment names. Each experiment module
 * says which learners, which schedule and which presets; this module says how.
 * @module
 */
import {
  findOmniglotDir,
  loadOmniglot,
  OMNIGLOT_DRAWERS,
  omniglotSplits,
  searchOmniglot,
} from "../datasets/mod.ts";
import { conv4 } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import { EpisodeSampler } from "../tasks/mod.ts";
import {
  Anil,
  type BaseMetaLearner,
  FirstOrderMaml,
  Maml,
  MatchingNet,
  MetaClassifier,
  type MetaObjectiveConfig,
  MetaSgd,
  ProtoNet,
  Reptile,
  type ReptileOptions,
} from "../meta/mod.ts";
import { evaluate } from "../eval/mod.ts";
import { stoppedBeforeStart, trainWithCheckpoints } from "./training.ts";
import { choiceField, type ConfigOf, intField } from "./config.ts";
import { publishedNumber, trainingCurve } from "./summary.ts";
import type { LearnerResult } from "./sinusoid.ts";
import type { DataNeed, Experiment, ExperimentOutput, Metric, RunContext } from "./types.ts";

/** Learners the Omniglot experiments can train. */
export type OmniglotLearnerName =
  | "protonet"
  | "maml"
  | "fomaml"
  | "anil"
  | "metasgd"
  | "reptile"
  | "matchingnet"
  | "metaclassifier";

/** The metric learners: trained on one episode per step, no inner loop, no test-time steps. */
const METRIC_LEARNERS: readonly string[] = ["protonet", "matchingnet"];

/** Omniglot, with the command that gets it. */
export const OMNIGLOT_DATA: DataNeed = {
  name: "omniglot",
  available: () => findOmniglotDir() !== null,
  howToGet: "deno task data omniglot",
  locate: (given) => searchOmniglot({ dir: given }),
};

/** Finn et al.'s inner loop (1 step of α = 0.4; 3 steps at test time) and Adam's rate. */
const INNER_STEPS = 1;
const INNER_LR = 0.4;
const TEST_STEPS = 3;
const OUTER_LR = 0.001;
/** The MetaClassifier's context size on images (notebook 03's). */
const METACLASSIFIER_CONTEXT = 64;

/** The quick and full values of the knobs that differ between Omniglot experiments. */
export interface OmniglotPresets {
  ways: number;
  shots: number;
  trainSteps: [quick: number, full: number];
  metaBatchSize: [quick: number, full: number];
  protoTrainWays: [quick: number, full: number];
  protocol: "standard" | "background-evaluation";
  /** Conv-4 filters (default 32 quick, 64 full: Finn et al.'s and Snell et al.'s width). */
  filters?: [quick: number, full: number];
  /** Test episodes (default 50 quick, 600 full). */
  evalEpisodes?: [quick: number, full: number];
}

/** Finn et al.'s settings, shared by the MAML-family experiments: 5-way 1-shot, 60,000 meta-steps of 32 tasks (quick: 20 of 4). */
export const MAML_FAMILY_PRESETS: OmniglotPresets = {
  ways: 5,
  shots: 1,
  trainSteps: [20, 60000],
  metaBatchSize: [4, 32],
  protoTrainWays: [5, 5],
  protocol: "standard",
};

/** The knobs of an Omniglot experiment training `learners`. */
export function omniglotSchema<L extends OmniglotLearnerName>(
  presets: OmniglotPresets,
  learners: readonly L[],
) {
  return {
    ways: intField(2, 60, presets.ways, presets.ways, "N classes per test episode"),
    shots: intField(1, 10, presets.shots, presets.shots, "K examples per class in the support set"),
    queries: intField(
      1,
      OMNIGLOT_DRAWERS - 1,
      5,
      15,
      `query examples per class (shots + queries ≤ the ${OMNIGLOT_DRAWERS} drawers of a character)`,
    ),
    trainSteps: intField(
      1,
      1_000_000,
      presets.trainSteps[0],
      presets.trainSteps[1],
      "meta-training steps per learner",
    ),
    metaBatchSize: intField(
      1,
      256,
      presets.metaBatchSize[0],
      presets.metaBatchSize[1],
      "tasks per meta-step (MAML family)",
    ),
    protoTrainWays: intField(
      2,
      100,
      presets.protoTrainWays[0],
      presets.protoTrainWays[1],
      "ways of ProtoNet training episodes",
    ),
    filters: intField(4, 128, ...(presets.filters ?? [32, 64]), "Conv-4 filters"),
    evalEpisodes: intField(1, 100_000, ...(presets.evalEpisodes ?? [50, 600]), "test episodes"),
    protocol: choiceField(
      ["standard", "background-evaluation"] as const,
      presets.protocol,
      presets.protocol,
      "class split",
    ),
    // Several learners train one after another under one time limit; `learners` picks one
    // of them, so each can get a time limit (and an output folder) of its own.
    learners: choiceField<"all" | L>(
      ["all", ...learners],
      "all",
      "all",
      `which learners to train: all (${learners.join(", ")}, in turn) or one of them`,
    ),
  };
}

/** An Omniglot experiment's config. */
export type OmniglotConfig = ConfigOf<ReturnType<typeof omniglotSchema>>;

/** How one Omniglot experiment trains: its learners and schedule. */
export interface OmniglotSetting<L extends OmniglotLearnerName = OmniglotLearnerName> {
  /** The learners it trains, in order. */
  learners: readonly L[];
  /** Halve Adam's rate every this many steps (0: never; ProtoNets: 2,000). */
  halveEvery: number;
  /** Queries per class of ProtoNet training episodes (default: the `queries` knob). */
  protoTrainQueries?: number;
  /** The `lib/eval/published.ts` key of a learner's number (default `omniglot/NwKs/learner`). */
  publishedKey?: (learner: string, ways: number, shots: number) => string;
  /** A note on how the full preset relates to the paper's schedule. */
  fullNote: string;
  /** Changes to Finn et al.'s inner loop and Adam rate for this experiment's learners. */
  objective?: Partial<MetaObjectiveConfig>;
  /** Further changes for single learners (e.g. the MetaClassifier's context rate). */
  learnerObjective?: Partial<Record<L, Partial<MetaObjectiveConfig>>>;
  /** Test-time inner steps of single learners (default `testSteps`). */
  learnerTestSteps?: Partial<Record<L, number>>;
  /** Reptile's inner optimiser, mini-batches and evaluation protocol (see `ReptileOptions`). */
  reptile?: Omit<ReptileOptions, "rng" | "kind" | "objective">;
  /** Outer rate at `step` of `steps` (replaces `halveEvery`; Reptile: annealed to 0). */
  lrSchedule?: (step: number, steps: number) => number;
  /** Support examples per class of training episodes (default: the `shots` knob). */
  trainShots?: number;
  /** Query examples per class of training episodes, ProtoNet's excepted (default: `queries`). */
  trainQueries?: number;
  /** Test-time inner steps of the gradient-based learners (default: Finn et al.'s 3). */
  testSteps?: number;
}

/** What an Omniglot experiment returns. */
export interface OmniglotResult {
  /** learner → training history, evaluation (keyed by test steps) and training time. */
  learners: Record<string, LearnerResult & { trainMs: number }>;
  /** Learners the run's time limit reached before their first step (neither trained nor evaluated). */
  notStarted: string[];
  /** The folder the archives were read from. */
  dataDir: string;
}

/** The Conv-4 learner `name` for `config` (and an experiment's `setting`), untrained. */
export function omniglotLearner(
  name: string,
  config: OmniglotConfig,
  seed = 0,
  setting?: Pick<OmniglotSetting, "objective" | "learnerObjective" | "reptile">,
): BaseMetaLearner {
  const rng = new Rng(seed);
  const objective: Partial<MetaObjectiveConfig> = {
    innerSteps: INNER_STEPS,
    innerLr: INNER_LR,
    outerLr: OUTER_LR,
    ...setting?.objective,
    ...setting?.learnerObjective?.[name as OmniglotLearnerName],
    metaBatchSize: METRIC_LEARNERS.includes(name) ? 1 : config.metaBatchSize,
  };
  const inputShape: [number, number, number] = [28, 28, 1];
  const head = () => conv4({ inputShape, outputs: config.ways, filters: config.filters });
  switch (name) {
    case "protonet":
      return new ProtoNet(conv4({ inputShape, outputs: 0, filters: config.filters }), {
        rng,
        objective,
      });
    case "maml":
      return new Maml(head(), { rng, objective });
    case "fomaml":
      return new FirstOrderMaml(head(), { rng, objective });
    case "anil":
      return new Anil(head(), { rng, objective });
    case "metasgd":
      return new MetaSgd(head(), { rng, objective });
    case "reptile":
      return new Reptile(head(), { rng, objective, ...setting?.reptile });
    case "matchingnet":
      return new MatchingNet(conv4({ inputShape, outputs: 0, filters: config.filters }), {
        rng,
        objective,
      });
    case "metaclassifier":
      // The course's task-conditioned classifier (notebook 03): Conv-4 features modulated by
      // FiLM from a context inferred per episode; only the context adapts.
      return new MetaClassifier(conv4({ inputShape, outputs: 0, filters: config.filters }), {
        rng,
        inputShape,
        outputs: config.ways,
        contextSize: METACLASSIFIER_CONTEXT,
        objective,
      });
    default:
      throw new Error(
        `unknown Omniglot learner "${name}": expected protonet, maml, fomaml, anil, metasgd, ` +
          `reptile, matchingnet or metaclassifier`,
      );
  }
}

/** Combinations the knobs' ranges allow but Omniglot cannot provide. */
export function omniglotProblems(
  config: OmniglotConfig,
  setting: OmniglotSetting<OmniglotLearnerName>,
): string[] {
  const problems: string[] = [];
  const perClass = (queries: number, what: string) => {
    if (config.shots + queries > OMNIGLOT_DRAWERS) {
      problems.push(
        `shots=${config.shots} + ${what}=${queries} needs ${
          config.shots + queries
        } drawings of a character, but Omniglot has ${OMNIGLOT_DRAWERS}`,
      );
    }
  };
  perClass(config.queries, "queries");
  const trains = config.learners === "all" ? setting.learners : [config.learners];
  if (trains.includes("protonet") && setting.protoTrainQueries !== undefined) {
    perClass(setting.protoTrainQueries, "ProtoNet training queries");
  }
  if (setting.trainShots !== undefined) {
    const queries = setting.trainQueries ?? config.queries;
    if (setting.trainShots + queries > OMNIGLOT_DRAWERS) {
      problems.push(
        `training episodes of ${setting.trainShots} shots + ${queries} queries need ${
          setting.trainShots + queries
        } drawings of a character, but Omniglot has ${OMNIGLOT_DRAWERS}`,
      );
    }
  }
  return problems;
}

/**
 * Loads Omniglot (cached after the first time), splits the characters, meta-trains each
 * learner the config names on Conv-4 and evaluates it on new characters.
 */
export async function runOmniglot(
  setting: OmniglotSetting<OmniglotLearnerName>,
  config: OmniglotConfig,
  ctx: RunContext,
): Promise<OmniglotResult> {
  const dir = ctx.data?.omniglot ?? findOmniglotDir();
  if (!dir) {
    throw new Error("Omniglot archives not found: run `deno task data omniglot`");
  }
  const omniglot = await loadOmniglot({ dir });
  const splits = omniglotSplits(omniglot, { protocol: config.protocol });
  const spec = { ways: config.ways, shots: config.shots, queries: config.queries };
  const testSampler = EpisodeSampler.forSplit(splits, "test", spec);
  const learners = config.learners === "all" ? setting.learners : [config.learners];
  const result: OmniglotResult = { learners: {}, notStarted: [], dataDir: dir };
  for (const name of learners) {
    const learner = omniglotLearner(name, config, ctx.seed, setting);
    const trainSpec = name === "protonet"
      ? {
        ...spec,
        ways: config.protoTrainWays,
        queries: setting.protoTrainQueries ?? config.queries,
      }
      : {
        ...spec,
        shots: setting.trainShots ?? spec.shots,
        queries: setting.trainQueries ?? spec.queries,
      };
    const schedule = setting.lrSchedule;
    const start = performance.now();
    try {
      const history = await trainWithCheckpoints(learner, ctx, {
        label: name,
        metaBatchSize: learner.objective.config.metaBatchSize,
        tasks: EpisodeSampler.forSplit(splits, "train", trainSpec),
        // A MAML-family step on 32 Conv-4 tasks takes seconds: checkpoint more often.
        checkpointEvery: METRIC_LEARNERS.includes(name) ? undefined : 10,
        steps: config.trainSteps,
        lrSchedule: schedule
          ? (step) => schedule(step, config.trainSteps)
          : setting.halveEvery > 0
          ? (step) => OUTER_LR * 0.5 ** Math.floor(step / setting.halveEvery)
          : undefined,
      });
      const trainMs = performance.now() - start;
      if (stoppedBeforeStart(history, ctx)) {
        result.notStarted.push(name);
        continue;
      }
      const testRng = new Rng(ctx.seed + 2);
      const metric = METRIC_LEARNERS.includes(name);
      const steps = metric
        ? 0
        : setting.learnerTestSteps?.[name] ?? setting.testSteps ?? TEST_STEPS;
      const e = evaluate(learner, () => testSampler.sample(testRng), {
        episodes: config.evalEpisodes,
        steps: metric ? undefined : steps,
      });
      result.learners[name] = { history, eval: { [steps]: e }, trainMs };
    } finally {
      learner.dispose();
    }
  }
  return result;
}

/** An Omniglot result as metrics (with the published numbers), curves and notes. */
export function summarizeOmniglot(
  name: string,
  setting: OmniglotSetting<OmniglotLearnerName>,
  result: OmniglotResult,
  config: OmniglotConfig,
): ExperimentOutput {
  const metrics: Metric[] = [];
  for (const [learner, r] of Object.entries(result.learners)) {
    for (const [steps, e] of Object.entries(r.eval)) {
      const key = setting.publishedKey?.(learner, config.ways, config.shots) ??
        `omniglot/${config.ways}w${config.shots}s/${learner}`;
      metrics.push({
        name: `${config.ways}-way ${config.shots}-shot ${learner}` +
          (METRIC_LEARNERS.includes(learner) ? "" : ` (${steps} test steps)`),
        value: 100 * e.mean,
        ci95: e.ci95 === undefined ? undefined : 100 * e.ci95,
        unit: "%",
        episodes: e.n,
        higherIsBetter: true,
        published: publishedNumber(key, 100),
      });
    }
  }
  const notes = Object.entries(result.learners).map(([learner, r]) =>
    `${learner}: ${r.history.step.length} of ${config.trainSteps} meta-steps, ` +
    `${(r.history.wallMs / 1000).toFixed(0)} s of training`
  );
  for (const learner of result.notStarted) {
    notes.push(`${learner}: not trained or evaluated (the time limit was reached before it)`);
  }
  notes.push(`Omniglot read from ${result.dataDir}`);
  notes.push(setting.fullNote);
  return {
    metrics,
    curves: [
      trainingCurve(`${name} meta-training loss`, result.learners, "loss"),
      trainingCurve(`${name} meta-training accuracy`, result.learners, "accuracy"),
    ],
    notes,
  };
}

/** An Omniglot experiment from its presets and setting (what each experiment module calls). */
export function omniglotExperiment<L extends OmniglotLearnerName>(spec: {
  name: string;
  title: string;
  description: string;
  presets: OmniglotPresets;
  setting: OmniglotSetting<L>;
}): Experiment<ReturnType<typeof omniglotSchema<L>>, OmniglotResult> {
  const setting = spec.setting as OmniglotSetting<OmniglotLearnerName>;
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    needs: [OMNIGLOT_DATA],
    schema: omniglotSchema(spec.presets, spec.setting.learners),
    check: (config) => omniglotProblems(config, setting),
    run: (config, ctx) => runOmniglot(setting, config, ctx),
    summarize: (result, config) => summarizeOmniglot(spec.name, setting, result, config),
    learner: (label, config) => omniglotLearner(label, config, 0, setting),
    // Black-on-white 105×105 PNGs read as ink, area-resized to 28×28, kept as bytes.
    images: {
      dataset: "Omniglot",
      side: 28,
      files: "dark",
      bytes: true,
      testSteps: setting.testSteps ?? TEST_STEPS,
    },
  };
}
