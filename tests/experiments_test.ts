/**
 * The experiments layer: validated configs, the output-folder guard, checkpoints that
 * resume to exactly the uninterrupted result, the results schema, the registry.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import { SinusoidFamily } from "../lib/datasets/mod.ts";
import { mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { RegressionTaskSampler } from "../lib/tasks/mod.ts";
import { Maml } from "../lib/meta/mod.ts";
import {
  CheckpointStore,
  ConfigError,
  type Experiment,
  type ExperimentOutput,
  findExperiment,
  OutputConflictError,
  resolveConfig,
  RESULT_SCHEMA,
  runExperiment,
  trainWithCheckpoints,
  validateResult,
} from "../lib/experiments/mod.ts";

await initBackend("cpu");

const SCHEMA = {
  steps: { kind: "int", min: 1, max: 1000, quick: 30, full: 300, doc: "meta-steps" },
  lr: { kind: "number", min: 0, max: 1, quick: 0.01, full: 0.01, doc: "inner rate" },
  mode: { kind: "choice", choices: ["a", "b"], quick: "a", full: "b", doc: "a choice" },
} as const;

/**
 * A small real experiment: sinusoid MAML on an MLP 1-8-1, checkpointed every 10 steps.
 * With `timeUpAfterStep`, its training sees the time limit pass once that step is done.
 */
function tinyExperiment(
  onStep?: (step: number) => void,
  timeUpAfterStep?: number,
): Experiment<typeof SCHEMA, ExperimentOutput> {
  return {
    name: "tiny-sinusoid",
    title: "tiny sinusoid MAML",
    description: "test fixture",
    needs: [],
    schema: SCHEMA,
    summarize: (output) => output,
    learner: (_label, config) =>
      new Maml(mlp([1, 8, 1]), {
        rng: new Rng(0),
        kind: "regression",
        objective: { innerLr: config.lr, metaBatchSize: 4, outerLr: 0.01 },
      }),
    async run(config, ctx) {
      const source = new RegressionTaskSampler(new SinusoidFamily(), { shots: 5, queries: 5 });
      const learner = new Maml(mlp([1, 8, 1]), {
        rng: new Rng(ctx.seed),
        kind: "regression",
        objective: { innerLr: config.lr, metaBatchSize: 4, outerLr: 0.01 },
      });
      let timeUp = false;
      try {
        const history = await trainWithCheckpoints(learner, {
          ...ctx,
          get deadline() {
            return timeUp ? 0 : ctx.deadline;
          },
          progress: (step, total, v) => {
            ctx.progress(step, total, v);
            onStep?.(step);
            if (step === timeUpAfterStep) timeUp = true;
          },
        }, {
          steps: config.steps,
          metaBatchSize: 4,
          tasks: source,
        });
        const params = learner.params.map((p) => Array.from(p.dataSync()));
        return {
          metrics: [{
            name: "final loss",
            value: history.loss[history.loss.length - 1],
            unit: "MSE",
            higherIsBetter: false,
          }],
          curves: [{
            title: "loss",
            xLabel: "step",
            yLabel: "J",
            series: [{ name: "maml", x: history.step, y: history.loss }],
          }],
          notes: [`params ${JSON.stringify(params)}`],
        };
      } finally {
        learner.dispose();
      }
    },
  };
}

Deno.test("resolveConfig: presets, overrides, and errors naming the key and range", () => {
  assert.deepEqual(resolveConfig(SCHEMA, "quick"), { steps: 30, lr: 0.01, mode: "a" });
  assert.deepEqual(resolveConfig(SCHEMA, "full", { steps: "12", mode: "a" }), {
    steps: 12,
    lr: 0.01,
    mode: "a",
  });
  assert.throws(
    () => resolveConfig(SCHEMA, "quick", { steps: "0" }),
    (e) => e instanceof ConfigError && /steps=.*integer in \[1, 1000\]/.test(e.message),
  );
  assert.throws(() => resolveConfig(SCHEMA, "quick", { steps: 2.5 }), /steps/);
  assert.throws(() => resolveConfig(SCHEMA, "quick", { lr: "fast" }), /lr=.*number in \[0, 1\]/);
  assert.throws(() => resolveConfig(SCHEMA, "quick", { mode: "c" }), /one of a, b/);
  assert.throws(() => resolveConfig(SCHEMA, "quick", { stepz: 3 }), /unknown config key "stepz"/);
});

Deno.test("findExperiment: an unknown name lists the known ones", () => {
  assert.equal(findExperiment("sinusoid-k5").name, "sinusoid-k5");
  assert.throws(
    () => findExperiment("sinusoid"),
    /unknown experiment "sinusoid"; known experiments: .*sinusoid-k5.*mnist-protonet/,
  );
});

Deno.test("runExperiment writes a schema-valid result and guards the output folder", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-exp-" });
  try {
    const result = await runExperiment(tinyExperiment(), { outDir: out, seed: 3, log: () => {} });
    assert.equal(result.schema, RESULT_SCHEMA);
    const file = JSON.parse(await Deno.readTextFile(`${out}/tiny-sinusoid/result.json`));
    assert.deepEqual(validateResult(file), []);
    assert.equal(file.seed, 3);
    assert.ok(Number.isFinite(file.metrics[0].value));
    // The same run again may overwrite its own results ...
    await runExperiment(tinyExperiment(), { outDir: out, seed: 3, log: () => {} });
    // ... another run may not, unless forced.
    await assert.rejects(
      runExperiment(tinyExperiment(), { outDir: out, seed: 4, log: () => {} }),
      (e) => e instanceof OutputConflictError && /another run.*seed 3/.test(e.message),
    );
    const after = JSON.parse(await Deno.readTextFile(`${out}/tiny-sinusoid/result.json`));
    assert.equal(after.seed, 3, "the other run's results were left as they were");
    await runExperiment(tinyExperiment(), { outDir: out, seed: 4, force: true, log: () => {} });
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("validateResult names what is wrong", () => {
  assert.deepEqual(validateResult(null), ["result is not a JSON object"]);
  const problems = validateResult({ schema: RESULT_SCHEMA, metrics: [{ name: "x", value: NaN }] });
  assert.ok(problems.some((p) => p.includes(`"experiment"`)));
  assert.ok(problems.some((p) => p.includes("metrics[0].value must be a finite number")));
  assert.ok(problems.some((p) => p.includes("higherIsBetter")));
});

Deno.test("an interrupted run resumes from its checkpoint to exactly the uninterrupted result", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-resume-" });
  try {
    const straight = await runExperiment(tinyExperiment(), {
      outDir: null,
      seed: 7,
      checkpointEvery: 10,
      log: () => {},
    });
    // Interrupt at step 15: the checkpoint at step 10 must survive intact.
    const controller = new AbortController();
    await assert.rejects(
      runExperiment(tinyExperiment((step) => step === 15 && controller.abort()), {
        outDir: out,
        seed: 7,
        checkpointEvery: 10,
        signal: controller.signal,
        log: () => {},
      }),
      /interrupted at step 16/,
    );
    const ckpt = await new CheckpointStore(`${out}/tiny-sinusoid/checkpoint-maml.ckpt`).load();
    assert.equal(ckpt?.step, 10);
    tf.dispose(Object.values(ckpt!.tensors));
    // Without --resume the checkpoint is not silently thrown away.
    await assert.rejects(
      runExperiment(tinyExperiment(), { outDir: out, seed: 7, checkpointEvery: 10 }),
      /unfinished run's checkpoint: pass --resume/,
    );
    const resumed = await runExperiment(tinyExperiment(), {
      outDir: out,
      seed: 7,
      checkpointEvery: 10,
      resume: true,
      log: () => {},
    });
    assert.equal(resumed.resumedFromStep, 10);
    assert.deepEqual(resumed.notes, straight.notes, "same final parameters");
    assert.deepEqual(resumed.curves, straight.curves, "same loss at every step");
    assert.deepEqual(resumed.metrics, straight.metrics);
    // A finished run leaves no checkpoint behind; its trained model and its recorded details
    // (for a notebook where the models are not shipped) stay.
    assert.deepEqual([...Deno.readDirSync(`${out}/tiny-sinusoid`)].map((e) => e.name).sort(), [
      "details.json",
      "models",
      "result.json",
      "run.json",
    ]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a time limit stops training at a checkpoint, marks the result partial, and --resume finishes it exactly", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-timelimit-" });
  try {
    const straight = await runExperiment(tinyExperiment(), {
      outDir: null,
      seed: 3,
      checkpointEvery: 10,
      log: () => {},
    });
    assert.deepEqual(straight.partial, []);
    // Time runs out during step 15: training stops after it, with a checkpoint at step 15
    // (between the regular ones at 10 and 20).
    const partial = await runExperiment(tinyExperiment(undefined, 15), {
      outDir: out,
      seed: 3,
      checkpointEvery: 10,
      log: () => {},
    });
    assert.deepEqual(partial.partial, [{ label: "maml", step: 15, steps: 30 }]);
    assert.match(partial.notes[0], /^PARTIAL: maml stopped by the time limit after 15 of 30/);
    assert.deepEqual(validateResult(partial), []);
    const written = JSON.parse(await Deno.readTextFile(`${out}/tiny-sinusoid/result.json`));
    assert.deepEqual(written.partial, partial.partial);
    const ckpt = await new CheckpointStore(`${out}/tiny-sinusoid/checkpoint-maml.ckpt`).load();
    assert.equal(ckpt?.step, 15, "the partial run keeps its checkpoint");
    tf.dispose(Object.values(ckpt!.tensors));
    assert.equal(
      partial.curves[0].series[0].x.length,
      15,
      "the partial result reports the 15 steps trained",
    );
    const resumed = await runExperiment(tinyExperiment(), {
      outDir: out,
      seed: 3,
      checkpointEvery: 10,
      resume: true,
      log: () => {},
    });
    assert.equal(resumed.resumedFromStep, 15);
    assert.deepEqual(resumed.partial, []);
    assert.deepEqual(resumed.notes, straight.notes, "same final parameters");
    assert.deepEqual(resumed.metrics, straight.metrics);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a run whose time limit has passed before any learner trained evaluates nothing and says so", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-timelimit-none-" });
  try {
    await assert.rejects(
      runExperiment(findExperiment("sinusoid-k5"), {
        outDir: out,
        deadline: Date.now() - 1,
        log: () => {},
      }),
      /sinusoid-k5: the time limit came before any learner had trained; nothing was evaluated/,
    );
    assert.equal(
      [...Deno.readDirSync(`${out}/sinusoid-k5`)].some((e) => e.name === "result.json"),
      false,
      "no result file for a run that evaluated nothing",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("validateResult checks a partial record", () => {
  const bad = { partial: [{ label: "maml", step: 30, steps: 30 }] };
  assert.ok(
    validateResult(bad).some((p) => p.includes(`"partial"`)),
    "a phase that ran all its steps is not partial",
  );
});

Deno.test("a corrupt checkpoint is reported, not silently used", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metalab-ckpt-" });
  try {
    const store = new CheckpointStore(`${dir}/c.ckpt`);
    const t = tf.tensor([1, 2, 3]);
    await store.save({ step: 4, state: { a: 1 }, tensors: { t } });
    t.dispose();
    const back = await store.load();
    assert.equal(back?.step, 4);
    assert.deepEqual(Array.from(back!.tensors.t.dataSync()), [1, 2, 3]);
    tf.dispose(Object.values(back!.tensors));
    const bytes = await Deno.readFile(`${dir}/c.ckpt`);
    await Deno.writeFile(`${dir}/c.ckpt`, bytes.subarray(0, bytes.length - 4));
    await assert.rejects(store.load(), /corrupt checkpoint .*c\.ckpt: truncated tensor t/);
    await Deno.writeTextFile(`${dir}/c.ckpt`, "hello world!");
    await assert.rejects(store.load(), /bad magic/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["c.ckpt"], "no temp files");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Omniglot experiments: `learners` trains all of them in turn, or the one named", async () => {
  const maml = findExperiment("omniglot-maml");
  assert.deepEqual((maml.schema.learners as { choices: readonly string[] }).choices, [
    "all",
    "maml",
    "fomaml",
  ]);
  assert.equal(resolveConfig(maml.schema, "full").learners, "all");
  assert.throws(
    () => resolveConfig(maml.schema, "quick", { learners: "reptile" }),
    /learners=.*one of all, maml, fomaml/,
  );
  if (!maml.needs.every((n) => n.available())) {
    console.log("Omniglot not found: the one-learner run is not checked");
    return;
  }
  const out = await Deno.makeTempDir({ prefix: "metalab-learners-" });
  try {
    const tiny = {
      learners: "fomaml",
      trainSteps: 2,
      metaBatchSize: 1,
      filters: 4,
      queries: 1,
      evalEpisodes: 2,
    };
    const result = await runExperiment(maml, {
      outDir: out,
      preset: "quick",
      overrides: tiny,
      log: () => {},
    });
    assert.ok(result.metrics.length > 0);
    for (const m of result.metrics) assert.match(m.name, /fomaml/, m.name);
    assert.ok(!result.metrics.some((m) => /\bmaml\b/.test(m.name)), "MAML was not trained");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
