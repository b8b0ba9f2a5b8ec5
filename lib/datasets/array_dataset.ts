/**
 * A {@linkcode LabelledDataset} backed by one flat typed array.
 * @module
 */
import type { ClassInfo, LabelledDataset } from "./types.ts";

/** Options for {@linkcode ArrayDataset}. */
export interface ArrayDatasetOptions {
  /** Dataset name. */
  name: string;
  /** All examples, row-major, `numExamples * prod(itemShape)` values. */
  data: Float32Array | Uint8Array;
  /** Shape of one example, e.g. `[28, 28, 1]`. */
  itemShape: readonly number[];
  /** Label of each example, in `[0, classes.length)`. */
  labels: Int32Array | readonly number[];
  /** Metadata of each class; defaults to ids "0", "1", ... */
  classes?: readonly ClassInfo[];
  /** Number of classes when `classes` is not given (default: max label + 1). */
  numClasses?: number;
  /**
   * Multiplier applied when reading values (e.g. `1 / 255` for bytes). Default 1.
   */
  scale?: number;
}

/**
 * A labelled dataset kept as one typed array (`Float32Array`, or `Uint8Array` with a
 * `scale` to save memory). Validates its inputs on construction.
 *
 * @example
 * ```ts
 * const ds = new ArrayDataset({
 *   name: "toy", data: new Float32Array(6), itemShape: [2], labels: [0, 1, 1],
 * });
 * ds.classExamples[1]; // Int32Array [1, 2]
 * ```
 */
export class ArrayDataset implements LabelledDataset {
  readonly name: string;
  readonly itemShape: readonly number[];
  readonly itemSize: number;
  readonly numExamples: number;
  readonly numClasses: number;
  readonly labels: Int32Array;
  readonly classExamples: readonly Int32Array[];
  readonly classes: readonly ClassInfo[];
  /** The raw backing array (values before `scale`). */
  readonly data: Float32Array | Uint8Array;
  /** Multiplier applied when reading values. */
  readonly scale: number;

  constructor(options: ArrayDatasetOptions) {
    const { name, data, itemShape, scale = 1 } = options;
    if (itemShape.length === 0 || itemShape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new RangeError(
        `${name}: itemShape must be positive integers, got ${JSON.stringify(itemShape)}`,
      );
    }
    const itemSize = itemShape.reduce((a, b) => a * b, 1);
    const labels = Int32Array.from(options.labels);
    if (data.length !== labels.length * itemSize) {
      throw new RangeError(
        `${name}: data has ${data.length} values but ${labels.length} labels × ${itemSize} ` +
          `values per item = ${labels.length * itemSize}`,
      );
    }
    let maxLabel = -1;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (l < 0) throw new RangeError(`${name}: label ${l} of example ${i} is negative`);
      if (l > maxLabel) maxLabel = l;
    }
    const numClasses = options.classes?.length ?? options.numClasses ?? maxLabel + 1;
    if (maxLabel >= numClasses) {
      throw new RangeError(`${name}: label ${maxLabel} is out of range for ${numClasses} classes`);
    }
    const classes = options.classes ??
      Array.from({ length: numClasses }, (_, c) => ({ id: String(c), source: String(c) }));
    // Per-class index lists in one counting pass (no per-example allocation).
    const counts = new Int32Array(numClasses);
    for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
    const classExamples = Array.from({ length: numClasses }, (_, c) => new Int32Array(counts[c]));
    counts.fill(0);
    for (let i = 0; i < labels.length; i++) classExamples[labels[i]][counts[labels[i]]++] = i;

    this.name = name;
    this.data = data;
    this.itemShape = [...itemShape];
    this.itemSize = itemSize;
    this.numExamples = labels.length;
    this.numClasses = numClasses;
    this.labels = labels;
    this.classes = classes;
    this.classExamples = classExamples;
    this.scale = scale;
  }

  /** Writes example `index` (scaled to float32) into `out` at `offset`. */
  writeExample(index: number, out: Float32Array, offset: number): void {
    const size = this.itemSize;
    const start = index * size;
    const data = this.data;
    const scale = this.scale;
    if (scale === 1 && data instanceof Float32Array) {
      out.set(data.subarray(start, start + size), offset);
      return;
    }
    for (let j = 0; j < size; j++) out[offset + j] = data[start + j] * scale;
  }
}
