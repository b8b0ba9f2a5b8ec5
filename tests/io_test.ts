// Saving and loading meta-learned parameters: exact round trip with config and seed,
// atomic replacement, refusal to overwrite when asked, corrupt files named, shape mismatch.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { conv4, mlp } from "../lib/models/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { Maml, MetaSgd } from "../lib/meta/mod.ts";
import { loadLearner, loadParams, saveLearner, saveParams } from "../lib/io/mod.ts";

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
