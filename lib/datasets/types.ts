/**
 * The common shape of a labelled dataset in MetaLab: every example lives in one flat typed
 * array in memory, so an episode is built by copying rows into a single `Float32Array` and
 * making one tensor — never one tensor per image.
 * @module
 */

/** What is known about one class of a dataset (e.g. an Omniglot character). */
export interface ClassInfo {
  /** A stable, human-readable id, unique in the dataset (e.g. "Latin/character01@rot90"). */
  id: string;
  /**
   * The id of the underlying source class. Two classes with the same source (an Omniglot
   * character and its 90° rotation) must never be on opposite sides of a class split.
   */
  source: string;
  /** A coarser group the class belongs to, if any (the alphabet of an Omniglot character). */
  group?: string;
  /** Anything else worth keeping (rotation, drawer count, original folder...). */
  extra?: Record<string, string | number>;
}

/**
 * A labelled dataset: `numExamples` items of shape `itemShape`, each with an integer label
 * in `[0, numClasses)`, and per-class index lists for fast episode sampling.
 */
export interface LabelledDataset {
  /** Short name, e.g. "omniglot" or "mnist". */
  readonly name: string;
  /** Shape of one example, e.g. `[28, 28, 1]` (height, width, channels). */
  readonly itemShape: readonly number[];
  /** Number of values in one example (the product of `itemShape`). */
  readonly itemSize: number;
  /** Number of examples. */
  readonly numExamples: number;
  /** Number of classes. */
  readonly numClasses: number;
  /** Label (class index) of each example. */
  readonly labels: Int32Array;
  /** For each class, the indices of its examples, in a fixed order. */
  readonly classExamples: readonly Int32Array[];
  /** Metadata for each class, indexed by class. */
  readonly classes: readonly ClassInfo[];
  /**
   * Writes example `index` as float32 values into `out` starting at `offset`
   * (`itemSize` values). This is the only way samplers read data, which lets views
   * (rotations, subsets) exist without copying the dataset.
   */
  writeExample(index: number, out: Float32Array, offset: number): void;
}
