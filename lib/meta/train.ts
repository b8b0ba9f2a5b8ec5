/**
 * The generic meta-training loop: sample a meta-batch, take one meta-step, record, report.
 * @module
 */
import type { Rng } from "../random/mod.ts";
import { disposeTask } from "../tasks/mod.ts";
import { setLearningRate } from "./base.ts";
import type { Episode, MetaLearner, StepStats, TaskSampler } from "./types.ts";

/** Options of {@linkcode metaTrain}. */
export interface MetaTrainOptions {
  /** Number of meta-steps. */
  steps: number;
  /** Tasks per meta-step (default: the learner's objective's `metaBatchSize`). */
  metaBatchSize?: number;
  /** Called after every `reportEvery`-th step and after the last one (may be async, e.g. to redraw a plot). */
  onStep?: (stats: StepStats, history: TrainingHistory) => void | Promise<void>;
  /** How often `onStep` is called (default 1: every step). */
  reportEvery?: number;
  /** Outer learning rate per step (e.g. halve every 2,000 steps); applied before the step. */
  lrSchedule?: (step: number) => number;
  /** Called every `every` steps after a successful step (e.g. save a checkpoint atomically). */
  checkpoint?: { every: number; save: (step: number) => void | Promise<void> };
  /** Free the sampled tasks' tensors after each step (default true). */
  disposeTasks?: boolean;
}

/** What {@linkcode metaTrain} records, one entry per meta-step. */
export interface TrainingHistory {
  /** Step indices. */
  step: number[];
  /** Meta-objective values. */
  loss: number[];
  /** Data-term values. */
  dataLoss: number[];
  /** Mean query accuracies (classification; empty for regression). */
  accuracy: number[];
  /** Meta-gradient norms before clipping. */
  gradNorm: number[];
  /** Wall time of the whole loop in milliseconds. */
  wallMs: number;
}

/** A history with no steps yet: what every training loop starts from. */
export function emptyHistory(): TrainingHistory {
  return { step: [], loss: [], dataLoss: [], accuracy: [], gradNorm: [], wallMs: 0 };
}

/**
 * Meta-trains `learner` on tasks from `sampler` for `options.steps` meta-steps and returns
 * the history. A NaN or infinite loss throws `NonFiniteLossError` naming the step, before
 * that step's update and before any checkpoint of it: what was saved stays as it was.
 *
 * @example
 * ```ts
 * const history = await metaTrain(learner, (n) => sampleTasks(rng, n), {
 *   steps: 1000,
 *   onStep: (s) => s.step % 100 === 0 && console.log(s.step, s.loss),
 * });
 * ```
 */
export async function metaTrain(
  learner: MetaLearner,
  sampler: TaskSampler,
  options: MetaTrainOptions,
): Promise<TrainingHistory> {
  const { steps, onStep, reportEvery = 1, lrSchedule, checkpoint, disposeTasks = true } = options;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`metaTrain: steps must be an integer ≥ 0, got ${steps}`);
  }
  if (!Number.isInteger(reportEvery) || reportEvery < 1) {
    throw new RangeError(`metaTrain: reportEvery must be an integer ≥ 1, got ${reportEvery}`);
  }
  const batch = options.metaBatchSize ?? learner.objective.config.metaBatchSize;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`metaTrain: metaBatchSize must be an integer ≥ 1, got ${batch}`);
  }
  const history = emptyHistory();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    if (lrSchedule) setLearningRate(learner.optimizer, lrSchedule(i));
    const tasks = sampler(batch);
    let stats: StepStats;
    try {
      stats = learner.metaStep(tasks);
    } finally {
      if (disposeTasks) disposeTask(tasks);
    }
    history.step.push(stats.step);
    history.loss.push(stats.loss);
    history.dataLoss.push(stats.dataLoss);
    if (stats.accuracy !== undefined) history.accuracy.push(stats.accuracy);
    history.gradNorm.push(stats.gradNorm);
    history.wallMs = performance.now() - t0;
    if (checkpoint && (i + 1) % checkpoint.every === 0) await checkpoint.save(stats.step);
    if (onStep && ((i + 1) % reportEvery === 0 || i === steps - 1)) await onStep(stats, history);
  }
  history.wallMs = performance.now() - t0;
  return history;
}

/** Anything that samples one task from a seeded generator (`EpisodeSampler`, `RegressionTaskSampler`). */
export interface TaskSource {
  /** One fresh task. */
  sample(rng: Rng): Episode;
}

/** A {@linkcode TaskSampler} drawing meta-batches from `source` with the generator `rng`. */
export function taskSampler(source: TaskSource, rng: Rng): TaskSampler {
  return (count) => Array.from({ length: count }, () => source.sample(rng));
}
