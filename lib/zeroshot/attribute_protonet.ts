/**
 * A ProtoNet whose embedding is meta-trained *for* zero-shot use, as Snell, Swersky & Zemel
 * (2017, section 2.4) train theirs (they learn a linear embedding of fixed image features and
 * fix the prototypes to unit length; here f is a Conv-4 from pixels): on each seen-class episode the prototypes are predicted
 * from the classes' attribute vectors, c_k = a_k W + b, and the embedding f and the map
 * (W, b) are learned together by the cross-entropy of softmax(−‖f(x) − c_k‖²) on the queries.
 * An embedding trained only for few-shot episodes has no reason to place a class where its
 * description says; this one is pushed to. The few-shot ProtoNet loss (prototypes = support
 * means) is added with weight `fewShotWeight`, so the same embedding also serves K-shot
 * episodes and the two kinds of prototype live in one space (what "both" combines).
 *
 *     J = CE(−‖f(x) − g(a_k)‖²; D') + w_fs · CE(−‖f(x) − mean_{D, k} f‖²; D')
 *
 * Episodes must carry their classes (`lib/tasks`' `EpisodeMeta.classes`, as an
 * `EpisodeSampler` gives them) so that each label finds its attribute row.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { softmaxCrossEntropy, torchDefaultUniform } from "../models/mod.ts";
import type { Rng } from "../random/mod.ts";
import type { EpisodeMeta } from "../tasks/mod.ts";
import {
  accuracy,
  type AdaptedModel,
  BaseMetaLearner,
  countWays,
  type Episode,
  type FunctionalModel,
  type LabelledSet,
  negativeSquaredDistances,
  type ObjectiveInput,
  prototypes,
  resolveObjective,
  type TaskTerms,
} from "../meta/mod.ts";

/** Options of {@linkcode AttributeProtoNet}. */
export interface AttributeProtoNetOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** Attribute row of every dataset class (indexed by the dataset's class index). */
  attributes: readonly (readonly number[])[];
  /** The meta-objective or its options (no inner loop). */
  objective?: ObjectiveInput;
  /** Weight of the few-shot ProtoNet term (default 1; 0: zero-shot loss only). */
  fewShotWeight?: number;
  /** Batch norm in training mode. Default true. */
  training?: boolean;
}

/**
 * Snell et al.'s zero-shot ProtoNet, trained jointly with the few-shot loss (see module docs).
 *
 * @example
 * ```ts
 * const learner = new AttributeProtoNet(conv4({ inputShape: [28, 28, 1], outputs: 0 }), 64, {
 *   rng: new Rng(0),
 *   attributes: MNIST_DIGIT_ATTRIBUTES, // row c: the attributes of dataset class c
 * });
 * const seen = new EpisodeSampler(loadMnist(), MNIST_SEEN_DIGITS, { ways: 5, shots: 5, queries: 15 });
 * await metaTrain(learner, taskSampler(seen, new Rng(1)), { steps: 100, metaBatchSize: 1 });
 * const described = learner.describedPrototypes(digitAttributes([0, 1, 7])); // [3, 64]
 * ```
 */
export class AttributeProtoNet extends BaseMetaLearner {
  /** The embedding network f (its `apply` is the embedding). */
  readonly model: FunctionalModel;
  /** Batch-norm mode. */
  readonly training: boolean;
  /** Attribute rows by dataset class. */
  readonly attributes: readonly (readonly number[])[];
  /** Weight of the few-shot term. */
  readonly fewShotWeight: number;
  /** Size D of the embedding. */
  readonly embeddingSize: number;
  #bodyCount: number;

  /** Makes the learner over the embedding network `model` (e.g. `conv4({ outputs: 0 })`). */
  constructor(model: FunctionalModel, embeddingSize: number, options: AttributeProtoNetOptions) {
    const a = options.attributes[0]?.length ?? 0;
    if (a < 1 || options.attributes.some((r) => r.length !== a)) {
      throw new RangeError(
        `AttributeProtoNet: attributes must be rows of one positive length, got lengths ${
          options.attributes.map((r) => r.length).join(", ")
        }`,
      );
    }
    const body = model.init(options.rng);
    super(
      "attribute-protonet",
      "classification",
      [...body, torchDefaultUniform(options.rng, [a, embeddingSize], a), tf.zeros([embeddingSize])],
      [...model.paramSpecs.map((s) => s.name), "attributes/kernel", "attributes/bias"],
      resolveObjective(options.objective, { innerSteps: 0 }),
    );
    this.model = model;
    this.training = options.training ?? true;
    this.attributes = options.attributes;
    this.fewShotWeight = options.fewShotWeight ?? 1;
    this.embeddingSize = embeddingSize;
    this.#bodyCount = body.length;
  }

  /** The embedding f(x) with parameters `params` (default: the learner's). */
  embed(x: tf.Tensor, params: tf.Tensor[] = this.params): tf.Tensor {
    return this.model.apply(params.slice(0, this.#bodyCount), x, {
      training: this.training,
      firstOrderOnly: true,
    });
  }

  /** g(a) = a W + b for attribute rows `[k, a]` → described prototypes `[k, D]`. */
  describedPrototypes(
    attributes: readonly (readonly number[])[],
    params: tf.Tensor[] = this.params,
  ): tf.Tensor2D {
    const [w, b] = params.slice(this.#bodyCount);
    return tf.tidy(() =>
      tf.add(tf.matMul(tf.tensor2d(attributes.map((r) => [...r])), w), b) as tf.Tensor2D
    );
  }

  /** Zero-shot plus weighted few-shot cross-entropy of one episode (its meta names its classes). */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const meta = (task as Episode & { meta?: Partial<EpisodeMeta> }).meta;
    if (!meta?.classes) {
      throw new Error(
        "AttributeProtoNet: an episode without meta.classes (use an EpisodeSampler's episodes)",
      );
    }
    const described = this.describedPrototypes(meta.classes.map((c) => this.attributes[c]), params);
    const q = this.embed(task.query.x, params);
    const zeroShot = negativeSquaredDistances(q, described);
    let loss = softmaxCrossEntropy(zeroShot, task.query.y);
    if (this.fewShotWeight > 0) {
      const protos = prototypes(
        this.embed(task.support.x, params),
        task.support.y,
        meta.classes.length,
      );
      const fewShot = softmaxCrossEntropy(negativeSquaredDistances(q, protos), task.query.y);
      loss = tf.add(loss, tf.mul(this.fewShotWeight, fewShot));
    }
    return { loss, accuracy: accuracy(zeroShot, task.query.y) };
  }

  /** Few-shot use: prototypes are the support means, as in a ProtoNet. */
  adapt(support: LabelledSet): AdaptedModel {
    const ways = countWays(support.y);
    const protos = tf.tidy(() => prototypes(this.embed(support.x), support.y, ways));
    return {
      predict: (x) => tf.tidy(() => negativeSquaredDistances(this.embed(x), protos)),
      dispose: () => protos.dispose(),
    };
  }
}
