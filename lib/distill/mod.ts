/**
 * Knowledge distillation (Hinton, Vinyals & Dean 2015): a big model's knowledge in a small
 * one. The soft-target loss α·T²·KL(teacher_T ‖ student_T) + (1 − α)·CE with the T² factor
 * explained; a classifier trained alone or as a distilled student; few-shot embedding
 * distillation of a ProtoNet teacher into a smaller (or, born-again, an equal) student by its
 * episode logits; and what the small model buys: parameters, FLOPs, time per episode.
 *
 * Layer: above `lib/meta` (its learners are `MetaLearner`s, trained by `metaTrain` and the
 * experiments' checkpointed training), below `lib/experiments`.
 *
 * @example
 * ```ts
 * import { distillationLoss, softTargets } from "./lib/distill/mod.ts";
 * const teacher = tf.tensor2d([[5, 1, 0]]), student = tf.tensor2d([[2, 1, 0]]);
 * softTargets(teacher, 4).print(); // what the teacher knows beyond its argmax
 * distillationLoss(student, teacher, tf.tensor1d([0], "int32"), { temperature: 4, alpha: 0.9 });
 * ```
 * @module
 */
export {
  distillationLoss,
  type DistillationOptions,
  distillationOptions,
  softTargetLoss,
  softTargets,
} from "./soft_targets.ts";
export {
  Classifier,
  type ClassifierOptions,
  countErrors,
  type Teacher,
  teacherOf,
} from "./classifier.ts";
export { DistilledProtoNet, type DistilledProtoNetOptions } from "./fewshot.ts";
export { type EpisodeTiming, flopsPerExample, parameterCount, timePerEpisode } from "./measure.ts";
export { ExampleBatches, type ExampleBatchesOptions, teacherLogits } from "./batches.ts";
