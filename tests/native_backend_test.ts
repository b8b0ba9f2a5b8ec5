/**
 * The `native` backend (wasm with its convolutions in oneDNN through Deno's FFI): its choice
 * and its error without the library (always run); and, where oneDNN is installed
 * (`apt-get install -y libdnnl2`), every native conv kernel against wasm and cpu on Conv-4's
 * strides and paddings, zero-copy on the wasm heap, and a second-order MAML meta-gradient
 * through Conv-4 against wasm and finite differences. Without oneDNN those tests are ignored,
 * with the reason printed.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  convCallCounts,
  convImplementations,
  DNNL_INSTALL,
  dnnlAvailable,
  initBackend,
} from "../lib/backend/mod.ts";
import { runConv } from "../lib/backend/native/conv.ts";
import { Rng } from "../lib/random/mod.ts";
import { assertAllClose, assertNoTensorLeak } from "../lib/testing/mod.ts";
import { conv4MamlProblem } from "./meta_fixtures.ts";
import { runDeno, runDenoJson } from "./subprocess.ts";

const available = dnnlAvailable();
if (!available.ok) {
  console.log(`native_backend_test: oneDNN tests ignored: ${available.reason}`);
}
/** Options of a test that needs oneDNN: ignored (reason printed above) when it is absent. */
const needsDnnl = { ignore: !available.ok };

/** float32 convs that sum in different orders agree to this (relative to the values' scale). */
const TOL = { rtol: 1e-4, atol: 1e-4 };

Deno.test("native without oneDNN: the error names the library and the apt command", async () => {
  // A subprocess, since this process may have loaded the real library already.
  const code = `import { initBackend } from "${new URL("../lib/backend/mod.ts", import.meta.url)}";
try { await initBackend("native"); console.log("NO ERROR"); }
catch (e) { console.log(e.message); }`;
  const text = (await runDeno(code, {
    METALAB_DNNL_LIBRARY: "libmetalab-absent-dnnl.so.2",
    METALAB_WASM_THREADS: "1",
  })).stdout;
  assert.match(text, /backend "native" needs oneDNN \(libmetalab-absent-dnnl\.so\.2/);
  assert.ok(text.includes(DNNL_INSTALL), `no apt command in: ${text}`);
  assert.match(DNNL_INSTALL, /^apt-get install -y libdnnl2$/);
});

Deno.test("auto never picks native (a fresh machine has no oneDNN)", async () => {
  const info = await initBackend("auto");
  assert.notEqual(info.name, "native");
  assert.equal(info.nativeLibrary, undefined);
});

Deno.test({
  name: "initBackend('native'): oneDNN 2.x serves the three conv kernels; wasm ↔ native ↔ cpu",
  ...needsDnnl,
  fn: async () => {
    const info = await initBackend("native");
    assert.equal(info.name, "native");
    assert.equal(info.requested, "native");
    assert.match(info.nativeLibrary!, /^oneDNN 2\.\d+\.\d+$/);
    assert.ok(info.threads! >= 1);
    assert.ok(info.nativeThreads! >= 1);
    for (const k of ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MaxPoolGrad"]) {
      assert.ok(info.kernelsAdded.includes(k), `${k} missing from ${info.kernelsAdded}`);
    }
    assert.ok(info.notes.some((n) => n.startsWith("native: Conv2D")), info.notes.join("; "));
    // A tensor made on native is read on wasm and back without moving (same instance).
    const t = tf.tensor([1, 2, 3]);
    assert.equal((await initBackend("wasm")).name, "wasm");
    assert.deepEqual(Array.from(t.dataSync()), [1, 2, 3]);
    assert.equal((await initBackend("native")).name, "native");
    assert.deepEqual(Array.from(tf.add(t, 1).dataSync()), [2, 3, 4]);
    assert.equal((await initBackend("cpu")).name, "cpu");
    t.dispose();
  },
});

Deno.test({
  name: "native on its own: wasm on one thread, the chosen threads to oneDNN, OpenMP spinning",
  ...needsDnnl,
  fn: async () => {
    // Subprocesses: the thread split is made once per process, when wasm is first set up.
    const probe = async (env: Record<string, string>) => {
      const code = `import { initBackend } from "${new URL(
        "../lib/backend/mod.ts",
        import.meta.url,
      )}";
const info = await initBackend("native");
console.log(JSON.stringify({ threads: info.threads, nativeThreads: info.nativeThreads,
  notes: info.notes, left: Deno.env.get("OMP_WAIT_POLICY") ?? null }));`;
      // This process's environment, where oneDNN was loaded by the tests above: loading it
      // sets no variable a child would inherit.
      return await runDenoJson(code, env);
    };
    assert.equal(Deno.env.get("OMP_WAIT_POLICY"), undefined, "loading oneDNN left no variable");
    const two = await probe({ METALAB_WASM_THREADS: "2" });
    assert.equal(two.threads, 1, "wasm itself runs on one thread");
    assert.equal(two.nativeThreads, 2, "oneDNN gets the two threads asked for");
    const notes = two.notes.join("; ");
    // Spinning a bounded time, then sleeping; and restored after loading (no child inherits).
    assert.match(
      notes,
      /native: Conv2D.*OpenMP, 2 threads, waiting: ACTIVE, GOMP_SPINCOUNT 3000000\)/,
      notes,
    );
    assert.equal(two.left, null);
    assert.match(notes, /wasm: 1 thread \(native: the 2 chosen .* go to oneDNN\)/, notes);
    // A policy the user set is theirs.
    const passive = await probe({ METALAB_WASM_THREADS: "2", OMP_WAIT_POLICY: "PASSIVE" });
    assert.match(passive.notes.join("; "), /waiting: PASSIVE\)/);
    assert.equal(passive.left, "PASSIVE", "the user's own variable stays");
  },
});

/** Conv-4's convs (3×3, stride 1 or 2, 'same') and others: odd sizes, valid, 2×2 filters. */
const CASES: Array<{ x: number[]; f: number[]; s: 1 | 2; pad: "same" | "valid" }> = [
  { x: [5, 28, 28, 1], f: [3, 3, 1, 8], s: 1, pad: "same" },
  { x: [4, 14, 14, 8], f: [3, 3, 8, 8], s: 1, pad: "same" },
  { x: [4, 28, 28, 1], f: [3, 3, 1, 8], s: 2, pad: "same" },
  { x: [3, 7, 7, 8], f: [3, 3, 8, 6], s: 2, pad: "same" },
  { x: [3, 9, 9, 2], f: [3, 3, 2, 3], s: 2, pad: "same" },
  { x: [3, 8, 7, 2], f: [3, 3, 2, 3], s: 1, pad: "valid" },
  { x: [2, 9, 9, 3], f: [2, 2, 3, 2], s: 2, pad: "valid" },
  { x: [2, 8, 7, 4], f: [3, 3, 4, 2], s: 2, pad: "valid" },
  // 16+ input channels: the blocked filter layout by default (see weightsLayout).
  { x: [3, 7, 7, 16], f: [3, 3, 16, 16], s: 1, pad: "same" },
  { x: [2, 9, 9, 32], f: [3, 3, 32, 24], s: 2, pad: "same" },
];

/** Runs `f` with `METALAB_NATIVE_WEIGHTS` set to `layout` (restored afterwards). */
async function withLayout<T>(layout: string, f: () => Promise<T>): Promise<T> {
  const previous = Deno.env.get("METALAB_NATIVE_WEIGHTS");
  Deno.env.set("METALAB_NATIVE_WEIGHTS", layout);
  try {
    return await f();
  } finally {
    if (previous === undefined) Deno.env.delete("METALAB_NATIVE_WEIGHTS");
    else Deno.env.set("METALAB_NATIVE_WEIGHTS", previous);
  }
}

/** y = conv(x, w), dx and dw of Σ y·r (Conv2DBackpropInput and -Filter of r), on `backend`. */
async function convAndGradients(
  backend: string,
  c: typeof CASES[number],
  seed: number,
): Promise<Float32Array[]> {
  await initBackend(backend);
  const rng = new Rng(seed);
  const x = tf.tensor4d(rng.normalArray(c.x.reduce((a, b) => a * b)), c.x as never);
  const w = tf.tensor4d(rng.normalArray(c.f.reduce((a, b) => a * b)), c.f as never);
  const y = tf.conv2d(x, w, c.s, c.pad);
  const r = tf.tensor(rng.normalArray(y.size), y.shape);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), r))
  )([x, w]);
  const out = [y, dx, dw].map((t) => t.dataSync() as Float32Array);
  tf.dispose([x, w, y, r, dx, dw]);
  return out;
}

Deno.test({
  name: "native Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter agree with wasm and cpu " +
    "(filters plain, blocked and by default)",
  ...needsDnnl,
  fn: async () => {
    for (const [i, c] of CASES.entries()) {
      const wasm = await convAndGradients("wasm", c, 10 + i);
      const cpu = await convAndGradients("cpu", c, 10 + i);
      for (const layout of ["auto", "plain", "blocked"]) {
        const before = convCallCounts();
        const native = await withLayout(layout, () => convAndGradients("native", c, 10 + i));
        const after = convCallCounts();
        // Each of the three ran in oneDNN (not wasm's fall-back): two forwards (y, and inside
        // tf.grads), one of each gradient.
        assert.equal(after.forward - before.forward, 2, `case ${i}: forward calls`);
        assert.equal(after.backwardData - before.backwardData, 1, `case ${i}: backward data`);
        assert.equal(after.backwardWeights - before.backwardWeights, 1, `case ${i}: weights`);
        ["conv", "dx", "dw"].forEach((what, k) => {
          const label = `case ${i} ${JSON.stringify(c)} ${layout} ${what}`;
          assertAllClose(native[k], cpu[k], { ...TOL, label: `${label} native vs cpu` });
          assertAllClose(native[k], wasm[k], { ...TOL, label: `${label} native vs wasm` });
        });
      }
    }
    const impls = convImplementations();
    // Both layouts were used by default: plain for few input channels, blocked for many.
    assert.ok(Object.keys(impls).some((k) => k.startsWith("forward:plain:5,28,28,1,")));
    assert.ok(Object.keys(impls).some((k) => k.startsWith("forward:blocked:3,7,7,16,")));
    assert.ok(Object.values(impls).every((name) => name.length > 0 && name !== "?"));
  },
});

Deno.test({
  name: "native passes what it does not take (dilated convs) to wasm's kernel, same result",
  ...needsDnnl,
  fn: async () => {
    const run = async (backend: string) => {
      await initBackend(backend);
      const rng = new Rng(30);
      const x = tf.tensor4d(rng.normalArray(2 * 9 * 9 * 3), [2, 9, 9, 3]);
      const w = tf.tensor4d(rng.normalArray(3 * 3 * 3 * 4), [3, 3, 3, 4]);
      const y = tf.conv2d(x, w, 1, "valid", "NHWC", 2);
      const out = y.dataSync() as Float32Array;
      tf.dispose([x, w, y]);
      return out;
    };
    const before = convCallCounts().forward;
    const native = await run("native");
    assert.equal(convCallCounts().forward, before, "a dilated conv must not reach oneDNN");
    assertAllClose(native, await run("wasm"), { rtol: 0, atol: 0, label: "dilated conv" });
  },
});

Deno.test({
  name: "native is zero-copy: oneDNN gets pointers into the wasm heap and writes results there",
  ...needsDnnl,
  fn: async () => {
    await initBackend("native");
    // deno-lint-ignore no-explicit-any
    const backend = tf.backend() as any;
    const x = tf.ones([1, 4, 4, 1]);
    const w = tf.ones([3, 3, 1, 1]);
    const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same");
    // The view the kernel hands oneDNN is the tensor's own bytes in the heap.
    const heap = backend.wasm.HEAPU8 as Uint8Array;
    const view = backend.typedArrayFromHeap(y) as Float32Array;
    assert.equal(view.buffer, heap.buffer, "the kernel's view is on the wasm heap");
    const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(heap));
    const offset = backend.dataIdMap.get(y.dataId).memoryOffset as number;
    assert.equal(
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(view)),
      BigInt(base) + BigInt(offset),
    );
    // Corner, edge and centre sums of a 3×3 box filter on ones, read from that memory.
    assert.deepEqual(Array.from(view), [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4]);
    tf.dispose([x, w, y]);

    // The same primitive on a SharedArrayBuffer (the threaded wasm build's heap) and on an
    // ordinary buffer: FFI takes both views, oneDNN writes in place.
    const g = {
      n: 1,
      h: 4,
      w: 4,
      cin: 1,
      kh: 3,
      kw: 3,
      cout: 1,
      ho: 4,
      wo: 4,
      sh: 1,
      sw: 1,
      top: 1,
      bottom: 1,
      left: 1,
      right: 1,
    }; // deno-fmt-ignore
    for (const buffer of [new SharedArrayBuffer(4 * 42), new ArrayBuffer(4 * 42)]) {
      const xs = new Float32Array(buffer, 4, 16).fill(1);
      const ws = new Float32Array(buffer, 4 * 17, 9).fill(1);
      const ys = new Float32Array(buffer, 4 * 26, 15 + 1);
      runConv("forward", g, xs, ws, ys);
      assert.deepEqual(Array.from(ys), [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4]);
      assert.equal(new Float32Array(buffer)[0], 0, "nothing written before the input");
    }
  },
});

Deno.test({
  name: "native conv gradients leak no tensors",
  ...needsDnnl,
  fn: async () => {
    await initBackend("native");
    const rng = new Rng(40);
    const x = tf.tensor4d(rng.normalArray(2 * 8 * 8 * 2), [2, 8, 8, 2]);
    const w = tf.tensor4d(rng.normalArray(3 * 3 * 2 * 3), [3, 3, 2, 3]);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same")));
    // One warm-up step (assertNoTensorLeak's default): primitives are created once per shape.
    await assertNoTensorLeak(() => tf.dispose(tf.grads(f)([x, w])));
    tf.dispose([x, w]);
  },
});

Deno.test({
  name: "native: second-order MAML meta-gradient through Conv-4 equals wasm's, matches finite " +
    "differences",
  ...needsDnnl,
  fn: async () => {
    const run = async (backend: string) => {
      await initBackend(backend);
      const problem = conv4MamlProblem(50);
      const grads = tf.grads((...p: tf.Tensor[]) => problem.metaLoss(p))(problem.params);
      return { problem, grads };
    };
    const wasm = await run("wasm");
    const wasmGrads = wasm.grads.map((t) => t.dataSync() as Float32Array);
    tf.dispose(wasm.grads);
    wasm.problem.dispose();

    // The blocked layout (8 channels would go plain by default) against wasm too.
    const blocked = await withLayout("blocked", () => run("native"));
    blocked.grads.forEach((g, i) =>
      assertAllClose(g.dataSync() as Float32Array, wasmGrads[i], {
        rtol: 1e-3,
        atol: 1e-5,
        label: `meta-gradient ${i}, native (blocked filters) vs wasm`,
      })
    );
    tf.dispose(blocked.grads);
    blocked.problem.dispose();

    const before = convCallCounts();
    const { problem, grads } = await run("native");
    const after = convCallCounts();
    // The second-order path runs every conv kernel natively, the gradient of a gradient too.
    assert.ok(after.forward > before.forward && after.backwardData > before.backwardData);
    assert.ok(after.backwardWeights - before.backwardWeights >= 8, "filter gradients native");
    grads.forEach((g, i) =>
      assertAllClose(g.dataSync() as Float32Array, wasmGrads[i], {
        rtol: 1e-3,
        atol: 1e-5,
        label: `meta-gradient of ${problem.model.paramSpecs[i]?.name ?? i}, native vs wasm`,
      })
    );
    // Central differences along head-only directions (why only the head: see
    // tests/gradients_test.ts — ReLU and max-pool switches make body directions non-smooth).
    const eps = 1e-3;
    for (let d = 0; d < 2; d++) {
      const v = problem.params.map((t, i) =>
        i < problem.model.headStart
          ? tf.zerosLike(t)
          : tf.mul(tf.tensor(problem.rng.normalArray(t.size), t.shape), 0.1)
      );
      const at = (sign: number) =>
        tf.tidy(() =>
          problem.metaLoss(problem.params.map((p, i) => tf.add(p, tf.mul(v[i], sign * eps))))
            .dataSync()[0]
        );
      const fd = (at(1) - at(-1)) / (2 * eps);
      const analytic = tf.tidy(() =>
        grads.reduce((s, g, i) => s + tf.sum(tf.mul(g, v[i])).dataSync()[0], 0)
      );
      assertAllClose(analytic, fd, { rtol: 3e-2, atol: 2e-3, label: `native MAML direction ${d}` });
      tf.dispose(v);
    }
    tf.dispose(grads);
    problem.dispose();
  },
});
