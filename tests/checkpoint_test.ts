/**
 * Checkpoint files: an exact round trip, and a file changed after it was written (a
 * flipped byte in the tensor data or the header, a header that is not JSON, the old
 * layout without a checksum) refused with an error naming the file, in the library and
 * through `deno task reproduce --resume`.
 */
import assert from "node:assert/strict";
import { runCli } from "../lib/testing/mod.ts";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import { CheckpointStore } from "../lib/experiments/mod.ts";

await initBackend("cpu");

/** Float32 values a lossy format would change: subnormals, extremes, -0, NaN, infinities. */
const FLOATS = [1e-40, -0, 3.4e38, -3.4e38, NaN, Infinity, -Infinity, Math.PI, 1 / 3];
const INTS = [0, -1, 2147483647, -2147483648, 42, 7];

/** The offset of the first tensor byte: after the 16-byte prefix and the JSON header. */
function dataStart(bytes: Uint8Array): number {
  return 16 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
}

async function withStore(fn: (store: CheckpointStore, path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "metalab-ckpt-test-" });
  try {
    const path = `${dir}/checkpoint-maml.ckpt`;
    const store = new CheckpointStore(path);
    const f = tf.tensor(Float32Array.from(FLOATS), [3, 3]);
    const i = tf.tensor(Int32Array.from(INTS), [2, 3], "int32");
    await store.save({
      step: 1234,
      state: { history: { loss: [0.5, 0.25] }, label: "maml" },
      tensors: { "param/w": f, "opt/step": i },
    });
    tf.dispose([f, i]);
    await fn(store, path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("checkpoint: an intact file round-trips exactly (bits, shapes, dtypes, state)", async () => {
  await withStore(async (store) => {
    const before = tf.memory().numTensors;
    const back = await store.load();
    assert.ok(back, "the checkpoint exists");
    assert.equal(back.step, 1234);
    assert.deepEqual(back.state, { history: { loss: [0.5, 0.25] }, label: "maml" });
    assert.deepEqual(Object.keys(back.tensors), ["param/w", "opt/step"]);
    const w = back.tensors["param/w"];
    assert.equal(w.dtype, "float32");
    assert.deepEqual(w.shape, [3, 3]);
    assert.deepEqual(
      new Uint32Array((w.dataSync() as Float32Array).slice().buffer),
      new Uint32Array(Float32Array.from(FLOATS).buffer),
      "bit-exact float32, -0 and NaN included",
    );
    const s = back.tensors["opt/step"];
    assert.equal(s.dtype, "int32");
    assert.deepEqual(s.shape, [2, 3]);
    assert.deepEqual(Array.from(s.dataSync()), INTS);
    tf.dispose(Object.values(back.tensors));
    assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  });
});

Deno.test("checkpoint: one flipped byte of tensor data is refused, naming the file", async () => {
  await withStore(async (store, path) => {
    const bytes = await Deno.readFile(path);
    assert.ok(bytes.length - 3 > dataStart(bytes), "the byte flipped is tensor data");
    bytes[bytes.length - 3] ^= 0x01;
    await Deno.writeFile(path, bytes);
    const before = tf.memory().numTensors;
    await assert.rejects(store.load(), (err: Error) => {
      assert.ok(err.message.includes(path), `names the file: ${err.message}`);
      assert.match(
        err.message,
        /corrupt checkpoint .*: checksum mismatch \(FNV-1a 0x[0-9a-f]{8}, expected 0x[0-9a-f]{8}\)/,
      );
      return true;
    });
    assert.equal(tf.memory().numTensors, before, "nothing was loaded");
  });
});

Deno.test("checkpoint: a changed header (still valid JSON) is refused too", async () => {
  await withStore(async (store, path) => {
    const bytes = await Deno.readFile(path);
    const header = new TextDecoder().decode(bytes.subarray(16, dataStart(bytes)));
    // "step":1234 → "step":1235: valid JSON, a different step.
    const at = 16 + header.indexOf('"step":1234') + '"step":123'.length;
    assert.equal(String.fromCharCode(bytes[at]), "4");
    bytes[at] = "5".charCodeAt(0);
    await Deno.writeFile(path, bytes);
    await assert.rejects(store.load(), new RegExp(`corrupt checkpoint ${path}: checksum mismatch`));
  });
});

Deno.test("checkpoint: a header that is not JSON is refused, naming the file", async () => {
  await withStore(async (store, path) => {
    const bytes = await Deno.readFile(path);
    bytes[16] = "#".charCodeAt(0); // the header's opening brace
    await Deno.writeFile(path, bytes);
    await assert.rejects(store.load(), (err: Error) => {
      assert.ok(!(err instanceof SyntaxError), `not a bare JSON error: ${err.message}`);
      assert.ok(err.message.includes(path), `names the file: ${err.message}`);
      assert.match(err.message, /unreadable header \(.*JSON/);
      return true;
    });
  });
});

Deno.test("checkpoint: the old layout without a checksum is refused, not trusted", async () => {
  await withStore(async (store, path) => {
    const header = new TextEncoder().encode(JSON.stringify({ step: 3, state: {}, tensors: [] }));
    const old = new Uint8Array(12 + header.length);
    old.set(new TextEncoder().encode("MLCKPT01"));
    new DataView(old.buffer).setUint32(8, header.length, true);
    old.set(header, 12);
    await Deno.writeFile(path, old);
    await assert.rejects(
      store.load(),
      new RegExp(`checkpoint ${path} has the old layout MLCKPT01, which carries no checksum`),
    );
  });
});

Deno.test("checkpoint: bytes appended after the tensors are refused", async () => {
  await withStore(async (store, path) => {
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, new Uint8Array([...bytes, 0, 0, 0, 0]));
    await assert.rejects(
      store.load(),
      new RegExp(`corrupt checkpoint ${path}: ${bytes.length + 4} bytes, expected ${bytes.length}`),
    );
  });
});

Deno.test("reproduce --resume refuses a checkpoint with one flipped byte, naming the file", async () => {
  const out = await Deno.makeTempDir({ prefix: "metalab-ckpt-cli-" });
  const reproduce = (args: string[]) => runCli("lib/cli/reproduce.ts", args);
  try {
    // Too many steps to finish in 2 s: the run stops at a checkpoint.
    const args = ["sinusoid-k5", "--quick", "--set", "trainSteps=100000", "--out", out];
    let r = await reproduce([...args, "--time-limit", "2s"]);
    assert.equal(r.code, 0, r.text.slice(-2000));
    const path = `${out}/sinusoid-k5/checkpoint-maml.ckpt`;
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 0x01; // the last tensor's last byte
    await Deno.writeFile(path, bytes);
    r = await reproduce([...args, "--resume", "--time-limit", "2s"]);
    assert.notEqual(r.code, 0, `a corrupt checkpoint must fail the run:\n${r.text.slice(-2000)}`);
    assert.ok(
      r.text.includes(`corrupt checkpoint ${path}: checksum mismatch`),
      r.text.slice(-2000),
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
