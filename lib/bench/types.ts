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
  /** PyTorch's best median of this same run (`--peers`), in milliseconds. */
  referenceMs?: number;
  /** ours / PyTorch's best variant, medians of the same run (`--peers`): ≤ 1 = we are faster. */
  ratioToPyTorch?: number;
  /** The PyTorch side of this case, measured alternating with ours (`--peers`). */
  pytorch?: PeerCaseRecord;
  /** Where one step's time goes (`--profile`): milliseconds per kernel, largest first. */
  profile?: KernelShare[];
  /** Anything else worth recording (memory used, speed-up over cpu, ...). */
  extra?: Record<string, number | string>;
}

/** One kernel's part of a profiled step. */
export interface KernelShare {
  /** The tfjs kernel name, e.g. "Conv2DBackpropFilter". */
  kernel: string;
  /** Milliseconds in that kernel over the step (all its calls). */
  ms: number;
  /** Calls in the step. */
  calls: number;
  /** Fraction of the step's kernel time. */
  share: number;
}

/**
 * Kernel times summed by name, largest first, with each one's share of the total.
 *
 * @example
 * ```ts
 * kernelShares([{ name: "Conv2D", kernelTimeMs: 3 }, { name: "Relu", kernelTimeMs: 1 }]);
 * // [{ kernel: "Conv2D", ms: 3, calls: 1, share: 0.75 }, { kernel: "Relu", … share: 0.25 }]
 * ```
 */
export function kernelShares(
  kernels: Array<{ name: string; kernelTimeMs: number | { error: string } }>,
): KernelShare[] {
  const by = new Map<string, { ms: number; calls: number }>();
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    by.set(k.name, { ms: e.ms + ms, calls: e.calls + 1 });
  }
  const total = [...by.values()].reduce((a, b) => a + b.ms, 0);
  return [...by].map(([kernel, { ms, calls }]) => ({
    kernel,
    ms,
    calls,
    share: total > 0 ? ms / total : 0,
  })).sort((a, b) => b.ms - a.ms);
}

/** The PyTorch side of one case (lib/bench/peers.ts). */
export interface PeerCaseRecord {
  /** `torch.__version__`. */
  version: string;
  /** torch.set_num_threads: the same as ours. */
  threads: number;
  /** Alternation rounds (ours, every variant; ours, every variant; …). */
  rounds: number;
  /** The variant with the smallest median (what `ratioToPyTorch` divides by). */
  best?: string;
  /** Each variant that ran: median, minimum, steps, peak RSS of the peer process. */
  variants: Array<{
    variant: string;
    medianMs: number;
    minMs: number;
    steps: number;
    peakRssMiB?: number;
  }>;
  /** Variants that failed, with the peer's message. */
  errors?: Record<string, string>;
}

/** Median and minimum of `times` (ms); `steps` = how many. */
export function summarize(times: number[]): { medianMs: number; minMs: number; steps: number } {
  if (times.length === 0) throw new Error("summarize: no times to summarize");
  const sorted = [...times].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { medianMs, minMs: sorted[0], steps: sorted.length };
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
  return summarize(times);
}
