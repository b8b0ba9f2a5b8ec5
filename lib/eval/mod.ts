/**
 * Evaluation on new tasks: episodic accuracy / MSE with 95% confidence intervals, the
 * published numbers we compare against, the pretrained baseline of Finn et al., and the
 * experiment functions the notebooks call (config in, result out).
 * @module
 */
export {
  type ConfidenceInterval,
  confidenceInterval,
  type EvalResult,
  evaluate,
  type EvaluateOptions,
  metricFor,
  scoreEpisode,
} from "./episodic.ts";
export {
  compareWithPublished,
  type Comparison,
  PUBLISHED,
  type PublishedNumber,
} from "./published.ts";
export { PretrainedBaseline, type PretrainedOptions } from "./pretrained.ts";
export {
  type ExperimentProgress,
  type FitCurves,
  fitCurves,
  type LearnerResult,
  OMNIGLOT_FULL,
  OMNIGLOT_QUICK,
  type OmniglotConfig,
  omniglotExperiment,
  type OmniglotLearnerName,
  type OmniglotResult,
  regularisationSweep,
  SINUSOID_FULL,
  SINUSOID_QUICK,
  type SinusoidConfig,
  sinusoidExperiment,
  type SinusoidResult,
  SWEEP_FULL,
  SWEEP_QUICK,
  type SweepConfig,
  type SweepCurve,
  type SweepResult,
} from "./experiments.ts";
