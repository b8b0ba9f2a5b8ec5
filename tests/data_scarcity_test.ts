/**
 * `omniglot-data-scarcity` (lib/experiments/omniglot_data_scarcity.ts): each learner trained
 * on each number of meta-training characters and tested on the same episodes at each shot
 * setting, its saved models rebuilt from their labels, and its knobs checked.
 */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import type { TransferBaseline } from "../lib/eval/mod.ts";
import {
  ConfigError,
  omniglotDataScarcity,
  runConfig,
  runExperiment,
  saturation,
  scarcityLabel,
} from "../lib/experiments/mod.ts";

await initBackend("wasm");

Deno.test("omniglot-data-scarcity: labels name a learner and N; a bad config is refused before data loads", async () => {
  assert.equal(scarcityLabel("maml", 25), "maml-25c");
  const config = (await runConfig(omniglotDataScarcity, { preset: "quick" })).config;
  const proto = omniglotDataScarcity.learner!("protonet-200c", config);
  const maml = omniglotDataScarcity.learner!("maml-5c", config);
  // The Baseline's pretraining head has one output per training character.
  const baseline = omniglotDataScarcity.learner!("baseline-25c", config) as TransferBaseline;
  assert.equal(baseline.name, "baseline");
  assert.equal(baseline.classes, 25);
  baseline.dispose();
  assert.equal(proto.name, "protonet");
  assert.equal(maml.name, "maml");
  proto.dispose();
  maml.dispose();
  assert.throws(
    () => omniglotDataScarcity.learner!("reptile-5c", config),
    /unknown omniglot-data-scarcity model "reptile-5c": expected <protonet\|maml\|baseline>-<N>c/,
  );
  await assert.rejects(
    runConfig(omniglotDataScarcity, { preset: "quick", overrides: { characters: "5,7.5" } }),
    (e) => e instanceof ConfigError && /characters must be whole numbers, got 7.5/.test(e.message),
  );
  await assert.rejects(
    runConfig(omniglotDataScarcity, {
      preset: "quick",
      overrides: { shots: "1,10", queries: "15" },
    }),
    (e) => e instanceof ConfigError && /shots=10 \+ queries=15 needs 25 drawings/.test(e.message),
  );
});

const omniglotHere = omniglotDataScarcity.needs.every((n) => n.available());

Deno.test({
  name: "omniglot-data-scarcity: every learner at every N, tested at every shot setting",
  ignore: !omniglotHere,
  async fn() {
    const run = await runExperiment(omniglotDataScarcity, {
      preset: "quick",
      outDir: null,
      overrides: {
        characters: "6,5",
        shots: "1,2",
        protoSteps: 2,
        mamlSteps: 1,
        pretrainSteps: 3,
        metaBatchSize: 1,
        filters: 4,
        queries: 1,
        evalEpisodes: 2,
      },
      log: () => {},
    });
    const { runs } = run.details;
    assert.deepEqual(
      runs.map((r) => scarcityLabel(r.learner, r.characters)),
      ["protonet-5c", "protonet-6c", "maml-5c", "maml-6c", "baseline-5c", "baseline-6c"],
      "learners in turn, N ascending",
    );
    for (const r of runs) {
      assert.equal(r.history.step.length, { protonet: 2, maml: 1, baseline: 3 }[r.learner]);
      assert.deepEqual(r.evals.map((e) => e.shots), [1, 2]);
      for (const e of r.evals) assert.equal(e.result.n, 2);
    }
    assert.equal(run.metrics.length, 12);
    assert.equal(run.metrics[0].name, "5-way 1-shot protonet, 5 training characters");
    const [byClasses, byTime] = run.curves;
    assert.deepEqual(byClasses.series.map((s) => s.name), [
      "protonet 1-shot",
      "protonet 2-shot",
      "maml 1-shot",
      "maml 2-shot",
      "baseline 1-shot",
      "baseline 2-shot",
    ]);
    assert.deepEqual(byClasses.series[0].x, [5, 6]);
    assert.equal(byTime.series[0].x.length, 2);
    assert.ok(run.notes.some((n) => /MAML after 1 meta-steps is near chance/.test(n)));
  },
});

Deno.test("saturation: the smallest N within the 95% intervals of the best", () => {
  const evalAt = (mean: number, ci95: number) => ({
    metric: "accuracy" as const,
    values: [],
    mean,
    std: 0,
    ci95,
    n: 600,
  });
  const run = (characters: number, one: number, five: number) => ({
    learner: "protonet" as const,
    characters,
    history: { step: [], loss: [], dataLoss: [], accuracy: [], gradNorm: [], wallMs: 0 },
    trainMs: 0,
    evals: [{ shots: 1, result: evalAt(one, 0.01) }, { shots: 5, result: evalAt(five, 0.01) }],
  });
  const points = saturation({
    runs: [run(400, 0.9, 0.97), run(25, 0.6, 0.8), run(100, 0.885, 0.945)],
    notStarted: [],
    dataDir: "",
  });
  assert.deepEqual(
    points.map((p) => [p.learner, p.shots, p.best.characters, p.enough.characters]),
    [
      ["protonet", 1, 400, 100], // 88.5 ± 1 overlaps 90 ± 1
      ["protonet", 5, 400, 400], // 94.5 ± 1 does not reach 97 ± 1
    ],
  );
  assert.ok(Math.abs(points[0].enough.accuracy - 88.5) < 1e-9);
});
