/**
 * Functional models: parameters are an explicit list of tensors, so meta-learners can run a
 * model with adapted parameters. MLP (with a batched-over-tasks form), Conv-4 (and MAML's
 * strided variant), functional batch norm, head swapping, and the second-order-safe losses
 * (cross-entropy, MSE) every learner scores with.
 * @module
 */
export type { ApplyOptions, FunctionalModel, ParamSpec } from "./types.ts";
export { type Activation, mlp, type MlpModel, type MlpOptions } from "./mlp.ts";
export { conv4, type Conv4Options } from "./conv4.ts";
export { withHead } from "./registry.ts";
export { BATCH_NORM_EPSILON, batchNorm } from "./batch_norm.ts";
export { torchDefaultUniform } from "./init.ts";
export {
  constantMax,
  expFromInput,
  logSoftmax,
  meanSquaredError,
  negativeLogLikelihood,
  softmax,
  softmaxCrossEntropy,
} from "./losses.ts";
