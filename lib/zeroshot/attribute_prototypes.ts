/**
 * Zero-shot Prototypical Networks (Snell, Swersky & Zemel 2017, section 2.4): when a class
 * comes with a description a_k instead of examples, its prototype is *predicted* from the
 * description, c_k = g(a_k), by a learned map into the embedding space, and a query is
 * classified exactly as in a few-shot ProtoNet, by softmax(−‖f(x) − c_k‖²).
 *
 * Here the embedding f is a ProtoNet meta-trained on the seen classes' episodes and kept
 * fixed, and g is linear, g(a) = a W + b, fitted on the seen classes by that same
 * cross-entropy (Snell et al. learn a linear map of the attributes too; they also learn the
 * image side and fix the prototypes to unit length, which a frozen f does not need).
 * Because g(a_k) lives where f's class means live, a description and examples combine
 * directly: with K support examples of class k,
 *
 *     c_k = (w · g(a_k) + Σ_{x ∈ D_i, class k} f(x)) / (w + K)
 *
 * the description counting as w extra examples (a prior mean): w → 0 is the few-shot
 * ProtoNet, K = 0 is zero-shot.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { softmaxCrossEntropy, torchDefaultUniform } from "../models/mod.ts";
import type { Rng } from "../random/mod.ts";
import { type AdaptedModel, negativeSquaredDistances, prototypes } from "../meta/mod.ts";

/** Options of {@linkcode AttributePrototypes}. */
export interface AttributePrototypesOptions {
  /** Seeded generator for W's initial values. */
  rng: Rng;
  /** Length a of an attribute vector. */
  attributeSize: number;
  /** Size D of the embedding f(x). */
  embeddingSize: number;
  /** Adam's rate for fitting W and b (default 0.01). */
  lr?: number;
}

/** Options of {@linkcode AttributePrototypes.adapt}. */
export interface AttributeAdaptOptions {
  /**
   * Labelled support examples' embeddings `[N·K, D]` and their labels `[N·K]` (0 … N−1):
   * combined with the described prototypes (absent: zero-shot).
   */
  support?: { embeddings: tf.Tensor; labels: tf.Tensor };
  /** w: how many examples a description counts as (default 1). */
  priorWeight?: number;
}

/**
 * The attribute → prototype map g and what it classifies (see the module docs).
 *
 * @example
 * ```ts
 * const g = new AttributePrototypes({ rng: new Rng(0), attributeSize: 6, embeddingSize: 32 });
 * g.fit(seenEmbeddings, seenLabels, digitAttributes(MNIST_SEEN_DIGITS), 300);
 * const zeroShot = g.adapt(digitAttributes([0, 1, 7])); // predict takes embeddings f(x)
 * const both = g.adapt(digitAttributes([0, 1, 7]), {
 *   support: { embeddings: supportEmbeddings, labels: supportLabels },
 *   priorWeight: 1,
 * });
 * ```
 */
export class AttributePrototypes {
  /** [W `[a, D]`, b `[D]`]. */
  readonly params: tf.Variable[];
  /** Adam over W and b. */
  readonly optimizer: tf.Optimizer;
  /** a. */
  readonly attributeSize: number;
  /** D. */
  readonly embeddingSize: number;

  /** An untrained map (W uniform ±1/√a as PyTorch's Linear, b = 0). */
  constructor(options: AttributePrototypesOptions) {
    const { attributeSize: a, embeddingSize: d } = options;
    for (const [name, v] of [["attributeSize", a], ["embeddingSize", d]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`AttributePrototypes: ${name} must be a positive integer, got ${v}`);
      }
    }
    this.attributeSize = a;
    this.embeddingSize = d;
    this.params = [torchDefaultUniform(options.rng, [a, d], a), tf.zeros([d])].map((t) => {
      const v = tf.variable(t, true);
      t.dispose();
      return v;
    });
    this.optimizer = tf.train.adam(options.lr ?? 0.01);
  }

  /** c_k = g(a_k) for attribute rows `[k, a]` → prototypes `[k, D]`. */
  prototypes(attributes: tf.Tensor | readonly (readonly number[])[]): tf.Tensor2D {
    return tf.tidy(() => {
      const s = attributes instanceof tf.Tensor
        ? attributes
        : tf.tensor2d(attributes.map((r) => [...r]));
      if (s.rank !== 2 || s.shape[1] !== this.attributeSize) {
        throw new Error(
          `AttributePrototypes: expected attributes [k, ${this.attributeSize}], got [${s.shape}]`,
        );
      }
      return tf.add(tf.matMul(s, this.params[0]), this.params[1]) as tf.Tensor2D;
    });
  }

  /** Cross-entropy of `embeddings` `[n, D]` with int `labels` against the classes described by `attributes`. */
  loss(embeddings: tf.Tensor, labels: tf.Tensor, attributes: tf.Tensor): tf.Scalar {
    return tf.tidy(() =>
      softmaxCrossEntropy(negativeSquaredDistances(embeddings, this.prototypes(attributes)), labels)
    );
  }

  /**
   * Fits W and b by `steps` full-batch Adam steps on seen-class `embeddings` `[n, D]`, their
   * `labels` (indices into `attributes`) and the seen classes' `attributes` `[z, a]`;
   * returns the loss before each step.
   */
  fit(
    embeddings: tf.Tensor,
    labels: tf.Tensor,
    attributes: readonly (readonly number[])[],
    steps: number,
  ): number[] {
    if (!Number.isInteger(steps) || steps < 0) {
      throw new RangeError(`AttributePrototypes.fit: steps must be an integer ≥ 0, got ${steps}`);
    }
    const s = tf.tensor2d(attributes.map((r) => [...r]));
    const losses: number[] = [];
    try {
      for (let i = 0; i < steps; i++) {
        const { value, grads } = tf.variableGrads(
          () => this.loss(embeddings, labels, s),
          this.params,
        );
        this.optimizer.applyGradients(grads);
        losses.push(value.dataSync()[0]);
        tf.dispose([value, ...Object.values(grads)]);
      }
    } finally {
      s.dispose();
    }
    return losses;
  }

  /**
   * A classifier for the N classes described by `attributes` `[N, a]`: over embeddings, from
   * the descriptions alone or combined with support examples (see the module docs).
   * `predict` takes embeddings `[n, D]` and returns logits `[n, N]`.
   */
  adapt(
    attributes: readonly (readonly number[])[],
    options: AttributeAdaptOptions = {},
  ): AdaptedModel {
    const w = options.priorWeight ?? 1;
    if (!(w >= 0) || !Number.isFinite(w)) {
      throw new RangeError(`AttributePrototypes.adapt: priorWeight must be ≥ 0, got ${w}`);
    }
    if (w === 0 && !options.support) {
      throw new RangeError(
        "AttributePrototypes.adapt: priorWeight 0 with no support set defines no prototype",
      );
    }
    const ways = attributes.length;
    const protos = tf.tidy(() => {
      const described = this.prototypes(attributes);
      const support = options.support;
      if (!support) return described;
      const counts = tf.sum(tf.oneHot(tf.cast(support.labels, "int32"), ways), 0)
        .toFloat().reshape([ways, 1]);
      const sums = tf.mul(
        prototypes(support.embeddings, support.labels, ways),
        tf.maximum(counts, 1),
      );
      return tf.div(tf.add(tf.mul(w, described), sums), tf.add(w, counts));
    });
    return {
      predict: (embeddings) => negativeSquaredDistances(embeddings, protos),
      dispose: () => protos.dispose(),
    };
  }

  /** Frees W, b and the optimiser's state. */
  dispose(): void {
    this.optimizer.dispose();
    tf.dispose(this.params);
  }
}
