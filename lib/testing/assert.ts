/**
 * Numeric assertions for tests. JSR (and so `@std/assert`) is not reachable from the
 * build machines, so tests use Deno's built-in `node:assert/strict` plus these helpers.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AssertionError } from "node:assert/strict";

/** Something that can be compared numerically: a tensor, a typed array, an array or a number. */
export type Numeric = tf.Tensor | ArrayLike<number> | number[][] | number;

function flatten(value: Numeric): { data: number[]; shape: number[] } {
  if (value instanceof tf.Tensor) {
    return { data: Array.from(value.dataSync()), shape: value.shape };
  }
  if (typeof value === "number") return { data: [value], shape: [] };
  const nested = Array.isArray(value) && Array.isArray(value[0]);
  if (nested) {
    const rows = value as number[][];
    return { data: rows.flat(), shape: [rows.length, rows[0].length] };
  }
  const arr = Array.from(value as ArrayLike<number>);
  return { data: arr, shape: [arr.length] };
}

/** Tolerances for {@linkcode assertAllClose}: |a − e| ≤ atol + rtol·|e| element-wise. */
export interface CloseOptions {
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** A label to put in the failure message. */
  label?: string;
}

/**
 * Asserts that two numeric values agree element-wise within `atol + rtol·|expected|`,
 * like `numpy.testing.assert_allclose`. NaN never equals anything.
 *
 * @example
 * ```ts
 * assertAllClose(tf.tensor([1, 2]), [1, 2.000001], { rtol: 1e-5 });
 * ```
 */
export function assertAllClose(
  actual: Numeric,
  expected: Numeric,
  { rtol = 1e-5, atol = 1e-6, label = "" }: CloseOptions = {},
): void {
  const a = flatten(actual);
  const e = flatten(expected);
  const prefix = label ? `${label}: ` : "";
  if (a.data.length !== e.data.length) {
    throw new AssertionError({
      message: `${prefix}size mismatch: actual has ${a.data.length} values (shape ${
        JSON.stringify(a.shape)
      }), expected ${e.data.length} (shape ${JSON.stringify(e.shape)})`,
    });
  }
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < a.data.length; i++) {
    const diff = Math.abs(a.data[i] - e.data[i]);
    const allowed = atol + rtol * Math.abs(e.data[i]);
    if (!(diff <= allowed)) {
      bad++;
      const excess = Number.isNaN(diff) ? Infinity : diff - allowed;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (bad > 0) {
    throw new AssertionError({
      message:
        `${prefix}${bad} of ${a.data.length} values differ beyond atol=${atol}, rtol=${rtol}; ` +
        `worst at flat index ${worst}: actual ${a.data[worst]}, expected ${e.data[worst]}`,
    });
  }
}

/**
 * Runs `step` `iterations` times (after `warmup` untimed calls) and asserts that
 * `tf.memory().numTensors` is the same after every iteration: a training loop that
 * leaks one tensor per step fails here long before it runs out of memory.
 */
export async function assertNoTensorLeak(
  step: (iteration: number) => unknown | Promise<unknown>,
  { iterations = 5, warmup = 1 }: { iterations?: number; warmup?: number } = {},
): Promise<void> {
  for (let i = 0; i < warmup; i++) await step(i);
  const base = tf.memory().numTensors;
  const counts: number[] = [];
  for (let i = 0; i < iterations; i++) {
    await step(warmup + i);
    counts.push(tf.memory().numTensors);
  }
  if (counts.some((c) => c !== base)) {
    throw new AssertionError({
      message: `tensor leak: numTensors was ${base} after warm-up, then ${
        counts.join(", ")
      } over ${iterations} iterations`,
    });
  }
}
