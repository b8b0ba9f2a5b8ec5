/**
 * `deno task bench [--backend NAME …] [--steps N] [--warmup N] [--cpu-steps N] [--cpu-maml]
 * [--no-data] [--out FILE]`: runs the compute benchmarks (lib/bench/compute_bench.ts) on every
 * available backend (or the ones named), plus the data benchmarks (lib/bench/data_bench.ts)
 * when that module exists, prints a table and writes all records to `results/bench.json`
 * (written to a temporary file, then renamed: never half-written).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, initBackend } from "../backend/mod.ts";
import { benchCompute } from "../bench/compute_bench.ts";
import type { BenchRecord } from "../bench/types.ts";
import { parseArgs } from "./args.ts";
import { atomicWrite } from "../files/mod.ts";

const USAGE = `usage: deno task bench [--backend webgpu|wasm|cpu|auto …] [--steps N] [--warmup N]
                       [--cpu-steps N] [--cpu-maml] [--no-data] [--out FILE]`;

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

function formatTable(records: BenchRecord[]): string {
  const rows = [[
    "suite",
    "case",
    "backend",
    "median ms",
    "min ms",
    "steps",
    "target ms",
    "×PyTorch",
    "×cpu speed-up",
    "target",
  ]];
  for (const r of records) {
    const met = r.targetMs === undefined ? "" : r.medianMs <= r.targetMs ? "met" : "MISSED";
    rows.push([
      r.suite,
      r.name,
      r.backend ?? "-",
      r.medianMs.toFixed(1),
      r.minMs.toFixed(1),
      String(r.steps),
      r.targetMs === undefined ? "-" : String(r.targetMs),
      r.extra?.timesPyTorch === undefined ? "-" : String(r.extra.timesPyTorch),
      r.extra?.speedupOverCpu === undefined ? "-" : String(r.extra.speedupOverCpu),
      met,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join("  ")).join("\n");
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
  const out = (flags.out as string | undefined) ??
    new URL("../../results/bench.json", import.meta.url).pathname;
  const backends = requested.length ? requested : await availableBackends();
  console.log(
    `[bench] backends: ${backends.join(", ")}; ${steps} timed steps after ${warmup} warm-up`,
  );

  const records: BenchRecord[] = await benchCompute(backends, {
    steps,
    warmup,
    cpuSteps,
    cpuMaml: Boolean(flags["cpu-maml"]),
  });

  // The data benchmarks live in another module, which may not exist in every checkout.
  const dataBench = new URL("../bench/data_bench.ts", import.meta.url);
  let dataPresent = false;
  try {
    dataPresent = (await Deno.stat(dataBench)).isFile;
  } catch {
    dataPresent = false;
  }
  if (dataPresent && !flags["no-data"]) {
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
    options: { steps, warmup, cpuSteps },
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
