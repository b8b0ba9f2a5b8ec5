/**
 * Examples as pictures: the pixels of chosen examples as one image stack (what `lib/plot`'s
 * image grids draw), and the rotation gallery of notebook 01 — one character under each
 * rotation of a {@linkcode RotatedDataset}, chosen by computing which character a rotation
 * changes most, so that the four classes visibly differ.
 * @module
 */
import type { LabelledDataset } from "./types.ts";
import type { RotatedDataset, Rotation } from "./rotated_dataset.ts";

/** Pixels of some examples, row-major `[n, ...itemShape]`: an image stack for `lib/plot`. */
export interface ExampleImages {
  /** The examples' values, one after the other. */
  data: Float32Array;
  /** `[n, ...dataset.itemShape]`. */
  shape: number[];
}

function checkIndex(what: string, index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`${what} ${index} is out of range: expected an integer in [0, ${size})`);
  }
}

/**
 * Reads examples `exampleIds` of `dataset` into one stack (in the given order), through
 * `writeExample`, so views such as rotations are drawn as a sampler sees them.
 *
 * @example
 * ```ts
 * const mnist = loadMnist();
 * await show(imageGridFigure(exampleImages(mnist, mnist.classExamples[3].slice(0, 5))));
 * ```
 */
export function exampleImages(
  dataset: LabelledDataset,
  exampleIds: ArrayLike<number>,
): ExampleImages {
  const n = exampleIds.length;
  const data = new Float32Array(n * dataset.itemSize);
  for (let i = 0; i < n; i++) {
    checkIndex(`exampleImages: example id`, exampleIds[i], dataset.numExamples);
    dataset.writeExample(exampleIds[i], data, i * dataset.itemSize);
  }
  return { data, shape: [n, ...dataset.itemShape] };
}

/** How much the rotations of a {@linkcode RotatedDataset} change one base class. */
export interface RotationChange {
  /** The class of `dataset.base`. */
  baseClass: number;
  /**
   * The drawings' own spread: the mean distance from an example to the nearest other
   * example of its class (coarse L1, see {@linkcode rotationChange}); 1 for a class of
   * one example.
   */
  spread: number;
  /**
   * For each rotation other than 0°: the mean distance from a rotated example to the
   * nearest unrotated example of the class, divided by `spread`. Below about 1 a rotated
   * drawing passes for another drawing of the same class (an `O`); well above, it is a
   * new symbol.
   */
  byRotation: { rotation: Rotation; change: number }[];
  /** The smallest of them: how much the least visible rotation changes the class. */
  min: number;
}

/**
 * Block-averages an `h × w` image (the first channel) into a `ceil(h/b) × ceil(w/b)` one, so
 * that strokes a pixel or two apart, as two people draw them, land in the same cell.
 */
function coarse(image: Float32Array, h: number, w: number, channels: number, b: number) {
  const ch = Math.ceil(h / b), cw = Math.ceil(w / b);
  const out = new Float32Array(ch * cw);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[Math.floor(y / b) * cw + Math.floor(x / b)] += image[(y * w + x) * channels] / (b * b);
    }
  }
  return out;
}

function l1(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d;
}

/** The distance from `f` to the nearest of `others`, skipping index `skip`. */
function nearest(f: Float32Array, others: Float32Array[], skip = -1): number {
  let best = Infinity;
  others.forEach((o, i) => {
    if (i !== skip) best = Math.min(best, l1(f, o));
  });
  return best;
}

/**
 * How much each rotation of `dataset` changes base class `baseClass`, measured against how
 * much its drawings differ anyway. Two drawings of one character are never pixel-equal, so
 * "a rotation looks the same" means: a rotated drawing is as close to some unrotated
 * drawing of the class as the drawings are to each other. Images are compared coarsely
 * (L1 distance after averaging 4 × 4 pixel blocks, so that a stroke a pixel off does not
 * count), over the class's first `maxExamples` examples (default 20: all of an Omniglot
 * character's drawers).
 *
 * @example
 * ```ts
 * const c = rotationChange(splits.dataset as RotatedDataset, 0);
 * c.byRotation; // [{ rotation: 90, change: 1.1 }, …]: 90° barely changes this one
 * ```
 */
export function rotationChange(
  dataset: RotatedDataset,
  baseClass: number,
  { maxExamples = 20 }: { maxExamples?: number } = {},
): RotationChange {
  const base = dataset.base;
  checkIndex("rotationChange: base class", baseClass, base.numClasses);
  if (!Number.isInteger(maxExamples) || maxExamples < 1) {
    throw new RangeError(`rotationChange: maxExamples must be an integer ≥ 1, got ${maxExamples}`);
  }
  const turned = dataset.rotations.map((rotation, r) => ({ rotation, r })).filter((t) =>
    t.rotation !== 0
  );
  if (turned.length === 0) {
    throw new RangeError(
      `rotationChange: the dataset's rotations are [${dataset.rotations}]; expected one other than 0°`,
    );
  }
  const examples = Array.from(base.classExamples[baseClass].slice(0, maxExamples));
  if (examples.length === 0) {
    throw new RangeError(`rotationChange: base class ${baseClass} has no examples`);
  }
  const [h, w, channels = 1] = base.itemShape;
  const block = Math.max(1, Math.round(h / 7));
  const image = new Float32Array(base.itemSize);
  const read = (view: LabelledDataset, index: number) => {
    view.writeExample(index, image, 0);
    return coarse(image, h, w, channels, block);
  };
  const originals = examples.map((e) => read(base, e));
  const spread = originals.length > 1
    ? originals.reduce((sum, f, i) => sum + nearest(f, originals, i), 0) / originals.length
    : 1;
  const byRotation = turned.map(({ rotation, r }) => {
    // Example `e` at rotation index r is example r·n + e of the view (RotatedDataset's order).
    const distance = examples.reduce(
      (sum, e) => sum + nearest(read(dataset, r * base.numExamples + e), originals),
      0,
    ) / examples.length;
    return { rotation, change: distance / Math.max(spread, 1e-12) };
  });
  return { baseClass, spread, byRotation, min: Math.min(...byRotation.map((b) => b.change)) };
}

/** Options of {@linkcode rotationChanges} and {@linkcode mostRotationChanged}. */
export interface RotationSearchOptions {
  /**
   * Search only the base classes of these classes of the view (e.g. a split's `train`);
   * default every base class.
   */
  classes?: ArrayLike<number>;
  /** Examples read per class (default 20; see {@linkcode rotationChange}). */
  maxExamples?: number;
}

/**
 * {@linkcode rotationChange} of every base class searched, most changed first, judged by
 * its least visible rotation ({@linkcode RotationChange.min}): a character that only a
 * 180° turn leaves alike (an `S`, an `N`) would show two identical pictures, a round one
 * (an `O`) four. Ties keep the lower class first.
 *
 * @example
 * ```ts
 * const ranked = rotationChanges(splits.dataset as RotatedDataset, { classes: splits.train });
 * ranked[0].baseClass; // the character whose rotations differ most
 * ranked.at(-1);       // one whose rotated classes are near-duplicates
 * ```
 */
export function rotationChanges(
  dataset: RotatedDataset,
  { classes, maxExamples }: RotationSearchOptions = {},
): RotationChange[] {
  const R = dataset.rotations.length;
  const candidates = classes === undefined
    ? Array.from({ length: dataset.base.numClasses }, (_, c) => c)
    : [
      ...new Set(Array.from(classes, (k) => {
        checkIndex("rotationChanges: class", k, dataset.numClasses);
        return Math.floor(k / R); // class c·R + r of the view is base class c at rotation r
      })),
    ].sort((a, b) => a - b);
  if (candidates.length === 0) throw new RangeError("rotationChanges: no classes to search");
  return candidates.map((c) => rotationChange(dataset, c, { maxExamples }))
    .sort((a, b) => b.min - a.min || a.baseClass - b.baseClass);
}

/**
 * The base class that the rotations of `dataset` change most (the first of
 * {@linkcode rotationChanges}): the one to show when a figure should make the point that a
 * rotated character is a new class.
 *
 * @example
 * ```ts
 * const best = mostRotationChanged(splits.dataset as RotatedDataset, { classes: splits.train });
 * ```
 */
export function mostRotationChanged(
  dataset: RotatedDataset,
  options: RotationSearchOptions = {},
): RotationChange {
  return rotationChanges(dataset, options)[0];
}

/** What {@linkcode rotationGallery} returns: a grid with one column per rotation. */
export interface RotationGallery {
  /** Row-major `[examples × rotations, ...itemShape]`: row = example, column = rotation. */
  images: ExampleImages;
  /** One caption per image: in the first row the class and rotation, below it "". */
  captions: string[];
  /** Columns of the grid: the number of rotations. */
  cols: number;
  /** The view's class of each column (`baseClass · R + r`). */
  classes: number[];
}

/**
 * Base class `baseClass` of `dataset.base` under each rotation of `dataset`: its first
 * `examples` examples (default 1), one row each, one column per rotation — one class per
 * column. Draw it with `imageGridFigure(g.images, { cols: g.cols, captions: g.captions })`.
 *
 * @example
 * ```ts
 * const view = splits.dataset as RotatedDataset;
 * const g = rotationGallery(view, mostRotationChanged(view).baseClass, { examples: 3 });
 * await show(imageGridFigure(g.images, { cols: g.cols, captions: g.captions }));
 * ```
 */
export function rotationGallery(
  dataset: RotatedDataset,
  baseClass: number,
  { examples = 1 }: { examples?: number } = {},
): RotationGallery {
  const base = dataset.base;
  checkIndex("rotationGallery: base class", baseClass, base.numClasses);
  const own = base.classExamples[baseClass];
  if (!Number.isInteger(examples) || examples < 1 || examples > own.length) {
    throw new RangeError(
      `rotationGallery: examples must be an integer in [1, ${own.length}] (base class ` +
        `${baseClass} has ${own.length}), got ${examples}`,
    );
  }
  const R = dataset.rotations.length;
  const classes = dataset.rotations.map((_, r) => baseClass * R + r);
  const ids: number[] = [];
  const captions: string[] = [];
  for (let i = 0; i < examples; i++) {
    dataset.rotations.forEach((rotation, r) => {
      ids.push(r * base.numExamples + own[i]);
      // The first row names each column's class; below, the column says it already.
      captions.push(i === 0 ? `class ${classes[r]} (${rotation}°)` : "");
    });
  }
  return { images: exampleImages(dataset, ids), captions, cols: R, classes };
}
