/**
 * Experiments: named functions of a typed config returning a typed result, shared by the
 * notebooks and `deno task reproduce`; the runner (results files, checkpoints and exact
 * resume, output-folder guard) and the HTML report.
 * @module
 */
export {
  ConfigError,
  type ConfigField,
  type ConfigOf,
  type ConfigSchema,
  parseOverrides,
  type Preset,
  resolveConfig,
} from "./config.ts";
export type {
  Curve,
  DataNeed,
  Experiment,
  ExperimentOutput,
  Metric,
  ProgressFn,
  RunContext,
  StoppedPhase,
} from "./types.ts";
export { RunInterrupted } from "./types.ts";
export { type Checkpoint, CheckpointDir, CheckpointStore } from "./checkpoint.ts";
export {
  METALAB_VERSION,
  RESULT_SCHEMA,
  type RunIdentity,
  type RunResult,
  sameRun,
  validateResult,
} from "./results.ts";
export { OutputConflictError, runExperiment, type RunOptions } from "./runner.ts";
export {
  type CheckpointedTrainingOptions,
  type ExperimentProgress,
  runContext,
  stepRng,
  stoppedBeforeStart,
  trainWithCheckpoints,
} from "./training.ts";
export {
  agreesWithPublished,
  comparisonRows,
  curveFigure,
  runLabel,
  writeReport,
} from "./report.ts";
export {
  type FitCurves,
  fitCurves,
  type LearnerResult,
  SINUSOID_FULL,
  SINUSOID_QUICK,
  type SinusoidConfig,
  sinusoidExperiment,
  type SinusoidResult,
} from "./sinusoid.ts";
export {
  OMNIGLOT_FULL,
  OMNIGLOT_QUICK,
  type OmniglotConfig,
  omniglotExperiment,
  type OmniglotLearnerName,
  type OmniglotResult,
} from "./omniglot.ts";
export {
  regularisationSweep,
  SWEEP_FULL,
  SWEEP_QUICK,
  type SweepConfig,
  type SweepCurve,
  type SweepResult,
} from "./regularisation.ts";
export { MNIST_FULL, type MnistConfig, mnistExperiment, type MnistResult } from "./mnist.ts";
export { EXPERIMENTS, findExperiment } from "./registry.ts";
