/**
 * Meta-learning: the meta-objective J(θ) = ⊕_i L(φ_i(θ); D'_i) + λR(θ), one file per
 * algorithm behind one {@linkcode MetaLearner} interface (MAML, first-order MAML, ANIL,
 * Meta-SGD, Reptile, Prototypical and Matching Networks, and the seed's task-conditioned
 * MetaClassifier), and the generic meta-training loop.
 * @module
 */
export type {
  AdaptedModel,
  AdaptOptions,
  ApplyOptions,
  Episode,
  FunctionalModel,
  LabelledSet,
  MetaLearner,
  MetaLossTerms,
  ParamSpec,
  StepStats,
  TaskKind,
  TaskSampler,
} from "./types.ts";
export {
  DEFAULT_OBJECTIVE,
  MetaObjective,
  type MetaObjectiveConfig,
  NonFiniteLossError,
} from "./objective.ts";
// Cross-entropy and MSE are `lib/models`' (softmaxCrossEntropy, meanSquaredError).
export { accuracy, squaredDistance, squaredNorm, taskLoss } from "./losses.ts";
export {
  BaseMetaLearner,
  globalNorm,
  type MetaGradient,
  type ObjectiveInput,
  resolveObjective,
  setLearningRate,
  type TaskTerms,
} from "./base.ts";
export { innerLoop, type InnerLoopOptions, parametricAdapted } from "./inner_loop.ts";
export { Maml, type MamlOptions } from "./maml.ts";
export { FirstOrderMaml } from "./fomaml.ts";
export { Anil } from "./anil.ts";
export { MetaSgd, type MetaSgdOptions } from "./metasgd.ts";
export {
  type InnerAdamOptions,
  innerMiniBatches,
  Reptile,
  type ReptileOptions,
} from "./reptile.ts";
export {
  countWays,
  MetricLearner,
  type MetricLearnerOptions,
  negativeSquaredDistances,
  ProtoNet,
  prototypes,
} from "./protonet.ts";
export { matchingLogProbs, MatchingNet, type MatchingNetOptions } from "./matching.ts";
export { MetaClassifier, type MetaClassifierOptions } from "./meta_classifier.ts";
export {
  emptyHistory,
  metaTrain,
  type MetaTrainOptions,
  taskSampler,
  type TaskSource,
  type TrainingHistory,
} from "./train.ts";
