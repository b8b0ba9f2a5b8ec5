/**
 * The threaded-SIMD wasm build under Deno (lib/backend/wasm_threads.ts): it starts on 2
 * threads, agrees with cpu on conv2d forward and both gradients (the XNNPACK convs and
 * MetaLab's conv-gradient kernels, now split across threads), is deterministic, falls back
 * to the single-threaded build when the threaded files are missing, and its pthread workers
 * never keep a Deno process alive (this file also runs under `deno test`'s op and resource
 * sanitizers with the workers running).
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  idleCoreThreads,
  idleThreadsFromProcStat,
  initBackend,
  parseProcStat,
  wasmBinaryDir,
  wasmThreadsWanted,
} from "../lib/backend/mod.ts";
import { simdKernelsFor, wasmBackendMemory } from "../lib/backend/simd/mod.ts";
import { Rng } from "../lib/random/mod.ts";
import { assertAllClose } from "../lib/testing/mod.ts";
import { runDeno, runDenoJson } from "./subprocess.ts";

// Two threads whatever this machine has (unset means one), set before the first
// initBackend of this process: the wasm backend is created once.
Deno.env.set("METALAB_WASM_THREADS", "2");

const TOL = { rtol: 1e-4, atol: 1e-4 };

Deno.test("initBackend('wasm') runs the threaded SIMD build on METALAB_WASM_THREADS threads", async () => {
  assert.equal(wasmThreadsWanted(), 2);
  const info = await initBackend("wasm");
  assert.equal(info.name, "wasm");
  assert.equal(info.simd, true);
  assert.equal(info.threads, 2, `notes: ${info.notes.join("; ")}`);
  assert.ok(!info.notes.some((n) => /did not start|failed/.test(n)), info.notes.join("; "));
  assert.ok(info.kernelsAdded.includes("Conv2DBackpropFilter"));
  // MetaLab's SIMD kernels instantiate on the threaded build's shared memory too.
  const memory = wasmBackendMemory(tf.backend());
  assert.ok(memory?.buffer instanceof SharedArrayBuffer, "the threaded build's memory is shared");
  assert.ok(simdKernelsFor(memory!), "SIMD kernels on the shared memory");
  // Switching away and back keeps the same (threaded) instance.
  await initBackend("cpu");
  assert.equal((await initBackend("wasm")).threads, 2);
});

Deno.test("METALAB_WASM_THREADS: unset = the idle cores, auto = the cores, out of range = a clear error", async () => {
  Deno.env.set("METALAB_WASM_THREADS", "0");
  try {
    await assert.rejects(
      () => initBackend("wasm"),
      /METALAB_WASM_THREADS must be "auto" or an integer from 1 to 8, got "0"/,
    );
    Deno.env.set("METALAB_WASM_THREADS", "two");
    assert.throws(() => wasmThreadsWanted(), /got "two"/);
    Deno.env.set("METALAB_WASM_THREADS", "auto");
    assert.equal(wasmThreadsWanted(), Math.min(navigator.hardwareConcurrency, 8));
    Deno.env.delete("METALAB_WASM_THREADS");
    // Unset: the cores idle now (which other jobs on this machine move): 1 to the cores.
    const wanted = wasmThreadsWanted();
    const cores = Math.min(navigator.hardwareConcurrency, 8);
    assert.ok(Number.isInteger(wanted) && wanted >= 1 && wanted <= cores, `unset: ${wanted}`);
  } finally {
    Deno.env.set("METALAB_WASM_THREADS", "2");
  }
});

Deno.test("idleCoreThreads: the cores less the rounded load, 1 to 8", () => {
  assert.equal(idleCoreThreads(2, 0.1), 2, "idle 2-core machine");
  assert.equal(idleCoreThreads(2, 0.7), 1, "one core busy");
  assert.equal(idleCoreThreads(2, 4.5), 1, "overloaded: still one");
  assert.equal(idleCoreThreads(16, 3.2), 8, "tfjs caps its pool at 8");
  assert.equal(idleCoreThreads(4, 1.4), 3);
  assert.equal(idleCoreThreads(2, NaN), 1, "unknown load: one thread");
  assert.equal(idleCoreThreads(1, 0), 1);
});

/** A /proc/stat text: the aggregate line from `cpu` (user nice system idle iowait …), `cpus` lines. */
function procStat(cpu: number[], cpus = 2): string {
  const lines = [`cpu  ${cpu.join(" ")} 0 0`];
  for (let i = 0; i < cpus; i++) lines.push(`cpu${i} 1 1 1 1 1 0 0 0 0 0`);
  return [...lines, "intr 12345 0 0", "ctxt 999", "btime 1700000000", ""].join("\n");
}

Deno.test("idleThreadsFromProcStat: the cores idle between two /proc/stat samples, 1 to 8", () => {
  const before = procStat([1000, 10, 500, 9000, 20, 0, 5, 0]);
  // Δ over the sample: user nice system idle iowait irq softirq steal.
  const after = (d: number[], cpus = 2) =>
    procStat([1000, 10, 500, 9000, 20, 0, 5, 0].map((v, i) => v + (d[i] ?? 0)), cpus);
  assert.equal(idleThreadsFromProcStat(before, after([4, 0, 2, 44]), 2), 2, "idle machine");
  assert.equal(idleThreadsFromProcStat(before, after([24, 0, 1, 25]), 2), 1, "one core busy");
  assert.equal(idleThreadsFromProcStat(before, after([48, 0, 2, 0]), 2), 1, "all busy: one");
  // iowait is idle CPU time: a core waiting on the disk can run a thread.
  assert.equal(idleThreadsFromProcStat(before, after([2, 0, 2, 26, 20]), 2), 2, "iowait");
  // The case the load average gets wrong: a job ended a moment ago (load 1.58), idle now.
  assert.equal(idleCoreThreads(2, 1.58), 1, "the load average still counts the ended job");
  assert.equal(idleThreadsFromProcStat(before, after([1, 0, 1, 48]), 2), 2, "idle now: both");
  // Capped by this process's cores and by tfjs's pool of 8.
  assert.equal(idleThreadsFromProcStat(before, after([0, 0, 0, 400], 16), 16), 8, "pool cap");
  assert.equal(idleThreadsFromProcStat(before, after([0, 0, 0, 400], 4), 2), 2, "cores cap");
  assert.equal(idleThreadsFromProcStat(before, before, 2), null, "no time passed");
  assert.equal(idleThreadsFromProcStat("garbage", after([0, 0, 0, 50]), 2), null, "bad sample");
});

Deno.test("parseProcStat: idle = idle + iowait, total = user … steal, and the CPUs listed", () => {
  assert.deepEqual(parseProcStat(procStat([1, 2, 3, 4, 5, 6, 7, 8], 3)), {
    idle: 9,
    total: 36,
    cpus: 3,
  });
  assert.equal(parseProcStat("cpu0 1 2 3 4\n"), null, "no aggregate line");
  assert.equal(parseProcStat("cpu  1 x 3 4\n"), null, "a field is not a number");
});

Deno.test("unset METALAB_WASM_THREADS: a fresh process samples /proc/stat and says so", async () => {
  const code = `
    import { initBackend } from "./lib/backend/mod.ts";
    const info = await initBackend("wasm");
    console.log(JSON.stringify({ threads: info.threads, notes: info.notes }));
  `;
  const env = { ...Deno.env.toObject() };
  delete env.METALAB_WASM_THREADS;
  const info = await runDenoJson(code, env, { clearEnv: true });
  assert.ok(info.threads >= 1 && info.threads <= Math.min(navigator.hardwareConcurrency, 8));
  assert.ok(
    info.notes.some((n: string) =>
      /idle over 250 ms of \/proc\/stat; METALAB_WASM_THREADS unset/.test(n)
    ),
    JSON.stringify(info.notes),
  );
});

/** Conv-4-like shapes, large enough for XNNPACK to split the work across both threads. */
const CASES: Array<{ x: number[]; f: number[]; s: 1 | 2; pad: "same" | "valid" }> = [
  { x: [10, 14, 14, 16], f: [3, 3, 16, 32], s: 1, pad: "same" },
  { x: [6, 15, 15, 8], f: [3, 3, 8, 16], s: 2, pad: "same" },
  { x: [4, 12, 11, 8], f: [3, 3, 8, 8], s: 1, pad: "valid" },
];

/** conv2d output and the gradients w.r.t. input and filter of Σ conv2d(x, w)·dy. */
function convAndGrads(
  xv: Float32Array,
  fv: Float32Array,
  dyv: Float32Array,
  c: typeof CASES[number],
): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x as [number, number, number, number]);
    const w = tf.tensor4d(fv, c.f as [number, number, number, number]);
    const y = tf.conv2d(x, w, c.s, c.pad);
    const dy = tf.tensor(dyv, y.shape);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), dy))
    )([x, w]);
    return [y, dx, dw].map((t) => t.dataSync() as Float32Array);
  });
}

Deno.test("threaded wasm conv2d forward, dX and dW agree with cpu, and repeat bit for bit", async () => {
  for (const c of CASES) {
    const rng = new Rng(c.x[0] * 1000 + c.f[3]);
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const xv = rng.normalArray(size(c.x));
    const fv = rng.normalArray(size(c.f));
    const yShape = tf.tidy(() =>
      tf.conv2d(
        tf.zeros<tf.Rank>(c.x) as tf.Tensor4D,
        tf.zeros<tf.Rank>(c.f) as tf.Tensor4D,
        c.s,
        c.pad,
      )
        .shape
    );
    const dyv = rng.normalArray(size(yShape));
    await initBackend("cpu");
    const expected = convAndGrads(xv, fv, dyv, c);
    const info = await initBackend("wasm");
    assert.equal(info.threads, 2);
    const before = tf.memory().numTensors;
    const actual = convAndGrads(xv, fv, dyv, c);
    const again = convAndGrads(xv, fv, dyv, c);
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    const label = `x ${c.x} f ${c.f} stride ${c.s} ${c.pad}`;
    ["y", "dX", "dW"].forEach((name, i) => {
      assertAllClose(actual[i], expected[i], { ...TOL, label: `${name} ${label}` });
      assert.deepEqual(again[i], actual[i], `${name} ${label}: threaded runs differ`);
    });
  }
});

Deno.test("a Deno process with the threaded wasm backend exits by itself when done", async () => {
  const code = `
    import * as tf from "@tensorflow/tfjs";
    import { initBackend } from "./lib/backend/mod.ts";
    const info = await initBackend("wasm");
    const x = tf.ones([8, 28, 28, 8]);
    const w = tf.ones([3, 3, 8, 16]);
    const s = tf.sum(tf.conv2d(x, w, 1, "same")).dataSync()[0];
    console.log(JSON.stringify({ threads: info.threads, s }));
  `;
  const r = await runDeno(code, { METALAB_WASM_THREADS: "2" });
  assert.equal(r.code, 0, `exit ${r.code} (signal ${r.signal}); stderr:\n${r.stderr}`);
  const { threads, s } = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(threads, 2);
  // Every output sums the in-bounds 3×3×8 window: 8·(26² interior·9 + edges) per filter.
  const perFilter = 8 * (26 * 26 * 9 + 4 * 26 * 6 + 4 * 4);
  assert.equal(s, 8 * 16 * perFilter);
});

Deno.test("without the threaded build's files, wasm falls back to one thread and says why", async () => {
  // A copy of dist/ holding only the single-threaded SIMD binary.
  const dir = await Deno.makeTempDir({ prefix: "metalab-wasm-" });
  try {
    const simd = new URL("tfjs-backend-wasm-simd.wasm", wasmBinaryDir());
    await Deno.copyFile(simd, `${dir}/tfjs-backend-wasm-simd.wasm`);
    const code = `
      import * as tf from "@tensorflow/tfjs";
      import { initBackend } from "./lib/backend/mod.ts";
      const info = await initBackend("wasm");
      const y = tf.conv2d(tf.ones([2, 5, 5, 2]), tf.ones([3, 3, 2, 1]), 1, "valid");
      console.log(JSON.stringify({ threads: info.threads, notes: info.notes, wasmDir: info.wasmDir,
        y: Array.from(y.dataSync()) }));
    `;
    const r = await runDeno(code, { METALAB_WASM_THREADS: "2", METALAB_WASM_DIR: dir });
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
    const info = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.equal(info.threads, 1);
    assert.ok(info.wasmDir.includes(dir), info.wasmDir);
    assert.ok(
      info.notes.some((n: string) => /threaded build did not start.*not found/.test(n)),
      JSON.stringify(info.notes),
    );
    assert.deepEqual(info.y, Array(2 * 3 * 3).fill(18)); // [2, 3, 3, 1], each 3·3·2 ones
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Conv-4 training gives the same bits on 1 and 2 wasm threads", async () => {
  const code = `
    import * as tf from "@tensorflow/tfjs";
    import { initBackend } from "./lib/backend/mod.ts";
    import { conv4, softmaxCrossEntropy } from "./lib/models/mod.ts";
    import { Rng } from "./lib/random/mod.ts";
    const info = await initBackend("wasm");
    const rng = new Rng(5);
    const model = conv4({ inputShape: [28, 28, 1], outputs: 5, filters: 16 });
    const params = model.init(rng).map((t) => tf.variable(t));
    const x = tf.tensor(rng.normalArray(20 * 784), [20, 28, 28, 1]);
    const y = tf.tensor1d(Array.from({ length: 20 }, (_, i) => i % 5), "int32");
    const opt = tf.train.adam(1e-3);
    for (let i = 0; i < 3; i++) {
      opt.minimize(() => softmaxCrossEntropy(model.apply(params, x, { training: true }), y));
    }
    const bits = params.flatMap((p) => Array.from(new Uint32Array(p.dataSync().slice().buffer)));
    console.log(JSON.stringify({ threads: info.threads, bits }));
  `;
  const one = await runDeno(code, { METALAB_WASM_THREADS: "1" });
  const two = await runDeno(code, { METALAB_WASM_THREADS: "2" });
  for (const r of [one, two]) assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  const a = JSON.parse(one.stdout.trim().split("\n").at(-1)!);
  const b = JSON.parse(two.stdout.trim().split("\n").at(-1)!);
  assert.equal(a.threads, 1);
  assert.equal(b.threads, 2);
  assert.equal(a.bits.length, b.bits.length);
  const differing = a.bits.filter((v: number, i: number) => v !== b.bits[i]).length;
  assert.equal(differing, 0, `${differing} of ${a.bits.length} parameters differ`);
});
