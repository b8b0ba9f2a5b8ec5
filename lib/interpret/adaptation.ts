/**
 * What adaptation changes, measured on a meta-learned model:
 *
 * - **Feature reuse** (Raghu, Raghu, Bengio & Vinyals 2020, ICLR): linear CKA between each
 *   layer's representation of a task's query set under the meta-learned θ and under the
 *   adapted φ_i. If MAML's inner loop mostly re-reads features that θ already holds, the body's
 *   layers barely change (CKA near 1) and the head does; ANIL, which adapts the head alone,
 *   has a body CKA of exactly 1 by construction.
 * - **Trajectories**: a learner's predictions after 0, 1, 2, … adaptation steps, and the
 *   MetaClassifier's task context c^(s) step by step (from c = 0).
 * - **What a context encodes**: the correlation of each context dimension with a task's
 *   generating factors (a sine's amplitude A and phase b), over many tasks.
 * - **Calibration before and after adaptation**: the reliability diagram of a learner's
 *   query predictions pooled over episodes.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ConfidenceInterval, confidenceInterval } from "../eval/mod.ts";
import type { Episode, LabelledSet, Maml, MetaClassifier, MetaLearner } from "../meta/mod.ts";
import { type Calibration, calibration, confidencesOf } from "./calibration.ts";
import { linearCka } from "./cka.ts";
import { layerRepresentations } from "./layers.ts";

/** Options of {@linkcode featureReuse}. */
export interface FeatureReuseOptions {
  /** Inner-loop steps (default: the learner's training value). */
  steps?: number;
  /** Inner-loop step size (default: the learner's training value). */
  lr?: number;
}

/** CKA of one layer before vs after adaptation, over episodes. */
export interface LayerSimilarity {
  /** The layer (see `layerRepresentations`). */
  layer: string;
  /** Mean CKA over the episodes with its 95% CI. */
  cka: ConfidenceInterval;
  /** The CKA of each episode. */
  perEpisode: number[];
}

/**
 * For each episode: adapt θ on its support set (the learner's own inner loop), run θ and φ
 * on its query inputs layer by layer, and compare each layer's two representations by
 * linear CKA. Works for MAML and every learner built on it (ANIL, FOMAML).
 *
 * @example
 * ```ts
 * const reuse = featureReuse(maml, episodes);
 * reuse.map((l) => `${l.layer}: ${l.cka.mean.toFixed(3)}`); // block1 … block4 near 1, head lower
 * ```
 */
export function featureReuse(
  learner: Maml,
  episodes: Episode[],
  options: FeatureReuseOptions = {},
): LayerSimilarity[] {
  if (episodes.length === 0) throw new RangeError("featureReuse: no episodes");
  const perLayer = new Map<string, number[]>();
  for (const episode of episodes) {
    const phi = tf.tidy(() =>
      learner.adaptParams(learner.params, episode.support, options.steps, options.lr, true)
        .map((t) => t.clone())
    );
    const before = layerRepresentations(learner.model, learner.params, episode.query.x);
    const after = layerRepresentations(learner.model, phi, episode.query.x);
    before.forEach((b, i) => {
      const list = perLayer.get(b.name) ?? [];
      list.push(linearCka(b.value, after[i].value));
      perLayer.set(b.name, list);
    });
    tf.dispose([...phi, ...before.map((l) => l.value), ...after.map((l) => l.value)]);
  }
  return [...perLayer].map(([layer, values]) => ({
    layer,
    cka: confidenceInterval(values),
    perEpisode: values,
  }));
}

/**
 * A learner's outputs on `x` after each number of adaptation steps in `steps` (each from θ
 * afresh, through the learner's own `adapt`): `[steps.length][n · outputs]`, row-major.
 * For a sine fit step by step: `adaptationTrajectory(maml, task.support, grid, [0, 1, 2, 5, 10])`.
 */
export function adaptationTrajectory(
  learner: MetaLearner,
  support: LabelledSet,
  x: tf.Tensor,
  steps: number[],
): number[][] {
  return steps.map((s) => {
    if (!Number.isInteger(s) || s < 0) {
      throw new RangeError(`adaptationTrajectory: steps must be non-negative integers, got ${s}`);
    }
    const adapted = learner.adapt(support, { steps: s });
    const y = adapted.predict(x);
    const values = Array.from(y.dataSync());
    y.dispose();
    adapted.dispose();
    return values;
  });
}

/**
 * The MetaClassifier's context c^(s) for s = 0 … `steps` as it is inferred from `support`
 * (c^(0) = 0; each row is what `inferContext` returns after s steps): `[steps + 1][contextSize]`.
 */
export function contextTrajectory(
  learner: MetaClassifier,
  support: LabelledSet,
  steps: number,
  lr?: number,
): number[][] {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`contextTrajectory: steps must be a non-negative integer, got ${steps}`);
  }
  return Array.from({ length: steps + 1 }, (_, s) => {
    const c = tf.tidy(() => learner.inferContext(learner.params, support, s, lr));
    const row = Array.from(c.dataSync());
    c.dispose();
    return row;
  });
}

/** Pearson's correlation of two equally long samples (NaN when either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length || n < 2) {
    throw new RangeError(
      `pearson: needs two samples of the same length ≥ 2, got ${n} and ${b.length}`,
    );
  }
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/**
 * Correlation of every dimension of `vectors` `[tasks][d]` (e.g. inferred contexts) with each
 * named factor (one value per task): `{ factor: [d correlations] }`.
 *
 * @example
 * ```ts
 * const contexts = tasks.map((t) => contextTrajectory(mc, t.support, 1)[1]);
 * factorCorrelations(contexts, { amplitude: amplitudes, phase: phases });
 * ```
 */
export function factorCorrelations(
  vectors: number[][],
  factors: Record<string, ArrayLike<number>>,
): Record<string, number[]> {
  const d = vectors[0]?.length ?? 0;
  const out: Record<string, number[]> = {};
  for (const [name, values] of Object.entries(factors)) {
    if (values.length !== vectors.length) {
      throw new RangeError(
        `factorCorrelations: factor "${name}" has ${values.length} values for ${vectors.length} vectors`,
      );
    }
    out[name] = Array.from({ length: d }, (_, j) => pearson(vectors.map((v) => v[j]), values));
  }
  return out;
}

/**
 * Calibration of a classifier's query predictions after `steps` adaptation steps (`0`:
 * before adaptation, for MAML θ itself), pooled over `episodes`.
 */
export function episodeCalibration(
  learner: MetaLearner,
  episodes: Episode[],
  { steps, bins = 10 }: { steps?: number; bins?: number } = {},
): Calibration {
  if (learner.kind !== "classification") {
    throw new Error(
      `episodeCalibration: ${learner.name} is a ${learner.kind} learner, not a classifier`,
    );
  }
  const confidences: number[] = [];
  const correct: boolean[] = [];
  for (const episode of episodes) {
    const adapted = learner.adapt(episode.support, steps === undefined ? {} : { steps });
    const logits = adapted.predict(episode.query.x);
    const c = confidencesOf(logits, episode.query.y);
    logits.dispose();
    adapted.dispose();
    confidences.push(...c.confidences);
    correct.push(...c.correct);
  }
  return calibration(confidences, correct, bins);
}
