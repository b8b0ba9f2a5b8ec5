/**
 * Task sets: the task type (support set D_i, query set D'_i, metadata), N-way K-shot
 * Q-query episode sampling built from small task transforms, meta-batches as stacked
 * tensors, class splits, and regression task distributions.
 * @module
 */
export { disposeTask, sameShapes, stackTasks } from "./task.ts";
export type {
  ClassificationTask,
  Episode,
  EpisodeMeta,
  LabelledSet,
  MetaBatch,
  RegressionMeta,
  RegressionTask,
  Task,
} from "./task.ts";
export { checkCount, checkEpisodeSpec } from "./validate.ts";
export type { EpisodeSpec } from "./validate.ts";
export {
  composeTransforms,
  emptyPlan,
  episodeArrays,
  kShots,
  loadEpisode,
  nWays,
  nWaysWithinGroup,
  remapLabels,
} from "./transforms.ts";
export type { EpisodeArrays, EpisodePlan, TaskTransform } from "./transforms.ts";
export { EpisodeSampler } from "./episode_sampler.ts";
export type { EpisodeSamplerOptions } from "./episode_sampler.ts";
export { RegressionTaskSampler } from "./regression.ts";
export type { RegressionArrays, RegressionSpec } from "./regression.ts";
// Class splits live with the datasets (lower layer); re-exported here for convenience.
export { checkDisjointSplits, makeClassSplits } from "../datasets/mod.ts";
export type { ClassSplits, SplitName } from "../datasets/mod.ts";
