/**
 * Meta-train / meta-validation / meta-test class splits: lists of class indices of one
 * dataset that must not share a class, nor a source class (a character and its rotations).
 * @module
 */
import type { LabelledDataset } from "./types.ts";

/** Class indices (into `dataset`) for each meta-split. */
export interface ClassSplits {
  /** The dataset the indices refer to. */
  dataset: LabelledDataset;
  /** Meta-training classes. */
  train: Int32Array;
  /** Meta-validation classes (may be empty). */
  val: Int32Array;
  /** Meta-test classes. */
  test: Int32Array;
}

/** The names of the three splits. */
export type SplitName = "train" | "val" | "test";

/**
 * Throws when a split holds an index outside the dataset or a duplicate, or when two
 * splits share a class or a source class (e.g. a character in train and its 90° rotation
 * in test). The error names the split(s) and the offending class.
 */
export function checkDisjointSplits(splits: ClassSplits): void {
  const { dataset } = splits;
  const owner = new Map<number, SplitName>();
  const sourceOwner = new Map<string, SplitName>();
  for (const name of ["train", "val", "test"] as const) {
    for (const c of splits[name]) {
      if (!Number.isInteger(c) || c < 0 || c >= dataset.numClasses) {
        throw new RangeError(
          `${name} split: class index ${c} is outside ${dataset.name}'s ${dataset.numClasses} classes`,
        );
      }
      const prev = owner.get(c);
      if (prev === name) {
        throw new RangeError(`${name} split lists class ${dataset.classes[c].id} twice`);
      }
      if (prev !== undefined) {
        throw new RangeError(
          `overlapping splits: class ${dataset.classes[c].id} is in both ${prev} and ${name}`,
        );
      }
      owner.set(c, name);
    }
    const seenHere = new Set<string>();
    for (const c of splits[name]) {
      const source = dataset.classes[c].source;
      if (seenHere.has(source)) continue;
      seenHere.add(source);
      const prev = sourceOwner.get(source);
      if (prev !== undefined) {
        throw new RangeError(
          `overlapping splits: source class ${source} has classes in both ${prev} and ${name}`,
        );
      }
      sourceOwner.set(source, name);
    }
  }
}

/**
 * Builds checked splits from class index lists (validation optional).
 *
 * @example
 * ```ts
 * const splits = makeClassSplits(mnist, { train: [0, 1, 2, 3, 4], test: [5, 6, 7, 8, 9] });
 * ```
 */
export function makeClassSplits(
  dataset: LabelledDataset,
  lists: { train: ArrayLike<number>; val?: ArrayLike<number>; test: ArrayLike<number> },
): ClassSplits {
  const splits: ClassSplits = {
    dataset,
    train: Int32Array.from(lists.train),
    val: Int32Array.from(lists.val ?? []),
    test: Int32Array.from(lists.test),
  };
  for (const name of ["train", "val", "test"] as const) {
    const given = lists[name];
    if (given && Array.from(given).some((c) => !Number.isInteger(c))) {
      throw new RangeError(`${name} split: class indices must be integers`);
    }
  }
  checkDisjointSplits(splits);
  return splits;
}
