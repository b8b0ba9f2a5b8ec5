/**
 * Benchmarks of the data layer (issue 3): sampling Omniglot episodes from the in-memory
 * dataset, the cold load of both official archives (decode + cache write) and the warm load
 * from the cache, with memory use in `extra`. Skipped (empty list) when no Omniglot
 * archives are found.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { findOmniglotDir, loadOmniglot, omniglotSplits } from "../datasets/mod.ts";
import { Rng } from "../random/mod.ts";
import { disposeTask, EpisodeSampler } from "../tasks/mod.ts";
import { type BenchRecord, timeSteps } from "./types.ts";

function memoryExtra(): Record<string, number> {
  const m = Deno.memoryUsage();
  return {
    rssMiB: Math.round(m.rss / 2 ** 20),
    heapUsedMiB: Math.round(m.heapUsed / 2 ** 20),
    externalMiB: Math.round(m.external / 2 ** 20),
  };
}

/**
 * Runs the data benchmarks: cold load (fresh temporary cache; 1 step), warm load
 * (3 steps), a 20-way 5-shot 15-query episode and a meta-batch of 32 5-way 1-shot
 * 15-query episodes from the standard meta-training split (tensors included).
 */
export async function benchData(): Promise<BenchRecord[]> {
  const dir = findOmniglotDir();
  if (!dir) {
    console.log("[bench data] skipped: no Omniglot archives (run `deno task data omniglot`)");
    return [];
  }
  const backend = tf.getBackend();
  const records: BenchRecord[] = [];
  const cacheDir = await Deno.makeTempDir({ prefix: "metalab-bench-cache-" });
  try {
    const cold = await timeSteps(() => loadOmniglot({ dir, cacheDir }), { steps: 1, warmup: 0 });
    records.push({
      suite: "data",
      name: "omniglot-cold-load-both-archives",
      backend: null,
      ...cold,
      targetMs: 60_000,
      extra: { ...memoryExtra(), images: 32460, size: 28 },
    });
    const warm = await timeSteps(() => loadOmniglot({ dir, cacheDir }), { steps: 3, warmup: 0 });
    records.push({
      suite: "data",
      name: "omniglot-warm-load-from-cache",
      backend: null,
      ...warm,
      targetMs: 2_000,
      extra: memoryExtra(),
    });
    const omniglot = await loadOmniglot({ dir, cacheDir });
    const splits = omniglotSplits(omniglot);
    const rng = new Rng(0);
    const big = EpisodeSampler.forSplit(splits, "train", { ways: 20, shots: 5, queries: 15 });
    const episode = await timeSteps(() => disposeTask(big.sample(rng)), { steps: 50, warmup: 5 });
    records.push({
      suite: "data",
      name: "omniglot-episode-20way-5shot-15query",
      backend,
      ...episode,
      targetMs: 5,
      extra: { ...memoryExtra(), images: 400 },
    });
    const small = EpisodeSampler.forSplit(splits, "train", { ways: 5, shots: 1, queries: 15 });
    const batch = await timeSteps(() => disposeTask(small.sampleBatch(rng, 32)), {
      steps: 20,
      warmup: 3,
    });
    records.push({
      suite: "data",
      name: "omniglot-metabatch-32x-5way-1shot-15query",
      backend,
      ...batch,
      targetMs: 50,
      extra: { ...memoryExtra(), images: 32 * 80 },
    });
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
  return records;
}

if (import.meta.main) {
  for (const r of await benchData()) {
    console.log(
      `${r.name.padEnd(44)} median ${r.medianMs.toFixed(2)} ms  min ${r.minMs.toFixed(2)} ms` +
        `  target ${r.targetMs} ms  ${JSON.stringify(r.extra)}`,
    );
  }
}
