/**
 * Benchmarks of the compute layer (issues 2 and 15): the steps MetaLab's experiments spend
 * their time in, on every available backend, and — with `--peers` — the same steps in PyTorch
 * (`bench/peers/torch_peer.py`) timed in the same run, alternating ours and theirs (see
 * lib/bench/peers.ts). There are no PyTorch figures typed in here: a ratio is always ours over
 * PyTorch's best variant, medians of the same run.
 *
 * - (a) `conv4-protonet-step`: Conv-4 (64 filters, batch norm, 28×28×1) forward + backward +
 *   Adam on a 5-way 1-shot 15-query episode (80 images), ProtoNet loss (squared Euclidean
 *   distance to the class prototypes, softmax cross-entropy).
 * - (a') `conv4-protonet-20way-step`: the same on a 20-way 1-shot 5-query episode (120 images).
 * - (b) `maml-conv4-32tasks-{second,first}-order`: a MAML meta-step on 32 such tasks, one
 *   inner SGD step (lr 0.4) on the 5 support images, query loss on 75, Adam on the mean
 *   meta-gradient. Tasks run one after another, each task's meta-gradient accumulated, as
 *   in PyTorch (memory stays that of one task).
 * - (b'') `maml-conv4-4tasks-5steps-second-order`: 5 inner steps, meta-batch 4 (Finn et al.'s
 *   MiniImageNet schedule, on Omniglot-sized Conv-4 tasks), second order.
 * - (c) `maml-sinusoid-25tasks-batched`: MLP 1-40-40-1, 25 tasks of K = 10 support + 10
 *   query points, one inner step (lr 0.01), second order, Adam; all 25 tasks as ONE batched
 *   computation (`applyBatched`: tasks along a leading dimension, batched matMul).
 *
 * Inputs are seeded random tensors of the right shapes: the arithmetic does not depend on
 * the pixel values, and the data layer has its own benchmark. Losses that are differentiated
 * once run with `firstOrderOnly` (the fused batch norm on wasm), as the learners in `lib/meta`
 * do: (a), (b)'s query losses, and first-order (b)'s support losses.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, initBackend } from "../backend/mod.ts";
import { wasmBackendMemory } from "../backend/simd/mod.ts";
import { conv4, type FunctionalModel, mlp, softmaxCrossEntropy } from "../models/mod.ts";
import { Rng } from "../random/mod.ts";
import {
  alternateRounds,
  type PeerSession,
  ratioToPyTorch,
  summarize,
  type TorchPeer,
  type VariantTiming,
} from "./peers.ts";
import { type BenchRecord, type KernelShare, kernelShares } from "./types.ts";

/** How many steps to time per case, which cases, and the peer. */
export interface ComputeBenchOptions {
  /** Timed steps per case on fast backends (default 20; the issue asks for ≥ 20). */
  steps?: number;
  /** Untimed warm-up steps (default 3). */
  warmup?: number;
  /**
   * Timed steps per case on `cpu`, which is pure JS and slow (default 1, no warm-up, for (a);
   * at least 5 for (c); the Conv-4 MAML cases are skipped unless `cpuMaml`).
   */
  cpuSteps?: number;
  /** Run the Conv-4 MAML cases on cpu too (minutes per step). Default false. */
  cpuMaml?: boolean;
  /** Only these cases (names from {@linkcode COMPUTE_CASE_NAMES}); default all. */
  cases?: string[];
  /**
   * The PyTorch peer (lib/bench/peers.ts): each case on a non-cpu backend then alternates
   * rounds of ours and of every PyTorch variant, and its record gets `ratioToPyTorch`.
   */
  peer?: TorchPeer | null;
  /** Rounds of the alternation (default 4, at most the number of timed steps). */
  rounds?: number;
  /** Profile one more step of each case by kernel (`tf.profile`): the record's `profile`. */
  profile?: boolean;
  /** Called with one line per finished case (progress). */
  log?: (line: string) => void;
}

const WAYS = 5;
const SHOTS = 1;
const QUERIES = 15;

function episodeTensors(rng: Rng, ways = WAYS, queries = QUERIES) {
  const n = ways * (SHOTS + queries);
  const x = tf.tensor(rng.normalArray(n * 28 * 28), [n, 28, 28, 1]);
  const supportLabels = tf.tensor1d(
    Array.from({ length: ways * SHOTS }, (_, i) => i % ways),
    "int32",
  );
  const queryLabels = tf.tensor1d(
    Array.from({ length: ways * queries }, (_, i) => i % ways),
    "int32",
  );
  return { x, supportLabels, queryLabels };
}

/** ProtoNet loss: prototypes = mean support embedding per class; logits = −‖q − p‖². */
export function protoNetLoss(
  embeddings: tf.Tensor,
  supportCount: number,
  ways: number,
  queryLabels: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    const dim = embeddings.shape[1]!;
    const support = tf.slice(embeddings, [0, 0], [supportCount, dim]);
    const query = tf.slice(embeddings, [supportCount, 0], [-1, dim]);
    // Support is class-major within each shot: row i has class i % ways.
    const prototypes = tf.mean(tf.reshape(support, [supportCount / ways, ways, dim]), 0);
    const distances = tf.add(
      tf.sub(
        tf.sum(tf.square(query), 1, true),
        tf.mul(tf.matMul(query, prototypes, false, true), 2),
      ),
      tf.expandDims(tf.sum(tf.square(prototypes), 1), 0),
    );
    return softmaxCrossEntropy(tf.neg(distances), queryLabels);
  });
}

function variables(model: FunctionalModel, rng: Rng): tf.Variable[] {
  return model.init(rng).map((t) => {
    const v = tf.variable(t);
    t.dispose();
    return v;
  });
}

/**
 * (a): one ProtoNet training step on a `ways`-way 1-shot `queries`-query episode; returns a
 * step function and a disposer.
 */
function protonetCase(seed: number, ways = WAYS, queries = QUERIES) {
  const rng = new Rng(seed);
  const model = conv4({ inputShape: [28, 28, 1], outputs: 0 });
  const params = variables(model, rng);
  const { x, supportLabels, queryLabels } = episodeTensors(rng, ways, queries);
  const optimizer = tf.train.adam(1e-3);
  const step = async () => {
    const loss = optimizer.minimize(
      () =>
        protoNetLoss(
          // Differentiated once: the fused batch norm applies (see ApplyOptions).
          model.embed(params, x, { training: true, firstOrderOnly: true }),
          ways * SHOTS,
          ways,
          queryLabels,
        ),
      true,
      params,
    )!;
    await loss.data();
    loss.dispose();
  };
  const dispose = () => {
    optimizer.dispose();
    tf.dispose([...params, x, supportLabels, queryLabels]);
  };
  return { step, dispose };
}

/**
 * (b): one MAML meta-step over `tasks` Conv-4 tasks, second or first order, with
 * `innerSteps` inner SGD steps.
 */
function mamlConv4Case(seed: number, tasks: number, secondOrder: boolean, innerSteps = 1) {
  const rng = new Rng(seed);
  const model = conv4({ inputShape: [28, 28, 1], outputs: WAYS });
  const params = variables(model, rng);
  const episodes = Array.from({ length: tasks }, () => {
    const { x, supportLabels, queryLabels } = episodeTensors(rng);
    const support = tf.slice(x, [0, 0, 0, 0], [WAYS * SHOTS, -1, -1, -1]);
    const query = tf.slice(x, [WAYS * SHOTS, 0, 0, 0], [-1, -1, -1, -1]);
    x.dispose();
    return { support, query, supportLabels, queryLabels };
  });
  const innerLr = 0.4;
  const optimizer = tf.train.adam(1e-3);
  // As lib/meta does: a loss differentiated only once may use the fused first-order layers
  // (batch norm on wasm) — the query loss always, the support loss in first order only.
  const loss = (p: tf.Tensor[], x: tf.Tensor, y: tf.Tensor, firstOrderOnly: boolean) =>
    softmaxCrossEntropy(model.apply(p, x, { training: true, firstOrderOnly }), y);
  /** φ after `innerSteps` SGD steps on the task's support loss, from `start`. */
  const adapt = (start: tf.Tensor[], task: typeof episodes[number], firstOrderOnly: boolean) => {
    let phi = start;
    for (let k = 0; k < innerSteps; k++) {
      const current = phi;
      const g = tf.grads((...q: tf.Tensor[]) =>
        loss(q, task.support, task.supportLabels, firstOrderOnly)
      )(current);
      phi = current.map((t, i) => tf.sub(t, tf.mul(g[i], innerLr)));
    }
    return phi;
  };
  /** ∇θ of task i's query loss after the inner steps (exact, or first-order). */
  const taskGradient = (task: typeof episodes[number]): tf.Tensor[] =>
    tf.tidy(() => {
      if (secondOrder) {
        return tf.grads((...theta: tf.Tensor[]) =>
          loss(adapt(theta, task, false), task.query, task.queryLabels, true)
        )(params);
      }
      const phi = adapt(params, task, true);
      return tf.grads((...q: tf.Tensor[]) => loss(q, task.query, task.queryLabels, true))(phi);
    });
  const step = async () => {
    let total: tf.Tensor[] | null = null;
    for (const task of episodes) {
      const g = taskGradient(task);
      if (total === null) total = g;
      else {
        const sum: tf.Tensor[] = total.map((t, i) => tf.add(t, g[i]));
        tf.dispose([...total, ...g]);
        total = sum;
      }
    }
    const grads = total!.map((t, i) => ({ name: params[i].name, tensor: tf.div(t, tasks) }));
    optimizer.applyGradients(grads);
    await params[0].data();
    tf.dispose([...total!, ...grads.map((g) => g.tensor)]);
  };
  const dispose = () => {
    optimizer.dispose();
    tf.dispose(params);
    for (const e of episodes) tf.dispose([e.support, e.query, e.supportLabels, e.queryLabels]);
  };
  return { step, dispose };
}

/** (c): sinusoid MAML meta-step, all tasks as one batched computation. */
function mamlSinusoidCase(seed: number, tasks = 25, k = 10) {
  const rng = new Rng(seed);
  const model = mlp([1, 40, 40, 1]);
  const params = variables(model, rng);
  // Sinusoid tasks (Finn et al.): amplitude U[0.1, 5], phase U[0, π], x U[−5, 5].
  const xs: number[] = [];
  const ys: number[] = [];
  for (let t = 0; t < tasks; t++) {
    const amplitude = rng.uniform(0.1, 5);
    const phase = rng.uniform(0, Math.PI);
    for (let i = 0; i < 2 * k; i++) {
      const x = rng.uniform(-5, 5);
      xs.push(x);
      ys.push(amplitude * Math.sin(x - phase));
    }
  }
  const x = tf.tensor3d(xs, [tasks, 2 * k, 1]);
  const y = tf.tensor3d(ys, [tasks, 2 * k, 1]);
  const xSupport = tf.slice(x, [0, 0, 0], [-1, k, -1]);
  const ySupport = tf.slice(y, [0, 0, 0], [-1, k, -1]);
  const xQuery = tf.slice(x, [0, k, 0], [-1, k, -1]);
  const yQuery = tf.slice(y, [0, k, 0], [-1, k, -1]);
  const innerLr = 0.01;
  const optimizer = tf.train.adam(1e-3);
  // Σ_i mean_j (f(x_ij) − y_ij)²: its gradient w.r.t. task i's parameters is task i's own.
  const summedTaskLoss = (p: tf.Tensor[], xb: tf.Tensor, yb: tf.Tensor) =>
    tf.mul(tf.mean(tf.squaredDifference(model.applyBatched(p, xb), yb)), tasks) as tf.Scalar;
  const metaLoss = () =>
    tf.tidy(() => {
      // θ broadcast to every task: [T, …] (the gradient flows back through the broadcast).
      const perTask = params.map((p) => tf.add(tf.zeros([tasks, ...p.shape]), p));
      const g = tf.grads((...q: tf.Tensor[]) => summedTaskLoss(q, xSupport, ySupport))(perTask);
      const phi = perTask.map((t, i) => tf.sub(t, tf.mul(g[i], innerLr)));
      return tf.div(summedTaskLoss(phi, xQuery, yQuery), tasks) as tf.Scalar;
    });
  const step = async () => {
    const loss = optimizer.minimize(metaLoss, true, params)!;
    await loss.data();
    loss.dispose();
  };
  const dispose = () => {
    optimizer.dispose();
    tf.dispose([...params, x, y, xSupport, ySupport, xQuery, yQuery]);
  };
  return { step, dispose };
}

/** One compute case: how to build it, how many steps, and where it runs. */
interface CaseSpec {
  name: string;
  make: () => { step: () => Promise<void>; dispose: () => void };
  /** Timed steps from the requested number (`n`) and backend. */
  steps: (n: number, onCpu: boolean) => number;
  /** Warm-up steps from the requested number (`w`). */
  warmup: (w: number, onCpu: boolean) => number;
  /** Minutes per step on cpu: skipped there unless `cpuMaml`. */
  slowOnCpu: boolean;
  /** Facts recorded with the case. */
  extra: Record<string, number | string>;
}

const same = (n: number) => n;
// Conv-4 MAML takes seconds per step: fewer warm-up steps, the same number of timed ones.
const mamlWarmup = (w: number) => Math.min(w, 1);

/** The compute cases, in the order they run. */
const CASES: CaseSpec[] = [
  {
    name: "conv4-protonet-step",
    make: () => protonetCase(1),
    steps: same,
    warmup: same,
    slowOnCpu: false,
    extra: { images: 80 },
  },
  {
    name: "conv4-protonet-20way-step",
    make: () => protonetCase(1, 20, 5),
    steps: same,
    warmup: same,
    slowOnCpu: true,
    extra: { images: 120 },
  },
  {
    name: "maml-conv4-32tasks-second-order",
    make: () => mamlConv4Case(2, 32, true),
    steps: same,
    warmup: mamlWarmup,
    slowOnCpu: true,
    extra: { tasks: 32, innerSteps: 1 },
  },
  {
    name: "maml-conv4-32tasks-first-order",
    make: () => mamlConv4Case(2, 32, false),
    steps: same,
    warmup: mamlWarmup,
    slowOnCpu: true,
    extra: { tasks: 32, innerSteps: 1 },
  },
  {
    name: "maml-conv4-4tasks-5steps-second-order",
    make: () => mamlConv4Case(2, 4, true, 5),
    steps: same,
    warmup: mamlWarmup,
    slowOnCpu: true,
    extra: { tasks: 4, innerSteps: 5 },
  },
  {
    name: "maml-sinusoid-25tasks-batched",
    make: () => mamlSinusoidCase(3),
    // Sub-10 ms steps: more of them, for a stable median.
    steps: (n, onCpu) => onCpu ? Math.max(n, 5) : Math.max(n, 50),
    warmup: (w) => Math.max(w, 1),
    slowOnCpu: false,
    extra: { tasks: 25 },
  },
];

/** The names of the compute cases (what `--case` accepts). */
export const COMPUTE_CASE_NAMES: readonly string[] = CASES.map((c) => c.name);

/** Peak resident memory of this process (VmHWM), MiB; null where /proc is not readable. */
function peakRssMiB(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS (Linux `clear_refs` 5), so the next peak is one case's. */
function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** Times `steps` calls of `step`, ms each. */
async function timeEach(step: () => Promise<void>, steps: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  return times;
}

/** What one case measured: ours, and each PyTorch variant of the same run. */
interface CaseMeasurement {
  ours: { medianMs: number; minMs: number; steps: number };
  memory: Record<string, number | string>;
  profile?: KernelShare[];
  peer?: {
    variants: VariantTiming[];
    errors: Record<string, string>;
    rounds: number;
  };
}

/**
 * Builds the case, warms it up, and times it: alone, or in `rounds` alternating rounds with
 * every PyTorch variant (ours, then each variant, then ours again, …). Each variant has a peer
 * process of its own (`sessions`, one per variant, in order), so that its peak memory is its
 * own: the vmap variants hold every task at once.
 */
async function measureCase(
  spec: CaseSpec,
  n: number,
  w: number,
  sessions: Array<{ variant: string; session: PeerSession }> | null,
  rounds: number,
  profile = false,
): Promise<CaseMeasurement> {
  const peakReset = resetPeakRss();
  const c = spec.make();
  try {
    for (let i = 0; i < w; i++) await c.step();
    let ours: number[];
    let peer: CaseMeasurement["peer"];
    if (!sessions) ours = await timeEach(c.step, n);
    else {
      const r = Math.max(1, Math.min(rounds, n));
      const perRound = Math.ceil(n / r);
      const errors: Record<string, string> = {};
      const peaks: Record<string, number> = {};
      const sides = [
        () => timeEach(c.step, perRound),
        ...sessions.map(({ variant, session }) => async (round: number) => {
          if (errors[variant]) return [];
          try {
            const reply = await session.run(variant, {
              steps: perRound,
              warmup: round === 0 ? w : 0,
              seed: 1,
            });
            peaks[variant] = reply.peakRssKiB;
            return reply.timesMs;
          } catch (e) {
            errors[variant] = (e as Error).message;
            return [];
          }
        }),
      ];
      const [mine, ...theirs] = await alternateRounds(r, sides);
      ours = mine;
      peer = {
        rounds: r,
        errors,
        variants: sessions.flatMap(({ variant }, i) =>
          theirs[i].length
            ? [{
              variant,
              ...summarize(theirs[i]),
              peakRssMiB: Math.round((peaks[variant] ?? 0) / 1024),
            }]
            : []
        ),
      };
    }
    const memory: Record<string, number | string> = {
      tfMiB: +(tf.memory().numBytes / 2 ** 20).toFixed(1),
    };
    const heap = wasmBackendMemory(tf.backend());
    if (heap) memory.wasmHeapMiB = Math.round(heap.buffer.byteLength / 2 ** 20);
    const rss = peakRssMiB();
    if (rss !== null) {
      memory.peakRssMiB = rss;
      // The wasm heap only grows: a case after a bigger one reports that one's heap too.
      memory.peakRssNote = peakReset
        ? "process peak during this case; includes the wasm heap earlier cases grew"
        : "process peak so far (clear_refs not writable)";
    }
    // After the timing, so that profiling's bookkeeping never slows a timed step.
    const shares = profile
      ? kernelShares(
        (await tf.profile(() => c.step())).kernels as Array<{
          name: string;
          kernelTimeMs: number | { error: string };
        }>,
      )
      : undefined;
    return { ours: summarize(ours), memory, peer, profile: shares };
  } finally {
    c.dispose();
  }
}

/**
 * Runs the compute cases (all, or `options.cases`) on each backend in `backends` (names from
 * {@linkcode BACKEND_NAMES}; `auto` resolves to the fastest). With `options.peer`, each case on
 * a non-cpu backend alternates with the PyTorch peer and its record carries
 * `ratioToPyTorch` (ours / PyTorch's best variant, medians of the same run), `referenceMs`
 * and `targetMs` (PyTorch's best median: the target is ratio ≤ 1), and `pytorch` (every
 * variant's median, minimum and peak memory). Where cpu ran the same case, records carry the
 * speed-up over cpu.
 *
 * @example
 * ```ts
 * const records = await benchCompute(["wasm"], { steps: 5, cases: ["conv4-protonet-step"] });
 * console.log(records[0].medianMs);
 * ```
 */
export async function benchCompute(
  backends: string[],
  options: ComputeBenchOptions = {},
): Promise<BenchRecord[]> {
  const steps = options.steps ?? 20;
  const warmup = options.warmup ?? 3;
  const cpuSteps = options.cpuSteps ?? 1;
  const rounds = options.rounds ?? 4;
  const log = options.log ?? ((line: string) => console.log(line));
  for (const name of options.cases ?? []) {
    if (!COMPUTE_CASE_NAMES.includes(name)) {
      throw new Error(`unknown case "${name}": choose one of ${COMPUTE_CASE_NAMES.join(", ")}`);
    }
  }
  const cases = options.cases ? CASES.filter((c) => options.cases!.includes(c.name)) : CASES;
  const records: BenchRecord[] = [];
  for (const requested of backends) {
    if (!(BACKEND_NAMES as readonly string[]).includes(requested)) {
      throw new Error(`unknown backend "${requested}": choose one of ${BACKEND_NAMES.join(", ")}`);
    }
    const info = await initBackend(requested);
    const backend = info.name;
    const onCpu = backend === "cpu";
    if (info.notes.length) log(`[bench compute] ${backend}: ${info.notes.join("; ")}`);
    const threads = info.nativeThreads ?? info.threads ?? 1; // native: oneDNN's, as the peer's
    const native: Record<string, string> = info.nativeLibrary
      ? { nativeLibrary: info.nativeLibrary }
      : {};
    for (const spec of cases) {
      if (onCpu && spec.slowOnCpu && !options.cpuMaml) {
        log(`[bench compute] cpu: ${spec.name} skipped (minutes per step; --cpu-maml runs it)`);
        continue;
      }
      const n = spec.steps(onCpu ? cpuSteps : steps, onCpu);
      const w = spec.warmup(onCpu ? 0 : warmup, onCpu);
      // PyTorch runs beside the fast backends only: cpu is pure JS, not a contender.
      let m: CaseMeasurement;
      const sessions: Array<{ variant: string; session: PeerSession }> = [];
      try {
        if (!onCpu && options.peer) {
          const first = await options.peer.session(spec.name);
          if (first) {
            sessions.push({ variant: first.variants[0], session: first });
            for (const variant of first.variants.slice(1)) {
              sessions.push({ variant, session: (await options.peer.session(spec.name))! });
            }
          }
        }
        m = await measureCase(
          spec,
          n,
          w,
          sessions.length ? sessions : null,
          rounds,
          options.profile,
        );
      } finally {
        for (const { session } of sessions) await session.close();
      }
      const record: BenchRecord = {
        suite: "compute",
        name: spec.name,
        backend,
        ...m.ours,
        // native: which library served the convolutions (e.g. "oneDNN 2.6.3").
        extra: { simd: String(info.simd ?? "n/a"), threads, ...native, ...spec.extra, ...m.memory },
      };
      let line = `[bench compute] ${backend} ${spec.name}: median ${m.ours.medianMs.toFixed(1)} ` +
        `ms, min ${m.ours.minMs.toFixed(1)} ms (${m.ours.steps} steps)`;
      if (m.peer && options.peer) {
        const r = ratioToPyTorch(m.ours.medianMs, m.peer.variants);
        record.pytorch = {
          version: options.peer.hello.torch,
          threads,
          rounds: m.peer.rounds,
          variants: m.peer.variants,
          ...(Object.keys(m.peer.errors).length ? { errors: m.peer.errors } : {}),
        };
        if (r) {
          record.ratioToPyTorch = +r.ratio.toFixed(3);
          record.referenceMs = r.best.medianMs;
          record.targetMs = r.best.medianMs;
          record.pytorch.best = r.best.variant;
          line += `; PyTorch ${r.best.variant} ${r.best.medianMs.toFixed(1)} ms: ours / PyTorch ` +
            `${r.ratio.toFixed(2)}`;
        }
        for (const [variant, error] of Object.entries(m.peer.errors)) {
          line += `\n[bench compute]   PyTorch ${variant} failed: ${error}`;
        }
      }
      if (m.profile) {
        record.profile = m.profile;
        line += "\n[bench compute]   profile: " +
          m.profile.slice(0, 6).map((k) => `${k.kernel} ${(100 * k.share).toFixed(0)}%`).join(", ");
      }
      records.push(record);
      log(line);
    }
  }
  // Speed-up over cpu, where cpu ran the same case.
  for (const r of records) {
    const cpu = records.find((c) => c.backend === "cpu" && c.name === r.name);
    if (cpu && r.backend !== "cpu") {
      r.extra!.speedupOverCpu = +(cpu.medianMs / r.medianMs).toFixed(1);
    }
  }
  return records;
}

/** Exposed for tests and notebooks: the step functions behind each case. */
export const computeCases = { protonetCase, mamlConv4Case, mamlSinusoidCase };
