/**
 * What an experiment is: one object holding its config schema (the only place where its
 * quick and full values live), its typed `run`, and how its result becomes the metrics,
 * curves and notes of a results file. The notebooks and `deno task reproduce` both run it
 * through `runExperiment`, so they resolve the same config and give the same numbers.
 * @module
 */
import type { ConfigOf, ConfigSchema, Preset } from "./config.ts";
import type { CheckpointDir } from "./checkpoint.ts";
import type { PublishedNumber } from "../eval/mod.ts";
import type { BaseMetaLearner, StepStats } from "../meta/mod.ts";
import type { ModelStore } from "./models.ts";

export type { PublishedNumber };

/** One headline number of a run. */
export interface Metric {
  /** Short name, e.g. "5-way 1-shot accuracy". */
  name: string;
  /** The measured value. */
  value: number;
  /** Half-width of the 95% confidence interval, when the value is a mean over episodes. */
  ci95?: number;
  /** Unit, e.g. "%" or "MSE". */
  unit: string;
  /** Number of evaluation episodes or tasks the value averages over. */
  episodes?: number;
  /**
   * How many of those episodes gave a value that is not finite (an adaptation that
   * diverged); absent when none did. Such a mean is recorded as non-finite, see
   * `recordMetrics` in `results.ts`.
   */
  diverged?: number;
  /** Whether larger values are better (accuracy) or smaller (MSE). */
  higherIsBetter: boolean;
  /** The published number this is compared against, if any. */
  published?: PublishedNumber;
}

/** A curve to plot in the report (training loss, accuracy over steps, ...). */
export interface Curve {
  /** Plot title. */
  title: string;
  /** x-axis label. */
  xLabel: string;
  /** y-axis label. */
  yLabel: string;
  /** Named series sharing one x-axis each. */
  series: {
    name: string;
    x: number[];
    y: number[];
    /** Half-width of a band around y (e.g. a 95% CI), drawn shaded. */
    band?: number[];
    /** Points instead of a line (e.g. a support set). */
    markers?: boolean;
  }[];
}

/** What an experiment returns. */
export interface ExperimentOutput {
  /** Headline numbers, compared with published ones where they exist. */
  metrics: Metric[];
  /** Curves for the report (training and evaluation plots). */
  curves: Curve[];
  /** Remarks worth keeping with the numbers (e.g. a schedule shortened on this machine). */
  notes: string[];
}

/** Live progress of a run: step out of total and the values worth showing. */
export type ProgressFn = (step: number, total: number, values?: Record<string, number>) => void;

/** Step-by-step statistics of one training phase (e.g. a notebook's live curve per learner). */
export type StepFn = (phase: string, stats: StepStats) => void | Promise<void>;

/** A training phase the time limit stopped before its last step (resumable). */
export interface StoppedPhase {
  /** The phase's checkpoint label (usually the learner's name). */
  label: string;
  /** Steps done when it stopped. */
  step: number;
  /** Steps the full schedule has. */
  steps: number;
}

/** What the runner hands an experiment. */
export interface RunContext {
  /** The seed of this run: everything random derives from it. */
  seed: number;
  /** Which preset the config started from. */
  preset: Preset;
  /** Reports progress (a terminal line, a notebook display, or nothing). */
  progress: ProgressFn;
  /** Called after every meta-step of every training phase, with the phase's label. */
  onStep: StepFn;
  /** Where to keep checkpoints, or null for none (notebooks usually pass null). */
  checkpoints: CheckpointDir | null;
  /** Steps between checkpoints. */
  checkpointEvery: number;
  /** Aborted on Ctrl-C: experiments stop at the next step boundary. */
  signal: AbortSignal;
  /**
   * Wall-clock time (`Date.now()` milliseconds) after which training phases stop after the
   * step in progress (checkpointed there) and the run is evaluated as it stands, marked partial; `Infinity`: no
   * limit. For schedules longer than a session: `--resume` continues them.
   */
  deadline: number;
  /** Called by a training phase that the deadline stopped early. */
  onStopped: (phase: StoppedPhase) => void;
  /** Prints a line of commentary. */
  log: (message: string) => void;
  /**
   * The data folders located for this run, by data set name (e.g. `{ omniglot: "/abs/…" }`):
   * what the experiment reads, and what the results file records. Absent: let the data
   * set's own search decide (a context made outside the runner).
   */
  data?: Record<string, string>;
  /**
   * Where trained models go and, for an evaluation-only run, where they come from; null:
   * models are neither kept nor loaded (a notebook that writes nothing).
   */
  models: ModelStore | null;
}

/** A data set an experiment needs, and how to get it when it is missing. */
export interface DataNeed {
  /** Name, e.g. "omniglot". */
  name: string;
  /** Whether it is present on this machine. */
  available: () => boolean;
  /** The command that fetches it. */
  howToGet: string;
  /**
   * Where it is: its absolute folder, or why it cannot be used (missing, half-downloaded,
   * a named folder without the files). `given`: a folder the user named (`reproduce
   * --data-dir`). The runner records the folder in the results file (`data`); without
   * `locate`, `available()` alone decides and no folder is recorded.
   */
  locate?: (given?: string) => { dir: string | null; problem: string | null };
}

/**
 * A named, reproducible experiment.
 *
 * @example
 * ```ts
 * const result = await runExperiment(sinusoidK5, { preset: "quick", outDir: null });
 * console.log(result.metrics, result.details.curves);
 * ```
 */
// deno-lint-ignore no-explicit-any
export interface Experiment<S extends ConfigSchema = ConfigSchema, R = any> {
  /** Registry name, e.g. "sinusoid-maml". */
  name: string;
  /** Human title for the report. */
  title: string;
  /** One paragraph: what it runs and what it reproduces. */
  description: string;
  /** Data sets it needs beyond what ships with the project. */
  needs: DataNeed[];
  /** The typed, validated knobs with their quick and full presets. */
  schema: S;
  /**
   * Combinations of values the ranges alone allow but the experiment cannot run (e.g. more
   * shots and queries than a class has examples): one message per problem, empty when the
   * config is fine. Checked before any data loads.
   */
  check?(config: ConfigOf<S>): string[];
  /** Runs it, returning the typed result a notebook reads. */
  run(config: ConfigOf<S>, ctx: RunContext): Promise<R>;
  /** The result as headline metrics, curves and notes (what `result.json` keeps). */
  summarize(result: R, config: ConfigOf<S>): ExperimentOutput;
  /**
   * Builds the learner `label` exactly as `run` does for `config`, untrained: what a saved
   * model is loaded into (see `lib/experiments/apply.ts`). Absent for experiments whose
   * models are not reusable on their own.
   */
  learner?(label: string, config: ConfigOf<S>): BaseMetaLearner;
  /**
   * For an image experiment: how its training images were prepared, which is what a user's
   * own images are converted to before its saved models see them (`lib/experiments/apply.ts`).
   */
  images?: ImageConvention;
}

/** How an image experiment's inputs were prepared from image files. */
export interface ImageConvention {
  /** The data set, for messages. */
  dataset: string;
  /** Side of the square input (28 for Omniglot and MNIST here). */
  side: number;
  /** How the data set's own files draw strokes: light on dark (MNIST) or dark on light (Omniglot). */
  files: "light" | "dark";
  /** Whether pixel values are kept as bytes (rounded to steps of 1/255), as Omniglot's loader does. */
  bytes: boolean;
  /** Adaptation steps the experiment evaluates MAML-family models with (default: the training value). */
  testSteps?: number;
}

/** Thrown when a run is interrupted (Ctrl-C); the last checkpoint stays intact. */
export class RunInterrupted extends Error {
  override name = "RunInterrupted";
  /** The step the run had reached. */
  constructor(readonly step: number) {
    super(`interrupted at step ${step}; the last checkpoint is kept (resume with --resume)`);
  }
}
