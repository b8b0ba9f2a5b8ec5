/**
 * Shared types for `deno task bench`: every benchmark suite returns records of this shape,
 * and the bench command prints them and writes them to `results/bench.json`.
 * @module
 */

/** One measured benchmark case. */
export interface BenchRecord {
  /** Suite the case belongs to, e.g. "compute" or "tasks". */
  suite: string;
  /** Case name, e.g. "conv4-protonet-step". */
  name: string;
  /** Backend the case ran on, or null when no tensors are involved. */
  backend: string | null;
  /** Median milliseconds per step. */
  medianMs: number;
  /** Minimum milliseconds per step. */
  minMs: number;
  /** Number of timed steps (after warm-up). */
  steps: number;
  /** Target in milliseconds, if the issue sets one. */
  targetMs?: number;
  /** Reference figure (e.g. PyTorch on this machine) in milliseconds. */
  referenceMs?: number;
  /** Anything else worth recording (memory used, speed-up over cpu, ...). */
  extra?: Record<string, number | string>;
}

/** Times `step` `steps` times after `warmup` calls; returns median and min in ms. */
export async function timeSteps(
  step: () => unknown | Promise<unknown>,
  { steps = 20, warmup = 3 }: { steps?: number; warmup?: number } = {},
): Promise<{ medianMs: number; minMs: number; steps: number }> {
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  const medianMs = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return { medianMs, minMs: times[0], steps };
}
