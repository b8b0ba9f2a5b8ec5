/**
 * Omniglot from the official archives. Uses the shared copy (or data/omniglot/) when present
 * and is skipped with a message otherwise. The cold decode runs once per file, into a
 * temporary cache folder, and is reused by every test.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { unzipSync, zipSync } from "fflate";
import { encode } from "fast-png";
import {
  findOmniglotDir,
  loadOmniglot,
  OMNIGLOT_DRAWERS,
  type OmniglotDataset,
  omniglotSplits,
} from "../lib/datasets/mod.ts";

const dir = findOmniglotDir();
if (!dir) {
  console.warn(
    "omniglot_test: skipped — no Omniglot archives in data/omniglot/ or ../shared/data/omniglot/ " +
      "(run `deno task data omniglot`)",
  );
}
const ignore = dir === null;
const cacheDir = await Deno.makeTempDir({ prefix: "metalab-omniglot-test-" });
let loaded: Promise<OmniglotDataset> | null = null;
/** Both sets at 28×28, decoded once (cold) into `cacheDir`. */
function omniglot(): Promise<OmniglotDataset> {
  loaded ??= loadOmniglot({ dir: dir!, cacheDir });
  return loaded;
}

Deno.test({
  name: "Omniglot: 964 + 659 characters, 50 alphabets, 20 drawers, 28×28 ink in [0, 1]",
  ignore,
  async fn() {
    const ds = await omniglot();
    assert.equal(ds.numClasses, 1623);
    assert.equal(ds.characters.filter((c) => c.set === "background").length, 964);
    assert.equal(ds.characters.filter((c) => c.set === "evaluation").length, 659);
    assert.equal(ds.alphabets.length, 50);
    assert.ok(ds.classExamples.every((e) => e.length === OMNIGLOT_DRAWERS));
    assert.deepEqual(ds.itemShape, [28, 28, 1]);
    // Ordered by global character id 1..1623; each class keeps its alphabet.
    assert.deepEqual(ds.characters.map((c) => c.id), Array.from({ length: 1623 }, (_, i) => i + 1));
    assert.equal(ds.classes[0].group, ds.characters[0].alphabet);
    const magi = ds.characters.filter((c) => c.alphabet === "Alphabet_of_the_Magi");
    assert.deepEqual([magi[0].id, magi[magi.length - 1].id], [709, 728]);
    // Strokes are ink (≈1) on empty paper (0): most pixels are blank, some are full.
    const img = new Float32Array(784);
    ds.writeExample(0, img, 0);
    const blank = img.filter((v) => v === 0).length;
    assert.ok(blank > 500 && img.some((v) => v > 0.9) && img.every((v) => v >= 0 && v <= 1));
  },
});

Deno.test({
  name: "Omniglot standard split: 1200 train characters × 4 rotations, 423 test, disjoint",
  ignore,
  async fn() {
    const ds = await omniglot();
    const s = omniglotSplits(ds);
    assert.equal(s.train.length, 1200 * 4);
    assert.equal(s.val.length, 0);
    assert.equal(s.test.length, 423);
    const trainSources = new Set(Array.from(s.train, (c) => s.dataset.classes[c].source));
    assert.equal(trainSources.size, 1200);
    assert.ok(Array.from(s.test).every((c) => !trainSources.has(s.dataset.classes[c].source)));
    assert.ok(Array.from(s.test).every((c) => s.dataset.classes[c].extra?.rotation === 0));
    const rotations = new Set(Array.from(s.train, (c) => s.dataset.classes[c].extra?.rotation));
    assert.deepEqual([...rotations].sort((a, b) => Number(a) - Number(b)), [0, 90, 180, 270]);
    const withVal = omniglotSplits(ds, { validation: 100 });
    assert.deepEqual([withVal.train.length, withVal.val.length, withVal.test.length], [
      4400,
      100,
      423,
    ]);
    assert.deepEqual(Array.from(withVal.test), Array.from(s.test)); // test never changes
  },
});

Deno.test({
  name: "Omniglot background/evaluation protocol: 964 × 4 train, 659 test",
  ignore,
  async fn() {
    const ds = await omniglot();
    const s = omniglotSplits(ds, { protocol: "background-evaluation" });
    assert.equal(s.train.length, 964 * 4);
    assert.equal(s.test.length, 659);
    assert.ok(Array.from(s.train).every((c) => s.dataset.classes[c].extra?.set === "background"));
    assert.ok(Array.from(s.test).every((c) => s.dataset.classes[c].extra?.set === "evaluation"));
    const rotatedTest = omniglotSplits(ds, {
      protocol: "background-evaluation",
      testRotations: [0, 90, 180, 270],
    });
    assert.equal(rotatedTest.test.length, 659 * 4);
    // A rotated class is the base image rotated by 90° counter-clockwise.
    const base = new Float32Array(784);
    const rotated = new Float32Array(784);
    ds.writeExample(0, base, 0);
    s.dataset.writeExample(s.dataset.classExamples[1][0], rotated, 0); // char 0 @ rot90
    for (let i = 0; i < 28; i++) {
      for (let j = 0; j < 28; j++) assert.equal(rotated[i * 28 + j], base[j * 28 + (27 - i)]);
    }
  },
});

Deno.test({
  name: "Omniglot cache: warm load is identical; a corrupt cache is detected and rebuilt",
  ignore,
  async fn() {
    const cold = await omniglot();
    const messages: string[] = [];
    const warm = await loadOmniglot({ dir: dir!, cacheDir, onProgress: (m) => messages.push(m) });
    assert.ok(messages.some((m) => /loaded from cache/.test(m)), messages.join("\n"));
    assert.deepEqual(warm.data, cold.data);
    // Corrupt the evaluation cache (flip bytes in the pixel data), then reload.
    const path = join(cacheDir, "omniglot_evaluation_28.bin");
    const bytes = await Deno.readFile(path);
    for (let i = 1; i <= 50; i++) bytes[bytes.length - i * 997] ^= 0x5a;
    await Deno.writeFile(path, bytes);
    messages.length = 0;
    const rebuilt = await loadOmniglot({
      dir: dir!,
      cacheDir,
      sets: ["evaluation"],
      onProgress: (m) => messages.push(m),
    });
    assert.ok(
      messages.some((m) => /rebuilding cache \(checksum mismatch\)/.test(m)),
      messages.join("\n"),
    );
    assert.deepEqual(rebuilt.data, cold.data.subarray(964 * 20 * 784));
    // The rebuilt cache is valid again.
    messages.length = 0;
    await loadOmniglot({
      dir: dir!,
      cacheDir,
      sets: ["evaluation"],
      onProgress: (m) => messages.push(m),
    });
    assert.ok(messages.some((m) => /loaded from cache/.test(m)));
  },
});

/** A small archive built from one real character, with `edit` applied to its member map. */
async function syntheticArchive(
  edit: (files: Record<string, Uint8Array>) => void,
): Promise<string> {
  const real = unzipSync(await Deno.readFile(join(dir!, "images_background.zip")), {
    filter: (f) => f.name.startsWith("images_background/Latin/character01/"),
  });
  edit(real);
  const out = await Deno.makeTempDir({ prefix: "metalab-omniglot-bad-" });
  await Deno.writeFile(join(out, "images_background.zip"), zipSync(real));
  return out;
}

Deno.test({
  name: "Omniglot errors name the file: corrupt zip, missing PNG, wrong size, missing archive",
  ignore,
  async fn() {
    const opts = { sets: ["background" as const], cacheDir: false as const };
    // A small valid archive loads (one character, 20 drawers).
    const okDir = await syntheticArchive(() => {});
    const small = await loadOmniglot({ dir: okDir, ...opts, size: 14 });
    assert.equal(small.numClasses, 1);
    assert.deepEqual(small.itemShape, [14, 14, 1]);

    const corruptDir = await Deno.makeTempDir();
    const zip = await Deno.readFile(join(okDir, "images_background.zip"));
    await Deno.writeFile(
      join(corruptDir, "images_background.zip"),
      zip.subarray(0, zip.length / 2),
    );
    await assert.rejects(
      loadOmniglot({ dir: corruptDir, ...opts }),
      /corrupt Omniglot archive .*images_background\.zip/,
    );

    const missingDir = await syntheticArchive((files) => {
      const name = Object.keys(files).find((n) => n.endsWith("_07.png"))!;
      delete files[name];
    });
    await assert.rejects(
      loadOmniglot({ dir: missingDir, ...opts }),
      /missing file images_background\/Latin\/character01\/\d{4}_07\.png/,
    );

    const wrongDir = await syntheticArchive((files) => {
      const name = Object.keys(files).find((n) => n.endsWith("_03.png"))!;
      files[name] = encode({
        width: 104,
        height: 105,
        data: new Uint8Array(104 * 105),
        channels: 1,
        depth: 8,
      });
    });
    await assert.rejects(
      loadOmniglot({ dir: wrongDir, ...opts }),
      /image .*images_background\/Latin\/character01\/\d{4}_03\.png is 104×105, expected 105×105/,
    );

    const badPngDir = await syntheticArchive((files) => {
      const name = Object.keys(files).find((n) => n.endsWith("_05.png"))!;
      files[name] = new Uint8Array([1, 2, 3, 4]);
    });
    await assert.rejects(
      loadOmniglot({ dir: badPngDir, ...opts }),
      /cannot decode PNG .*character01\/\d{4}_05\.png/,
    );

    await assert.rejects(
      loadOmniglot({ dir: corruptDir, sets: ["evaluation"], cacheDir: false }),
      /missing Omniglot archive .*images_evaluation\.zip.*deno task data omniglot/,
    );
    for (const d of [okDir, corruptDir, missingDir, wrongDir, badPngDir]) {
      await Deno.remove(d, { recursive: true });
    }
  },
});

Deno.test({
  name: "Omniglot: remove the temporary cache",
  ignore,
  async fn() {
    await Deno.remove(cacheDir, { recursive: true });
  },
});
