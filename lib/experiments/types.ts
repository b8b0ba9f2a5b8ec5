/**
 * What an experiment is: a named function of a typed config returning a typed result.
 * The notebooks and `deno task reproduce` call the same experiment functions, so they
 * give the same numbers.
 * @module
 */
import type { ConfigOf, ConfigSchema, Preset } from "./config.ts";
import type { CheckpointDir } from "./checkpoint.ts";
import type { PublishedNumber } from "../eval/mod.ts";

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
}

/** A data set an experiment needs, and how to get it when it is missing. */
export interface DataNeed {
  /** Name, e.g. "omniglot". */
  name: string;
  /** Whether it is present on this machine. */
  available: () => boolean;
  /** The command that fetches it. */
  howToGet: string;
}

/** A named, reproducible experiment. */
export interface Experiment<S extends ConfigSchema = ConfigSchema> {
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
  /** Runs it. */
  run(config: ConfigOf<S>, ctx: RunContext): Promise<ExperimentOutput>;
}

/** Thrown when a run is interrupted (Ctrl-C); the last checkpoint stays intact. */
export class RunInterrupted extends Error {
  override name = "RunInterrupted";
  /** The step the run had reached. */
  constructor(readonly step: number) {
    super(`interrupted at step ${step}; the last checkpoint is kept (resume with --resume)`);
  }
}
