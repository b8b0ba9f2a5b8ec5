/**
 * `deno task docs`: the generated docs and their records.
 *
 * - `deno task docs` regenerates docs/results.md and docs/benchmarks.md from docs/records/;
 * - `deno task docs --check` regenerates nothing and exits 1 when a doc is stale;
 * - `deno task docs add results/<preset>/<experiment>/result.json [--command "…"]
 *   [--variant NAME] [--commit SHA] [--force]` keeps one run as a record
 *   (docs/records/results/<experiment>[--<variant>].json; the variant defaults to "quick" for
 *   a quick-preset run, none for a full one), then regenerates the docs;
 * - `deno task docs add-bench results/bench.json [--name NAME] [--command "…"] [--commit SHA]
 *   [--cpu MODEL] [--pytorch FILE] [--force]` keeps one `deno task bench` measurement
 *   (docs/records/bench/<date-or-name>.json), then regenerates the docs.
 *
 * `--records DIR` and `--docs DIR` point elsewhere (the tests use temporary folders). Records are
 * written atomically, and an existing record is replaced only with `--force`: a committed
 * record is a result, not a cache.
 *
 * @example
 * ```sh
 * deno task reproduce sinusoid-k5 --quick
 * deno task docs add results/quick/sinusoid-k5/result.json
 * ```
 * @module
 */
import { parseArgs } from "../lib/cli/args.ts";
import { atomicWrite } from "../lib/files/mod.ts";
import { checkDocs, writeDocs } from "./docs_gen.ts";
import {
  type BenchDocRecord,
  DOCS_DIR,
  type Machine,
  recordFromBench,
  recordFromResult,
  RECORDS_DIR,
  resultsRecordName,
  validateBenchRecord,
  validateResultsRecord,
} from "./docs_records.ts";

const USAGE = `usage: deno task docs [--check]
       deno task docs add RESULT.json [--command "…"] [--variant NAME] [--commit SHA] [--force]
       deno task docs add-bench BENCH.json [--name NAME] [--command "…"] [--commit SHA]
                                [--cpu MODEL] [--pytorch FILE] [--force]
options for all: --records DIR (default docs/records), --docs DIR (default docs)`;

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The CPU model of this machine, where the OS says (Linux), else null. */
async function cpuModel(): Promise<string | null> {
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    return info.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? null;
  } catch {
    return null;
  }
}

/** This machine, for a result file that does not name its own (threads: not known here). */
async function thisMachine(): Promise<Machine> {
  return {
    cores: navigator.hardwareConcurrency ?? null,
    cpu: await cpuModel(),
    os: `${Deno.build.os} ${Deno.build.arch}`,
    wasmThreads: null,
  };
}

/** Writes a record as JSON after checking it as the docs generator will read it. */
async function writeRecord(
  path: string,
  record: unknown,
  check: (v: unknown, file: string) => unknown,
  force: boolean,
): Promise<void> {
  const text = JSON.stringify(record, null, 2) + "\n";
  check(JSON.parse(text), path);
  if (!force && await exists(path)) {
    throw new Error(`${path} exists: pass --force to replace it, or --variant/--name for another`);
  }
  await atomicWrite(path, text);
  console.log(`docs: wrote ${path}`);
}

/** Runs `deno task docs` with `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { positional, flags } = parseArgs(argv, {
    check: "bool",
    command: "string",
    variant: "string",
    name: "string",
    commit: "string",
    cpu: "string",
    pytorch: "string",
    force: "bool",
    records: "string",
    docs: "string",
    help: "bool",
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const recordsDir = (flags.records as string | undefined) ?? RECORDS_DIR;
  const docsDir = (flags.docs as string | undefined) ?? DOCS_DIR;
  const [verb, file, ...rest] = positional;
  if (rest.length) throw new Error(`unexpected argument "${rest[0]}"\n${USAGE}`);
  const force = Boolean(flags.force);
  const command = flags.command as string | undefined;
  const commit = flags.commit as string | undefined;

  if (verb === undefined) {
    if (flags.check) {
      const stale = await checkDocs(docsDir, recordsDir);
      for (const line of stale) console.error(`docs: ${line}`);
      if (stale.length === 0) console.log("docs: up to date");
      return stale.length ? 1 : 0;
    }
    for (const path of await writeDocs(docsDir, recordsDir)) console.log(`docs: wrote ${path}`);
    return 0;
  }
  if (flags.check) throw new Error(`--check takes no command, got "${verb}"\n${USAGE}`);
  if (!file) throw new Error(`${verb} needs a file\n${USAGE}`);

  if (verb === "add") {
    const record = recordFromResult(await readJson(file), {
      source: file,
      command,
      commit,
      machine: await thisMachine(),
    });
    const name = resultsRecordName(
      record.experiment,
      (flags.variant as string | undefined) ?? (record.preset === "quick" ? "quick" : undefined),
    );
    await writeRecord(`${recordsDir}/results/${name}`, record, validateResultsRecord, force);
  } else if (verb === "add-bench") {
    const pytorch = flags.pytorch === undefined
      ? undefined
      : await readJson(flags.pytorch as string) as BenchDocRecord["pytorch"];
    const record = recordFromBench(await readJson(file), {
      source: file,
      command,
      commit,
      cpu: (flags.cpu as string | undefined) ?? await cpuModel(),
      pytorch,
    });
    const name = (flags.name as string | undefined) ?? record.date!.slice(0, 10);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new Error(`--name must be letters, digits, ".", "_" and "-", got "${name}"`);
    }
    await writeRecord(`${recordsDir}/bench/${name}.json`, record, validateBenchRecord, force);
  } else {
    throw new Error(`unknown command "${verb}": use add, add-bench or none\n${USAGE}`);
  }
  for (const path of await writeDocs(docsDir, recordsDir)) console.log(`docs: wrote ${path}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`docs: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
