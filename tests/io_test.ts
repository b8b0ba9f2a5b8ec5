// Saving and loading meta-learned parameters: exact round trip with config and seed,
// atomic replacement, refusal to overwrite when asked, corrupt files named, shape mismatch.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { conv4, mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { Maml, MetaSgd } from "../lib/meta/mod.ts";
import {
  denoFolderHandler,
  loadLearner,
  loadParams,
  saveLearner,
  saveParams,
} from "../lib/io/mod.ts";

await initBackend("wasm");

Deno.test("save → load round-trips exactly, with config, seed and names", async () => {
  const dir = await Deno.makeTempDir();
  const learner = new MetaSgd(conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 8 }), {
    rng: new Rng(11),
  });
  // Values that a lossy format would change: subnormals, extremes, negative zero.
  learner.params[0].assign(
    tf.tensor(
      Float32Array.from(
        { length: learner.params[0].size },
        (_, i) => i === 0 ? 1e-40 : i === 1 ? -0 : i === 2 ? 3.4e38 : Math.sin(i) * 1e-3,
      ),
      learner.params[0].shape,
    ),
  );
  const config = { algorithm: "metasgd", ways: 5, objective: learner.objective.config };
  await saveLearner(`${dir}/run`, learner, { config, seed: 11, extra: { step: 7 } });
  const loaded = await loadParams(`${dir}/run`);
  assert.deepEqual(loaded.names, learner.paramNames);
  assert.deepEqual(loaded.config, JSON.parse(JSON.stringify(config)));
  assert.equal(loaded.seed, 11);
  assert.equal(loaded.extra.step, 7);
  assert.equal(loaded.extra.learner, "metasgd");
  learner.params.forEach((p, i) => {
    const a = new Uint32Array(p.dataSync().slice().buffer);
    const b = new Uint32Array(loaded.tensors[learner.paramNames[i]].dataSync().slice().buffer);
    assert.deepEqual(b, a, `bits of ${learner.paramNames[i]}`);
  });
  tf.dispose(Object.values(loaded.tensors));

  // Into a fresh learner of the same architecture.
  const other = new MetaSgd(conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 8 }), {
    rng: new Rng(99),
  });
  const meta = await loadLearner(`${dir}/run`, other);
  assert.equal(meta.seed, 11);
  other.params.forEach((p, i) =>
    assert.deepEqual(Array.from(p.dataSync()), Array.from(learner.params[i].dataSync()))
  );
  // No temporary folders are left beside the saved one.
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.deepEqual(names, ["run"]);
  learner.dispose();
  other.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("overwrite: replaced atomically by default, refused with overwrite: false", async () => {
  const dir = await Deno.makeTempDir();
  const a = tf.tensor([1, 2, 3]);
  const b = tf.tensor([4, 5, 6]);
  await saveParams(`${dir}/p`, ["w"], [a], { seed: 1 });
  await saveParams(`${dir}/p`, ["w"], [b], { seed: 2 });
  let loaded = await loadParams(`${dir}/p`);
  assert.deepEqual(Array.from(loaded.tensors.w.dataSync()), [4, 5, 6]);
  assert.equal(loaded.seed, 2);
  tf.dispose(Object.values(loaded.tensors));
  await assert.rejects(
    saveParams(`${dir}/p`, ["w"], [a], { seed: 3 }, { overwrite: false }),
    /already exists/,
  );
  loaded = await loadParams(`${dir}/p`);
  assert.equal(loaded.seed, 2, "a refused save leaves the old files");
  tf.dispose(Object.values(loaded.tensors));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["p"]);
  tf.dispose([a, b]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad files get errors naming them; shape mismatch names the parameter", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(loadParams(`${dir}/missing`), /model\.json is missing/);
  const learner = new Maml(mlp([2, 4, 3]), { rng: new Rng(1) });
  await saveLearner(`${dir}/m`, learner);
  const weights = `${dir}/m/weights.bin`;
  const bytes = Deno.readFileSync(weights);
  bytes[5] ^= 0xff;
  Deno.writeFileSync(weights, bytes);
  await assert.rejects(loadParams(`${dir}/m`), /weights\.bin is corrupt/);
  Deno.writeFileSync(weights, bytes.slice(0, 10));
  await assert.rejects(loadParams(`${dir}/m`), /weights\.bin has 10 bytes/);
  await saveLearner(`${dir}/m`, learner);
  const wider = new Maml(mlp([2, 5, 3]), { rng: new Rng(1) });
  await assert.rejects(loadLearner(`${dir}/m`, wider), /"layer1\/kernel" has shape \[2,4\]/);
  learner.dispose();
  wider.dispose();
  await Deno.remove(dir, { recursive: true });
});

/** Saves a:[2,4] and b:[3] to `dir`, then rewrites its model.json with `edit`. */
async function savedThenEdited(
  dir: string,
  edit: (manifest: {
    weightsManifest: { weights: { name: string; shape: unknown; dtype: string }[] }[];
    userDefinedMetadata: Record<string, unknown>;
    [key: string]: unknown;
  }) => void,
): Promise<string> {
  const a = tf.ones([2, 4]);
  const b = tf.tensor([1, 2, 3]);
  await saveParams(dir, ["a", "b"], [a, b], { seed: 5 });
  tf.dispose([a, b]);
  const path = `${dir}/model.json`;
  const manifest = JSON.parse(await Deno.readTextFile(path));
  edit(manifest);
  await Deno.writeTextFile(path, JSON.stringify(manifest, null, 1));
  return path;
}

Deno.test("an edited manifest is refused naming the file and the parameter, expected vs found", async () => {
  const dir = await Deno.makeTempDir();
  const specs = (m: Parameters<Parameters<typeof savedThenEdited>[1]>[0]) =>
    m.weightsManifest[0].weights;
  const cases: [string, Parameters<typeof savedThenEdited>[1], RegExp][] = [
    [
      "a shape",
      (m) => specs(m)[0].shape = [2, 5],
      /: parameter "a" has shape \[2,5\] in the weight table, expected \[2,4\] \(as saved\)/,
    ],
    [
      "a dtype of the same width",
      (m) => specs(m)[1].dtype = "int32",
      /: parameter "b" has dtype "int32" in the weight table, expected "float32" \(as saved\)/,
    ],
    [
      "an unknown dtype",
      (m) => specs(m)[0].dtype = "float16",
      /: parameter "a" has dtype "float16", expected one of float32, int32, bool, complex64/,
    ],
    [
      "a shape that is not one",
      (m) => specs(m)[0].shape = "2,4",
      /: parameter "a" has shape "2,4", expected an array of non-negative integers/,
    ],
    [
      "a dropped entry",
      (m) => specs(m).pop(),
      /: parameter "b" was saved but is not in the weight table, which lists \["a"\]/,
    ],
    [
      "two entries swapped",
      (m) => specs(m).reverse(),
      /: parameter "b" is entry 0 of the weight table, expected "a" there/,
    ],
    [
      // Without the saved shapes (older files), the byte count still catches it.
      "a shape, in a manifest without saved shapes",
      (m) => {
        delete m.userDefinedMetadata.shapes;
        delete m.userDefinedMetadata.dtypes;
        specs(m)[0].shape = [2, 5];
      },
      /: the weight table's 2 parameter\(s\) take 52 bytes, but .*weights\.bin has 44: the manifest does not match the weights \(was it edited\?\); the first parameter past its end is "b" \(shape \[3\], float32, bytes 40\.\.52\)/,
    ],
    [
      "the seed (what only the manifest's checksum sees)",
      (m) => m.userDefinedMetadata.seed = 6,
      /model\.json was changed after it was written: its FNV-1a is \d+, expected \d+ \(manifestFnv1a\)/,
    ],
  ];
  try {
    for (const [what, edit, expected] of cases) {
      const path = await savedThenEdited(`${dir}/p`, edit);
      await assert.rejects(loadParams(`${dir}/p`), (err: Error) => {
        assert.ok(err.message.startsWith(path), `${what}: names ${path}: ${err.message}`);
        assert.match(err.message, expected, what);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a manifest from before the manifest checksum and saved shapes still loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await savedThenEdited(`${dir}/p`, (m) => {
      delete m.manifestFnv1a;
      delete m.userDefinedMetadata.shapes;
      delete m.userDefinedMetadata.dtypes;
    });
    const loaded = await loadParams(`${dir}/p`);
    assert.deepEqual(loaded.names, ["a", "b"]);
    assert.equal(loaded.seed, 5);
    assert.deepEqual(Array.from(loaded.tensors.b.dataSync()), [1, 2, 3]);
    tf.dispose(Object.values(loaded.tensors));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("denoFolderHandler round-trips a tf.LayersModel (a weight table with no saved names)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 3, inputShape: [2], kernelInitializer: "ones" })],
    });
    await model.save(denoFolderHandler(`${dir}/m`));
    const back = await tf.loadLayersModel(denoFolderHandler(`${dir}/m`));
    const x = tf.tensor([[1, 2]]);
    const [y0, y1] = [model.predict(x) as tf.Tensor, back.predict(x) as tf.Tensor];
    assert.deepEqual(Array.from(y1.dataSync()), Array.from(y0.dataSync()));
    tf.dispose([x, y0, y1]);
    model.dispose();
    back.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
