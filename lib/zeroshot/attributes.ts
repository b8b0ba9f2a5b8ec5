/**
 * Classes described by attributes: MNIST's ten digits, each written down as a vector of
 * hand-assigned stroke attributes (how a person would describe the shape of a digit to
 * someone who has never seen it), and the split that makes zero-shot recognition of digits
 * 0, 1 and 7 possible from the other seven.
 *
 * | attribute    | meaning (of a typical hand-written digit)         | digits having it         |
 * | ------------ | ------------------------------------------------- | ------------------------ |
 * | `loopTop`    | a closed loop in the upper half                   | 0, 8, 9 (4: often)       |
 * | `loopBottom` | a closed loop in the lower half                   | 0, 6, 8                  |
 * | `vertical`   | a long straight (near-)vertical stroke            | 1, 4, 9 (5, 7: slanted)  |
 * | `horizontal` | a straight horizontal bar                         | 2, 4, 5, 7               |
 * | `opensLeft`  | a bowl open to the left (its ends point left)     | 3, 5 (2: its top)        |
 * | `crossing`   | two strokes crossing each other                   | 4, 8                     |
 *
 * Values are in [0, 1]; 0.5 marks "often, or partly" (a 4 is written open or closed).
 *
 * Why the split {2, 3, 4, 5, 6, 8, 9} seen → {0, 1, 7} unseen is learnable. A linear map
 * from attributes to image features (ESZSL's, or the prototype map of a zero-shot ProtoNet)
 * is only pinned down, for an unseen row, if that row is an affine combination of the seen
 * rows; otherwise part of its prediction is whatever the fit left in directions no seen class
 * constrains. So every attribute must *vary independently* across the seen classes: a loop at
 * the top without one at the bottom (9), the reverse (6), both with a crossing (8), a
 * vertical stroke with a bar (4) and without (9). Then 0 is "two loops without a crossing",
 * 1 "a vertical stroke and nothing else", 7 "a bar over a slanted stroke": each exactly an
 * affine combination of the seen rows ({@linkcode describability} measures it: residual 0),
 * with seven seen classes for 6 attributes + a bias. The three unseen rows also differ from
 * each other, and no two digits share a row. (A richer table, with curves and diagonals,
 * fails this test: with more attributes than seen classes − 1, some direction of every
 * unseen row is unconstrained; the 4/6/9 split fails it too, since its seen digits 0 and 8
 * always have both loops, so "loop at the top" and "loop at the bottom" cannot be told apart.)
 * @module
 */
import type { Rng } from "../random/mod.ts";
import { solveSpd } from "./eszsl.ts";

/** The attribute names of {@linkcode MNIST_DIGIT_ATTRIBUTES}, in column order. */
export const MNIST_ATTRIBUTE_NAMES = [
  "loopTop",
  "loopBottom",
  "vertical",
  "horizontal",
  "opensLeft",
  "crossing",
] as const;

/** Row d: the attributes of digit d (columns as {@linkcode MNIST_ATTRIBUTE_NAMES}). */
export const MNIST_DIGIT_ATTRIBUTES: readonly (readonly number[])[] = Object.freeze([
  // loopT loopB vert horiz opensL cross
  [1, 1, 0, 0, 0, 0], // 0
  [0, 0, 1, 0, 0, 0], // 1
  [0, 0, 0, 1, 0.5, 0], // 2
  [0, 0, 0, 0, 1, 0], // 3
  [0.5, 0, 1, 1, 0, 1], // 4
  [0, 0, 0.5, 1, 1, 0], // 5
  [0, 1, 0, 0, 0, 0], // 6
  [0, 0, 0.5, 1, 0, 0], // 7
  [1, 1, 0, 0, 0, 1], // 8
  [1, 0, 1, 0, 0, 0], // 9
].map((row) => Object.freeze(row)));

/** Digits whose images the zero-shot learners are trained on. */
export const MNIST_SEEN_DIGITS: readonly number[] = Object.freeze([2, 3, 4, 5, 6, 8, 9]);
/** Digits known only by their attributes until test time. */
export const MNIST_UNSEEN_DIGITS: readonly number[] = Object.freeze([0, 1, 7]);

/** The attribute rows of `digits` (copies), e.g. `digitAttributes([0, 1, 7])` → 3 rows. */
export function digitAttributes(digits: readonly number[]): number[][] {
  return digits.map((d) => {
    const row = MNIST_DIGIT_ATTRIBUTES[d];
    if (!row) throw new RangeError(`digitAttributes: expected a digit 0–9, got ${d}`);
    return [...row];
  });
}

/**
 * `rows` with independent Gaussian noise of standard deviation `sigma` added to every entry:
 * a description that is only approximately right (σ = 0 returns copies).
 *
 * @example
 * ```ts
 * const noisy = noisyDescriptors(digitAttributes([0, 1, 7]), 0.25, new Rng(0));
 * ```
 */
export function noisyDescriptors(
  rows: readonly (readonly number[])[],
  sigma: number,
  rng: Rng,
): number[][] {
  if (!(sigma >= 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`noisyDescriptors: sigma must be a finite number ≥ 0, got ${sigma}`);
  }
  return rows.map((row) => row.map((v) => (sigma === 0 ? v : v + rng.normal(0, sigma))));
}

/** How well one row is described by the seen rows (see {@linkcode describability}). */
export interface Describability {
  /** Affine coefficients α (Σ α = 1) with Σ α_c s_c closest to the row. */
  coefficients: number[];
  /** ‖Σ α_c s_c − row‖: 0 when the row is an affine combination of the seen rows. */
  residual: number;
}

/**
 * For each of `rows`, the affine combination of the `seen` rows closest to it (least
 * squares with Σ α = 1) and its residual. A linear attribute model (ESZSL, a zero-shot
 * ProtoNet's prototype map) predicts for a row only through such a combination; a residual
 * above 0 is a part of the description that no seen class ever constrained.
 *
 * @example
 * ```ts
 * describability(digitAttributes(MNIST_SEEN_DIGITS), digitAttributes(MNIST_UNSEEN_DIGITS))
 *   .map((d) => d.residual); // [0, 0, 0] up to rounding
 * ```
 */
export function describability(
  seen: readonly (readonly number[])[],
  rows: readonly (readonly number[])[],
): Describability[] {
  // Rows augmented with a 1 so that the combination is affine: M = [S | 1], minimise
  // ‖Mᵀα − [r, 1]‖ by the normal equations (M Mᵀ + εI) α = M [r, 1] (ε: a rank-deficient S).
  const m = seen.map((r) => [...r, 1]);
  const gram = m.map((a, i) =>
    m.map((b, j) => a.reduce((s, v, k) => s + v * b[k], 0) + (i === j ? 1e-10 : 0))
  );
  return rows.map((row) => {
    const target = [...row, 1];
    if (target.length !== m[0].length) {
      throw new RangeError(
        `describability: rows have ${row.length} attributes, the seen rows ${m[0].length - 1}`,
      );
    }
    const rhs = m.map((a) => [a.reduce((s, v, k) => s + v * target[k], 0)]);
    const alpha = solveSpd(gram, rhs).map((r) => r[0]);
    const fit = target.map((_, k) => m.reduce((s, a, c) => s + alpha[c] * a[k], 0));
    const residual = Math.sqrt(fit.reduce((s, v, k) => s + (v - target[k]) ** 2, 0));
    return { coefficients: alpha, residual };
  });
}
