/**
 * Applying a saved model to your own images (`lib/experiments/apply.ts`, `deno task
 * classify`): a tiny mnist-protonet trained through the real run path, then real PNG files
 * of MNIST digits 5–9 (never seen in training) as support and query folders.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { encode } from "fast-png";
import { zipSync } from "fflate";
import { initBackend } from "../lib/backend/mod.ts";
import { decodeOmniglotArchive, loadMnist, OmniglotDataset } from "../lib/datasets/mod.ts";
import {
  type Classification,
  classifyFolders,
  EXPERIMENTS,
  findExperiment,
  loadSavedLearner,
  ModelStore,
  resolveConfig,
  runExperiment,
} from "../lib/experiments/mod.ts";
import type { BaseMetaLearner } from "../lib/meta/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { assertAllClose, runCli } from "../lib/testing/mod.ts";

await initBackend("wasm");

const DIGITS = [5, 6, 7, 8, 9];
const SHOTS = 5;
const QUERIES_PER_DIGIT = 10;
/**
 * Enough training for the 5-way 5-shot accuracy on the new digits to be well above chance:
 * 82% with seed 0 (58–72% with seeds 1 and 2), against 25% after one step.
 */
const TRAIN_STEPS = 60;
const FILTERS = 16;

/** Runs `make` once, on first use, and shares its promise. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | null = null;
  return () => (value ??= make());
}

const tmp = await Deno.makeTempDir({ prefix: "metalab-apply-" });
addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

/** The saved model of a tiny mnist-protonet run (`<tmp>/out/mnist-protonet/models/protonet`). */
const trainedModel = once(async () => {
  await runExperiment(findExperiment("mnist-protonet"), {
    preset: "quick",
    overrides: { trainSteps: TRAIN_STEPS, filters: FILTERS, evalEpisodes: 2 },
    outDir: join(tmp, "out"),
    log: () => {},
  });
  const dir = ModelStore.modelDir(join(tmp, "out"), "mnist-protonet", "protonet");
  assert.ok(dir, "the run saved its model");
  return dir;
});

/** An MNIST digit's pixels as the bytes of an 8-bit grayscale PNG (white on black). */
function digitBytes(index: number, invert = false): Uint8Array {
  const mnist = loadMnist();
  const bytes = new Uint8Array(mnist.itemSize);
  for (let j = 0; j < bytes.length; j++) {
    const v = Math.round(mnist.data[index * mnist.itemSize + j] * 255);
    bytes[j] = invert ? 255 - v : v;
  }
  return bytes;
}

async function writePng(path: string, bytes: Uint8Array, side = 28): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeFile(path, encode({ width: side, height: side, data: bytes, channels: 1 }));
}

interface Images {
  support: string;
  query: string;
  /** The MNIST example index of each support image, class-major (class k = DIGITS[k]). */
  supportIndices: number[];
  /** The MNIST example index and digit of each query, in file-name order. */
  queries: { index: number; digit: number }[];
}

/**
 * Support folders `support/<digit>/` of SHOTS images each and a query folder of
 * QUERIES_PER_DIGIT images per digit, files named so that their order mixes the digits.
 */
async function writeDigits(name: string, invert = false): Promise<Images> {
  const mnist = loadMnist();
  const dir = join(tmp, name);
  const supportIndices: number[] = [];
  const queries: { index: number; digit: number }[] = [];
  for (const digit of DIGITS) {
    const examples = mnist.classExamples[digit];
    for (let s = 0; s < SHOTS; s++) {
      const index = examples[s];
      supportIndices.push(index);
      await writePng(join(dir, "support", String(digit), `img${s}.png`), digitBytes(index, invert));
    }
    for (let q = 0; q < QUERIES_PER_DIGIT; q++) {
      queries.push({ index: examples[SHOTS + q], digit });
    }
  }
  // q00.png, q01.png, …: digit 5, 6, 7, 8, 9, 5, 6, … (sorted file names = this order).
  const mixed = Array.from(
    { length: queries.length },
    (_, i) => queries[(i % DIGITS.length) * QUERIES_PER_DIGIT + Math.floor(i / DIGITS.length)],
  );
  for (const [i, q] of mixed.entries()) {
    await writePng(
      join(dir, "query", `q${String(i).padStart(2, "0")}.png`),
      digitBytes(q.index, invert),
    );
  }
  return {
    support: join(dir, "support"),
    query: join(dir, "query"),
    supportIndices,
    queries: mixed,
  };
}

const digitImages = once(() => writeDigits("digits"));

function accuracy(result: Classification, truth: { digit: number }[]): number {
  const right = result.predictions.filter((p, i) => p.predicted === String(truth[i].digit));
  return right.length / truth.length;
}

Deno.test("classifyFolders: a saved mnist-protonet classifies PNGs of new digits well above chance", async () => {
  const images = await digitImages();
  const before = tf.memory().numTensors;
  const result = await classifyFolders({
    model: await trainedModel(),
    support: images.support,
    query: images.query,
  });
  assert.equal(tf.memory().numTensors, before, "no tensor is left behind");
  assert.deepEqual(result.classes, ["5", "6", "7", "8", "9"]);
  assert.deepEqual(result.shots, [SHOTS, SHOTS, SHOTS, SHOTS, SHOTS]);
  assert.deepEqual(result.model.experiment, "mnist-protonet");
  assert.deepEqual(result.input, {
    dataset: "MNIST",
    shape: [28, 28, 1],
    strokes: "light",
    bytes: false,
  });
  assert.equal(result.predictions.length, images.queries.length);
  for (const [i, p] of result.predictions.entries()) {
    assert.equal(p.file, join(images.query, `q${String(i).padStart(2, "0")}.png`));
    assert.equal(p.probabilities.length, 5);
    assertAllClose(p.probabilities.reduce((a, b) => a + b, 0), 1, { atol: 1e-5 });
    assert.equal(p.probability, Math.max(...p.probabilities));
    assert.equal(p.predicted, result.classes[p.probabilities.indexOf(p.probability)]);
  }
  const acc = accuracy(result, images.queries);
  assert.ok(acc >= 0.5, `accuracy ${100 * acc}% on new digits, chance is 20%`);
});

Deno.test("classifyFolders converts images exactly as MNIST is prepared: the learner's own predictions on the dataset's tensors", async () => {
  const images = await digitImages();
  const result = await classifyFolders({
    model: await trainedModel(),
    support: images.support,
    query: images.query,
  });
  // The same digits straight from the dataset, at the precision an 8-bit PNG keeps.
  const mnist = loadMnist();
  const rows = (indices: number[]) => {
    const out = new Float32Array(indices.length * mnist.itemSize);
    indices.forEach((index, i) => {
      for (let j = 0; j < mnist.itemSize; j++) {
        out[i * mnist.itemSize + j] = Math.round(mnist.data[index * mnist.itemSize + j] * 255) /
          255;
      }
    });
    return tf.tensor4d(out, [indices.length, 28, 28, 1]);
  };
  const saved = await loadSavedLearner(await trainedModel());
  try {
    const expected = tf.tidy(() => {
      const labels = images.supportIndices.map((_, i) => Math.floor(i / SHOTS));
      const adapted = saved.learner.adapt({
        x: rows(images.supportIndices),
        y: tf.tensor1d(labels, "int32"),
      });
      try {
        return tf.softmax(adapted.predict(rows(images.queries.map((q) => q.index))));
      } finally {
        adapted.dispose();
      }
    });
    assertAllClose(result.predictions.map((p) => p.probabilities), expected, {
      atol: 1e-5,
      label: "classifyFolders vs the learner on the dataset's tensors",
    });
    expected.dispose();
  } finally {
    saved.dispose();
  }
});

/**
 * A 105×105 1-bit PNG like Omniglot's: white paper, a few dark strokes (random rectangles),
 * rows packed 8 pixels a byte, bit 1 = white.
 */
function omniglotPng(rng: Rng): Uint8Array {
  const side = 105;
  const rowBytes = Math.ceil(side / 8);
  const data = new Uint8Array(rowBytes * side).fill(255);
  for (let stroke = 0; stroke < 3; stroke++) {
    const [x0, y0] = [rng.int(side - 30), rng.int(side - 30)];
    const [w, h] = [3 + rng.int(27), 3 + rng.int(27)];
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) data[y * rowBytes + (x >> 3)] &= ~(0x80 >> (x & 7));
    }
  }
  return encode({ width: side, height: side, data, channels: 1, depth: 1 });
}

Deno.test("classifyFolders converts Omniglot PNGs exactly as the Omniglot loader does", async () => {
  // Two characters of 20 drawings each, as an archive and as support and query folders.
  const rng = new Rng(3);
  const archive: Record<string, Uint8Array> = {};
  const dir = join(tmp, "omniglot");
  for (const [c, character] of ["character01", "character02"].entries()) {
    for (let d = 1; d <= 20; d++) {
      const png = omniglotPng(rng);
      const file = `${String(c + 1).padStart(4, "0")}_${String(d).padStart(2, "0")}.png`;
      archive[`images_background/Alphabet/${character}/${file}`] = png;
      const path = d <= SHOTS
        ? join(dir, "support", character, file)
        : join(dir, "query", `${character}_${file}`);
      await Deno.mkdir(join(path, ".."), { recursive: true });
      await Deno.writeFile(path, png);
    }
  }
  const decoded = decodeOmniglotArchive(zipSync(archive), "background", 28, "synthetic.zip");
  const omniglot = new OmniglotDataset(decoded.data, decoded.characters, 28);
  const rows = (indices: number[]) => {
    const out = new Float32Array(indices.length * omniglot.itemSize);
    indices.forEach((index, i) => omniglot.writeExample(index, out, i * omniglot.itemSize));
    return tf.tensor4d(out, [indices.length, 28, 28, 1]);
  };
  // Character c's drawer d is example c·20 + d − 1; the query files sort by character.
  const supportIndices = [0, 1].flatMap((c) => Array.from({ length: SHOTS }, (_, d) => c * 20 + d));
  const queryIndices = [0, 1].flatMap((c) =>
    Array.from({ length: 20 - SHOTS }, (_, d) => c * 20 + SHOTS + d)
  );

  const experiment = findExperiment("omniglot-protonet");
  const config = resolveConfig(experiment.schema, "quick", { filters: 4 });
  const model = await loadSavedLearner(
    await saveModel(
      "omniglot-model",
      experiment.name,
      "protonet",
      config,
      () => experiment.learner!("protonet", config),
    ),
  );
  try {
    const result = await classifyFolders({
      model,
      support: join(dir, "support"),
      query: join(dir, "query"),
    });
    assert.deepEqual(result.classes, ["character01", "character02"]);
    assert.deepEqual(result.input, {
      dataset: "Omniglot",
      shape: [28, 28, 1],
      strokes: "dark",
      bytes: true,
    });
    const expected = tf.tidy(() => {
      const labels = supportIndices.map((_, i) => Math.floor(i / SHOTS));
      const adapted = model.learner.adapt({
        x: rows(supportIndices),
        y: tf.tensor1d(labels, "int32"),
      });
      try {
        return tf.softmax(adapted.predict(rows(queryIndices)));
      } finally {
        adapted.dispose();
      }
    });
    // The same pixels in the same batches: bit for bit the same numbers.
    assert.deepEqual(result.predictions.map((p) => p.probabilities), await expected.array());
    expected.dispose();
  } finally {
    model.dispose();
  }
});

Deno.test("classifyFolders: strokes 'dark' reads black-on-white drawings as the MNIST model's white-on-black", async () => {
  const [light, dark] = [await digitImages(), await writeDigits("inverted", true)];
  const model = await loadSavedLearner(await trainedModel());
  try {
    const want = await classifyFolders({ model, support: light.support, query: light.query });
    const got = await classifyFolders({
      model,
      support: dark.support,
      query: dark.query,
      strokes: "dark",
    });
    assert.equal(got.input.strokes, "dark");
    assertAllClose(
      got.predictions.map((p) => p.probabilities),
      want.predictions.map((p) => p.probabilities),
      { atol: 1e-5 },
    );
    // Read with the MNIST default (light strokes), the same files are other images.
    const wrong = await classifyFolders({ model, support: dark.support, query: dark.query });
    assert.notDeepEqual(
      wrong.predictions.map((p) => p.probabilities),
      want.predictions.map((p) => p.probabilities),
    );
  } finally {
    model.dispose();
  }
});

const classifyCli = (args: string[]) => runCli("lib/cli/classify.ts", args);

Deno.test("deno task classify prints one line per query image (file, class, probability), or JSON", async () => {
  const images = await digitImages();
  const model = await trainedModel();
  const args = ["--model", model, "--support", images.support, "--query", images.query];
  const want = await classifyFolders({ model, support: images.support, query: images.query });

  const text = await classifyCli(args);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split("\n");
  assert.equal(lines.length, images.queries.length, text.stdout);
  lines.forEach((line, i) => {
    const [file, predicted, probability] = line.trim().split(/\s+/);
    assert.equal(file, want.predictions[i].file);
    assert.equal(predicted, want.predictions[i].predicted);
    assertAllClose(Number(probability), want.predictions[i].probability, { atol: 5e-4 });
  });
  assert.match(text.stderr, /mnist-protonet\/protonet .*classes: 5 \(5\), 6 \(5\)/);

  const json = await classifyCli([...args, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as Classification;
  assert.deepEqual(parsed.classes, want.classes);
  assert.deepEqual(
    parsed.predictions.map((p) => p.predicted),
    want.predictions.map((p) => p.predicted),
  );

  const single = await classifyCli([...args.slice(0, 4), "--query", want.predictions[0].file]);
  assert.equal(single.code, 0, single.stderr);
  assert.equal(single.stdout.trimEnd().split("\n").length, 1);

  const usage = await classifyCli(["--model", model]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /missing --support, --query/);
  const bad = await classifyCli([...args, "--strokes", "grey"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--strokes must be dark or light, got "grey"/);
});

Deno.test("classifyFolders refuses folders it cannot read, naming the path", async () => {
  const images = await digitImages();
  const model = await loadSavedLearner(await trainedModel());
  const classify = (support: string, query = images.query) =>
    classifyFolders({ model, support, query });
  try {
    const missing = join(tmp, "no-such-support");
    await assert.rejects(classify(missing), {
      message: `support folder ${missing} does not exist`,
    });

    const empty = join(tmp, "empty-support");
    await Deno.mkdir(empty, { recursive: true });
    await assert.rejects(classify(empty), (e: Error) => {
      assert.match(e.message, new RegExp(`support folder ${empty} has no class folders`));
      return true;
    });

    const oneEmptyClass = join(tmp, "one-empty-class");
    await writePng(join(oneEmptyClass, "5", "a.png"), digitBytes(loadMnist().classExamples[5][0]));
    await Deno.mkdir(join(oneEmptyClass, "6"), { recursive: true });
    await assert.rejects(classify(oneEmptyClass), {
      message: `class folder ${join(oneEmptyClass, "6")} holds no PNG image`,
    });

    const looseFile = join(tmp, "loose-file");
    await writePng(join(looseFile, "5", "a.png"), digitBytes(loadMnist().classExamples[5][0]));
    await writePng(join(looseFile, "b.png"), digitBytes(loadMnist().classExamples[6][0]));
    await assert.rejects(classify(looseFile), /loose-file\/b\.png is not a class folder/);

    const withText = join(tmp, "query-with-text");
    await writePng(join(withText, "a.png"), digitBytes(loadMnist().classExamples[5][0]));
    await Deno.writeTextFile(join(withText, "notes.txt"), "not an image");
    await Deno.writeTextFile(join(withText, ".DS_Store"), "hidden files are skipped");
    await assert.rejects(classify(images.support, withText), {
      message: `${join(withText, "notes.txt")} is not a PNG image (only .png files are read)`,
    });

    const fake = join(tmp, "fake-png");
    await Deno.mkdir(fake, { recursive: true });
    await Deno.writeTextFile(join(fake, "x.png"), "text, not a PNG");
    await assert.rejects(classify(images.support, fake), /cannot decode PNG .*fake-png\/x\.png/);

    const colour = join(tmp, "colour");
    await Deno.mkdir(colour, { recursive: true });
    await Deno.writeFile(
      join(colour, "rgb.png"),
      encode({ width: 2, height: 2, data: new Uint8Array(12), channels: 3 }),
    );
    await assert.rejects(
      classify(images.support, colour),
      /colour\/rgb\.png has 3 channels, expected 1 \(grayscale\): save it as a grayscale PNG/,
    );
  } finally {
    model.dispose();
  }
});

/** Saves `learner` as a run of `experiment` would (ModelStore), with `config` recorded. */
async function saveModel(
  name: string,
  experiment: string,
  label: string,
  config: Record<string, unknown>,
  build: () => BaseMetaLearner,
): Promise<string> {
  const store = new ModelStore(experiment, { preset: "quick", config, seed: 0 }, join(tmp, name));
  const built = build();
  try {
    await store.save(label, built, { done: 0, schedule: 0 });
  } finally {
    built.dispose();
    store.dispose();
  }
  return join(tmp, name, "models", label);
}

Deno.test("classifyFolders refuses a regression model: sinusoid models are not image classifiers", async () => {
  const images = await digitImages();
  const sinusoid = findExperiment("sinusoid-k5");
  const config = resolveConfig(sinusoid.schema, "quick");
  const dir = await saveModel(
    "sinusoid",
    "sinusoid-k5",
    "maml",
    config,
    () => sinusoid.learner!("maml", config),
  );
  const before = tf.memory().numTensors;
  const imageExperiments = EXPERIMENTS.filter((e) => e.images).map((e) => e.name);
  assert.ok(
    imageExperiments.includes("mnist-protonet") && imageExperiments.includes("omniglot-protonet"),
  );
  await assert.rejects(
    classifyFolders({ model: dir, support: images.support, query: images.query }),
    {
      message: `${dir} holds sinusoid-k5's maml model, a regression model (it predicts ` +
        `numbers from numbers, as the sinusoid models do), not an image classifier: use a ` +
        `model of ${imageExperiments.join(", ")}`,
    },
  );
  assert.equal(tf.memory().numTensors, before, "the model loaded for the call is freed");
});

Deno.test("classifyFolders: a MAML model's N-way head needs exactly N class folders", async () => {
  const images = await digitImages();
  const maml = findExperiment("omniglot-maml");
  const config = resolveConfig(maml.schema, "quick", { ways: 3, filters: 4 });
  const dir = await saveModel(
    "maml",
    "omniglot-maml",
    "maml",
    config,
    () => maml.learner!("maml", config),
  );
  const result = await classifyFolders({ model: dir, support: images.support, query: images.query })
    .catch((e: Error) => e);
  assert.ok(result instanceof Error);
  assert.equal(
    result.message,
    `${dir}: the maml model has a 3-way head, but support folder ${images.support} has 5 ` +
      `classes: give it exactly 3 class folders (metric learners such as ProtoNets take any number)`,
  );
});

Deno.test("loadSavedLearner rebuilds the run's learner with its config and weights, or says why not", async () => {
  const dir = await trainedModel();
  const saved = await loadSavedLearner(dir);
  try {
    assert.equal(saved.experiment.name, "mnist-protonet");
    assert.equal(saved.label, "protonet");
    assert.equal(saved.info.steps, TRAIN_STEPS);
    assert.equal(saved.config.filters, FILTERS);
    assert.equal(saved.seed, 0);
    assert.equal(saved.learner.name, "protonet");
    // The weights are the trained ones, not the learner's initial values.
    const fresh = findExperiment("mnist-protonet").learner!("protonet", saved.config);
    const moved = saved.learner.params.some((p, i) =>
      tf.tidy(() => tf.any(tf.notEqual(p, fresh.params[i])).dataSync()[0] === 1)
    );
    fresh.dispose();
    assert.ok(moved, "the saved weights differ from an untrained learner's");
  } finally {
    saved.dispose();
  }

  const missing = join(tmp, "no-such-model");
  await assert.rejects(loadSavedLearner(missing), /model folder .*no-such-model does not exist/);
  const experimentDir = join(tmp, "out", "mnist-protonet");
  await assert.rejects(loadSavedLearner(experimentDir), {
    message: `${experimentDir} holds no model.json but a models/ folder: pass one of ${
      join(experimentDir, "models", "protonet")
    }`,
  });

  const mnist = findExperiment("mnist-protonet");
  const small = resolveConfig(mnist.schema, "quick", { filters: 8 });
  const unknown = await saveModel(
    "unknown",
    "no-such-experiment",
    "protonet",
    small,
    () => mnist.learner!("protonet", small),
  );
  await assert.rejects(
    loadSavedLearner(unknown),
    /holds a model of experiment "no-such-experiment", which this MetaLab does not know \(known experiments: sinusoid-k5, /,
  );

  const sweep = await saveModel(
    "sweep",
    "sinusoid-regularisation",
    "maml",
    {},
    () =>
      findExperiment("sinusoid-k5").learner!(
        "maml",
        resolveConfig(
          findExperiment("sinusoid-k5").schema,
          "quick",
        ),
      ),
  );
  await assert.rejects(loadSavedLearner(sweep), {
    message: `${sweep} holds a model of sinusoid-regularisation, whose models cannot be ` +
      `rebuilt on their own (the experiment has no learner())`,
  });

  // Weights of an 8-filter net recorded with a 16-filter config: the first kernel is named.
  const mismatch = await saveModel("mismatch", "mnist-protonet", "protonet", {
    ...small,
    filters: 16,
  }, () => mnist.learner!("protonet", small));
  await assert.rejects(loadSavedLearner(mismatch), {
    message: `${mismatch}: parameter "block1/conv/kernel" has shape [3,3,1,8], expected [3,3,1,16]`,
  });
});
