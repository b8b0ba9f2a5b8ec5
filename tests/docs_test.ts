/**
 * The generated docs (`deno task docs`): docs/results.md and docs/benchmarks.md are exactly
 * what the generator makes from the committed records, a record with a missing or invalid
 * field is refused naming the file and the field, and `docs add` / `docs add-bench` turn a
 * real result file and a bench file into records that the docs then show.
 */
import assert from "node:assert/strict";
import { runCli } from "../lib/testing/mod.ts";
import { checkDocs, formatMetric, formatMs, generateDocs } from "../scripts/docs_gen.ts";
import {
  readRecords,
  RECORDS_DIR,
  validateBenchRecord,
  validateResultsRecord,
} from "../scripts/docs_records.ts";

const run = (script: string, args: string[]) => runCli(script, args, { METALAB_WASM_THREADS: "1" });

const docs = (args: string[]) => run("scripts/docs.ts", args);

/** A temporary copy of the committed records. */
async function copyRecords(dir: string): Promise<string> {
  const records = `${dir}/records`;
  for (const sub of ["results", "bench"]) {
    await Deno.mkdir(`${records}/${sub}`, { recursive: true });
    for await (const e of Deno.readDir(`${RECORDS_DIR}/${sub}`)) {
      await Deno.copyFile(`${RECORDS_DIR}/${sub}/${e.name}`, `${records}/${sub}/${e.name}`);
    }
  }
  return records;
}

async function withTempDir(prefix: string, body: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("docs/results.md and docs/benchmarks.md are what `deno task docs` makes from docs/records", async () => {
  const stale = await checkDocs();
  assert.deepEqual(stale, [], stale.join("\n"));
});

Deno.test("the generated docs are deterministic and carry every record", async () => {
  const a = await generateDocs();
  const b = await generateDocs();
  assert.deepEqual([...a.keys()], ["results.md", "benchmarks.md"]);
  assert.equal(a.get("results.md"), b.get("results.md"));
  assert.equal(a.get("benchmarks.md"), b.get("benchmarks.md"));
  const { results, bench } = await readRecords();
  assert.ok(results.length > 0 && bench.length > 0, "records are committed");
  for (const { id, record } of results) {
    assert.ok(a.get("results.md")!.includes(`### ${id}\n`), `results.md has a section for ${id}`);
    assert.ok(a.get("results.md")!.includes(`\`${record.command}\``), `${id}'s command is shown`);
  }
  for (const { id } of bench) {
    assert.ok(a.get("benchmarks.md")!.includes(`## ${id}\n`), `benchmarks.md has ${id}`);
  }
});

Deno.test("a transcribed row reads back as the table it came from", async () => {
  const text = (await generateDocs()).get("results.md")!;
  // README.md at 332aac3: "| MAML, 1 step | 0.558 ± 0.057 | 0.67 | no: ours is lower (better) |"
  assert.match(
    text,
    /\| K=5 maml, MSE after 1 step +\| 0\.558 ± 0\.057 +\| 600 +\| 0\.67 +\| no: ours is lower \(better\) +\|/,
  );
  assert.match(text, /\| K=10 metaclassifier, MSE after 10 steps \| 0\.020 ± 0\.003 +\|/);
  assert.match(
    text,
    /protonet: 3,274 of 20,000 \(16\.4%\) +\| training 7,749 s +\| 2 cores, wasm 1 thread/,
  );
  const bench = (await generateDocs()).get("benchmarks.md")!;
  assert.match(
    bench,
    /\| `maml-conv4-32tasks-second-order` \| wasm +\| 2 +\| 5\.81 s +\| 5\.29 s +\| 20 +\| 3 s +\| 1\.9× +\| ≤ 9 s +\| met +\|/,
  );
  assert.equal(formatMs(134.8), "134.8 ms");
  assert.equal(formatMs(0.97), "0.97 ms");
  assert.equal(formatMs(147_000), "147 s");
  assert.equal(
    formatMetric({ name: "x", value: 253.8, ci95: 496.7, unit: "MSE", higherIsBetter: false }),
    "253.8 ± 496.7",
  );
  assert.equal(
    formatMetric({ name: "x", value: 96.5, ci95: 0.4, unit: "%", higherIsBetter: true }),
    "96.5 ± 0.4%",
  );
});

Deno.test("a stale doc is found, named with the command that fixes it; --check exits 1", async () => {
  await withTempDir("metalab-docs-stale-", async (dir) => {
    const records = await copyRecords(dir);
    const docsDir = `${dir}/docs`;
    let r = await docs(["--records", records, "--docs", docsDir]);
    assert.equal(r.code, 0, r.text);
    r = await docs(["--check", "--records", records, "--docs", docsDir]);
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /docs: up to date/);

    const file = `${records}/results/sinusoid-k5.json`;
    const record = JSON.parse(await Deno.readTextFile(file));
    record.metrics[0].value = 0.559;
    await Deno.writeTextFile(file, JSON.stringify(record, null, 2) + "\n");
    const stale = await checkDocs(docsDir, records);
    assert.equal(stale.length, 1, stale.join("\n"));
    assert.match(stale[0], /results\.md is stale: .* run `deno task docs` to regenerate it/);
    r = await docs(["--check", "--records", records, "--docs", docsDir]);
    assert.equal(r.code, 1, r.text);
    assert.match(r.text, /results\.md is stale/);

    await Deno.remove(`${docsDir}/benchmarks.md`);
    assert.match((await checkDocs(docsDir, records)).join("\n"), /benchmarks\.md is missing/);
  });
});

Deno.test("a record with a missing or invalid field is refused, naming the file and the field", async () => {
  const { results, bench } = await readRecords();
  const good = structuredClone(results[0].record) as unknown as Record<string, unknown>;
  const file = `${RECORDS_DIR}/results/${results[0].id}.json`;
  assert.doesNotThrow(() => validateResultsRecord(good, file));
  const cases: [string, (r: Record<string, unknown>) => void, RegExp][] = [
    ["wallTimeS", (r) => delete r.wallTimeS, /"wallTimeS" is missing \(expected seconds or null\)/],
    ["seed", (r) => (r.seed = -1), /"seed" must be a non-negative integer, got -1/],
    ["provenance", (r) => delete r.provenance, /"provenance" is missing/],
    [
      "machine.cores",
      (r) => delete (r.machine as Record<string, unknown>).cores,
      /"machine\.cores" is missing/,
    ],
    [
      "metrics[0].value",
      (r) => ((r.metrics as Record<string, unknown>[])[0].value = "96.5"),
      /"metrics\[0\]\.value" must be a finite number, got "96\.5"/,
    ],
    [
      "partial",
      (r) => (r.partial = [{ label: "maml", step: 5, steps: 5 }]),
      /"partial" must be an array/,
    ],
  ];
  for (const [name, spoil, message] of cases) {
    const bad = structuredClone(good);
    spoil(bad);
    assert.throws(() => validateResultsRecord(bad, file), (e: Error) => {
      assert.ok(e.message.startsWith(`${file}: invalid record: `), e.message);
      assert.match(e.message, message, name);
      return true;
    });
  }
  assert.throws(
    () => validateResultsRecord(good, `${RECORDS_DIR}/results/other-name.json`),
    /file name must be "[a-z0-9-]+\[--<variant>\]\.json", got "other-name\.json"/,
  );

  const benchGood = structuredClone(bench[0].record) as unknown as Record<string, unknown>;
  const benchFile = `${RECORDS_DIR}/bench/${bench[0].id}.json`;
  assert.doesNotThrow(() => validateBenchRecord(benchGood, benchFile));
  const noMachine = structuredClone(benchGood);
  delete noMachine.machine;
  assert.throws(
    () => validateBenchRecord(noMachine, benchFile),
    new RegExp(`${benchFile}: .*"machine" is missing`),
  );
  const badMedian = structuredClone(benchGood);
  (badMedian.records as Record<string, unknown>[])[0].medianMs = -1;
  assert.throws(
    () => validateBenchRecord(badMedian, benchFile),
    /"records\[0\]\.medianMs" must be milliseconds or null, got -1/,
  );

  // Reading a folder refuses the bad file by name, and broken JSON too.
  await withTempDir("metalab-docs-bad-", async (dir) => {
    await Deno.mkdir(`${dir}/results`);
    const bad = structuredClone(good);
    delete bad.command;
    await Deno.writeTextFile(`${dir}/results/${results[0].id}.json`, JSON.stringify(bad));
    await assert.rejects(
      readRecords(dir),
      new RegExp(`${results[0].id}\\.json: invalid record: "command" is missing`),
    );
    await Deno.writeTextFile(`${dir}/results/${results[0].id}.json`, "{");
    await assert.rejects(readRecords(dir), new RegExp(`${results[0].id}\\.json: not valid JSON`));
  });
});

Deno.test("docs add: a real result.json becomes a record that results.md shows", async () => {
  await withTempDir("metalab-docs-add-", async (dir) => {
    const r = await run("lib/cli/reproduce.ts", [
      "sinusoid-k5",
      "--quick",
      "--set",
      "trainSteps=5",
      "--set",
      "metaClassifierSteps=5",
      "--set",
      "evalEpisodes=5",
      "--out",
      `${dir}/out`,
    ]);
    assert.equal(r.code, 0, r.text);
    const resultPath = `${dir}/out/sinusoid-k5/result.json`;
    const result = JSON.parse(await Deno.readTextFile(resultPath));
    const records = `${dir}/records`;
    const docsDir = `${dir}/docs`;
    const command = "deno task reproduce sinusoid-k5 --quick --set trainSteps=5 " +
      "--set metaClassifierSteps=5 --set evalEpisodes=5";
    const args = ["add", resultPath, "--command", command, "--records", records, "--docs", docsDir];
    let a = await docs(args);
    assert.equal(a.code, 0, a.text);

    const recordFile = `${records}/results/sinusoid-k5--quick.json`;
    const record = validateResultsRecord(
      JSON.parse(await Deno.readTextFile(recordFile)),
      recordFile,
    );
    assert.equal(record.experiment, "sinusoid-k5");
    assert.equal(record.preset, "quick");
    assert.equal(record.seed, 0);
    assert.equal(record.command, command);
    assert.deepEqual(record.config, result.config);
    assert.equal(record.scheduleSteps, 5);
    assert.deepEqual(record.partial, []);
    assert.equal(record.wallTimeS, result.wallTimeS);
    assert.equal(record.startedAt, result.startedAt);
    assert.deepEqual(record.versions, result.versions);
    assert.deepEqual(record.metrics, result.metrics, "every metric, unrounded");
    assert.deepEqual(record.notes, result.notes);
    assert.ok(!("curves" in record), "a record is a summary: no curves");
    assert.match(record.provenance, new RegExp(`from ${resultPath.replace(/[.]/g, "\\.")}`));
    // The run's own machine and commit where its result file names them (newer files do).
    assert.equal(record.machine.cores, result.machine?.cores ?? navigator.hardwareConcurrency);
    assert.equal(record.machine.cpu, result.machine?.cpu ?? record.machine.cpu);
    assert.equal(record.commit, result.commit ?? null);

    const text = await Deno.readTextFile(`${docsDir}/results.md`);
    assert.match(text, /### sinusoid-k5--quick\n/);
    assert.ok(text.includes(`\`${command}\``), "the command is shown");
    const first = result.metrics[1];
    assert.ok(
      text.includes(`${first.value.toFixed(3)} ± ${first.ci95.toFixed(3)}`),
      "the numbers are shown",
    );
    assert.deepEqual(await checkDocs(docsDir, records), [], "add regenerated the docs");

    a = await docs(args);
    assert.equal(a.code, 1);
    assert.match(a.text, /sinusoid-k5--quick\.json exists: pass --force to replace it/);
    a = await docs([...args, "--force", "--variant", "tiny"]);
    assert.equal(a.code, 0, a.text);
    assert.ok((await Deno.stat(`${records}/results/sinusoid-k5--tiny.json`)).isFile);

    await Deno.writeTextFile(`${dir}/broken.json`, JSON.stringify({ ...result, seed: "zero" }));
    a = await docs(["add", `${dir}/broken.json`, "--records", records, "--docs", docsDir]);
    assert.equal(a.code, 1);
    assert.match(a.text, /broken\.json: not a valid result file: "seed" must be an integer/);
  });
});

Deno.test("docs add-bench: a bench.json becomes a record that benchmarks.md shows", async () => {
  await withTempDir("metalab-docs-bench-", async (dir) => {
    // The shape lib/cli/bench.ts writes to results/bench.json.
    const report = {
      date: "2031-02-03T04:05:06.000Z",
      machine: { cpus: 2, os: "linux", arch: "x86_64", deno: "2.0.0", v8: "12" },
      tfjs: "4.22.0",
      backends: ["wasm"],
      options: { steps: 20, warmup: 3, cpuSteps: 1 },
      records: [{
        suite: "compute",
        name: "conv4-protonet-step",
        backend: "wasm",
        medianMs: 140.04,
        minMs: 131.26,
        steps: 20,
        referenceMs: 46,
        targetMs: 230,
        extra: { simd: "true", threads: 2, targetFactor: 5, timesPyTorch: 3.04 },
      }],
    };
    const pytorch = {
      version: "2.4",
      threads: 2,
      statistic: "median of 20 steps",
      cases: [{ name: "conv4-protonet-step", ms: 40 }],
    };
    await Deno.writeTextFile(`${dir}/bench.json`, JSON.stringify(report));
    await Deno.writeTextFile(`${dir}/pytorch.json`, JSON.stringify(pytorch));
    const records = `${dir}/records`;
    const docsDir = `${dir}/docs`;
    const a = await docs([
      "add-bench",
      `${dir}/bench.json`,
      "--pytorch",
      `${dir}/pytorch.json`,
      "--cpu",
      "Test CPU",
      "--records",
      records,
      "--docs",
      docsDir,
    ]);
    assert.equal(a.code, 0, a.text);
    const file = `${records}/bench/2031-02-03.json`;
    const record = validateBenchRecord(JSON.parse(await Deno.readTextFile(file)), file);
    assert.deepEqual(record.records, report.records);
    assert.deepEqual(record.pytorch, pytorch);
    assert.deepEqual(record.machine, {
      cores: 2,
      cpu: "Test CPU",
      os: "linux x86_64",
      wasmThreads: 2,
    });
    assert.equal(record.tfjs, "4.22.0");
    const text = await Deno.readTextFile(`${docsDir}/benchmarks.md`);
    assert.match(
      text,
      /\| `conv4-protonet-step` \| wasm +\| 2 +\| 140 ms +\| 131.3 ms +\| 20 +\| 40 ms +\| 3\.5× +\| ≤ 230 ms +\| met +\|/,
    );
    assert.match(text, /PyTorch: 2\.4, 2 threads, median of 20 steps/);
  });
});
