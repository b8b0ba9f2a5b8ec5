/**
 * `omniglot-to-mnist` (lib/experiments/omniglot_cross_domain.ts): MNIST in Omniglot's image
 * convention, every learner tested on the same episodes of both domains, the reference
 * numbers quoted for direction, and its knobs checked.
 */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { loadMnist } from "../lib/datasets/mod.ts";
import {
  ConfigError,
  CROSS_DOMAIN_LEARNERS,
  CROSS_DOMAIN_REFERENCE,
  crossDomainDirections,
  mnistInOmniglotConvention,
  omniglotToMnist,
  runConfig,
  runExperiment,
} from "../lib/experiments/mod.ts";
import { pretrainingClasses } from "../lib/experiments/omniglot_transfer.ts";

await initBackend("wasm");

Deno.test("pretrainingClasses: all of the split's classes, or the first N of one seeded order", () => {
  const train = Int32Array.from({ length: 4800 }, (_, i) => i + 7);
  const all = { protocol: "standard" as const, pretrainClasses: 0 };
  assert.equal(pretrainingClasses(train, all, 0), train, "0: every class, in order");
  const some = pretrainingClasses(train, { ...all, pretrainClasses: 100 }, 0);
  assert.equal(some.length, 100);
  assert.equal(new Set(some).size, 100, "distinct");
  assert.ok([...some].every((c) => c >= 7 && c < 4807), "classes of the split");
  assert.deepEqual(pretrainingClasses(train, { ...all, pretrainClasses: 100 }, 0), some, "seeded");
  const more = pretrainingClasses(train, { ...all, pretrainClasses: 200 }, 0);
  assert.deepEqual([...more.slice(0, 100)], [...some], "the 200 hold the 100");
  assert.notDeepEqual(pretrainingClasses(train, { ...all, pretrainClasses: 100 }, 1), some);
});

Deno.test("mnistInOmniglotConvention: the same digits, strokes 1 on 0, rounded to bytes", () => {
  const mnist = loadMnist();
  const converted = mnistInOmniglotConvention();
  assert.equal(converted.numExamples, mnist.numExamples);
  assert.deepEqual(converted.itemShape, [28, 28, 1]);
  assert.deepEqual([...converted.labels.slice(0, 50)], [...mnist.labels.slice(0, 50)]);
  const a = new Float32Array(784);
  const b = new Float32Array(784);
  for (const index of [0, 4321, 9999]) {
    mnist.writeExample(index, a, 0);
    converted.writeExample(index, b, 0);
    for (let i = 0; i < 784; i++) {
      assert.ok(Math.abs(a[i] - b[i]) <= 0.5 / 255 + 1e-6, `example ${index} pixel ${i}`);
      assert.ok(Math.abs(b[i] * 255 - Math.round(b[i] * 255)) < 1e-4, "a byte value");
    }
    // Light strokes on a dark background, as Omniglot's ink: the border is background (0).
    assert.equal(b[0], 0);
    assert.ok(Math.max(...b) > 0.9, `example ${index} has strokes near 1`);
  }
});

Deno.test("omniglot-to-mnist: the reference covers every learner; bad shots are refused", async () => {
  assert.deepEqual(Object.keys(CROSS_DOMAIN_REFERENCE).sort(), [...CROSS_DOMAIN_LEARNERS].sort());
  // The direction the reference shows: meta-learners ahead at 1 shot.
  assert.ok(CROSS_DOMAIN_REFERENCE.protonet[1] > CROSS_DOMAIN_REFERENCE.baseline[1]);
  const { config } = await runConfig(omniglotToMnist, { preset: "quick" });
  for (const name of CROSS_DOMAIN_LEARNERS) {
    const learner = omniglotToMnist.learner!(name, config);
    assert.ok(learner.name.startsWith(name), `${name} → ${learner.name}`);
    learner.dispose();
  }
  assert.throws(() => omniglotToMnist.learner!("reptile", config), /unknown omniglot-to-mnist/);
  await assert.rejects(
    runConfig(omniglotToMnist, { preset: "quick", overrides: { mnistShots: "1,2.5" } }),
    (e) => e instanceof ConfigError && /mnistShots must be whole numbers, got 2.5/.test(e.message),
  );
  await assert.rejects(
    runConfig(omniglotToMnist, {
      preset: "quick",
      overrides: { queries: "10", omniglotShots: "10,11" },
    }),
    ConfigError,
  );
});

const omniglotHere = omniglotToMnist.needs.every((n) => n.available());

Deno.test({
  name: "omniglot-to-mnist: every learner trained once and tested on both domains",
  ignore: !omniglotHere,
  async fn() {
    // Into a folder, as reproduce runs it: checkpoints and saved models under each label.
    const out = await Deno.makeTempDir({ prefix: "metalab-to-mnist-" });
    try {
      await tinyRunChecks(out);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

async function tinyRunChecks(out: string) {
  {
    const run = await runExperiment(omniglotToMnist, {
      preset: "quick",
      outDir: out,
      overrides: {
        omniglotShots: "1,2",
        mnistShots: "1",
        queries: 1,
        protoSteps: 2,
        mamlSteps: 1,
        metaBatchSize: 1,
        pretrainSteps: 2,
        headEpochs: 2,
        filters: 4,
        evalEpisodes: 2,
      },
      log: () => {},
    });
    assert.deepEqual(Object.keys(run.details.learners), [...CROSS_DOMAIN_LEARNERS]);
    assert.deepEqual(run.metrics.map((m) => m.name), [
      ...CROSS_DOMAIN_LEARNERS.flatMap((
        l,
      ) => [`Omniglot 5-way 1-shot ${l}`, `Omniglot 5-way 2-shot ${l}`]),
      ...CROSS_DOMAIN_LEARNERS.map((l) => `MNIST 5-way 1-shot ${l}`),
    ]);
    for (const m of run.metrics) {
      assert.equal(m.episodes, 2, m.name);
      assert.ok(m.value !== null && m.value >= 0 && m.value <= 100, `${m.name}: ${m.value}`);
    }
    assert.ok(run.notes.some((n) => /Patacchiola et al\. 2020/.test(n)));
    assert.ok(run.notes.some((n) => /MAML after 1 meta-steps is near chance/.test(n)));
    assert.ok(run.notes.some((n) => /pretrain on 100 of the 4,800/.test(n)));
    assert.deepEqual(
      [...Deno.readDirSync(`${out}/omniglot-to-mnist/models`)].map((e) => e.name).sort(),
      ["maml", "pretrain-cosine", "pretrain-linear", "protonet"],
    );
    // Evaluating the saved models without training gives the same numbers.
    const again = await runExperiment(omniglotToMnist, {
      from: out,
      outDir: `${out}/eval`,
      log: () => {},
    });
    assert.deepEqual(
      JSON.parse(JSON.stringify(again.metrics)),
      JSON.parse(JSON.stringify(run.metrics)),
    );
  }
}

Deno.test("crossDomainDirections: pairs ordered as the reference, verdicts beyond the combined CI", () => {
  const at = (mean: number, ci95: number) => ({
    metric: "accuracy" as const,
    values: [],
    mean,
    std: 0,
    ci95,
    n: 600,
  });
  const run = (one: number, five: number) => ({
    history: { step: [], loss: [], dataLoss: [], accuracy: [], gradNorm: [], wallMs: 0 },
    trainMs: 0,
    evals: {
      omniglot: [],
      mnist: [{ shots: 1, result: at(one, 0.03) }, { shots: 5, result: at(five, 0.04) }],
    },
  });
  const checks = crossDomainDirections({
    // ProtoNet 72.0 / 87.2 and Baseline 64.2 / 86.1 in the reference.
    learners: { baseline: run(0.7, 0.8), protonet: run(0.5, 0.82) },
    notStarted: [],
    dataDir: "",
  });
  assert.deepEqual(checks.map((c) => [c.higher, c.lower, c.shots, c.verdict]), [
    ["protonet", "baseline", 1, "disagrees"], // −20 points, beyond √(3² + 3²) ≈ 4.2
    ["protonet", "baseline", 5, "unresolved"], // +2 points, within √(4² + 4²) ≈ 5.7
  ]);
  assert.ok(Math.abs(checks[0].reference - 7.8) < 1e-9);
  assert.ok(Math.abs(checks[0].ours + 20) < 1e-9);
  assert.ok(Math.abs(checks[0].ci95 - 100 * Math.hypot(0.03, 0.03)) < 1e-9);
});
