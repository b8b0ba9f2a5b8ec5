/**
 * What every gradient-trained meta-learner shares: meta-parameters θ held as variables,
 * the meta-objective, the outer optimiser, and one `metaStep` that computes the
 * meta-gradient, stops on a non-finite loss, clips by global norm and applies the update.
 * Algorithms override `taskTerms`; where the meta-gradient is not the exact gradient of the
 * meta-loss (first-order MAML, Reptile) they build it with `directionGradients`; a learner
 * that can run a regression meta-batch as one computation gives its `stackedInnerLoop`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { sameShapes, stackTasks } from "../tasks/mod.ts";
import { MetaObjective, type MetaObjectiveConfig, NonFiniteLossError } from "./objective.ts";
import type {
  AdaptedModel,
  AdaptOptions,
  Episode,
  LabelledSet,
  MetaLearner,
  MetaLossTerms,
  StepStats,
  TaskKind,
} from "./types.ts";

/** Per-task pieces of the meta-objective. */
export interface TaskTerms {
  /** Query loss L(φ_i; D'_i). */
  loss: tf.Scalar;
  /** ‖φ_i − θ‖² over the adapted parameters (absent when nothing is adapted). */
  proximal?: tf.Scalar;
  /** Query accuracy (classification). */
  accuracy?: tf.Scalar;
}

/** The meta-gradient of one meta-batch with the objective's parts (all tensors). */
export interface MetaGradient {
  /** One gradient per meta-parameter. */
  grads: tf.Tensor[];
  /** J(θ). */
  total: tf.Scalar;
  /** The data term. */
  data: tf.Scalar;
  /** Mean query accuracy (classification). */
  accuracy?: tf.Scalar;
}

/** Task i's direction d_i of a {@linkcode BaseMetaLearner.directionGradients} sum, with its terms. */
export interface TaskDirection {
  /** d_i, one tensor per meta-parameter. */
  direction: tf.Tensor[];
  /** The task's query loss, ‖φ_i − θ‖² and accuracy, for the reported J(θ). */
  terms: TaskTerms;
}

/**
 * A learner's inner loop over T stacked regression tasks at once (see
 * {@linkcode BaseMetaLearner.batchedGradients}): the per-task state it adapts and the
 * predictions made with it.
 */
export interface StackedInnerLoop {
  /**
   * The per-task state at the start of the inner loop, each tensor `[T, …]` (MAML: θ tiled
   * over the tasks; the MetaClassifier: zero contexts); also the anchor of the proximal terms.
   */
  start(params: tf.Tensor[], tasks: number): tf.Tensor[];
  /** Predictions `[T, n, outputs]` for stacked inputs `x` `[T, n, …]` and per-task `state`. */
  predict(params: tf.Tensor[], state: tf.Tensor[], x: tf.Tensor): tf.Tensor;
}

/** An objective given either as an object or as plain options merged over a learner's defaults. */
export type ObjectiveInput = MetaObjective | Partial<MetaObjectiveConfig>;

/** Merges a learner's defaults with what the caller gave. */
export function resolveObjective(
  input: ObjectiveInput | undefined,
  defaults: Partial<MetaObjectiveConfig> = {},
): MetaObjective {
  if (input instanceof MetaObjective) return input;
  return new MetaObjective({ ...defaults, ...(input ?? {}) });
}

/** Sets an optimiser's learning rate in place (tfjs keeps it in different fields per class). */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as {
    setLearningRate?: (lr: number) => void;
    learningRate: number;
  };
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Global L2 norm of a list of tensors. */
export function globalNorm(tensors: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(tensors.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** Common machinery of the meta-learners; see the module docs. */
export abstract class BaseMetaLearner implements MetaLearner {
  /** Algorithm name. */
  readonly name: string;
  /** Classification or regression. */
  readonly kind: TaskKind;
  /** Meta-parameters θ. */
  readonly params: tf.Variable[];
  /** Readable names of the meta-parameters. */
  readonly paramNames: string[];
  /** The meta-objective (inspectable; see {@linkcode MetaObjective}). */
  readonly objective: MetaObjective;
  /** The outer optimiser. */
  readonly optimizer: tf.Optimizer;
  /** Meta-steps applied so far. */
  stepsTaken = 0;

  /** Takes ownership of `initial` (turned into variables and disposed). */
  constructor(
    name: string,
    kind: TaskKind,
    initial: tf.Tensor[],
    paramNames: string[],
    objective: MetaObjective,
  ) {
    if (initial.length !== paramNames.length) {
      throw new Error(`${name}: ${initial.length} parameters but ${paramNames.length} names`);
    }
    this.name = name;
    this.kind = kind;
    this.params = initial.map((t) => {
      const v = tf.variable(t, true);
      t.dispose();
      return v;
    });
    this.paramNames = paramNames;
    this.objective = objective;
    this.optimizer = objective.makeOptimizer();
  }

  /** The meta-parameters that the L2 term penalises (default: all of them). */
  protected regularised(params: tf.Tensor[]): tf.Tensor[] {
    return params;
  }

  /** Per-task query loss (and proximal distance, accuracy) for meta-parameters `params`. */
  abstract taskTerms(params: tf.Tensor[], task: Episode): TaskTerms;

  /** Adapts to one task (no meta-gradient recorded). */
  abstract adapt(support: LabelledSet, options?: AdaptOptions): AdaptedModel;

  /** All parts of J(θ) over a meta-batch, differentiable in `params`. */
  metaLossTerms(params: tf.Tensor[], tasks: Episode[]): MetaLossTerms {
    const terms = tasks.map((task) => this.taskTerms(params, task));
    const proximal = terms.flatMap((t) => t.proximal ? [t.proximal] : []);
    const accuracy = terms.flatMap((t) => t.accuracy ? [t.accuracy] : []);
    return this.objective.combine(
      this.regularised(params),
      terms.map((t) => t.loss),
      proximal,
      accuracy,
    );
  }

  /** J(θ) over a meta-batch for meta-parameters `params` (differentiable in `params`). */
  metaLoss(params: tf.Tensor[], tasks: Episode[]): tf.Scalar {
    return tf.tidy(() => this.metaLossTerms(params, tasks).total);
  }

  /**
   * The meta-gradient ∇_θ J(θ): the exact gradient of `metaLossTerms` (for MAML this
   * differentiates through the inner loop: second order). One batched computation when
   * {@linkcode canBatch} says so, else task by task ({@linkcode taskByTaskGradients}) so
   * that memory holds one task's graph, not the meta-batch's. Call inside `tf.tidy`.
   */
  metaGradients(tasks: Episode[]): MetaGradient {
    if (this.canBatch(tasks)) return this.batchedGradients(stackTasks(tasks));
    return tasks.length > 1 ? this.taskByTaskGradients(tasks) : this.wholeBatchGradients(tasks);
  }

  /**
   * Whether {@linkcode metaGradients} runs this meta-batch as one batched computation: the
   * learner has a {@linkcode stackedInnerLoop}, and the meta-batch is regression tasks (≥ 2)
   * of equal shapes. The one test of "can run tasks batched", for every learner.
   */
  canBatch(tasks: Episode[]): boolean {
    return this.kind === "regression" && tasks.length > 1 &&
      this.stackedInnerLoop() !== undefined && sameShapes(tasks);
  }

  /**
   * The learner's inner loop over stacked tasks, when it has one and it is switched on
   * (default: none; MAML and the MetaClassifier give one for per-example models).
   */
  protected stackedInnerLoop(): StackedInnerLoop | undefined {
    return undefined;
  }

  /**
   * ∇_θ J(θ) of a stacked meta-batch (`lib/tasks`' `MetaBatch` layout, `[T, n, …]`: what
   * `stackTasks` makes of T tasks, or what a sampler's `sampleBatch` draws) with the inner
   * loop run on all tasks at once ({@linkcode stackedInnerLoop}); regression (MSE) only.
   * Tasks are independent, so the gradient of the summed support loss with respect to the
   * stacked state is every task's own inner gradient at once: the same J and ∇J as task by
   * task. Call inside `tf.tidy`.
   */
  batchedGradients(batch: Episode): MetaGradient {
    const loop = this.stackedInnerLoop();
    if (!loop || this.kind !== "regression") {
      throw new Error(
        `${this.name}.batchedGradients: needs a regression learner with a batched inner loop ` +
          `(kind "${this.kind}", batched inner loop ${loop ? "present" : "absent"})`,
      );
    }
    const count = batch.support.x.shape[0];
    if (batch.support.x.rank < 3 || batch.query.x.rank < 3 || batch.query.x.shape[0] !== count) {
      throw new Error(
        `${this.name}.batchedGradients: expected a stacked meta-batch (x [T, n, …], the same T ` +
          `for support and query), got ` +
          `support x [${batch.support.x.shape}], query x [${batch.query.x.shape}]`,
      );
    }
    const c = this.objective.config;
    const targets = (y: tf.Tensor) => tf.reshape(y, [count, y.shape[1]!, -1]);
    const [xs, ys] = [batch.support.x, targets(batch.support.y)];
    const [xq, yq] = [batch.query.x, targets(batch.query.y)];
    const perTaskMse = (params: tf.Tensor[], state: tf.Tensor[], x: tf.Tensor, y: tf.Tensor) =>
      tf.mean(tf.square(tf.sub(loop.predict(params, state, x), y)), [1, 2]);
    const perTaskDistance = (a: tf.Tensor[], b: tf.Tensor[]) =>
      tf.addN(
        a.map((p, i) => tf.sum(tf.square(tf.sub(p, b[i])), p.shape.slice(1).map((_, k) => k + 1))),
      );
    let data: tf.Scalar | undefined;
    const f = (...params: tf.Tensor[]) => {
      const start = loop.start(params, count);
      let state = start;
      for (let s = 0; s < c.innerSteps; s++) {
        const g = tf.grads((...current: tf.Tensor[]) => {
          let l = tf.sum(perTaskMse(params, current, xs, ys));
          if (c.innerProximal > 0) {
            l = tf.add(l, tf.mul(c.innerProximal / 2, tf.sum(perTaskDistance(current, start))));
          }
          return l;
        })(state);
        state = state.map((p, i) => tf.sub(p, tf.mul(c.innerLr, g[i])));
      }
      const losses = tf.unstack(perTaskMse(params, state, xq, yq)) as tf.Scalar[];
      const distances = tf.unstack(perTaskDistance(state, start)) as tf.Scalar[];
      const terms = this.objective.combine(this.regularised(params), losses, distances);
      data = tf.keep(terms.data);
      return terms.total;
    };
    const { value, grads } = tf.valueAndGrads(f)(this.params);
    return { grads, total: value as tf.Scalar, data: data! };
  }

  /**
   * A meta-gradient that is a sum of per-task directions, not the gradient of J:
   * g = w Σ_i d_i + 2λ_l2 θ (w = 1/n for the mean, 1 for the sum), with d_i from
   * `direction` (first-order MAML: ∇_φ L(φ_i; D'_i); Reptile: θ − φ_i). The values reported
   * (J, the data term, accuracy) are `combine`'s of the tasks' terms. The L2 gradient is
   * taken on every meta-parameter (the learners using this regularise all of θ).
   */
  protected directionGradients(
    tasks: Episode[],
    direction: (theta: tf.Tensor[], task: Episode) => TaskDirection,
  ): MetaGradient {
    const theta = this.params as tf.Tensor[];
    const weight = this.objective.config.reduction === "mean" ? 1 / tasks.length : 1;
    let sum: tf.Tensor[] = theta.map((p) => tf.zerosLike(p));
    const losses: tf.Scalar[] = [];
    const distances: tf.Scalar[] = [];
    const accuracies: tf.Scalar[] = [];
    for (const task of tasks) {
      // One scope per task: what its inner loop made (φ after every step, the gradients) is
      // freed before the next task, so memory is one task's, not the meta-batch's (without it
      // a 32-task first-order meta-step held 41 MiB more per inner step).
      const previous = sum;
      const step = tf.tidy(() => {
        const { direction: d, terms: t } = direction(theta, task);
        return {
          sum: previous.map((s, i) => tf.add(s, tf.mul(weight, d[i]))),
          loss: t.loss,
          proximal: t.proximal ? [t.proximal] : [],
          accuracy: t.accuracy ? [t.accuracy] : [],
        };
      });
      tf.dispose(previous);
      sum = step.sum;
      losses.push(step.loss);
      distances.push(...step.proximal);
      accuracies.push(...step.accuracy);
    }
    const terms = this.objective.combine(this.regularised(theta), losses, distances, accuracies);
    // A direction may keep its accuracy out of a gradient scope; `combine` has their mean.
    tf.dispose(accuracies);
    const l2 = this.objective.config.l2;
    const grads = l2 > 0 ? sum.map((s, i) => tf.add(s, tf.mul(2 * l2, theta[i]))) : sum;
    return { grads, total: terms.total, data: terms.data, accuracy: terms.accuracy };
  }

  /**
   * ∇_θ J(θ) by differentiating J over the whole meta-batch at once. Simple, but the tape
   * holds every task's second-order graph together: 32 Conv-4 tasks of 80 images
   * (Finn et al.'s Omniglot setting) exceed the wasm heap (4 GiB) and abort.
   */
  wholeBatchGradients(tasks: Episode[]): MetaGradient {
    let data: tf.Scalar | undefined;
    let accuracy: tf.Scalar | undefined;
    const f = (...params: tf.Tensor[]) => {
      const terms = this.metaLossTerms(params, tasks);
      data = tf.keep(terms.data);
      if (terms.accuracy) accuracy = tf.keep(terms.accuracy);
      return terms.total;
    };
    const { value, grads } = tf.valueAndGrads(f)(this.params);
    return { grads, total: value as tf.Scalar, data: data!, accuracy };
  }

  /**
   * ∇_θ J(θ) one task at a time. J is linear in the per-task terms,
   * J = w Σ_i L_i + (p/n) Σ_i ‖φ_i − θ‖² + λ‖θ‖² (w = 1/n for the mean, 1 for the sum),
   * so its gradient is the sum of each task's weighted gradient plus that of the θ-only
   * term: exact, with memory for one task's graph. The values reported (J, the data term,
   * accuracy) are `combine`'s over the whole meta-batch.
   */
  taskByTaskGradients(tasks: Episode[]): MetaGradient {
    const c = this.objective.config;
    const n = tasks.length;
    const lossWeight = c.reduction === "mean" ? 1 / n : 1;
    const proximalWeight = c.proximal / n;
    let sum: tf.Tensor[] | null = null;
    const losses: tf.Scalar[] = [];
    const distances: tf.Scalar[] = [];
    const accuracies: tf.Scalar[] = [];
    tasks.forEach((task, index) => {
      const grads = tf.grads((...params: tf.Tensor[]) => {
        const t = this.taskTerms(params, task);
        losses.push(tf.keep(t.loss.clone()));
        if (t.proximal) distances.push(tf.keep(t.proximal.clone()));
        if (t.accuracy) accuracies.push(tf.keep(t.accuracy.clone()));
        let weighted = tf.mul(lossWeight, t.loss);
        if (t.proximal && c.proximal > 0) {
          weighted = tf.add(weighted, tf.mul(proximalWeight, t.proximal));
        }
        // The θ-only term rides with the first task: differentiated on its own it would fail
        // for parameters it does not touch (Meta-SGD's rates are not in ‖θ‖²).
        if (index === 0 && c.l2 > 0) {
          weighted = tf.add(weighted, this.objective.l2Term(this.regularised(params)));
        }
        return weighted as tf.Scalar;
      })(this.params);
      if (sum === null) sum = grads;
      else {
        const previous: tf.Tensor[] = sum;
        sum = previous.map((s, i) => tf.add(s, grads[i]));
        tf.dispose([...previous, ...grads]);
      }
    });
    const terms = this.objective.combine(
      this.regularised(this.params),
      losses,
      distances,
      accuracies,
    );
    // Kept above to leave the per-task gradient scopes; `combine` has copied them.
    tf.dispose([losses, distances, accuracies]);
    return { grads: sum!, total: terms.total, data: terms.data, accuracy: terms.accuracy };
  }

  /**
   * One outer step on a meta-batch: meta-gradient, non-finite check (throws
   * {@linkcode NonFiniteLossError} naming the step, before any update), clipping by global
   * norm, optimiser update.
   */
  metaStep(tasks: Episode[]): StepStats {
    const step = this.stepsTaken;
    const out = tf.tidy(() => {
      const g = this.metaGradients(tasks);
      return { ...g, norm: globalNorm(g.grads) };
    });
    const loss = out.total.dataSync()[0];
    const dataLoss = out.data.dataSync()[0];
    const gradNorm = out.norm.dataSync()[0];
    const accuracy = out.accuracy ? out.accuracy.dataSync()[0] : undefined;
    const release = () =>
      tf.dispose([out.grads, out.total, out.data, out.norm, out.accuracy ?? []]);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      release();
      throw Number.isFinite(loss)
        ? new NonFiniteLossError(step, gradNorm, "meta-gradient norm")
        : new NonFiniteLossError(step, loss);
    }
    const clip = this.objective.config.clipNorm;
    const scale = clip !== undefined && gradNorm > clip ? clip / gradNorm : 1;
    tf.tidy(() => {
      this.optimizer.applyGradients(
        this.params.map((v, i) => ({
          name: v.name,
          tensor: scale === 1 ? out.grads[i] : tf.mul(out.grads[i], scale),
        })),
      );
    });
    release();
    this.stepsTaken++;
    return { step, loss, dataLoss, accuracy, gradNorm };
  }

  /** Current meta-parameters as a name → tensor map (copies; caller disposes). */
  snapshot(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    this.params.forEach((v, i) => out[this.paramNames[i]] = v.clone());
    return out;
  }

  /** Overwrites the meta-parameters with `values` (same names and shapes). */
  assign(values: Record<string, tf.Tensor>): void {
    this.params.forEach((v, i) => {
      const t = values[this.paramNames[i]];
      if (!t) throw new Error(`${this.name}.assign: missing parameter "${this.paramNames[i]}"`);
      if (t.shape.join(",") !== v.shape.join(",")) {
        throw new Error(
          `${this.name}.assign: "${
            this.paramNames[i]
          }" has shape [${t.shape}], expected [${v.shape}]`,
        );
      }
      v.assign(t);
    });
  }

  /** Frees the meta-parameters and optimiser state. */
  dispose(): void {
    this.optimizer.dispose();
    tf.dispose(this.params);
  }
}
