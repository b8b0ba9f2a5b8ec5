/**
 * Classes described by attributes: MNIST's ten digits, each written down as a vector of
 * hand-assigned stroke attributes (how a person would describe the shape of a digit to
 * someone who has never seen it), and the split that makes zero-shot recognition of digits
 * 4, 6 and 9 possible from the other seven.
 *
 * | attribute       | meaning (of a typical hand-written digit)              | digits having it     |
 * | --------------- | ------------------------------------------------------ | -------------------- |
 * | `loopTop`       | a closed loop in the upper half                        | 0, 8, 9 (4: often)   |
 * | `loopBottom`    | a closed loop in the lower half                        | 0, 6, 8              |
 * | `vertical`      | a long straight (near-)vertical stroke                 | 1, 4, 9 (7: slanted) |
 * | `horizontal`    | a straight horizontal bar                              | 2, 4, 5, 7           |
 * | `diagonal`      | a long straight slanted stroke                         | 2, 7 (1, 4: a little)|
 * | `curveTop`      | a rounded stroke in the upper half                     | 0, 2, 3, 6, 8, 9     |
 * | `curveBottom`   | a rounded stroke in the lower half                     | 0, 3, 5, 6, 8        |
 * | `opensLeft`     | a bowl open to the left (its ends point left)          | 3, 5 (2: the top)    |
 * | `crossing`      | two strokes crossing each other                        | 4, 8                 |
 *
 * Values are in [0, 1]; 0.5 marks "often, not always" (a 4 is written open or closed).
 *
 * Why the split {0, 1, 2, 3, 5, 7, 8} seen → {4, 6, 9} unseen is learnable: every attribute
 * an unseen digit has is present, and absent, in several seen digits, so a map from
 * attributes to image features can be estimated on the seen digits; and the unseen digits
 * differ from each other in attributes (6 and 9 by where the loop is, 4 and 9 by the bar and
 * the round top), so their predicted prototypes are apart; no two digits share a row. A 9 is "a loop on top (as in 0,
 * 8) with a vertical stroke (as in 1)"; a 6 is "a loop at the bottom (0, 8) under a curve
 * (2, 3)"; a 4 is "a vertical stroke (1) crossed (as in 8) by a bar (2, 5, 7)".
 * @module
 */
import type { Rng } from "../random/mod.ts";

/** The attribute names of {@linkcode MNIST_DIGIT_ATTRIBUTES}, in column order. */
export const MNIST_ATTRIBUTE_NAMES = [
  "loopTop",
  "loopBottom",
  "vertical",
  "horizontal",
  "diagonal",
  "curveTop",
  "curveBottom",
  "opensLeft",
  "crossing",
] as const;

/** Row d: the attributes of digit d (columns as {@linkcode MNIST_ATTRIBUTE_NAMES}). */
export const MNIST_DIGIT_ATTRIBUTES: readonly (readonly number[])[] = Object.freeze([
  //  loopT loopB vert  horiz diag  curveT curveB opensL cross
  [1, 1, 0, 0, 0, 1, 1, 0, 0], // 0
  [0, 0, 1, 0, 0.5, 0, 0, 0, 0], // 1
  [0, 0, 0, 1, 1, 1, 0, 0.5, 0], // 2
  [0, 0, 0, 0, 0, 1, 1, 1, 0], // 3
  [0.5, 0, 1, 1, 0.5, 0, 0, 0, 1], // 4
  [0, 0, 0.5, 1, 0, 0, 1, 1, 0], // 5
  [0, 1, 0, 0, 0, 1, 1, 0, 0], // 6
  [0, 0, 0.5, 1, 1, 0, 0, 0, 0], // 7
  [1, 1, 0, 0, 0, 1, 1, 0, 1], // 8 (two loops meeting where the strokes cross)
  [1, 0, 1, 0, 0, 1, 0, 0, 0], // 9
].map((row) => Object.freeze(row)));

/** Digits whose images the zero-shot learners are trained on. */
export const MNIST_SEEN_DIGITS: readonly number[] = Object.freeze([0, 1, 2, 3, 5, 7, 8]);
/** Digits known only by their attributes until test time. */
export const MNIST_UNSEEN_DIGITS: readonly number[] = Object.freeze([4, 6, 9]);

/** The attribute rows of `digits` (copies), e.g. `digitAttributes([4, 6, 9])` → 3 rows. */
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
 * const noisy = noisyDescriptors(digitAttributes([4, 6, 9]), 0.25, new Rng(0));
 * ```
 */
export function noisyDescriptors(rows: readonly (readonly number[])[], sigma: number, rng: Rng) {
  if (!(sigma >= 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`noisyDescriptors: sigma must be a finite number ≥ 0, got ${sigma}`);
  }
  return rows.map((row) => row.map((v) => (sigma === 0 ? v : v + rng.normal(0, sigma))));
}
