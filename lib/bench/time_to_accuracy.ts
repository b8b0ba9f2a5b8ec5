/**
 * Time to accuracy (issue 15), opt-in and long: `deno task bench --case
 * protonet-anchor-time-to-accuracy` trains the ProtoNet anchor (`omniglot-protonet-anchor`'s
 * full schedule: Conv-4, 5-way 1-shot 15-query, 5,000 episodes, Adam 1e-3 halved every 2,000)
 * in MetaLab, then the same schedule in PyTorch (`bench/peers/torch_anchor.py`, on the same
 * decoded pixels and thread count), and records wall time and final accuracy side by side.
 *
 * The two runs are sequential, not alternated: each is one long run, so on a shared machine
 * the ratio carries whatever load each run met (the record says how many cores were idle at
 * the start of each). About 15 min for ours and 5 for PyTorch on an idle 2-core machine.
 *
 * This module sits above `lib/experiments` (it runs an experiment), below the CLI.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { findOmniglotDir, loadOmniglot } from "../datasets/mod.ts";
import { omniglotProtonetAnchor } from "../experiments/omniglot_protonet_anchor.ts";
import { runExperiment } from "../experiments/runner.ts";
import { TORCH_PEER_ENV } from "./peers.ts";
import type { BenchRecord } from "./types.ts";

/** The case name `--case` takes. */
export const TIME_TO_ACCURACY_CASE = "protonet-anchor-time-to-accuracy";

/** The PyTorch script of the case. */
export const TORCH_ANCHOR_SCRIPT = new URL("../../bench/peers/torch_anchor.py", import.meta.url);

/** Options of {@linkcode benchTimeToAccuracy}. */
export interface TimeToAccuracyOptions {
  /** Training episodes (default 5,000: the anchor's schedule). */
  episodes?: number;
  /** Test episodes (default 600). */
  evalEpisodes?: number;
  /** The interpreter with torch, or null to run ours alone. */
  python: string | null;
  /** torch.set_num_threads: our wasm thread count. */
  threads: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** The PyTorch side's JSON line (see bench/peers/torch_anchor.py). */
export interface AnchorPeerResult {
  torch: string;
  threads: number;
  episodes: number;
  trainS: number;
  evalS: number;
  /** Mean test accuracy, a fraction. */
  accuracy: number;
  /** Half-width of its 95% interval, a fraction. */
  ci95: number;
  peakRssKiB: number;
}

/** Parses the PyTorch side's last stdout line; throws naming what is missing. */
export function parseAnchorResult(stdout: string): AnchorPeerResult {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error(`torch_anchor.py: expected a JSON line, got ${JSON.stringify(line)}`);
  }
  for (const key of ["trainS", "evalS", "accuracy", "ci95", "episodes"]) {
    if (typeof v[key] !== "number") {
      throw new Error(`torch_anchor.py: "${key}" must be a number, got ${line}`);
    }
  }
  return v as unknown as AnchorPeerResult;
}

/** Writes MetaLab's decoded Omniglot for the PyTorch side: uint8 pixels and meta.json. */
async function exportOmniglot(dir: string): Promise<void> {
  const source = findOmniglotDir();
  if (!source) throw new Error("Omniglot archives not found: run `deno task data omniglot`");
  const omniglot = await loadOmniglot({ dir: source });
  const background = omniglot.characters.filter((c) => c.set === "background").length;
  // loadOmniglot concatenates the sets in the order asked: background, then evaluation.
  if (omniglot.characters.slice(0, background).some((c) => c.set !== "background")) {
    throw new Error("Omniglot: expected the background characters first");
  }
  if (!(omniglot.data instanceof Uint8Array)) throw new Error("Omniglot: expected uint8 pixels");
  await Deno.writeFile(`${dir}/omniglot_${omniglot.size}.u8`, omniglot.data);
  await Deno.writeTextFile(
    `${dir}/meta.json`,
    JSON.stringify({
      size: omniglot.size,
      background,
      evaluation: omniglot.characters.length - background,
    }),
  );
}

/**
 * Trains and evaluates the anchor in MetaLab, then (with `python`) in PyTorch; returns one
 * record: ours as `medianMs` (the training wall time, one run), `extra` with both sides'
 * training and test seconds, accuracy ± 95% interval and peak memory, and
 * `ratioToPyTorch` = our training time over PyTorch's.
 */
export async function benchTimeToAccuracy(options: TimeToAccuracyOptions): Promise<BenchRecord> {
  const episodes = options.episodes ?? 5000;
  const evalEpisodes = options.evalEpisodes ?? 600;
  const log = options.log ?? ((l: string) => console.log(l));
  log(`[bench tta] MetaLab: ${omniglotProtonetAnchor.name}, ${episodes} episodes`);
  const t0 = performance.now();
  const run = await runExperiment(omniglotProtonetAnchor, {
    preset: "full",
    overrides: { trainSteps: episodes, evalEpisodes },
    outDir: null,
    seed: 0,
    log: () => {},
  });
  const wallMs = performance.now() - t0;
  const protonet = run.details.learners.protonet;
  const metric = run.metrics[0];
  const accuracy = metric?.value ?? NaN; // null: a non-finite mean (see results.ts)
  const trainMs = protonet?.trainMs ?? wallMs;
  const extra: Record<string, number | string> = {
    threads: options.threads,
    episodes,
    evalEpisodes,
    oursTrainS: +(trainMs / 1000).toFixed(1),
    oursWallS: +(wallMs / 1000).toFixed(1),
    oursAccuracy: +accuracy.toFixed(2),
    oursCi95: +(metric?.ci95 ?? 0).toFixed(2),
    tfMiB: +(tf.memory().numBytes / 2 ** 20).toFixed(1),
  };
  log(
    `[bench tta] MetaLab: ${(trainMs / 1000).toFixed(0)} s of training, ` +
      `${accuracy.toFixed(1)} ± ${(metric?.ci95 ?? 0).toFixed(1)}%`,
  );
  const record: BenchRecord = {
    suite: "time-to-accuracy",
    name: TIME_TO_ACCURACY_CASE,
    backend: tf.getBackend(),
    medianMs: trainMs,
    minMs: trainMs,
    steps: 1,
    extra,
  };
  if (options.python) {
    const dir = await Deno.makeTempDir({ prefix: "metalab-anchor-" });
    try {
      await exportOmniglot(dir);
      log(`[bench tta] PyTorch: the same schedule, ${options.threads} thread(s)`);
      const out = await new Deno.Command(options.python, {
        args: [
          TORCH_ANCHOR_SCRIPT.pathname,
          "--data",
          dir,
          "--episodes",
          String(episodes),
          "--eval-episodes",
          String(evalEpisodes),
        ],
        env: { ...TORCH_PEER_ENV, METALAB_PEER_THREADS: String(options.threads) },
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3);
        throw new Error(`torch_anchor.py failed (exit ${out.code}): ${err.join(" | ")}`);
      }
      const t = parseAnchorResult(new TextDecoder().decode(out.stdout));
      Object.assign(extra, {
        pytorchTrainS: +t.trainS.toFixed(1),
        pytorchEvalS: +t.evalS.toFixed(1),
        pytorchAccuracy: +(100 * t.accuracy).toFixed(2),
        pytorchCi95: +(100 * t.ci95).toFixed(2),
        pytorchPeakRssMiB: Math.round(t.peakRssKiB / 1024),
        pytorchVersion: t.torch,
        pytorchThreads: t.threads,
      });
      record.referenceMs = t.trainS * 1000;
      record.ratioToPyTorch = +(trainMs / (t.trainS * 1000)).toFixed(3);
      log(
        `[bench tta] PyTorch: ${t.trainS.toFixed(0)} s of training, ${
          (100 * t.accuracy).toFixed(1)
        } ± ${(100 * t.ci95).toFixed(1)}%; ours / PyTorch ${record.ratioToPyTorch}`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return record;
}
