/**
 * Prototypical Networks (Snell, Swersky & Zemel 2017): embed the support set, take each
 * class's mean embedding as its prototype c_k, classify a query x by softmax(−‖f(x) − c_k‖²)
 * (squared Euclidean distance, as the paper recommends). Adaptation is a forward pass; the
 * meta-parameters are the embedding network's.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random/mod.ts";
import { BaseMetaLearner, type ObjectiveInput, resolveObjective, type TaskTerms } from "./base.ts";
import { softmaxCrossEntropy } from "../models/mod.ts";
import { accuracy } from "./losses.ts";
import type { AdaptedModel, Episode, FunctionalModel, LabelledSet } from "./types.ts";

/** Options of metric-based learners ({@linkcode ProtoNet}, `MatchingNet`). */
export interface MetricLearnerOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** The meta-objective or its options (inner-loop options are unused). */
  objective?: ObjectiveInput;
  /** Batch norm in training mode. Default true. */
  training?: boolean;
}

/** Number of classes in an episode's support labels (labels are 0..N−1). */
export function countWays(labels: tf.Tensor): number {
  const data = labels.dataSync();
  let max = -1;
  for (let i = 0; i < data.length; i++) max = Math.max(max, data[i]);
  return max + 1;
}

/** Class means of `embeddings` `[n, d]` grouped by int32 `labels` → `[ways, d]`. */
export function prototypes(embeddings: tf.Tensor, labels: tf.Tensor, ways: number): tf.Tensor2D {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, "int32").reshape([-1]), ways).toFloat(); // [n, ways]
    const sums = tf.matMul(oneHot, embeddings, true, false); // [ways, d]
    const counts = tf.sum(oneHot, 0).reshape([ways, 1]);
    return tf.div(sums, tf.maximum(counts, 1)) as tf.Tensor2D;
  });
}

/** −‖q − c‖² for every query row q `[m, d]` and prototype c `[k, d]` → logits `[m, k]`. */
export function negativeSquaredDistances(queries: tf.Tensor, protos: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const q2 = tf.sum(tf.square(queries), 1, true); // [m, 1]
    const c2 = tf.sum(tf.square(protos), 1).reshape([1, -1]); // [1, k]
    const qc = tf.matMul(queries, protos, false, true); // [m, k]
    return tf.neg(tf.add(tf.sub(q2, tf.mul(2, qc)), c2)) as tf.Tensor2D;
  });
}

/**
 * What metric-based learners share: an embedding network whose parameters are the
 * meta-parameters, no inner loop, classification only. Their loss is differentiated once,
 * so the embedding runs with `firstOrderOnly` (the fused batch norm on wasm).
 */
export abstract class MetricLearner extends BaseMetaLearner {
  /** The embedding network: its output (`apply`) is the embedding (e.g. `conv4({outputs: 0})`). */
  readonly model: FunctionalModel;
  /** Batch-norm mode. */
  readonly training: boolean;

  /** Makes the learner `name` over the embedding network `model`. */
  constructor(name: string, model: FunctionalModel, options: MetricLearnerOptions) {
    super(
      name,
      "classification",
      model.init(options.rng),
      model.paramSpecs.map((s) => s.name),
      resolveObjective(options.objective, { innerSteps: 0 }),
    );
    this.model = model;
    this.training = options.training ?? true;
  }
}

/** Prototypical Networks. */
export class ProtoNet extends MetricLearner {
  /** Makes a ProtoNet over the embedding network `model`. */
  constructor(model: FunctionalModel, options: MetricLearnerOptions) {
    super("protonet", model, options);
  }

  /** Logits of the queries given the support set, for parameters `params`. */
  logits(params: tf.Tensor[], support: LabelledSet, queryX: tf.Tensor): tf.Tensor2D {
    const ways = countWays(support.y);
    const protos = prototypes(
      this.model.apply(params, support.x, { training: this.training, firstOrderOnly: true }),
      support.y,
      ways,
    );
    const q = this.model.apply(params, queryX, { training: this.training, firstOrderOnly: true });
    return negativeSquaredDistances(q, protos);
  }

  /** Cross-entropy of the queries against the prototypes. */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const logits = this.logits(params, task.support, task.query.x);
    return {
      loss: softmaxCrossEntropy(logits, task.query.y),
      accuracy: accuracy(logits, task.query.y),
    };
  }

  /** Computes the prototypes once; `predict` embeds new inputs and scores them. */
  adapt(support: LabelledSet): AdaptedModel {
    const ways = countWays(support.y);
    const protos = tf.tidy(() =>
      prototypes(
        this.model.apply(this.params, support.x, { training: this.training, firstOrderOnly: true }),
        support.y,
        ways,
      )
    );
    return {
      predict: (x) =>
        tf.tidy(() =>
          negativeSquaredDistances(
            this.model.apply(this.params, x, { training: this.training, firstOrderOnly: true }),
            protos,
          )
        ),
      dispose: () => protos.dispose(),
    };
  }
}
