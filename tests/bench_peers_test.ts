/**
 * `deno task bench --peers` without timing anything: the JSON protocol with the PyTorch peer
 * (lib/bench/peers.ts, bench/peers/torch_peer.py), the ratio ours / PyTorch's best variant,
 * the A B A B alternation, what a record carries, and the skip message when no interpreter
 * has torch. No assertion depends on how fast anything ran.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/mod.ts";
import { benchCompute, COMPUTE_CASE_NAMES } from "../lib/bench/compute_bench.ts";
import {
  alternateRounds,
  encodeRequest,
  parseHello,
  parseReply,
  parseRun,
  type PeerSession,
  ratioToPyTorch,
  startTorchPeer,
  torchInstallHint,
  type TorchPeer,
} from "../lib/bench/peers.ts";
import { parseAnchorResult, TIME_TO_ACCURACY_CASE } from "../lib/bench/time_to_accuracy.ts";
import { kernelShares, summarize } from "../lib/bench/types.ts";
import { formatTable, pytorchSummary } from "../lib/cli/bench.ts";
import { runCli } from "../lib/testing/cli.ts";

// Single-threaded wasm: these tests time nothing, and one thread is the cheap set-up.
Deno.env.set("METALAB_WASM_THREADS", "1");

Deno.test("protocol: requests are one JSON line; replies are checked and errors named", () => {
  const line = encodeRequest({
    op: "run",
    case: "conv4-protonet-step",
    variant: "eager",
    steps: 3,
    warmup: 1,
    seed: 1,
  });
  assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), "one line");
  assert.deepEqual(JSON.parse(line), {
    op: "run",
    case: "conv4-protonet-step",
    variant: "eager",
    steps: 3,
    warmup: 1,
    seed: 1,
  });
  const hello = parseHello(
    '{"ok": true, "torch": "1.13.0", "threads": 2, "functorch": true, ' +
      '"cases": {"conv4-protonet-step": ["eager", "channels-last"]}}',
  );
  assert.deepEqual(hello, {
    torch: "1.13.0",
    threads: 2,
    functorch: true,
    cases: { "conv4-protonet-step": ["eager", "channels-last"] },
  });
  assert.deepEqual(parseRun('{"ok": true, "timesMs": [3.5, 2.5], "peakRssKiB": 2048}', 2), {
    timesMs: [3.5, 2.5],
    peakRssKiB: 2048,
  });
  assert.throws(() => parseReply("Traceback (most recent call last):", "hello"), /expected a JSON/);
  assert.throws(
    () => parseReply('{"ok": false, "error": "ValueError: unknown case \\"x\\""}', "run x"),
    /run x failed: ValueError: unknown case "x"/,
  );
  assert.throws(() => parseReply('{"timesMs": []}', "run"), /without "ok": true/);
  assert.throws(
    () => parseRun('{"ok": true, "timesMs": [1], "peakRssKiB": 1}', 2, "case v"),
    /case v: expected 2 times, got 1/,
  );
  assert.throws(() => parseHello('{"ok": true, "torch": 1}'), /expected \{torch, threads/);
});

Deno.test("ratioToPyTorch: ours over the best (smallest-median) variant; summarize: median, min", () => {
  const loop = { variant: "loop", ...summarize([120, 100, 140]) };
  const vmap = { variant: "vmap", ...summarize([60, 80, 50, 70]) };
  assert.deepEqual(loop, { variant: "loop", medianMs: 120, minMs: 100, steps: 3 });
  assert.equal(vmap.medianMs, 65, "even count: the mean of the middle two");
  const r = ratioToPyTorch(130, [loop, vmap])!;
  assert.equal(r.best.variant, "vmap");
  assert.equal(r.ratio, 2);
  assert.equal(ratioToPyTorch(60, [loop])!.ratio, 0.5, "below 1: we are faster");
  assert.equal(ratioToPyTorch(60, []), null, "no variant ran: no ratio");
  assert.throws(() => summarize([]), /no times/);
});

Deno.test("alternateRounds runs the sides A B A B, each side's times in order", async () => {
  const calls: string[] = [];
  const side = (name: string) => (round: number) => {
    calls.push(`${name}${round}`);
    return Promise.resolve([round * 10 + name.charCodeAt(0) - 64]);
  };
  const times = await alternateRounds(3, [side("A"), side("B")]);
  assert.deepEqual(calls, ["A0", "B0", "A1", "B1", "A2", "B2"]);
  assert.deepEqual(times, [[1, 11, 21], [2, 12, 22]]);
  await assert.rejects(() => alternateRounds(0, [side("A")]), /rounds must be a positive/);
});

/** A peer in-process: each variant's times are fixed; every request is recorded. */
function fakePeer(times: Record<string, number[]>, failing: string[] = []) {
  const requests: string[] = [];
  let closed = 0;
  const peer: TorchPeer = {
    python: "fake",
    hello: { torch: "9.9-fake", threads: 1, functorch: true, cases: {} },
    close: () => Promise.resolve(),
    session: (name: string): Promise<PeerSession> =>
      Promise.resolve({
        variants: [...Object.keys(times), ...failing],
        run: (variant, o) => {
          requests.push(`${name} ${variant} steps ${o.steps} warmup ${o.warmup}`);
          if (failing.includes(variant)) {
            return Promise.reject(new Error(`PyTorch peer: ${variant} failed: RuntimeError`));
          }
          return Promise.resolve({
            timesMs: times[variant].slice(0, o.steps),
            peakRssKiB: 300 * 1024,
          });
        },
        close: () => {
          closed++;
          return Promise.resolve();
        },
      }),
  };
  return { peer, requests, closed: () => closed };
}

Deno.test("benchCompute with a peer: alternating rounds, the ratio of the same run, failures recorded", async () => {
  await initBackend("wasm");
  const before = tf.memory().numTensors;
  const { peer, requests, closed } = fakePeer({ loop: [900, 900], vmap: [1, 3] }, ["broken"]);
  const [record] = await benchCompute(["wasm"], {
    steps: 2,
    warmup: 1,
    rounds: 2,
    cases: ["conv4-protonet-step"],
    peer,
    log: () => {},
  });
  assert.equal(tf.memory().numTensors, before, "the case leaked tensors");
  assert.equal(closed(), 3, "one peer process per variant, each closed");
  // Two rounds of one step each; every variant warmed up on its first round only.
  assert.deepEqual(requests, [
    "conv4-protonet-step loop steps 1 warmup 1",
    "conv4-protonet-step vmap steps 1 warmup 1",
    "conv4-protonet-step broken steps 1 warmup 1",
    "conv4-protonet-step loop steps 1 warmup 0",
    "conv4-protonet-step vmap steps 1 warmup 0",
  ]);
  assert.equal(record.name, "conv4-protonet-step");
  assert.equal(record.steps, 2);
  assert.equal(record.pytorch!.best, "vmap");
  assert.equal(record.pytorch!.rounds, 2);
  assert.deepEqual(record.pytorch!.variants.map((v) => [v.variant, v.medianMs, v.minMs]), [
    ["loop", 900, 900],
    ["vmap", 1, 1], // fake times are sliced per round: [1] then [1]
  ]);
  assert.match(record.pytorch!.errors!.broken, /broken failed: RuntimeError/);
  assert.equal(record.referenceMs, 1);
  assert.equal(record.targetMs, 1, "the target is PyTorch's best: ratio ≤ 1");
  assert.equal(record.ratioToPyTorch, +(record.medianMs / 1).toFixed(3));
  assert.equal(record.extra!.threads, 1);
  assert.ok((record.extra!.peakRssMiB as number) > 0, "our peak memory is recorded");
  assert.ok((record.extra!.wasmHeapMiB as number) > 0, "the wasm heap is recorded");
  // What the table and the docs' --pytorch file show.
  assert.match(formatTable([record]), /vmap 1\.0 \/ 1\.0/);
  assert.deepEqual(pytorchSummary([record])!.cases, [
    { name: "conv4-protonet-step", ms: 1, variant: "vmap" },
  ]);
  assert.equal(pytorchSummary([{ ...record, pytorch: undefined }]), null);
});

Deno.test("benchCompute names the cases, and rejects an unknown one with the list", async () => {
  assert.deepEqual(COMPUTE_CASE_NAMES, [
    "conv4-protonet-step",
    "conv4-protonet-20way-step",
    "maml-conv4-32tasks-second-order",
    "maml-conv4-32tasks-first-order",
    "maml-conv4-4tasks-5steps-second-order",
    "maml-sinusoid-25tasks-batched",
  ]);
  await assert.rejects(
    () => benchCompute(["wasm"], { cases: ["conv4-protonet"], log: () => {} }),
    /unknown case "conv4-protonet": choose one of conv4-protonet-step, /,
  );
});

Deno.test("the PyTorch peer script serves every compute case (same names as ours)", async () => {
  const source = await Deno.readTextFile(new URL("../bench/peers/torch_peer.py", import.meta.url));
  for (const name of COMPUTE_CASE_NAMES) assert.ok(source.includes(`"${name}"`), name);
});

Deno.test("without torch the peer is skipped with the install hint and why", async () => {
  const missing = "/nonexistent/bin/python3";
  const r = await startTorchPeer({ threads: 1, python: missing });
  assert.ok("skipped" in r, "a missing interpreter is a skip, not a crash");
  const { skipped } = r as { skipped: string };
  assert.ok(skipped.startsWith(torchInstallHint([missing])), skipped);
  assert.match(skipped, /apt-get install python3-torch/);
  assert.match(skipped, /\/nonexistent\/bin\/python3: /, "says why this interpreter failed");
});

/** The first interpreter here (any, torch or not), for the fake peer below. */
async function anyPython(): Promise<string | null> {
  for (const p of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(p, { args: ["-c", "print(1)"], stdout: "null" })
        .output();
      if (out.success) return p;
    } catch {
      // not here
    }
  }
  return null;
}

const python = await anyPython();

Deno.test({
  name: "a peer process speaks the protocol over stdin/stdout (a fake peer, no torch needed)",
  ignore: python === null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "metalab-peer-" });
    try {
      // Replies as torch_peer.py does; records the environment it was started with.
      const script = `${dir}/fake_peer.py`;
      await Deno.writeTextFile(
        script,
        `import json, os, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["op"] == "quit":
        break
    if r["op"] == "hello":
        out = {"ok": True, "torch": "fake", "threads": int(os.environ["METALAB_PEER_THREADS"]),
               "functorch": False, "cases": {"conv4-protonet-step": ["eager"]},
               "mmap": os.environ.get("MALLOC_MMAP_THRESHOLD_")}
    elif r["case"] != "conv4-protonet-step":
        out = {"ok": False, "error": "ValueError: unknown case"}
    else:
        out = {"ok": True, "timesMs": [float(i) for i in range(r["steps"])], "peakRssKiB": 1}
    print(json.dumps(out), flush=True)
`,
      );
      const peer = await startTorchPeer({ threads: 3, python: python!, script });
      assert.ok(!("skipped" in peer), JSON.stringify(peer));
      const p = peer as TorchPeer;
      assert.equal(p.hello.threads, 3, "torch.set_num_threads = our thread count");
      assert.equal(await p.session("no-such-case"), null);
      const s = (await p.session("conv4-protonet-step"))!;
      assert.deepEqual(s.variants, ["eager"]);
      assert.deepEqual(await s.run("eager", { steps: 3, warmup: 1, seed: 0 }), {
        timesMs: [0, 1, 2],
        peakRssKiB: 1,
      });
      await s.close();
      await p.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deno task bench --peers without torch: says how to install it, runs ours alone", async () => {
  const out = await Deno.makeTempFile({ prefix: "metalab-bench-", suffix: ".json" });
  try {
    const r = await runCli(
      "lib/cli/bench.ts",
      [
        "--backend",
        "wasm",
        "--peers",
        "--case",
        "maml-sinusoid-25tasks-batched",
        "--steps",
        "1",
        "--warmup",
        "1",
        "--out",
        out,
      ],
      { METALAB_PYTHON: "/nonexistent/bin/python3", METALAB_WASM_THREADS: "1" },
    );
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /PyTorch peer skipped: no torch for \/nonexistent\/bin\/python3/);
    assert.match(r.text, /apt-get install python3-torch/);
    const report = JSON.parse(await Deno.readTextFile(out));
    assert.deepEqual(report.records.map((x: { name: string }) => x.name), [
      "maml-sinusoid-25tasks-batched",
    ]);
    assert.equal(report.records[0].ratioToPyTorch, undefined, "no peer: no ratio");
    assert.equal(report.pytorch, null);
    assert.match(report.peer, /skipped/);
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("time to accuracy: the PyTorch side's JSON line is read, a bad one is named", () => {
  const stdout = "some warning\n" +
    '{"ok": true, "torch": "1.13", "threads": 2, "episodes": 30, "trainS": 7.5, ' +
    '"evalS": 1.25, "accuracy": 0.71, "ci95": 0.043, "peakRssKiB": 4096}\n';
  const r = parseAnchorResult(stdout);
  assert.equal(r.trainS, 7.5);
  assert.equal(r.accuracy, 0.71);
  assert.throws(() => parseAnchorResult("Traceback …"), /expected a JSON line/);
  assert.throws(
    () => parseAnchorResult('{"trainS": 1, "evalS": 1, "ci95": 0, "episodes": 1}'),
    /"accuracy" must be a number/,
  );
});

Deno.test("deno task bench --case: an unknown name lists the cases, the opt-in one too", async () => {
  const r = await runCli("lib/cli/bench.ts", ["--backend", "wasm", "--case", "nope"], {
    METALAB_WASM_THREADS: "1",
  });
  assert.notEqual(r.code, 0);
  assert.match(r.text, /unknown case "nope": choose one of conv4-protonet-step, /);
  assert.ok(r.text.includes(TIME_TO_ACCURACY_CASE), r.text);
});

/** Whether `python` imports torch (the check below needs the real peer). */
async function hasTorch(p: string | null): Promise<boolean> {
  if (!p) return false;
  const out = await new Deno.Command(p, { args: ["-c", "import torch, functorch"], stderr: "null" })
    .output().catch(() => null);
  return out?.success ?? false;
}

Deno.test({
  name: "the PyTorch variants compute the task loop's meta-gradient (where torch is installed)",
  ignore: !(await hasTorch(python)),
  fn: async () => {
    const out = await new Deno.Command(python!, {
      args: [new URL("../bench/peers/torch_peer.py", import.meta.url).pathname, "--check"],
      env: { METALAB_PEER_THREADS: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const { relativeErrors } = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(Object.keys(relativeErrors).length, 6);
    for (const [key, err] of Object.entries(relativeErrors as Record<string, number>)) {
      assert.ok(err < 1e-4, `${key}: relative error ${err}`);
    }
  },
});

Deno.test("kernelShares: kernel time summed by name, largest first, shares of the total", () => {
  const shares = kernelShares([
    { name: "Conv2D", kernelTimeMs: 2 },
    { name: "Relu", kernelTimeMs: 1 },
    { name: "Conv2D", kernelTimeMs: 4 },
    { name: "Pad", kernelTimeMs: { error: "no timer" } },
  ]);
  assert.deepEqual(shares, [
    { kernel: "Conv2D", ms: 6, calls: 2, share: 6 / 7 },
    { kernel: "Relu", ms: 1, calls: 1, share: 1 / 7 },
    { kernel: "Pad", ms: 0, calls: 1, share: 0 },
  ]);
});

Deno.test("benchCompute --profile: the record says which kernels one step ran", async () => {
  await initBackend("wasm");
  const [record] = await benchCompute(["wasm"], {
    steps: 1,
    warmup: 0,
    cases: ["conv4-protonet-step"],
    profile: true,
    log: () => {},
  });
  const kernels = record.profile!.map((k) => k.kernel);
  for (const k of ["Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput"]) {
    assert.ok(kernels.includes(k), `${k} missing from ${kernels.join(", ")}`);
  }
  // Four conv layers: four forward convs; the first layer needs no input gradient.
  assert.equal(record.profile!.find((k) => k.kernel === "Conv2D")!.calls, 4);
  assert.equal(record.profile!.find((k) => k.kernel === "Conv2DBackpropInput")!.calls, 3);
  const total = record.profile!.reduce((a, k) => a + k.share, 0);
  assert.ok(Math.abs(total - 1) < 1e-9, `shares sum to ${total}`);
});
