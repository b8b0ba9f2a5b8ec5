/**
 * Recorded runs: an experiment whose result is its training (no reloadable models) keeps its
 * typed result as `details.json`, and a notebook's default mode reads that run back instead of
 * training a quick preset — exactly, NaN and typed arrays included, with the run named.
 */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import {
  courseRun,
  decodeDetails,
  DETAILS_FILE,
  encodeDetails,
  type Experiment,
  readDetails,
  recordedRunDir,
  runExperiment,
  thinHistories,
  UnrecordableError,
} from "../lib/experiments/mod.ts";
import { copy } from "../scripts/ship_copy.ts";

await initBackend("cpu");

const SCHEMA = {
  points: { kind: "int", min: 1, max: 100, quick: 3, full: 5, doc: "how many points" },
} as const;

interface Measured {
  losses: number[];
  weights: Float32Array;
  skipped: (number | undefined)[];
  calls: number;
}

/** A measurement-like experiment: its result is what it computed, no learner to reload. */
function measurement(counter: { calls: number }): Experiment<typeof SCHEMA, Measured> {
  return {
    name: "tiny-measurement",
    title: "a tiny measurement",
    description: "test fixture",
    needs: [],
    schema: SCHEMA,
    run(config) {
      counter.calls++;
      const losses = Array.from({ length: config.points }, (_, i) => 1 / (i + 1));
      losses.push(NaN, -Infinity, -0);
      return Promise.resolve({
        losses,
        weights: Float32Array.from([0.1, -2.5, 3]),
        skipped: [1, undefined, 3],
        calls: counter.calls,
      });
    },
    summarize: (r) => ({
      metrics: [{ name: "first loss", value: r.losses[0], unit: "", higherIsBetter: false }],
      curves: [],
      notes: [`${r.losses.length} losses`],
    }),
  };
}

Deno.test("encodeDetails/decodeDetails: non-finite numbers, −0, typed arrays and holes survive JSON", () => {
  const value = {
    a: [1, NaN, Infinity, -Infinity, -0, undefined],
    b: Float64Array.from([1.5, NaN]),
    c: { d: "x", e: null, f: true, g: undefined },
  };
  const back = decodeDetails(JSON.parse(JSON.stringify(encodeDetails(value)))) as typeof value;
  assert.ok(Object.is(back.a[1], NaN) && back.a[2] === Infinity && back.a[3] === -Infinity);
  assert.ok(Object.is(back.a[4], -0), "−0 stays −0");
  assert.equal(back.a.length, 6);
  assert.equal(back.a[5], undefined);
  assert.ok(back.b instanceof Float64Array);
  assert.deepEqual(Array.from(back.b), [1.5, NaN]);
  assert.deepEqual(back.c, { d: "x", e: null, f: true });
});

Deno.test("encodeDetails: what JSON cannot carry back is refused, naming where it is", () => {
  class Model {
    w = 1;
  }
  assert.throws(
    () => encodeDetails({ runs: [{ model: new Model() }] }),
    (e) =>
      e instanceof UnrecordableError &&
      /details\.runs\[0\]\.model: a Model instance/.test(e.message),
  );
  assert.throws(() => encodeDetails({ m: new Map() }), /details\.m: a Map instance/);
  assert.throws(() => encodeDetails({ f: () => 1 }), /details\.f: a function/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => encodeDetails(cyclic), /details\.self: a cycle/);
});

Deno.test("a run without a learner records its details; courseRun's trained mode reads them back", async () => {
  const out = await Deno.makeTempDir();
  try {
    const counter = { calls: 0 };
    const experiment = measurement(counter);
    const run = await runExperiment(experiment, { preset: "full", outDir: out, log: () => {} });
    assert.equal(counter.calls, 1);
    const dir = `${out}/tiny-measurement`;
    assert.equal(
      await recordedRunDir("tiny-measurement", { resultsDir: out, shippedDir: "/nonexistent" }),
      dir,
    );
    const record = await readDetails(dir, "tiny-measurement");
    assert.ok(record);
    assert.equal(record.preset, "full");

    const shown = await courseRun(experiment, {
      mode: "trained",
      resultsDir: out,
      shippedDir: "/nonexistent",
    });
    assert.equal(counter.calls, 1, "nothing was computed again");
    assert.equal(shown.mode, "trained");
    assert.match(
      shown.label,
      /recorded run in .*tiny-measurement \(the full preset, .* s.*read back, not recomputed/,
    );
    assert.ok(Object.is(shown.details.losses[5], NaN), "a NaN loss reads back as NaN");
    assert.equal(shown.details.losses[6], -Infinity);
    assert.ok(Object.is(shown.details.losses[7], -0));
    assert.ok(shown.details.weights instanceof Float32Array);
    assert.deepEqual(shown.details, run.details);
    assert.deepEqual(shown.metrics, run.metrics);
    assert.equal(shown.config.points, 5);

    // Asking for another config trains that one (here: quick, in place) and says why.
    const other = await courseRun(experiment, {
      mode: "trained",
      resultsDir: out,
      shippedDir: "/nonexistent",
      overrides: { points: 2 },
    });
    assert.equal(counter.calls, 2);
    assert.equal(other.mode, "quick");
    assert.match(other.label, /has points=5, not what was asked; QUICK preset trained here/);

    // A details file of another experiment is an error naming both.
    await Deno.writeTextFile(
      `${dir}/${DETAILS_FILE}`,
      (await Deno.readTextFile(`${dir}/${DETAILS_FILE}`)).replace('"tiny-measurement"', '"other"'),
    );
    await assert.rejects(
      readDetails(dir, "tiny-measurement"),
      /expected a run of "tiny-measurement", found "other"/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("courseRun without a recorded run trains the quick preset and says how to record one", async () => {
  const counter = { calls: 0 };
  const shown = await courseRun(measurement(counter), {
    mode: "trained",
    resultsDir: "/nonexistent",
    shippedDir: "/nonexistent",
  });
  assert.equal(shown.mode, "quick");
  assert.equal(shown.config.points, 3);
  assert.match(
    shown.label,
    /no recorded run of tiny-measurement found \(record one with: deno task reproduce tiny-measurement\)/,
  );
});

Deno.test("an unrecordable result is still a run: result.json is written and its notes say why", async () => {
  const out = await Deno.makeTempDir();
  try {
    const experiment: Experiment<typeof SCHEMA, { m: Map<string, number> }> = {
      ...measurement({ calls: 0 }),
      run: () => Promise.resolve({ m: new Map([["a", 1]]) }),
      summarize: () => ({
        metrics: [{ name: "one", value: 1, unit: "", higherIsBetter: true }],
        curves: [],
        notes: [],
      }),
    } as unknown as Experiment<typeof SCHEMA, { m: Map<string, number> }>;
    const run = await runExperiment(experiment, { outDir: out, log: () => {} });
    assert.ok(run.notes.some((n) => /details not recorded: details\.m: a Map instance/.test(n)));
    await Deno.stat(`${out}/tiny-measurement/result.json`);
    await assert.rejects(
      Deno.stat(`${out}/tiny-measurement/${DETAILS_FILE}`),
      Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("models too big to ship: a learner experiment's recorded run is shown when no models are", async () => {
  const out = await Deno.makeTempDir();
  try {
    const counter = { calls: 0 };
    const experiment: Experiment<typeof SCHEMA, Measured> = {
      ...measurement(counter),
      learner: () => {
        throw new Error("no model should be rebuilt: none was saved");
      },
    };
    await runExperiment(experiment, { preset: "full", outDir: out, log: () => {} });
    const shown = await courseRun(experiment, {
      mode: "trained",
      resultsDir: out,
      shippedDir: "/nonexistent",
    });
    assert.equal(counter.calls, 1);
    assert.equal(shown.mode, "trained");
    assert.match(shown.label, /read back, not recomputed/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("thinHistories keeps every N-th step and the last of each history, nothing else changed", () => {
  const details = {
    histories: {
      a: { step: [0, 1, 2, 3, 4], loss: [5, 4, 3, 2, 1], accuracy: [], wallMs: 7 },
    },
    byShots: { k: { shots: [1, 5, 10], mse: [0.3, 0.2, 0.1] } },
    curve: [1, 2, 3, 4, 5],
  };
  assert.deepEqual(thinHistories(details, 2), {
    histories: { a: { step: [0, 2, 4], loss: [5, 3, 1], accuracy: [], wallMs: 7 } },
    byShots: { k: { shots: [1, 5, 10], mse: [0.3, 0.2, 0.1] } },
    curve: [1, 2, 3, 4, 5],
  });
  assert.deepEqual(
    (thinHistories({ h: { step: [0, 1, 2, 3], loss: [4, 3, 2, 1] } }, 3) as {
      h: { step: number[] };
    }).h.step,
    [0, 3],
  );
  assert.throws(() => thinHistories(details, 0), /every must be a whole number ≥ 1, got 0/);
});

Deno.test("ship: a run's folder into models/ without bookkeeping, models optional, histories thinned", async () => {
  const out = await Deno.makeTempDir();
  const shipped = await Deno.makeTempDir();
  try {
    const experiment = measurement({ calls: 0 });
    await runExperiment(experiment, { preset: "full", outDir: out, log: () => {} });
    const from = `${out}/tiny-measurement`;
    await Deno.writeTextFile(`${from}/checkpoint-x.ckpt`, "x");
    const to = await copy(from, { noModels: true, every: 2, shippedDir: shipped });
    const names = [...Deno.readDirSync(to)].map((e) => e.name).sort();
    assert.deepEqual(names, ["details.json", "result.json"]);
    assert.equal(
      await Deno.readTextFile(`${to}/result.json`),
      await Deno.readTextFile(`${from}/result.json`),
      "result.json is copied unchanged",
    );
    const shown = await courseRun(experiment, {
      mode: "trained",
      resultsDir: "/nonexistent",
      shippedDir: shipped,
    });
    assert.match(shown.label, /read back/);
    await assert.rejects(copy(from, { shippedDir: shipped }), /exists: remove it first/);
    await assert.rejects(
      copy(`${out}/none`, { shippedDir: shipped }),
      /expected a run's output folder/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
    await Deno.remove(shipped, { recursive: true });
  }
});
