/**
 * Meta-training with checkpoints and exact resume, for experiments.
 *
 * Resume is exact because nothing depends on how a run was cut into sessions: the tasks
 * of step t come from a generator seeded by (seed, t) alone, and a checkpoint holds the
 * meta-parameters, the optimiser's slots (Adam's moments and step count), the step and the
 * history. An interrupted run resumed from its last checkpoint therefore computes the
 * same numbers as an uninterrupted run with the same seed.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random/mod.ts";
import {
  type BaseMetaLearner,
  emptyHistory,
  metaTrain,
  taskSampler,
  type TaskSource,
  type TrainingHistory,
} from "../meta/mod.ts";
import type { CheckpointStore } from "./checkpoint.ts";
import { type RunContext, RunInterrupted } from "./types.ts";

/** The generator for the tasks of step `step` of a run seeded with `seed`. */
export function stepRng(seed: number, step: number): Rng {
  return new Rng(seed * 1_000_003 + step + 1);
}

/**
 * A complete run context from a partial one (no checkpoints, no progress line, no models
 * kept, never interrupted): what a test or a direct call of an experiment's `run` gets.
 */
export function runContext(seed: number, given: Partial<RunContext> = {}): RunContext {
  return {
    seed,
    preset: "full",
    progress: () => {},
    onStep: () => {},
    models: null,
    checkpoints: null,
    checkpointEvery: 100,
    signal: new AbortController().signal,
    deadline: Infinity,
    onStopped: () => {},
    log: () => {},
    ...given,
  };
}

/** Options of {@linkcode trainWithCheckpoints}. */
export interface CheckpointedTrainingOptions {
  /** Total meta-steps. */
  steps: number;
  /** Tasks per meta-step. */
  metaBatchSize: number;
  /** Where the tasks come from (each step draws with its own generator, see {@linkcode stepRng}). */
  tasks: TaskSource;
  /** Outer learning rate at a (global) step, e.g. halved every 2,000 steps. */
  lrSchedule?: (step: number) => number;
  /** Label for checkpoints (several learners in one experiment need distinct ones). */
  label?: string;
  /** Steps between checkpoints for this phase (default `ctx.checkpointEvery`); slow steps want fewer. */
  checkpointEvery?: number;
}

function append(into: TrainingHistory, more: TrainingHistory): void {
  into.step.push(...more.step);
  into.loss.push(...more.loss);
  into.dataLoss.push(...more.dataLoss);
  into.accuracy.push(...more.accuracy);
  into.gradNorm.push(...more.gradNorm);
  into.wallMs += more.wallMs;
}

/**
 * Meta-trains `learner` for `steps` steps in chunks of `ctx.checkpointEvery`, saving a
 * checkpoint after each chunk and resuming from one when `ctx.checkpoints` holds it; the
 * trained learner goes to `ctx.models` (kept beside the results). In an evaluation-only run
 * (`ctx.models.evalOnly`) it loads the saved model instead and trains nothing.
 * Reports progress through `ctx.progress`; stops with {@linkcode RunInterrupted} at a
 * chunk boundary once `ctx.signal` is aborted (the last checkpoint stays intact).
 * Once `ctx.deadline` has passed it stops after the step in progress, writes a checkpoint
 * there (mid-chunk if need be), tells `ctx.onStopped`, and returns the history so far: the
 * caller evaluates the learner as it stands, and a later resume continues from that
 * checkpoint exactly.
 */
export async function trainWithCheckpoints(
  learner: BaseMetaLearner,
  ctx: RunContext,
  options: CheckpointedTrainingOptions,
): Promise<TrainingHistory> {
  const { steps, metaBatchSize, tasks, lrSchedule } = options;
  const label = options.label ?? learner.name;
  const history = emptyHistory();
  if (ctx.models?.evalOnly) {
    const model = await ctx.models.load(label, learner);
    ctx.log(
      `${label}: evaluating the saved model ${model.dir} (${model.info.steps} steps trained)`,
    );
    return history;
  }
  let done = 0;
  const store = ctx.checkpoints?.store(label) ?? null;
  const saved = store ? await store.load() : null;
  if (saved) {
    const tensors = saved.tensors;
    learner.assign(
      Object.fromEntries(learner.paramNames.map((n) => [n, tensors[`param/${n}`]])),
    );
    const slots = Object.keys(tensors).filter((k) => k.startsWith("opt/")).sort();
    if (slots.length > 0) {
      await learner.optimizer.setWeights(
        slots.map((k) => ({ name: k.slice(k.indexOf("/", 4) + 1), tensor: tensors[k] })),
      );
    }
    restoreRunningState(learner.optimizer, tensors);
    tf.dispose(Object.values(tensors));
    done = saved.step;
    learner.stepsTaken = done;
    append(history, saved.state.history as TrainingHistory);
    ctx.log(`${label}: resumed from the checkpoint at step ${done} of ${steps}`);
  }

  const every = Math.max(1, options.checkpointEvery ?? ctx.checkpointEvery);
  while (done < steps) {
    if (ctx.signal.aborted) throw new RunInterrupted(done);
    if (Date.now() >= ctx.deadline) {
      stopForTimeLimit(ctx, label, done, steps, store !== null);
      break;
    }
    const chunk = Math.min(steps - done, every - (done % every));
    let next = done;
    const start = done;
    let part: TrainingHistory;
    let timeUp = false;
    try {
      part = await metaTrain(
        learner,
        (count) => taskSampler(tasks, stepRng(ctx.seed, next++))(count),
        {
          steps: chunk,
          metaBatchSize,
          lrSchedule: lrSchedule ? (i) => lrSchedule(start + i) : undefined,
          reportEvery: 1,
          onStep: async (s, h) => {
            // Stop promptly on Ctrl-C; the work since the last checkpoint is dropped, the
            // checkpoint itself is untouched.
            if (ctx.signal.aborted) throw new RunInterrupted(s.step + 1);
            const values: Record<string, number> = { loss: s.loss };
            if (s.accuracy !== undefined) values.acc = s.accuracy;
            ctx.progress(s.step + 1, steps, values);
            await ctx.onStep(label, s);
            // Once the time is up, stop after this very step (a checkpoint is written below,
            // mid-chunk if need be): slow steps overrun the limit by one step, not a chunk.
            if (Date.now() >= ctx.deadline && s.step + 1 < steps) throw new TimeUp(h);
          },
        },
      );
    } catch (e) {
      if (!(e instanceof TimeUp)) throw e;
      part = e.history;
      timeUp = true;
    }
    append(history, part);
    done += part.step.length;
    // Also after the last chunk: a resumed run then skips phases that had finished.
    if (store) await saveCheckpoint(learner, store, label, done, history);
    if (timeUp) {
      stopForTimeLimit(ctx, label, done, steps, store !== null);
      break;
    }
  }
  if (done > 0) await ctx.models?.save(label, learner, { done, schedule: steps });
  return history;
}

/** Raised inside a chunk once the time limit has passed; carries the steps done so far. */
class TimeUp extends Error {
  constructor(readonly history: TrainingHistory) {
    super("time limit reached");
  }
}

function stopForTimeLimit(
  ctx: RunContext,
  label: string,
  step: number,
  steps: number,
  kept: boolean,
): void {
  ctx.log(
    step === 0
      ? `${label}: not started (time limit reached)`
      : `${label}: time limit reached at step ${step} of ${steps}` +
        (kept ? " (checkpoint kept for --resume)" : ""),
  );
  ctx.onStopped({ label, step, steps });
}

/**
 * Optimiser state that `getWeights()` leaves out: Adam (and Adamax) keep the running
 * powers β₁ᵗ, β₂ᵗ as products updated every step, and `setWeights()` recomputes them as
 * `pow(β, t+1)`, which rounds differently in float32: a resumed run then drifts by ~1e-7
 * from the uninterrupted one. Checkpoints keep the products themselves.
 */
const RUNNING_STATE = ["accBeta1", "accBeta2"] as const;

function runningState(optimizer: tf.Optimizer): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const name of RUNNING_STATE) {
    const v = (optimizer as unknown as Record<string, unknown>)[name];
    if (v instanceof tf.Variable) out[name] = v;
  }
  return out;
}

function restoreRunningState(optimizer: tf.Optimizer, tensors: Record<string, tf.Tensor>): void {
  for (const [name, variable] of Object.entries(runningState(optimizer))) {
    const saved = tensors[`optstate/${name}`];
    if (saved) variable.assign(saved);
  }
}

/**
 * Whether a training phase ended without a single step because the run's time limit had
 * already passed: its learner is then neither evaluated nor reported (an untrained model
 * would only put a meaningless number in the table).
 */
export function stoppedBeforeStart(history: TrainingHistory, ctx: RunContext): boolean {
  return history.step.length === 0 && Date.now() >= ctx.deadline;
}

async function saveCheckpoint(
  learner: BaseMetaLearner,
  store: CheckpointStore,
  label: string,
  step: number,
  history: TrainingHistory,
): Promise<void> {
  const tensors: Record<string, tf.Tensor> = {};
  learner.params.forEach((v, i) => tensors[`param/${learner.paramNames[i]}`] = v);
  const slots = await learner.optimizer.getWeights();
  // Zero-padded index keeps the optimiser's slot order (it matches slots by position).
  slots.forEach((w, i) => tensors[`opt/${String(i).padStart(5, "0")}/${w.name}`] = w.tensor);
  for (const [name, v] of Object.entries(runningState(learner.optimizer))) {
    tensors[`optstate/${name}`] = v;
  }
  try {
    await store.save({ step, state: { label, history }, tensors });
  } finally {
    // getWeights() makes a fresh tensor for the step count; the rest are the live slots.
    const iterations = slots.find((w) => w.name === "iter");
    iterations?.tensor.dispose();
  }
}
