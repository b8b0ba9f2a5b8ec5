/**
 * The trained models the course ships (`models/`): each folder is a valid run of a registry
 * experiment at a clean commit, its models are the ones its result lists, and evaluating
 * them the way a notebook's default mode does gives the metrics recorded with them: exactly
 * where the whole evaluation is cheap (the sinusoid MLPs), and for Conv-4 models on the
 * first episodes of the same test stream, whose 95% interval must overlap the recorded one
 * (deterministic for a seed; untrained or mismatched weights land far outside).
 *
 * A folder without models ships a recorded run (`details.json`: an experiment whose result
 * is its training, or whose models are too big to ship): the notebook's default mode must
 * read it back, and the experiment's own summary of those details must give exactly the
 * metrics of its result file — a details file out of step with its run, or with the code
 * that reads it, fails here.
 */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import {
  courseRun,
  DETAILS_FILE,
  findExperiment,
  recordMetrics,
  type RunResult,
  SHIPPED_MODELS_DIR,
  validateResult,
} from "../lib/experiments/mod.ts";

await initBackend("wasm");

/** Test episodes a Conv-4 model is re-evaluated on (600 would take minutes on two cores). */
const SAMPLE_EPISODES = 40;

const shipped = [...Deno.readDirSync(SHIPPED_MODELS_DIR)]
  .filter((e) => e.isDirectory)
  .map((e) => e.name)
  .sort();

Deno.test("the course ships trained models", () => {
  assert.ok(shipped.includes("mnist-protonet"), `shipped: ${shipped.join(", ")}`);
});

for (const name of shipped) {
  Deno.test(`shipped ${name}: a clean run of the registry experiment, its models, its numbers again`, async () => {
    const experiment = findExperiment(name); // throws for a folder that is no experiment
    const dir = `${SHIPPED_MODELS_DIR}${name}`;
    const result: RunResult = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
    assert.deepEqual(validateResult(result), [], `${dir}/result.json`);
    assert.equal(result.experiment, name);
    assert.equal(result.preset, "full", "shipped models come from the full preset");
    assert.match(result.commit ?? "", /^[0-9a-f]{40}$/, "trained at a clean, known commit");
    assert.ok(result.machine, "the machine is recorded");
    assert.equal([...Deno.readDirSync(dir)].some((e) => e.name.endsWith(".ckpt")), false);
    const shipsModels = [...Deno.readDirSync(dir)].some((e) => e.name === "models");
    if (shipsModels) {
      assert.ok((result.models ?? []).length > 0, "the result lists its models");
      for (const model of result.models ?? []) {
        const manifest = JSON.parse(await Deno.readTextFile(`${dir}/${model}/model.json`));
        const extra = manifest.userDefinedMetadata.extra;
        assert.equal(extra.experiment, name, model);
        assert.equal(extra.commit, result.commit, model);
        assert.deepEqual(extra.metrics, result.metrics, `${model} carries the run's metrics`);
      }
    }
    if (!experiment.learner || !shipsModels) {
      // A recorded run: nothing to reload (or models too big to ship), its details instead.
      await Deno.stat(`${dir}/${DETAILS_FILE}`);
      const run = await courseRun(experiment, {
        mode: "trained",
        resultsDir: `${dir}/no-user-results`,
        shippedDir: SHIPPED_MODELS_DIR,
      });
      assert.equal(run.mode, "trained");
      assert.match(run.label, /read back, not recomputed/);
      // deno-lint-ignore no-explicit-any
      const summary = experiment.summarize(run.details as any, run.config as any);
      assert.deepEqual(
        JSON.parse(JSON.stringify(recordMetrics(summary.metrics).metrics)),
        result.metrics,
        "the details summarize to the run's own metrics",
      );
      return;
    }

    const exact = name.startsWith("sinusoid-");
    const run = await courseRun(experiment, {
      mode: "trained",
      resultsDir: `${dir}/no-user-results`,
      shippedDir: SHIPPED_MODELS_DIR,
      overrides: exact ? {} : { evalEpisodes: SAMPLE_EPISODES },
    });
    assert.equal(run.mode, "trained");
    if (exact) {
      assert.deepEqual(JSON.parse(JSON.stringify(run.metrics)), result.metrics);
      return;
    }
    assert.equal(run.metrics.length, result.metrics.length);
    run.metrics.forEach((m, i) => {
      const recorded = result.metrics[i];
      assert.equal(m.name, recorded.name);
      assert.ok(m.value !== null && recorded.value !== null, `${m.name} is finite`);
      const gap = Math.abs(m.value - recorded.value);
      assert.ok(
        gap <= (m.ci95 ?? 0) + (recorded.ci95 ?? 0),
        `${m.name}: ${m.value.toFixed(2)} ± ${m.ci95?.toFixed(2)} on ${SAMPLE_EPISODES} episodes ` +
          `vs the recorded ${recorded.value.toFixed(2)} ± ${recorded.ci95?.toFixed(2)}`,
      );
    });
  });
}
