/**
 * Few-shot embedding distillation: a meta-learned teacher embedding (a Prototypical Network's
 * Conv-4, 64 filters) distilled into a smaller student embedding (e.g. Conv-4 with 20 filters,
 * 10× fewer parameters) by matching the teacher's *episode logits*: on each meta-training
 * episode both networks compute prototypes from the support set and score the queries by
 * −‖f(x) − c_k‖², and the student's soft prototype assignments softmax(−d/T) are pulled
 * towards the teacher's with Hinton et al.'s loss (`distillationLoss`), the labels keeping
 * weight 1 − α. Only meta-training episodes are used; the test classes are never seen.
 *
 * With a student of the teacher's own size this is the self-distillation ("born-again",
 * Furlanello et al. 2018) that Tian et al. 2020 ("Rethinking Few-Shot Image Classification: a
 * Good Embedding Is All You Need?", ECCV) apply to a pretrained embedding. For scale they
 * report +2.8 / +2.5 points on miniImageNet 1-/5-shot with ResNet-12 and under 1 point with a
 * 4-layer ConvNet: expect a small effect at Conv-4 scale.
 *
 * Matching logits rather than embeddings lets teacher and student have embeddings of
 * different widths (64 vs 20 features here) with no projection to learn.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  accuracy,
  countWays,
  MetricLearner,
  type MetricLearnerOptions,
  negativeSquaredDistances,
  type ProtoNet,
  prototypes,
  type TaskTerms,
} from "../meta/mod.ts";
import type { AdaptedModel, Episode, FunctionalModel, LabelledSet } from "../meta/mod.ts";
import { distillationLoss, type DistillationOptions, distillationOptions } from "./soft_targets.ts";

/** Options of {@linkcode DistilledProtoNet}. */
export interface DistilledProtoNetOptions extends MetricLearnerOptions {
  /** The trained teacher (its parameters are read, never changed; the caller disposes it). */
  teacher: ProtoNet;
  /** Temperature and α of the distillation loss (defaults T = 4, α = 0.5). */
  distill?: DistillationOptions;
  /** Learner name (default `protonet-distilled`). */
  name?: string;
}

/** A ProtoNet's logits (−squared distances to the support prototypes) under `params`. */
function episodeLogits(
  model: FunctionalModel,
  params: tf.Tensor[],
  support: LabelledSet,
  queryX: tf.Tensor,
  training: boolean,
): tf.Tensor2D {
  const opts = { training, firstOrderOnly: true };
  const ways = countWays(support.y);
  const protos = prototypes(model.apply(params, support.x, opts), support.y, ways);
  return negativeSquaredDistances(model.apply(params, queryX, opts), protos);
}

/**
 * A Prototypical Network whose embedding `model` is trained to match a teacher ProtoNet's
 * episode logits (see the module doc). At test time it is an ordinary ProtoNet over its own
 * (smaller) embedding: the teacher is not used.
 *
 * @example
 * ```ts
 * const teacher = new ProtoNet(conv4({ inputShape: [28, 28, 1], outputs: 0 }), { rng });
 * // … meta-train the teacher …
 * const student = new DistilledProtoNet(
 *   conv4({ inputShape: [28, 28, 1], outputs: 0, filters: 20 }),
 *   { rng: new Rng(1), teacher, distill: { temperature: 4, alpha: 0.5 } },
 * );
 * await metaTrain(student, taskSampler(trainEpisodes, new Rng(2)), { steps: 5000 });
 * ```
 */
export class DistilledProtoNet extends MetricLearner {
  /** The teacher whose episode logits the student matches. */
  readonly teacher: ProtoNet;
  /** The distillation loss's temperature and α. */
  readonly distill: Required<DistillationOptions>;

  /** A student ProtoNet over `model`, distilled from `options.teacher`. */
  constructor(model: FunctionalModel, options: DistilledProtoNetOptions) {
    super(options.name ?? "protonet-distilled", model, options);
    this.teacher = options.teacher;
    this.distill = distillationOptions(options.distill);
  }

  /** The student's logits of the queries given the support set. */
  logits(params: tf.Tensor[], support: LabelledSet, queryX: tf.Tensor): tf.Tensor2D {
    return episodeLogits(this.model, params, support, queryX, this.training);
  }

  /** The distillation loss on the episode's queries against the teacher's logits. */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const logits = this.logits(params, task.support, task.query.x);
    // The teacher's logits depend on none of `params`: no gradient reaches the teacher.
    const teacher = this.teacher.logits(this.teacher.params, task.support, task.query.x);
    return {
      loss: distillationLoss(logits, teacher, task.query.y, this.distill),
      accuracy: accuracy(logits, task.query.y),
    };
  }

  /** Prototypes from the student's embedding of the support set. */
  adapt(support: LabelledSet): AdaptedModel {
    const opts = { training: this.training, firstOrderOnly: true };
    const ways = countWays(support.y);
    const protos = tf.tidy(() =>
      prototypes(this.model.apply(this.params, support.x, opts), support.y, ways)
    );
    return {
      predict: (x) =>
        tf.tidy(() => negativeSquaredDistances(this.model.apply(this.params, x, opts), protos)),
      dispose: () => protos.dispose(),
    };
  }
}
