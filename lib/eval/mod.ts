/**
 * Evaluation on new tasks: episodic accuracy / MSE with 95% confidence intervals, the
 * published numbers we compare against, and the pretrained baseline of Finn et al.
 * @module
 */
export {
  type ConfidenceInterval,
  confidenceInterval,
  describeHeavyTail,
  type EvalResult,
  evaluate,
  type EvaluateOptions,
  metricFor,
  scoreEpisode,
} from "./episodic.ts";
export {
  agreement,
  compareWithPublished,
  type Comparison,
  PUBLISHED,
  type PublishedNumber,
} from "./published.ts";
export { PretrainedBaseline, type PretrainedOptions } from "./pretrained.ts";
