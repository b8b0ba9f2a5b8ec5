/**
 * One definition per experiment: a notebook and `deno task reproduce` resolve the same
 * config for a preset and give the same numbers for a seed; every preset value can be given
 * back with `--set`; impossible combinations are refused before any data loads; a run keeps
 * its trained models and `--eval-only --from` evaluates them to the same numbers.
 */
import assert from "node:assert/strict";
import { runCli } from "../lib/testing/mod.ts";
import { initBackend } from "../lib/backend/mod.ts";
import * as experiments from "../lib/experiments/mod.ts";
import {
  ConfigError,
  courseMode,
  courseRun,
  EXPERIMENTS,
  findExperiment,
  notebookPreset,
  runConfig,
  runExperiment,
  schemaProblems,
  sinusoidK5,
} from "../lib/experiments/mod.ts";
import { reproducePlan } from "../lib/cli/reproduce.ts";

await initBackend("wasm");

const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });

Deno.test("every experiment's preset values lie inside their own ranges", () => {
  for (const e of EXPERIMENTS) {
    assert.deepEqual(schemaProblems(e.schema), [], e.name);
  }
  // The case that was refused: 15 queries is Omniglot's full value.
  const maml = findExperiment("omniglot-maml");
  assert.equal(experiments.resolveConfig(maml.schema, "quick", { queries: "15" }).queries, 15);
});

Deno.test("a notebook and reproduce resolve the same config for every experiment and preset", async () => {
  for (const e of EXPERIMENTS) {
    const cases = [
      [["--quick"], { METALAB_QUICK: "1" }],
      [["--quick"], {}], // the default (trained) mode trains nothing; without models it runs quick
      [[], { METALAB_MODE: "full" }],
    ] as const;
    for (const [argv, vars] of cases) {
      const plan = reproducePlan([e.name, ...argv]);
      const cli = await runConfig(e, { preset: plan.preset, overrides: plan.overrides(e) });
      const notebook = await runConfig(e, { preset: notebookPreset(env(vars)) });
      assert.deepEqual(notebook, cli, `${e.name} ${argv.join(" ") || "(full)"}`);
    }
  }
});

Deno.test("the notebooks run registry experiments through runExperiment, with no preset constants of their own", async () => {
  const exported = experiments as Record<string, unknown>;
  let calls = 0;
  for (const entry of Deno.readDirSync("notebooks")) {
    if (!entry.name.endsWith(".ipynb")) continue;
    const nb = JSON.parse(await Deno.readTextFile(`notebooks/${entry.name}`));
    const code = nb.cells
      .filter((c: { cell_type: string }) => c.cell_type === "code")
      .map((c: { source: string[] | string }) => [c.source].flat().join(""))
      .join("\n");
    assert.doesNotMatch(
      code,
      /\b(?!METALAB_)[A-Z]+_(FULL|QUICK)\b/,
      `${entry.name} defines a preset`,
    );
    for (const [, fn, name] of code.matchAll(/(runExperiment|courseRun)\(\s*([A-Za-z0-9_]+)/g)) {
      calls++;
      assert.ok(
        EXPERIMENTS.includes(exported[name] as (typeof EXPERIMENTS)[number]),
        `${entry.name}: ${fn}(${name}) is not a registry experiment`,
      );
    }
  }
  assert.ok(calls >= 3, `the course runs its experiments through courseRun (${calls} calls)`);
});

Deno.test("a notebook's mode: trained by default, quick in the tests, full on request", () => {
  assert.equal(courseMode(env({})), "trained");
  assert.equal(courseMode(env({ METALAB_QUICK: "1" })), "quick");
  assert.equal(courseMode(env({ METALAB_MODE: "full" })), "full");
  assert.throws(() => courseMode(env({ METALAB_MODE: "fast" })), /METALAB_MODE="fast": expected/);
});

Deno.test("impossible combinations and malformed values are refused before any data loads", async () => {
  const protonet = findExperiment("omniglot-protonet");
  // 10 shots + 15 queries = 25 drawings; a character has 20. (No Omniglot is needed to say so.)
  await assert.rejects(
    runConfig(protonet, { preset: "full", overrides: { shots: "10" } }),
    (e) =>
      e instanceof ConfigError && /shots=10 \+ queries=15 needs 25 drawings.*20/.test(e.message),
  );
  assert.throws(
    () => experiments.resolveConfig(sinusoidK5.schema, "quick", { trainSteps: "0x10" }),
    /trainSteps="0x10": expected an integer/,
  );
  assert.throws(
    () => experiments.resolveConfig(sinusoidK5.schema, "quick", { trainSteps: "" }),
    /trainSteps="": expected an integer/,
  );
  assert.throws(() => reproducePlan(["sinusoid-k5", "--seed", ""]), /--seed must be/);
  assert.throws(() => reproducePlan(["sinusoid-k5", "--seed", "0x1"]), /--seed must be/);
  assert.throws(() => reproducePlan(["sinusoid-k5", "--eval-only"]), /--eval-only needs --from/);
  const sweep = findExperiment("sinusoid-regularisation");
  assert.deepEqual(
    experiments.resolveConfig(sweep.schema, "quick", { lambdas: "0, 1e-3,0.5" }).lambdas,
    [0, 1e-3, 0.5],
  );
  assert.throws(
    () => experiments.resolveConfig(sweep.schema, "quick", { lambdas: "0,x" }),
    /lambdas="0,x": expected a non-empty comma-separated list/,
  );
});

const TINY = [
  "--set",
  "trainSteps=20",
  "--set",
  "metaClassifierSteps=20",
  "--set",
  "evalEpisodes=20",
];

const reproduce = (args: string[]) =>
  runCli("lib/cli/reproduce.ts", ["--backend", "wasm", ...args]);

Deno.test("one quick experiment: the same metrics from reproduce and from a notebook's call, and again from its saved models", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-parity-" });
  try {
    const cli = await reproduce(["sinusoid-k5", "--quick", "--out", out, ...TINY]);
    assert.equal(cli.code, 0, cli.text);
    const file = JSON.parse(await Deno.readTextFile(`${out}/sinusoid-k5/result.json`));
    const notebook = await runExperiment(sinusoidK5, {
      preset: notebookPreset(env({ METALAB_QUICK: "1" })),
      overrides: { trainSteps: 20, metaClassifierSteps: 20, evalEpisodes: 20 },
      outDir: null,
      log: () => {},
    });
    assert.deepEqual(notebook.config, file.config);
    // As written to result.json (JSON leaves out undefined fields).
    assert.deepEqual(JSON.parse(JSON.stringify(notebook.metrics)), file.metrics);

    // The trained models are kept beside the results, with their provenance.
    assert.deepEqual(file.models, ["models/maml", "models/pretrained", "models/metaclassifier"]);
    const manifest = JSON.parse(
      await Deno.readTextFile(`${out}/sinusoid-k5/models/maml/model.json`),
    );
    const extra = manifest.userDefinedMetadata.extra;
    assert.equal(extra.experiment, "sinusoid-k5");
    assert.equal(extra.steps, 20);
    assert.equal(manifest.userDefinedMetadata.seed, 0);
    assert.deepEqual(extra.metrics, file.metrics);

    // Evaluating them without training gives the same numbers.
    const evalOut = `${out}/eval`;
    const again = await reproduce([
      "sinusoid-k5",
      "--eval-only",
      "--from",
      out,
      "--out",
      evalOut,
    ]);
    assert.equal(again.code, 0, again.text);
    const evaluated = JSON.parse(await Deno.readTextFile(`${evalOut}/sinusoid-k5/result.json`));
    assert.deepEqual(evaluated.metrics, file.metrics);
    assert.deepEqual(evaluated.config, file.config, "the config the models were trained with");
    assert.equal(evaluated.evaluatedFrom, out);
    assert.match(evaluated.notes[0], /evaluated the saved model .*models\/maml \(20 of 20 steps/);

    // A notebook's default mode evaluates the same models (here as if MetaLab shipped them).
    const course = await courseRun(sinusoidK5, { resultsDir: `${out}/none`, shippedDir: out });
    assert.equal(course.mode, "trained");
    assert.match(course.label, /trained models from .*sinusoid-k5 \(the full schedule trained/);
    assert.deepEqual(JSON.parse(JSON.stringify(course.metrics)), file.metrics);
    assert.deepEqual(
      course.trainingCurves,
      file.curves.filter((c: { title: string }) => c.title.includes("meta-training")),
    );
    // A lighter evaluation for a notebook: said on the label, the run's own value beside it.
    const lighter = await courseRun(sinusoidK5, {
      resultsDir: `${out}/none`,
      shippedDir: out,
      trainedOverrides: { evalEpisodes: 3 },
    });
    assert.equal(lighter.config.evalEpisodes, 3);
    assert.match(lighter.label, /; evalEpisodes=3 here \(the run: \d+\)$/);
    assert.deepEqual(lighter.trainedResult?.metrics, file.metrics);
    // Without trained models it trains the quick preset, and says so.
    const none = await courseRun(sinusoidK5, {
      resultsDir: `${out}/none`,
      shippedDir: `${out}/none`,
      overrides: { trainSteps: 2, metaClassifierSteps: 2, evalEpisodes: 2 },
    });
    assert.equal(none.mode, "quick");
    assert.match(none.label, /no trained models of sinusoid-k5 found.*QUICK preset trained here/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a saved model whose architecture does not match the experiment is refused, naming the parameter and both shapes", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-mismatch-" });
  const tiny = { trainSteps: 2, filters: 4, evalEpisodes: 2 };
  try {
    const mnist = findExperiment("mnist-protonet");
    await runExperiment(mnist, { preset: "quick", overrides: tiny, outDir: out, log: () => {} });
    await assert.rejects(
      runExperiment(mnist, {
        from: out,
        overrides: { filters: 8 },
        outDir: `${out}/eval`,
        log: () => {},
      }),
      /models\/protonet: parameter "[^"]+" has shape \[[\d,]+\], expected \[[\d,]+\]/,
    );
    await assert.rejects(
      runExperiment(sinusoidK5, { from: out, outDir: null, log: () => {} }),
      /no saved models of sinusoid-k5 in /,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
