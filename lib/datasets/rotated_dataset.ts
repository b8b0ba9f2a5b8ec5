/**
 * Rotations of a square-image dataset as new classes (the Omniglot protocol of Santoro et al.
 * 2016, Vinyals et al. 2016, Finn et al. 2017, Snell et al. 2017): a character rotated by 90°
 * is a different symbol, so each (class, rotation) pair becomes a class of its own. The view
 * copies nothing: it rotates while writing an example.
 * @module
 */
import type { ClassInfo, LabelledDataset } from "./types.ts";

/** Allowed rotations, in degrees counter-clockwise (as `numpy.rot90`). */
export type Rotation = 0 | 90 | 180 | 270;

/** Source pixel index of each destination pixel, for an `h × w` image rotated CCW. */
function rotationTable(h: number, w: number, degrees: Rotation): Int32Array {
  const table = new Int32Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      let si: number, sj: number;
      if (degrees === 0) [si, sj] = [i, j];
      else if (degrees === 90) [si, sj] = [j, w - 1 - i];
      else if (degrees === 180) [si, sj] = [h - 1 - i, w - 1 - j];
      else [si, sj] = [h - 1 - j, i];
      table[i * w + j] = si * w + sj;
    }
  }
  return table;
}

/**
 * A view of `base` in which each base class `c` and rotation `rotations[r]` is the class
 * `c * rotations.length + r`, with id `"<base id>@rot<deg>"` and the base class's id as its
 * `source` (so class splits keep all rotations of a character on one side).
 *
 * Example `v` is base example `v % base.numExamples` rotated by
 * `rotations[floor(v / base.numExamples)]`.
 *
 * @example
 * ```ts
 * const rotated = new RotatedDataset(omniglot, [0, 90, 180, 270]); // 4 × the classes
 * ```
 */
export class RotatedDataset implements LabelledDataset {
  readonly name: string;
  readonly itemShape: readonly number[];
  readonly itemSize: number;
  readonly numExamples: number;
  readonly numClasses: number;
  readonly labels: Int32Array;
  readonly classExamples: readonly Int32Array[];
  readonly classes: readonly ClassInfo[];
  /** The dataset being rotated. */
  readonly base: LabelledDataset;
  /** The rotations, in class order. */
  readonly rotations: readonly Rotation[];
  #tables: Int32Array[];
  #scratch: Float32Array;

  constructor(base: LabelledDataset, rotations: readonly Rotation[] = [0, 90, 180, 270]) {
    const [h, w] = base.itemShape;
    if (base.itemShape.length !== 3 || h !== w) {
      throw new RangeError(
        `RotatedDataset needs square [h, w, c] images, got ${JSON.stringify(base.itemShape)}`,
      );
    }
    if (rotations.length === 0 || new Set(rotations).size !== rotations.length) {
      throw new RangeError(`rotations must be distinct and non-empty, got ${rotations}`);
    }
    for (const r of rotations) {
      if (![0, 90, 180, 270].includes(r)) {
        throw new RangeError(`rotation must be 0, 90, 180 or 270 degrees, got ${r}`);
      }
    }
    const R = rotations.length;
    const n = base.numExamples;
    this.base = base;
    this.rotations = [...rotations];
    this.name = `${base.name}-rot`;
    this.itemShape = base.itemShape;
    this.itemSize = base.itemSize;
    this.numExamples = n * R;
    this.numClasses = base.numClasses * R;
    const labels = new Int32Array(n * R);
    for (let r = 0; r < R; r++) {
      for (let i = 0; i < n; i++) labels[r * n + i] = base.labels[i] * R + r;
    }
    this.labels = labels;
    const classExamples: Int32Array[] = [];
    const classes: ClassInfo[] = [];
    for (let c = 0; c < base.numClasses; c++) {
      const info = base.classes[c];
      for (let r = 0; r < R; r++) {
        classExamples.push(base.classExamples[c].map((i) => r * n + i));
        classes.push({
          id: `${info.id}@rot${rotations[r]}`,
          source: info.source,
          group: info.group,
          extra: { ...info.extra, rotation: rotations[r] },
        });
      }
    }
    this.classExamples = classExamples;
    this.classes = classes;
    this.#tables = rotations.map((r) => rotationTable(h, w, r));
    this.#scratch = new Float32Array(base.itemSize);
  }

  /** Writes example `index`, rotated, into `out` at `offset`. */
  writeExample(index: number, out: Float32Array, offset: number): void {
    const n = this.base.numExamples;
    const r = Math.floor(index / n);
    const rotation = this.rotations[r];
    if (rotation === 0) {
      this.base.writeExample(index - r * n, out, offset);
      return;
    }
    const src = this.#scratch;
    this.base.writeExample(index - r * n, src, 0);
    const table = this.#tables[r];
    const channels = this.itemShape[2];
    if (channels === 1) {
      for (let p = 0; p < table.length; p++) out[offset + p] = src[table[p]];
    } else {
      for (let p = 0; p < table.length; p++) {
        for (let ch = 0; ch < channels; ch++) {
          out[offset + p * channels + ch] = src[table[p] * channels + ch];
        }
      }
    }
  }
}
