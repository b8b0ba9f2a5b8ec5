/**
 * Published numbers MetaLab reproduces, when a result agrees with one (overlapping 95%
 * intervals), and the comparison record {ours, ci95, published, within}.
 * @module
 */
import type { ConfidenceInterval } from "./episodic.ts";

/** A number from a paper. */
export interface PublishedNumber {
  /** The value (accuracy as a fraction, or MSE). */
  value: number;
  /** The paper's own 95% half-width, when it gives one. */
  ci95?: number;
  /** Where it comes from. */
  source: string;
}

/** Our result beside a published one. */
export interface Comparison {
  /** Our mean. */
  ours: number;
  /** Our 95% half-width (undefined: one episode, no interval). */
  ci95: number | undefined;
  /** The published value. */
  published: number;
  /** The published 95% half-width, if any. */
  publishedCi95?: number;
  /** True when the intervals overlap: |ours − published| ≤ ci95 + publishedCi95. */
  within: boolean;
  /** The citation. */
  source: string;
}

/**
 * Whether `value ± ci95` agrees with a published number: the two 95% intervals overlap,
 * |value − published| ≤ ci95 + published.ci95 (a missing half-width counts as 0). Null when
 * there is no published number to compare with. The one definition of agreement:
 * {@linkcode compareWithPublished} and the reproduction report both use it.
 *
 * @example
 * ```ts
 * agreement(0.985, 0.004, PUBLISHED["omniglot/5w1s/maml"]); // true: 0.985 ± 0.004 vs 0.987 ± 0.004
 * agreement(0.5, undefined, undefined); // null: nothing to compare with
 * ```
 */
export function agreement(
  value: number,
  ci95: number | undefined,
  published: PublishedNumber | undefined,
): boolean | null {
  if (!published) return null;
  return Math.abs(value - published.value) <= (ci95 ?? 0) + (published.ci95 ?? 0);
}

/** Compares a result with a published number: the record of both, and their {@linkcode agreement}. */
export function compareWithPublished(
  result: Pick<ConfidenceInterval, "mean" | "ci95">,
  published: PublishedNumber,
): Comparison {
  return {
    ours: result.mean,
    ci95: result.ci95,
    published: published.value,
    publishedCi95: published.ci95,
    within: agreement(result.mean, result.ci95, published) === true,
    source: published.source,
  };
}

const FINN = "Finn, Abbeel & Levine 2017 (MAML)";
const SNELL = "Snell, Swersky & Zemel 2017 (Prototypical Networks)";
// Their non-transductive row (each query predicted with the support set alone); the paper's
// ± are not recorded here, so agreement rests on MetaLab's own interval.
const NICHOL = "Nichol, Achiam & Schulman 2018 (Reptile), Table 1, non-transductive";
// Vinyals et al.'s Matching Networks (cosine, no fine-tuning) as Snell et al.'s Table 1 lists them.
const VINYALS =
  "Vinyals et al. 2016 (Matching Networks), as tabulated in Snell et al. 2017, Table 1";

/** The published numbers of issue 4 (accuracies as fractions, sinusoid as MSE). */
export const PUBLISHED: Readonly<Record<string, PublishedNumber>> = Object.freeze({
  "sinusoid/k5/maml/1": { value: 0.67, source: `${FINN}, Fig. 2/Table` },
  "sinusoid/k5/maml/10": { value: 0.35, source: `${FINN}, Fig. 2/Table` },
  "sinusoid/k5/pretrained/1": { value: 2.41, source: `${FINN}, Fig. 2/Table` },
  "sinusoid/k5/pretrained/10": { value: 2.19, source: `${FINN}, Fig. 2/Table` },
  "omniglot/5w1s/protonet": { value: 0.988, source: `${SNELL}, Table 1` },
  "omniglot/5w5s/protonet": { value: 0.997, source: `${SNELL}, Table 1` },
  "omniglot/20w1s/protonet": { value: 0.960, source: `${SNELL}, Table 1` },
  "omniglot/20w5s/protonet": { value: 0.989, source: `${SNELL}, Table 1` },
  "omniglot/5w1s/maml": { value: 0.987, ci95: 0.004, source: `${FINN}, Table 1` },
  "omniglot/20w1s/maml": { value: 0.958, ci95: 0.003, source: `${FINN}, Table 1` },
  // Finn et al.'s "MAML, first order approx." rows.
  "omniglot/5w1s/fomaml": { value: 0.983, ci95: 0.005, source: `${FINN}, Table 1` },
  "omniglot/20w1s/fomaml": { value: 0.894, ci95: 0.005, source: `${FINN}, Table 1` },
  "omniglot/5w1s/metasgd": {
    value: 0.9953,
    ci95: 0.0026,
    source: "Li, Zhou, Chen & Li 2017 (Meta-SGD), Table 2",
  },
  "omniglot/5w1s/reptile": { value: 0.9539, source: NICHOL },
  "omniglot/5w5s/reptile": { value: 0.9890, source: NICHOL },
  "omniglot/20w1s/reptile": { value: 0.8814, source: NICHOL },
  "omniglot/20w5s/reptile": { value: 0.9665, source: NICHOL },
  "omniglot/5w1s/matchingnet": { value: 0.981, source: VINYALS },
  "omniglot/5w5s/matchingnet": { value: 0.989, source: VINYALS },
  "omniglot/20w1s/matchingnet": { value: 0.938, source: VINYALS },
  "omniglot/20w5s/matchingnet": { value: 0.985, source: VINYALS },
  "omniglot/5w1s/protonet-anchor": {
    value: 0.955,
    ci95: 0.004,
    source: "PyTorch ProtoNet on this machine, 5,000 episodes, background set only (issue 4)",
  },
});
