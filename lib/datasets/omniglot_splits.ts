/**
 * The Omniglot few-shot protocols as class splits.
 *
 * - `"standard"` (Vinyals et al. 2016; Finn et al. 2017; Snell et al. 2017): both sets pooled
 *   (1623 characters, ordered by their global id 1–1623, i.e. background then evaluation),
 *   the first 1200 characters for meta-training and the other 423 for meta-testing.
 * - `"background-evaluation"` (Lake et al.'s own split): the 964 background characters for
 *   meta-training, the 659 evaluation characters for meta-testing.
 *
 * Rotations by 90°, 180° and 270° make new classes (a rotated character is a different
 * symbol); by default the training split uses all four and the test split only the
 * originals. Snell et al. also rotate test classes: pass `testRotations: [0, 90, 180, 270]`.
 * A validation split, if asked for, is carved from the end of the training characters, so
 * the test split never changes.
 * @module
 */
import type { OmniglotDataset } from "./omniglot.ts";
import { RotatedDataset, type Rotation } from "./rotated_dataset.ts";
import { type ClassSplits, makeClassSplits } from "./splits.ts";

/** Options for {@linkcode omniglotSplits}. */
export interface OmniglotSplitOptions {
  /** `"standard"` (1200 / 423 pooled) or `"background-evaluation"`. Default "standard". */
  protocol?: "standard" | "background-evaluation";
  /** Characters moved from the end of the training characters to validation (default 0). */
  validation?: number;
  /** Rotations used as training classes (default all four). */
  trainRotations?: Rotation[];
  /** Rotations used for validation and test classes (default `[0]`). */
  testRotations?: Rotation[];
}

/** Number of meta-training characters in the standard protocol. */
export const OMNIGLOT_STANDARD_TRAIN = 1200;

/**
 * Class splits of a rotated view of `omniglot` following a published protocol. The returned
 * `dataset` is a {@linkcode RotatedDataset} over the union of the requested rotations; its
 * class `c * R + r` is character `c` at rotation `r`.
 */
export function omniglotSplits(
  omniglot: OmniglotDataset,
  options: OmniglotSplitOptions = {},
): ClassSplits {
  const {
    protocol = "standard",
    validation = 0,
    trainRotations = [0, 90, 180, 270],
    testRotations = [0],
  } = options;
  if (!Number.isInteger(validation) || validation < 0) {
    throw new RangeError(`validation must be a non-negative integer, got ${validation}`);
  }
  let trainChars: number[];
  let testChars: number[];
  const ids = omniglot.characters.map((c, i) => ({ c, i }));
  if (protocol === "standard") {
    if (omniglot.numClasses !== 1623) {
      throw new RangeError(
        `the standard Omniglot protocol needs both sets (1623 characters), got ${omniglot.numClasses}`,
      );
    }
    const order = ids.sort((a, b) => a.c.id - b.c.id).map((e) => e.i);
    trainChars = order.slice(0, OMNIGLOT_STANDARD_TRAIN);
    testChars = order.slice(OMNIGLOT_STANDARD_TRAIN);
  } else if (protocol === "background-evaluation") {
    trainChars = ids.filter((e) => e.c.set === "background").map((e) => e.i);
    testChars = ids.filter((e) => e.c.set === "evaluation").map((e) => e.i);
    if (trainChars.length === 0 || testChars.length === 0) {
      throw new RangeError(
        `the background-evaluation protocol needs both sets loaded, got ${trainChars.length} ` +
          `background and ${testChars.length} evaluation characters`,
      );
    }
  } else {
    throw new RangeError(
      `unknown Omniglot protocol "${protocol}" (expected "standard" or "background-evaluation")`,
    );
  }
  if (validation >= trainChars.length) {
    throw new RangeError(
      `validation=${validation} leaves no training characters (there are ${trainChars.length})`,
    );
  }
  const valChars = trainChars.slice(trainChars.length - validation);
  trainChars = trainChars.slice(0, trainChars.length - validation);

  const rotations = [...new Set([...trainRotations, ...testRotations])].sort((a, b) => a - b);
  const dataset = new RotatedDataset(omniglot, rotations);
  const R = rotations.length;
  const classesOf = (chars: number[], rots: Rotation[]) =>
    chars.flatMap((c) => rots.map((r) => c * R + rotations.indexOf(r)));
  return makeClassSplits(dataset, {
    train: classesOf(trainChars, trainRotations),
    val: classesOf(valChars, testRotations),
    test: classesOf(testChars, testRotations),
  });
}
