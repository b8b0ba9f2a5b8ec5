/**
 * Input checks for samplers, run before any work so a bad configuration fails at once with
 * a message that names the offending value.
 * @module
 */
import type { LabelledDataset } from "../datasets/mod.ts";

/** The shape of an episode: N ways, K shots and Q queries per class. */
export interface EpisodeSpec {
  /** Classes per episode N (≥ 1). */
  ways: number;
  /** Support examples per class K (≥ 0). */
  shots: number;
  /** Query examples per class Q (≥ 0). */
  queries: number;
}

/** Throws unless `value` is an integer ≥ `min`; the message names `name` and the value. */
export function checkCount(name: string, value: number, min = 0): void {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new RangeError(`${name} must be an integer, got ${value}`);
  }
  if (value < min) {
    throw new RangeError(
      min === 0
        ? `${name} must be non-negative, got ${value}`
        : `${name} must be ≥ ${min}, got ${value}`,
    );
  }
}

/**
 * Checks an episode spec against a dataset and the classes of a split: counts are
 * integers (ways ≥ 1, shots and queries ≥ 0, shots + queries ≥ 1), the split's classes
 * are valid and distinct, N does not exceed the classes in the split, and K + Q does not
 * exceed the examples of any class in it.
 */
export function checkEpisodeSpec(
  spec: EpisodeSpec,
  dataset: LabelledDataset,
  classes: ArrayLike<number>,
  splitName = "split",
): void {
  checkCount("ways", spec.ways, 1);
  checkCount("shots", spec.shots);
  checkCount("queries", spec.queries);
  if (spec.shots + spec.queries < 1) {
    throw new RangeError(`shots + queries must be ≥ 1, got ${spec.shots} + ${spec.queries}`);
  }
  const seen = new Set<number>();
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    if (!Number.isInteger(c) || c < 0 || c >= dataset.numClasses) {
      throw new RangeError(
        `${splitName}: class index ${c} is outside ${dataset.name}'s ${dataset.numClasses} classes`,
      );
    }
    if (seen.has(c)) {
      throw new RangeError(`${splitName}: class ${dataset.classes[c].id} is listed twice`);
    }
    seen.add(c);
  }
  if (spec.ways > classes.length) {
    throw new RangeError(
      `ways=${spec.ways} is more than the ${classes.length} classes in the ${splitName}`,
    );
  }
  const need = spec.shots + spec.queries;
  for (let i = 0; i < classes.length; i++) {
    const have = dataset.classExamples[classes[i]].length;
    if (need > have) {
      throw new RangeError(
        `shots + queries = ${spec.shots} + ${spec.queries} = ${need} is more than the ${have} ` +
          `examples of class ${dataset.classes[classes[i]].id} in the ${splitName}`,
      );
    }
  }
}
