/**
 * Training a classifier, alone or as a distilled student: {@linkcode Classifier} is a
 * `MetaLearner` whose "tasks" are mini-batches of ordinary supervised learning (the support
 * set of a `ClassBatchSampler` episode, as `lib/eval`'s transfer baselines train), so it trains
 * through `metaTrain` and the experiments' checkpointed, exactly resumable training like every
 * other learner. Given a teacher it minimises Hinton et al.'s {@linkcode distillationLoss}
 * on each batch instead of plain cross-entropy.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  accuracy,
  BaseMetaLearner,
  type ObjectiveInput,
  resolveObjective,
  type TaskTerms,
} from "../meta/mod.ts";
import type { AdaptedModel, Episode, FunctionalModel, LabelledSet } from "../meta/mod.ts";
import type { Rng } from "../random/mod.ts";
import { distillationLoss, type DistillationOptions, distillationOptions } from "./soft_targets.ts";

/** What a student learns from: the teacher's logits on a batch of inputs (constants). */
export interface Teacher {
  /** Logits `[N, C]` of inputs `x`; the caller disposes them. */
  logits(x: tf.Tensor): tf.Tensor;
}

/** Options of {@linkcode Classifier}. */
export interface ClassifierOptions {
  /** Seeded generator for the initial parameters. */
  rng: Rng;
  /** The optimiser's settings (Adam at `outerLr`, default 1e-3; one batch per step). */
  objective?: ObjectiveInput;
  /** A teacher: the classifier is then a distilled student. */
  teacher?: Teacher;
  /** Temperature and α of the distillation loss (used with a teacher). */
  distill?: DistillationOptions;
  /** Learner name (default `classifier`, or `distilled` with a teacher). */
  name?: string;
}

/**
 * A supervised classifier over `model` (a network with its head, e.g. `mlp([784, 30, 30, 10])`),
 * trained on mini-batches by cross-entropy, or, with a `teacher`, by the distillation loss
 * α·T²·KL(teacher_T ‖ student_T) + (1 − α)·CE. Its `adapt` ignores the support set: the
 * classes are the training classes (it is a classifier, not a few-shot learner).
 *
 * @example
 * ```ts
 * const teacher = new Classifier(mlp([784, 1200, 1200, 10]), { rng: new Rng(0) });
 * await metaTrain(teacher, taskSampler(batches, new Rng(1)), { steps: 800, metaBatchSize: 1 });
 * const student = new Classifier(mlp([784, 30, 30, 10]), {
 *   rng: new Rng(2), teacher: teacherOf(teacher), distill: { temperature: 4, alpha: 0.5 },
 * });
 * await metaTrain(student, taskSampler(batches, new Rng(3)), { steps: 800, metaBatchSize: 1 });
 * countErrors(student, testX, testY); // test errors
 * ```
 */
export class Classifier extends BaseMetaLearner {
  /** The network (with its head). */
  readonly model: FunctionalModel;
  /** The teacher, when this is a distilled student. */
  readonly teacher: Teacher | undefined;
  /** The distillation loss's temperature and α. */
  readonly distill: Required<DistillationOptions>;

  /** A classifier over `model`; with `options.teacher`, a distilled student. */
  constructor(model: FunctionalModel, options: ClassifierOptions) {
    super(
      options.name ?? (options.teacher ? "distilled" : "classifier"),
      "classification",
      model.init(options.rng),
      model.paramSpecs.map((s) => s.name),
      resolveObjective(options.objective, { innerSteps: 0, metaBatchSize: 1 }),
    );
    this.model = model;
    this.teacher = options.teacher;
    this.distill = distillationOptions(options.distill);
  }

  /** Logits of `x` under parameters `params`. */
  logits(params: tf.Tensor[], x: tf.Tensor): tf.Tensor {
    return this.model.apply(params, x, { training: true, firstOrderOnly: true });
  }

  /** The loss on one mini-batch (support and query together). */
  taskTerms(params: tf.Tensor[], task: Episode): TaskTerms {
    const parts = [task.support, task.query].filter((s) => s.x.shape[0] > 0);
    if (parts.length === 0) throw new Error(`${this.name}: a training batch with no examples`);
    const x = parts.length === 1 ? parts[0].x : tf.concat(parts.map((s) => s.x));
    const y = parts.length === 1 ? parts[0].y : tf.concat(parts.map((s) => s.y));
    const logits = this.logits(params, x);
    const loss = this.teacher
      ? distillationLoss(logits, this.teacher.logits(x), y, this.distill)
      : distillationLoss(logits, logits, y, { ...this.distill, alpha: 0 });
    return { loss, accuracy: accuracy(logits, y) };
  }

  /** Predicts with the trained parameters (the support set is not used). */
  adapt(_support?: LabelledSet): AdaptedModel {
    return {
      predict: (x) => tf.tidy(() => this.logits(this.params, x)),
      dispose: () => {},
    };
  }
}

/** A trained classifier as a teacher (it shares the classifier's parameters; do not dispose them first). */
export function teacherOf(classifier: Classifier): Teacher {
  return { logits: (x) => tf.tidy(() => classifier.logits(classifier.params, x)) };
}

/**
 * Misclassified rows of `x` `[N, …]` against int32 `y` `[N]`, predicted in batches of
 * `batchSize` (the count Hinton et al. report: "146 test errors").
 */
export function countErrors(
  classifier: Pick<Classifier, "adapt">,
  x: tf.Tensor,
  y: tf.Tensor,
  batchSize = 500,
): number {
  const n = x.shape[0];
  if (y.size !== n) {
    throw new Error(`countErrors: ${n} inputs but ${y.size} labels (expected one label per row)`);
  }
  const adapted = classifier.adapt();
  let wrong = 0;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      wrong += tf.tidy(() => {
        const xs = tf.slice(x, start, size);
        const ys = tf.cast(tf.slice(y, start, size), "int32");
        const predicted = tf.argMax(adapted.predict(xs), -1);
        return tf.sum(tf.cast(tf.notEqual(predicted, ys), "int32")).dataSync()[0];
      });
    }
  } finally {
    adapted.dispose();
  }
  return wrong;
}
