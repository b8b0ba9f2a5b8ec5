/**
 * The "pretrained" baseline of Finn et al. 2017 (Fig. 2): one model trained on all tasks
 * jointly (ordinary regression on the pooled points of each meta-batch, no inner loop), then
 * fine-tuned on a new task's support set with SGD at test time. It fits the
 * {@linkcode MetaLearner} interface, so `metaTrain` trains it and `evaluate` scores it.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  BaseMetaLearner,
  innerLoop,
  type ObjectiveInput,
  parametricAdapted,
  resolveObjective,
  taskLoss,
  type TaskTerms,
} from "../meta/mod.ts";
import type {
  AdaptedModel,
  AdaptOptions,
  Episode,
  FunctionalModel,
  LabelledSet,
  MetaLossTerms,
  TaskKind,
} from "../meta/mod.ts";
import type { Rng } from "../random/mod.ts";

/** Options of {@linkcode PretrainedBaseline}. */
export interface PretrainedOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** Regression (default) or classification. */
  kind?: TaskKind;
  /** Objective options: `outerLr` trains the model; `innerLr` / `innerSteps` fine-tune it. */
  objective?: ObjectiveInput;
}

/** A model pretrained on all tasks jointly, fine-tuned at test time. */
export class PretrainedBaseline extends BaseMetaLearner {
  /** The functional model. */
  readonly model: FunctionalModel;

  /** Makes the baseline over `model`. */
  constructor(model: FunctionalModel, options: PretrainedOptions) {
    super(
      "pretrained",
      options.kind ?? "regression",
      model.init(options.rng),
      model.paramSpecs.map((s) => s.name),
      resolveObjective(options.objective),
    );
    this.model = model;
  }

  /** Plain supervised loss on all of a task's points (support and query), no adaptation. */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const x = tf.concat([task.support.x, task.query.x]);
    const y = tf.concat([task.support.y, task.query.y]);
    return {
      loss: taskLoss(
        this.kind,
        this.model.apply(params, x, { training: true, firstOrderOnly: true }),
        y,
      ),
    };
  }

  /**
   * The whole meta-batch as one regression problem: all tasks' points go through the model in
   * one forward pass (one graph instead of one per task); the per-task losses are read off the
   * pooled squared errors.
   */
  override metaLossTerms(params: tf.Tensor[], tasks: Episode[]): MetaLossTerms {
    if (this.kind !== "regression") return super.metaLossTerms(params, tasks);
    const xs = tasks.flatMap((t) => [t.support.x, t.query.x]);
    const ys = tasks.flatMap((t) => [t.support.y, t.query.y]).map((y) =>
      y.reshape([y.shape[0], -1])
    );
    const out = this.model.apply(params, tf.concat(xs), { training: true, firstOrderOnly: true });
    const sq = tf.square(tf.sub(out, tf.concat(ys)));
    const sizes = tasks.map((t) => t.support.x.shape[0] + t.query.x.shape[0]);
    const losses = tf.split(sq, sizes).map((part) => tf.mean(part) as tf.Scalar);
    return this.objective.combine(params, losses);
  }

  /** Fine-tunes on the support set with `steps` SGD steps (default: `innerSteps`). */
  adapt(support: LabelledSet, options: AdaptOptions = {}): AdaptedModel {
    const c = this.objective.config;
    const phi = tf.tidy(() =>
      innerLoop(this.model, this.kind, this.params, support, {
        steps: options.steps ?? c.innerSteps,
        lr: options.lr ?? c.innerLr,
        firstOrderOnly: true,
      }).map((t) => t.clone())
    );
    return parametricAdapted(this.model, phi);
  }
}
