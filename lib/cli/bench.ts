/**
 * `deno task bench [--backend NAME …] [--case NAME …] [--peers] [--rounds N] [--profile]
 * [--steps N] [--warmup N] [--cpu-steps N] [--cpu-maml] [--no-data] [--episodes N]
 * [--eval-episodes N] [--out FILE]`: runs the compute
 * benchmarks (lib/bench/compute_bench.ts) on every available backend (or the ones named), plus
 * the data benchmarks (lib/bench/data_bench.ts) when that module exists, prints a table and
 * writes all records to `results/bench.json` (written to a temporary file, then renamed: never
 * half-written).
 *
 * `--peers` also runs the same steps in PyTorch (`bench/peers/torch_peer.py`, with Debian's
 * python3-torch or `METALAB_PYTHON`), alternating rounds of ours and theirs in this same run,
 * on our thread count, and prints ours / PyTorch's best variant per case; without torch it
 * says how to install it and runs ours alone. `--case NAME` runs only the named cases (no
 * data benchmarks then). `--profile` times one more step of each case by kernel (`tf.profile`)
 * and records where the time goes.
 *
 * @example
 * ```sh
 * deno task bench --backend wasm --peers --case conv4-protonet-step
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, initBackend } from "../backend/mod.ts";
import { benchCompute, COMPUTE_CASE_NAMES } from "../bench/compute_bench.ts";
import { startTorchPeer, type TorchPeer } from "../bench/peers.ts";
import { benchTimeToAccuracy, TIME_TO_ACCURACY_CASE } from "../bench/time_to_accuracy.ts";
import type { BenchRecord } from "../bench/types.ts";
import { parseArgs } from "./args.ts";
import { atomicWrite } from "../files/mod.ts";

const USAGE = `usage: deno task bench [--backend webgpu|wasm|native|cpu|auto …] [--case NAME …]
                       [--peers] [--rounds N] [--profile] [--steps N] [--warmup N] [--cpu-steps N]
                       [--cpu-maml]
                       [--no-data] [--episodes N] [--eval-episodes N] [--out FILE]
cases: ${COMPUTE_CASE_NAMES.join(", ")}
opt-in: ${TIME_TO_ACCURACY_CASE} (the ProtoNet anchor's 5,000 episodes, or --episodes N, in
        MetaLab then PyTorch: wall time and accuracy; about 20 min on an idle 2-core machine)`;

/** Backends that initialise here, fastest first (always ends with cpu). */
async function availableBackends(): Promise<string[]> {
  const out: string[] = [];
  for (const name of ["webgpu", "wasm"]) {
    try {
      if ((await initBackend(name)).name === name) out.push(name);
    } catch {
      // not available here
    }
  }
  out.push("cpu");
  return out;
}

function positiveInt(flag: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** The ratio as the table prints it: "0.87" or "2.31", "-" when not measured. */
export function formatRatio(ratio: number | undefined): string {
  return ratio === undefined ? "-" : ratio.toFixed(2);
}

/** The records as a table: ours, PyTorch's best variant of the same run, and their ratio. */
export function formatTable(records: BenchRecord[]): string {
  const rows = [[
    "suite",
    "case",
    "backend",
    "threads",
    "median ms",
    "min ms",
    "steps",
    "PyTorch best (median / min ms)",
    "ours / PyTorch",
    "peak RSS MiB ours / PyTorch",
    "×cpu speed-up",
  ]];
  for (const r of records) {
    const best = r.pytorch?.variants.find((v) => v.variant === r.pytorch?.best);
    const ours = r.extra?.peakRssMiB;
    rows.push([
      r.suite,
      r.name,
      r.backend ?? "-",
      r.extra?.threads === undefined ? "-" : String(r.extra.threads),
      r.medianMs.toFixed(1),
      r.minMs.toFixed(1),
      String(r.steps),
      best
        ? `${best.variant} ${best.medianMs.toFixed(1)} / ${best.minMs.toFixed(1)}`
        : r.referenceMs === undefined
        ? "-"
        : r.referenceMs.toFixed(1),
      formatRatio(r.ratioToPyTorch),
      ours === undefined && !best ? "-" : `${ours ?? "?"} / ${best?.peakRssMiB ?? "-"}`,
      r.extra?.speedupOverCpu === undefined ? "-" : String(r.extra.speedupOverCpu),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ")).join("\n");
}

/**
 * The PyTorch side of a run in the shape `deno task docs add-bench --pytorch FILE` reads:
 * per case PyTorch's best median of this same run.
 */
export function pytorchSummary(records: BenchRecord[]) {
  const measured = records.filter((r) => r.pytorch?.best !== undefined);
  if (!measured.length) return null;
  return {
    version: measured[0].pytorch!.version,
    threads: measured[0].pytorch!.threads,
    statistic: "median of the best variant, alternating with ours in the same run",
    cases: measured.map((r) => ({ name: r.name, ms: r.referenceMs!, variant: r.pytorch!.best })),
  };
}

/** Runs the bench command with `argv` (without the program name). */
export async function main(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs(argv, {
    backend: "list",
    steps: "string",
    warmup: "string",
    "cpu-steps": "string",
    "cpu-maml": "bool",
    "no-data": "bool",
    case: "list",
    peers: "bool",
    rounds: "string",
    profile: "bool",
    episodes: "string",
    "eval-episodes": "string",
    out: "string",
    help: "bool",
  });
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (positional.length) throw new Error(`unexpected argument "${positional[0]}"\n${USAGE}`);
  const requested = (flags.backend as string[] | undefined) ?? [];
  for (const b of requested) {
    if (!(BACKEND_NAMES as readonly string[]).includes(b)) {
      throw new Error(`unknown backend "${b}": choose one of ${BACKEND_NAMES.join(", ")}`);
    }
  }
  const steps = positiveInt("steps", flags.steps, 20);
  const warmup = positiveInt("warmup", flags.warmup, 3);
  const cpuSteps = positiveInt("cpu-steps", flags["cpu-steps"], 1);
  const rounds = positiveInt("rounds", flags.rounds, 4);
  const episodes = positiveInt("episodes", flags.episodes, 5000);
  const evalEpisodes = positiveInt("eval-episodes", flags["eval-episodes"], 600);
  const named = flags.case as string[] | undefined;
  for (const name of named ?? []) {
    if (!COMPUTE_CASE_NAMES.includes(name) && name !== TIME_TO_ACCURACY_CASE) {
      throw new Error(
        `unknown case "${name}": choose one of ${
          [...COMPUTE_CASE_NAMES, TIME_TO_ACCURACY_CASE].join(", ")
        }`,
      );
    }
  }
  const timeToAccuracy = named?.includes(TIME_TO_ACCURACY_CASE) ?? false;
  const computeNamed = named?.filter((n) => n !== TIME_TO_ACCURACY_CASE);
  // Only the time-to-accuracy case named: no compute case runs.
  const cases = computeNamed && !computeNamed.length ? [] : computeNamed;
  // The time-to-accuracy case is a comparison by definition: it starts the peer by itself.
  const peers = Boolean(flags.peers) || timeToAccuracy;
  const out = (flags.out as string | undefined) ??
    new URL("../../results/bench.json", import.meta.url).pathname;
  const backends = requested.length ? requested : await availableBackends();
  console.log(
    `[bench] backends: ${backends.join(", ")}; ${steps} timed steps after ${warmup} warm-up`,
  );

  // The peer runs on our thread count, known once the first fast backend is up.
  let peer: TorchPeer | null = null;
  let peerNote: string | null = null;
  const fast = backends.find((b) => b !== "cpu");
  if (peers && !fast) peerNote = "PyTorch peer skipped: it runs beside wasm/webgpu only";
  else if (peers) {
    const info = await initBackend(fast!);
    const started = await startTorchPeer({ threads: info.nativeThreads ?? info.threads ?? 1 });
    if ("skipped" in started) peerNote = started.skipped;
    else {
      peer = started;
      peerNote = `PyTorch ${started.hello.torch} (${started.python}), ` +
        `${started.hello.threads} thread${started.hello.threads > 1 ? "s" : ""}, ` +
        `functorch ${started.hello.functorch ? "yes" : "no"}; ${rounds} alternating rounds`;
    }
    console.log(`[bench] ${peerNote}`);
  }

  let records: BenchRecord[] = [];
  try {
    if (!cases || cases.length) {
      records = await benchCompute(backends, {
        steps,
        warmup,
        cpuSteps,
        cpuMaml: Boolean(flags["cpu-maml"]),
        cases,
        peer,
        rounds,
        profile: Boolean(flags.profile),
      });
    }
    if (timeToAccuracy) {
      const info = await initBackend(fast ?? "cpu");
      records.push(
        await benchTimeToAccuracy({
          episodes,
          evalEpisodes,
          python: peer?.python ?? null,
          threads: info.nativeThreads ?? info.threads ?? 1,
        }),
      );
    }
  } finally {
    await peer?.close();
  }

  // The data benchmarks live in another module, which may not exist in every checkout.
  const dataBench = new URL("../bench/data_bench.ts", import.meta.url);
  let dataPresent = false;
  try {
    dataPresent = (await Deno.stat(dataBench)).isFile;
  } catch {
    dataPresent = false;
  }
  if (dataPresent && !flags["no-data"] && !named) {
    const info = await initBackend(backends[0] === "cpu" ? "cpu" : backends[0]);
    console.log(`[bench] data benchmarks on ${info.name}`);
    const mod = await import(dataBench.href) as { benchData?: () => Promise<BenchRecord[]> };
    if (typeof mod.benchData !== "function") {
      throw new Error(`${dataBench.pathname} does not export benchData()`);
    }
    records.push(...await mod.benchData());
  }

  console.log("\n" + formatTable(records));
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: navigator.hardwareConcurrency,
      os: Deno.build.os,
      arch: Deno.build.arch,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
    },
    tfjs: tf.version.tfjs,
    backends,
    options: { steps, warmup, cpuSteps, rounds, cases: named ?? null, peers },
    peer: peerNote,
    pytorch: pytorchSummary(records),
    records,
  };
  await atomicWrite(out, JSON.stringify(report, null, 2) + "\n");
  console.log(`\n[bench] wrote ${out}`);
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
