/**
 * Matching Networks (Vinyals et al. 2016), without full context embeddings: a query's
 * label distribution is an attention-weighted sum of the support labels,
 * P(y | x̂, S) = Σ_i a(x̂, x_i) y_i with a = softmax over the support of the cosine
 * similarity c(f(x̂), f(x_i)) (optionally multiplied by a fixed `scale`, a temperature).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TaskTerms } from "./base.ts";
import { negativeLogLikelihood, softmax } from "../models/mod.ts";
import { accuracy } from "./losses.ts";
import { countWays, MetricLearner, type MetricLearnerOptions } from "./protonet.ts";
import type { AdaptedModel, Episode, FunctionalModel, LabelledSet } from "./types.ts";

/** Options of {@linkcode MatchingNet}. */
export interface MatchingNetOptions extends MetricLearnerOptions {
  /** Multiplies the cosine similarities before the softmax (default 1, as in the paper). */
  scale?: number;
}

const EPS = 1e-8;

/** Log-probabilities `[m, ways]` of queries given support embeddings and labels. */
export function matchingLogProbs(
  queryEmb: tf.Tensor,
  supportEmb: tf.Tensor,
  supportLabels: tf.Tensor,
  ways: number,
  scale = 1,
): tf.Tensor2D {
  return tf.tidy(() => {
    const normalise = (e: tf.Tensor) =>
      tf.div(e, tf.sqrt(tf.add(tf.sum(tf.square(e), 1, true), EPS)));
    const cos = tf.matMul(normalise(queryEmb), normalise(supportEmb), false, true); // [m, n]
    const logits = tf.mul(scale, cos);
    const attention = softmax(logits); // over the support examples
    const oneHot = tf.oneHot(tf.cast(supportLabels, "int32").reshape([-1]), ways).toFloat();
    return tf.log(tf.add(tf.matMul(attention, oneHot), EPS)) as tf.Tensor2D;
  });
}

/** Matching Networks (cosine attention, no FCE). */
export class MatchingNet extends MetricLearner {
  /** Cosine scale. */
  readonly scale: number;

  /** Makes a Matching Network over the embedding network `model`. */
  constructor(model: FunctionalModel, options: MatchingNetOptions) {
    super("matchingnet", model, options);
    this.scale = options.scale ?? 1;
  }

  /** Negative log-likelihood of the query labels. */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const ways = countWays(task.support.y);
    const opts = { training: this.training, firstOrderOnly: true };
    const logProbs = matchingLogProbs(
      this.model.apply(params, task.query.x, opts),
      this.model.apply(params, task.support.x, opts),
      task.support.y,
      ways,
      this.scale,
    );
    return {
      loss: negativeLogLikelihood(logProbs, task.query.y),
      accuracy: accuracy(logProbs, task.query.y),
    };
  }

  /** Embeds the support set once; `predict` returns log-probabilities. */
  adapt(support: LabelledSet): AdaptedModel {
    const ways = countWays(support.y);
    const opts = { training: this.training, firstOrderOnly: true };
    const emb = tf.tidy(() => this.model.apply(this.params, support.x, opts));
    const labels = support.y.clone();
    return {
      predict: (x) =>
        tf.tidy(() =>
          matchingLogProbs(this.model.apply(this.params, x, opts), emb, labels, ways, this.scale)
        ),
      dispose: () => tf.dispose([emb, labels]),
    };
  }
}
