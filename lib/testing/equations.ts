/**
 * A notebook's "equation equals library" checks: each from-scratch computation is compared
 * with `lib/meta`'s entry by entry (an assertion that throws beyond the tolerance), and the
 * largest difference is kept for the table the notebook shows at the end.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { assertAllClose, type CloseOptions } from "./assert.ts";

/** One row of the table: what was compared and the largest absolute difference found. */
export interface EquationCheck {
  /** The algorithm, e.g. "MAML (second order)". */
  algorithm: string;
  /** The quantity, e.g. "meta-gradient". */
  quantity: string;
  /** The largest |from scratch − lib| over every entry of every tensor. */
  largestDifference: number;
}

/**
 * Collects equation checks.
 *
 * @example
 * ```ts
 * const checks = new EquationChecks({ rtol: 1e-5, atol: 1e-5 });
 * checks.agree("ProtoNet", "log-probabilities", [ours], [lib]); // throws if they differ
 * checks.rows(); // [["ProtoNet", "log-probabilities", 2.4e-7]]
 * ```
 */
export class EquationChecks {
  /** The checks so far, in order. */
  readonly checks: EquationCheck[] = [];

  /** @param tolerance passed to {@linkcode assertAllClose} (default rtol = atol = 1e-5). */
  constructor(readonly tolerance: Omit<CloseOptions, "label"> = { rtol: 1e-5, atol: 1e-5 }) {}

  /**
   * Throws unless `ours[j]` equals `lib[j]` entry by entry within the tolerance, for every j
   * (the message names the algorithm, the quantity and the tensor); records the largest
   * difference. Both lists must have the same length.
   */
  agree(algorithm: string, quantity: string, ours: tf.Tensor[], lib: tf.Tensor[]): number {
    if (ours.length !== lib.length) {
      throw new RangeError(
        `${algorithm}: ${quantity}: ${ours.length} tensors from scratch but ${lib.length} from lib`,
      );
    }
    ours.forEach((t, j) =>
      assertAllClose(t, lib[j], { ...this.tolerance, label: `${algorithm}: ${quantity} [${j}]` })
    );
    const largestDifference = Math.max(
      0,
      ...ours.map((t, j) => tf.tidy(() => tf.max(tf.abs(tf.sub(t, lib[j]))).dataSync()[0])),
    );
    this.checks.push({ algorithm, quantity, largestDifference });
    return largestDifference;
  }

  /** The checks as table rows: [algorithm, quantity, largest difference]. */
  rows(): [string, string, number][] {
    return this.checks.map((c) => [c.algorithm, c.quantity, c.largestDifference]);
  }
}
