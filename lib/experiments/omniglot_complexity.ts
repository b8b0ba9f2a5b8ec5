/**
 * `omniglot-complexity`: the first challenge of meta-learning, model complexity, measured.
 * Wall time and memory of one meta-step of second-order MAML, first-order MAML, Reptile, ANIL
 * and ProtoNet on the same Conv-4 5-way 1-shot Omniglot meta-batch, as the number of inner
 * steps grows (1, 2, 3, 5, 10), and the growth rate of each cost fitted from the
 * measurements (lib/eval/complexity.ts). Second-order MAML differentiates through every
 * inner step, so its tape — and its memory — grows with the steps; first-order MAML and
 * Reptile keep one step's graph at a time; ProtoNet has no inner loop at all.
 * @module
 */
import {
  findOmniglotDir,
  loadOmniglot,
  OMNIGLOT_DRAWERS,
  omniglotSplits,
} from "../datasets/mod.ts";
import { Rng } from "../random/mod.ts";
import { disposeTask, EpisodeSampler } from "../tasks/mod.ts";
import { growthExponent, linearFit, measureMetaStep, type StepCost } from "../eval/mod.ts";
import { choiceField, type ConfigOf, intField, numbersField } from "./config.ts";
import { OMNIGLOT_DATA, type OmniglotConfig, omniglotLearner } from "./omniglot.ts";
import type { Curve, Experiment, Metric } from "./types.ts";

/** The learners measured, in the order they are measured at each inner-step count. */
export const COMPLEXITY_LEARNERS = ["protonet", "reptile", "anil", "fomaml", "maml"] as const;
/** A learner `omniglot-complexity` measures. */
export type ComplexityLearner = typeof COMPLEXITY_LEARNERS[number];

const SCHEMA = {
  innerSteps: numbersField(
    1,
    100,
    [1, 2, 3, 5, 10],
    [1, 2, 3, 5, 10],
    "inner steps of the gradient-based learners: one measurement per value (integers)",
  ),
  metaBatchSize: intField(
    1,
    64,
    2,
    32,
    "tasks in the meta-batch every learner steps on (Finn et al.: 32)",
  ),
  queries: intField(1, OMNIGLOT_DRAWERS - 1, 5, 15, "query examples per class"),
  filters: intField(4, 128, 32, 64, "Conv-4 filters"),
  warmup: intField(0, 100, 1, 1, "untimed meta-steps before each measurement"),
  repeats: intField(1, 100, 1, 3, "timed meta-steps per measurement (their median is reported)"),
  learners: choiceField<"all" | ComplexityLearner>(
    ["all", ...COMPLEXITY_LEARNERS],
    "all",
    "all",
    `which learners to measure: all (${COMPLEXITY_LEARNERS.join(", ")}) or one`,
  ),
};

/** The config of `omniglot-complexity`. */
export type ComplexityConfig = ConfigOf<typeof SCHEMA>;

/** One measurement: a learner at an inner-step count. */
export interface ComplexityPoint extends StepCost {
  /** Inner steps of the meta-step (ProtoNet: none; measured at every value all the same). */
  innerSteps: number;
}

/** A fitted growth rate of one learner's cost. */
export interface ComplexityGrowth {
  /** Milliseconds per extra inner step (least-squares slope). */
  msPerStep: number;
  /** Peak tfjs megabytes per extra inner step (least-squares slope). */
  mbPerStep: number;
  /** Exponent b of time ≈ a·steps^b on log axes (1: linear, 0: flat). */
  timeExponent: number;
  /** Exponent b of peak memory ≈ a·steps^b on log axes. */
  memoryExponent: number;
}

/** What `omniglot-complexity` returns. */
export interface ComplexityResult {
  /** Every measurement, in the order taken (inner steps ascending, then learners). */
  points: ComplexityPoint[];
  /** Learner → its growth rates (fitted when at least two inner-step counts were measured). */
  growth: Record<string, ComplexityGrowth>;
  /** The folder the archives were read from. */
  dataDir: string;
}

const MB = 2 ** 20;

function learnersOf(config: ComplexityConfig): ComplexityLearner[] {
  return config.learners === "all" ? [...COMPLEXITY_LEARNERS] : [config.learners];
}

function problems(config: ComplexityConfig): string[] {
  const out: string[] = [];
  const bad = config.innerSteps.filter((s) => !Number.isInteger(s));
  if (bad.length > 0) out.push(`innerSteps must be whole numbers, got ${bad.join(", ")}`);
  if (1 + config.queries > OMNIGLOT_DRAWERS) {
    out.push(`1 shot + queries=${config.queries} needs more than Omniglot's ${OMNIGLOT_DRAWERS}`);
  }
  return out;
}

/** The growth rates of one learner's points (null with fewer than two inner-step counts). */
export function fitGrowth(points: readonly ComplexityPoint[]): ComplexityGrowth | null {
  if (new Set(points.map((p) => p.innerSteps)).size < 2) return null;
  const steps = points.map((p) => p.innerSteps);
  const ms = points.map((p) => p.medianMs);
  // A step that allocated nothing beyond the parameters cannot sit on log axes: 1 byte floor.
  const bytes = points.map((p) => Math.max(p.peakExtraBytes, 1));
  return {
    msPerStep: linearFit(steps, ms).slope,
    mbPerStep: linearFit(steps, bytes.map((b) => b / MB)).slope,
    timeExponent: growthExponent(steps, ms),
    memoryExponent: growthExponent(steps, bytes),
  };
}

async function runComplexity(
  config: ComplexityConfig,
  ctx: Parameters<Experiment["run"]>[1],
): Promise<ComplexityResult> {
  const dir = ctx.data?.omniglot ?? findOmniglotDir();
  if (!dir) throw new Error("Omniglot archives not found: run `deno task data omniglot`");
  const omniglot = await loadOmniglot({ dir });
  const splits = omniglotSplits(omniglot, { protocol: "standard" });
  const sampler = EpisodeSampler.forSplit(splits, "train", {
    ways: 5,
    shots: 1,
    queries: config.queries,
  });
  // One meta-batch for every learner and every inner-step count: only the algorithm changes.
  const rng = new Rng(ctx.seed + 1);
  const tasks = Array.from({ length: config.metaBatchSize }, () => sampler.sample(rng));
  const learnerConfig: OmniglotConfig = {
    ways: 5,
    shots: 1,
    queries: config.queries,
    trainSteps: 1,
    metaBatchSize: config.metaBatchSize,
    protoTrainWays: 5,
    filters: config.filters,
    evalEpisodes: 1,
    protocol: "standard",
    learners: "all",
  };
  const learners = learnersOf(config);
  // Ascending, so the process's resident size (a high-water mark) grows with the computation.
  const stepCounts = [...new Set(config.innerSteps)].sort((a, b) => a - b);
  const points: ComplexityPoint[] = [];
  const total = stepCounts.length * learners.length;
  try {
    for (const innerSteps of stepCounts) {
      for (const name of learners) {
        if (ctx.signal.aborted) throw new Error("omniglot-complexity: interrupted");
        const learner = omniglotLearner(name, learnerConfig, ctx.seed, {
          objective: { innerSteps },
        });
        try {
          const cost = await measureMetaStep(learner, tasks, {
            warmup: config.warmup,
            repeats: config.repeats,
          });
          points.push({ ...cost, learner: name, innerSteps });
          ctx.progress(points.length, total, {
            [`${name} ${innerSteps} steps ms`]: cost.medianMs,
          });
        } finally {
          learner.dispose();
        }
      }
    }
  } finally {
    tasks.forEach(disposeTask);
  }
  const growth: Record<string, ComplexityGrowth> = {};
  for (const name of learners) {
    const fit = fitGrowth(points.filter((p) => p.learner === name));
    if (fit) growth[name] = fit;
  }
  return { points, growth, dataDir: dir };
}

function summarizeComplexity(r: ComplexityResult, config: ComplexityConfig) {
  const metrics: Metric[] = [];
  const learners = [...new Set(r.points.map((p) => p.learner))];
  const steps = [...new Set(r.points.map((p) => p.innerSteps))];
  const ends = [steps[0], steps[steps.length - 1]].filter((s, i, a) => a.indexOf(s) === i);
  for (const name of learners) {
    for (const s of ends) {
      const p = r.points.find((q) => q.learner === name && q.innerSteps === s)!;
      metrics.push({
        name: `${name} meta-step time, ${s} inner steps`,
        value: p.medianMs,
        unit: "ms",
        higherIsBetter: false,
      }, {
        name: `${name} meta-step peak tfjs memory, ${s} inner steps`,
        value: p.peakExtraBytes / MB,
        unit: "MiB",
        higherIsBetter: false,
      });
    }
    const g = r.growth[name];
    if (g) {
      metrics.push({
        name: `${name} time growth per inner step`,
        value: g.msPerStep,
        unit: "ms/step",
        higherIsBetter: false,
      }, {
        name: `${name} peak memory growth per inner step`,
        value: g.mbPerStep,
        unit: "MiB/step",
        higherIsBetter: false,
      });
    }
  }
  const series = (y: (p: ComplexityPoint) => number) =>
    learners.map((name) => {
      const ps = r.points.filter((p) => p.learner === name);
      return { name, x: ps.map((p) => p.innerSteps), y: ps.map(y) };
    });
  const batch = `${config.metaBatchSize} tasks, 5-way 1-shot, Conv-4 ${config.filters} filters`;
  const curves: Curve[] = [
    {
      title: `omniglot-complexity: wall time per meta-step (${batch})`,
      xLabel: "inner steps",
      yLabel: "median ms per meta-step",
      series: series((p) => p.medianMs),
    },
    {
      title: `omniglot-complexity: peak tfjs memory of a meta-step (${batch})`,
      xLabel: "inner steps",
      yLabel: "peak MiB beyond parameters",
      series: series((p) => p.peakExtraBytes / MB),
    },
    {
      title: "omniglot-complexity: process resident size after the measurement (a high-water mark)",
      xLabel: "inner steps",
      yLabel: "RSS MiB",
      series: series((p) => p.rssBytes / MB),
    },
  ];
  const notes = Object.entries(r.growth).map(([name, g]) =>
    `${name}: +${g.msPerStep.toFixed(1)} ms and +${g.mbPerStep.toFixed(2)} MiB of peak tfjs ` +
    `memory per inner step; on log axes time ∝ steps^${g.timeExponent.toFixed(2)}, memory ∝ ` +
    `steps^${g.memoryExponent.toFixed(2)} (1: linear, 0: flat)`
  );
  notes.push(
    `Each point: ${config.warmup} untimed step(s), the median of ${config.repeats} timed ` +
      "step(s), then one step in tfjs's profiling mode for memory (measureMemory). Peak tfjs " +
      "memory is the engine's largest byte count during the step minus the count before it " +
      "(parameters and optimiser state excluded); the resident size and wasm heap never " +
      "shrink, so they are the largest computation so far (measured in order of growing " +
      "inner steps).",
    "ProtoNet has no inner loop: its points repeat one computation at every inner-step count " +
      "(flat by construction, the spread is timing noise). Reptile's meta-step runs its inner " +
      "steps without a tape through them, ANIL's second-order tape covers the head only.",
    `Omniglot read from ${r.dataDir}`,
  );
  return { metrics, curves, notes };
}

/** Time and memory per meta-step of MAML, FOMAML, Reptile, ANIL and ProtoNet vs inner steps. */
export const omniglotComplexity: Experiment<typeof SCHEMA, ComplexityResult> = {
  name: "omniglot-complexity",
  title: "The cost of meta-learning: time and memory per meta-step vs inner steps",
  description: "Second-order MAML, first-order MAML, Reptile, ANIL and ProtoNet each take " +
    "meta-steps on the same Conv-4 5-way 1-shot Omniglot meta-batch (32 tasks in the full " +
    "preset, Finn et al.'s), with 1, 2, 3, 5 and 10 inner steps; wall time (median of timed " +
    "steps after warm-up) and memory measured for real (tfjs's peak bytes in its profiling mode, " +
    "the process's resident size, the wasm heap), and each cost's growth per inner step " +
    "fitted. The quick preset (2 tasks, 32 filters, one timed step) takes about 30 s; the full " +
    "one (32 tasks, 64 filters, 15 queries, median of 3) 13 min on two idle cores (the " +
    "shipped run in models/: 791 s; second-order MAML at 10 inner steps dominates).",
  needs: [OMNIGLOT_DATA],
  schema: SCHEMA,
  check: problems,
  run: runComplexity,
  summarize: summarizeComplexity,
};
