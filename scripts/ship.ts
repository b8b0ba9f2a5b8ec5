/**
 * Copies a full run's output folder into `models/<experiment>/`, the way the course ships it:
 * without its bookkeeping (`run.json`, the lock, checkpoints, an invalid result), optionally
 * without its models (`--no-models`: a recorded run, when they are too big to ship) and with
 * its recorded training histories thinned (`--thin-histories N`: every N-th step and the last).
 *
 *   deno run -A scripts/ship.ts results/full/mnist-distill --no-models
 *   deno run -A scripts/ship.ts results/full/sinusoid-zero-shot --thin-histories 20
 *
 * Refuses a folder without `result.json`, or a destination that exists (remove it first).
 * @module
 */
import { copy } from "./ship_copy.ts";

if (import.meta.main) {
  const args = [...Deno.args];
  const noModels = args.includes("--no-models");
  const thinAt = args.indexOf("--thin-histories");
  const every = thinAt >= 0 ? Number(args[thinAt + 1]) : 1;
  const rest = args.filter((a, i) =>
    a !== "--no-models" && i !== thinAt && (thinAt < 0 || i !== thinAt + 1)
  );
  if (rest.length !== 1) {
    console.error("usage: ship.ts RUN_DIR [--no-models] [--thin-histories N]");
    Deno.exit(2);
  }
  try {
    const to = await copy(rest[0], { noModels, every });
    console.log(`shipped ${rest[0]} → ${to}`);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
