/**
 * Experiments: one module per experiment (its config schema with quick and full presets,
 * its typed `run`, how its result becomes metrics and curves), listed in the registry;
 * the runner both the notebooks and `deno task reproduce` go through (results files,
 * checkpoints and exact resume, output-folder guard, trained models kept beside the
 * results, evaluation of saved models) and the HTML report.
 * @module
 */
export {
  boolField,
  choiceField,
  ConfigError,
  type ConfigField,
  type ConfigOf,
  type ConfigSchema,
  intField,
  numberField,
  numbersField,
  parseOverrides,
  type Preset,
  resolveConfig,
  schemaProblems,
} from "./config.ts";
export type {
  Curve,
  DataNeed,
  Experiment,
  ExperimentOutput,
  Metric,
  ProgressFn,
  RunContext,
  StepFn,
  StoppedPhase,
} from "./types.ts";
export { RunInterrupted } from "./types.ts";
export { type Checkpoint, CheckpointDir, CheckpointStore } from "./checkpoint.ts";
export {
  divergedEpisodes,
  METALAB_VERSION,
  type NonFinite,
  nonFiniteName,
  recordMetrics,
  RESULT_SCHEMA,
  type ResultMetric,
  type RunIdentity,
  type RunResult,
  sameRun,
  validateResult,
} from "./results.ts";
export {
  checkOutputFolder,
  completedRun,
  type ExperimentRun,
  INVALID_RESULT_FILE,
  InvalidResultError,
  locateData,
  type LocatedData,
  OutputConflictError,
  runConfig,
  runExperiment,
  type RunOptions,
} from "./runner.ts";
export {
  type CheckpointedTrainingOptions,
  runContext,
  stepRng,
  stoppedBeforeStart,
  trainWithCheckpoints,
} from "./training.ts";
export {
  agreesWithPublished,
  comparisonRows,
  curveFigure,
  type FolderResults,
  formatResultMetric,
  readResults,
  runLabel,
  writeReport,
  type WriteReportOptions,
} from "./report.ts";
export { FolderInUseError, LOCK_FILE, type LockHolder, processAlive, RunLock } from "./lock.ts";
export { type LoadedModel, ModelStore, type SavedModelInfo } from "./models.ts";
export {
  type Classification,
  classifyFolders,
  type ClassifyOptions,
  type ImageInput,
  loadSavedLearner,
  type Prediction,
  type SavedLearner,
  type Strokes,
} from "./apply.ts";
export { gitCommit, type MachineInfo, machineInfo } from "./provenance.ts";
export { publishedNumber, thin, trainingCurve } from "./summary.ts";
export {
  type FitCurves,
  fitCurves,
  type LearnerResult,
  SINUSOID_SCHEMA,
  type SinusoidConfig,
  sinusoidRegression,
  type SinusoidResult,
} from "./sinusoid.ts";
export { sinusoidK5 } from "./sinusoid_k5.ts";
export { sinusoidK10 } from "./sinusoid_k10.ts";
export {
  sinusoidRegularisation,
  type SweepConfig,
  type SweepCurve,
  type SweepResult,
} from "./sinusoid_regularisation.ts";
export { type MnistConfig, mnistProtonet, type MnistResult } from "./mnist_protonet.ts";
export * from "./sinusoid_zero_shot.ts";
export * from "./mnist_zero_shot.ts";
export {
  MAML_FAMILY_PRESETS,
  OMNIGLOT_DATA,
  type OmniglotConfig,
  omniglotExperiment,
  omniglotLearner,
  type OmniglotLearnerName,
  type OmniglotPresets,
  type OmniglotResult,
  omniglotSchema,
  type OmniglotSetting,
  runOmniglot,
  summarizeOmniglot,
} from "./omniglot.ts";
export { omniglotProtonet } from "./omniglot_protonet.ts";
export { omniglotProtonetAnchor } from "./omniglot_protonet_anchor.ts";
export { omniglotMaml } from "./omniglot_maml.ts";
export { omniglotAnilMetasgd } from "./omniglot_anil_metasgd.ts";
export { omniglotReptile } from "./omniglot_reptile.ts";
export {
  errorsOver,
  mnistDistill,
  type MnistDistillResult,
  mnistDistillSplit,
} from "./mnist_distill.ts";
export {
  DISTILL_LEARNERS,
  omniglotDistill,
  type OmniglotDistillResult,
} from "./omniglot_distill.ts";
export { omniglotMatching } from "./omniglot_matching.ts";
export { omniglotLearners } from "./omniglot_learners.ts";
export {
  omniglotTransfer,
  type PretrainedPhase,
  type TransferConfig,
  type TransferResult,
  type TransferRule,
} from "./omniglot_transfer.ts";
export {
  COMPLEXITY_LEARNERS,
  type ComplexityConfig,
  type ComplexityGrowth,
  type ComplexityLearner,
  type ComplexityPoint,
  type ComplexityResult,
  fitGrowth,
  omniglotComplexity,
} from "./omniglot_complexity.ts";
export {
  omniglotDataScarcity,
  type Saturation,
  saturation,
  SCARCITY_LEARNERS,
  type ScarcityConfig,
  scarcityLabel,
  type ScarcityLearner,
  type ScarcityResult,
  type ScarcityRun,
} from "./omniglot_data_scarcity.ts";
export {
  CROSS_DOMAIN_LEARNERS,
  CROSS_DOMAIN_REFERENCE,
  type CrossDomain,
  type CrossDomainConfig,
  crossDomainDirections,
  type CrossDomainLearner,
  type CrossDomainResult,
  type CrossDomainRun,
  type DirectionCheck,
  mnistInOmniglotConvention,
  omniglotToMnist,
} from "./omniglot_cross_domain.ts";
export { EXPERIMENTS, findExperiment } from "./registry.ts";
export {
  COURSE_MODES,
  type CourseMode,
  courseMode,
  type CourseRun,
  courseRun,
  type CourseRunOptions,
  notebookPreset,
  recordedRunDir,
  SHIPPED_MODELS_DIR,
  trainedModelsDir,
} from "./course.ts";
export {
  decodeDetails,
  DETAILS_FILE,
  DETAILS_SCHEMA,
  type DetailsRecord,
  encodeDetails,
  readDetails,
  thinHistories,
  UnrecordableError,
  writeDetails,
} from "./recorded.ts";
export * from "./interpret.ts";
export {
  type FeatureReuseConfig,
  type FeatureReuseLearner,
  type FeatureReuseResult,
  omniglotFeatureReuse,
} from "./omniglot_feature_reuse.ts";
