/**
 * Evaluation on new tasks: episodic accuracy / MSE with 95% confidence intervals, the
 * published numbers we compare against, the pretrained baseline of Finn et al., and the
 * transfer-learning baselines of Chen et al. (Baseline, Baseline++, nearest centroid), and
 * the measured cost of a meta-step (time, memory, growth rates).
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
export {
  CHEN_FINE_TUNE,
  chenCosineScale,
  columnNorms,
  cosineLogits,
  epochBatches,
  type FewShotHead,
  fineTuneHead,
  type FineTuneOptions,
  headLogits,
  type HeadTraining,
  type PretrainHead,
} from "./transfer_head.ts";
export {
  ClassBatchSampler,
  type FewShotClassifier,
  TransferBaseline,
  transferName,
  type TransferOptions,
} from "./transfer.ts";
export {
  growthExponent,
  type LinearFit,
  linearFit,
  measureMemory,
  measureMetaStep,
  type MeasureStepOptions,
  median,
  type MemoryProbe,
  type StepCost,
  wasmHeapBytes,
} from "./complexity.ts";
