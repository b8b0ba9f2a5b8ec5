/**
 * Peers of `deno task bench --peers`: the same steps written in PyTorch
 * (`bench/peers/torch_peer.py`), run beside ours in the same process tree and the same run, so
 * that a ratio is measured, never divided by a figure typed in from an older measurement.
 *
 * Protocol (one JSON object per line over the peer's stdin / stdout; a peer process is started
 * for each case and variant, so its peak RSS is that variant's):
 *
 * - `{"op":"hello"}` → `{"ok":true,"torch":"1.13…","threads":2,"functorch":true,
 *   "cases":{"conv4-protonet-step":["eager","channels-last"],…}}`
 * - `{"op":"run","case":C,"variant":V,"steps":N,"warmup":W,"seed":S}` →
 *   `{"ok":true,"timesMs":[…N numbers],"peakRssKiB":K}` (the case is built and warmed up on its
 *   first run, then kept: later rounds time the same warm objects)
 * - any failure → `{"ok":false,"error":"…"}`; `{"op":"quit"}` ends the peer.
 *
 * The bench alternates rounds — ours, then each PyTorch variant, then ours again (A B A B) — so
 * that drift of a shared machine (another job starting, the CPU clocking down) hits both sides,
 * and reports ours / PyTorch's best variant, medians of that same run.
 *
 * @example
 * ```ts
 * const peer = await startTorchPeer({ threads: 2 });
 * if ("skipped" in peer) console.log(peer.skipped);
 * else {
 *   const session = await peer.session("conv4-protonet-step");
 *   const reply = await session!.run("eager", { steps: 5, warmup: 2, seed: 1 });
 *   await peer.close();
 * }
 * ```
 * @module
 */

import { summarize } from "./types.ts";

export { summarize };

/** The PyTorch peer script. */
export const TORCH_PEER_SCRIPT = new URL("../../bench/peers/torch_peer.py", import.meta.url);

/**
 * The peer's environment beside the thread count: glibc malloc keeps freed buffers (no
 * `mmap`/`munmap` per large tensor, no trimming), as a tuned PyTorch install runs — without it
 * PyTorch pays page faults on every step and the ratio would flatter us.
 */
export const TORCH_PEER_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: "33554432",
  MALLOC_TRIM_THRESHOLD_: "4000000000",
};

/** Interpreters tried in order when `METALAB_PYTHON` is unset (Debian's first: its torch). */
export const PYTHON_CANDIDATES = ["/usr/bin/python3", "python3"] as const;

/** What to do when no interpreter has torch. */
export function torchInstallHint(tried: string[]): string {
  return `PyTorch peer skipped: no torch for ${tried.join(", ")}. ` +
    "Install it with `sudo apt-get install python3-torch` (Debian/Ubuntu; 1.13 with functorch) " +
    "or `pip install torch`, or set METALAB_PYTHON to an interpreter that has it.";
}

/** The peer's reply to `hello`. */
export interface PeerHello {
  /** `torch.__version__`. */
  torch: string;
  /** `torch.get_num_threads()` after the peer set it. */
  threads: number;
  /** Whether functorch's vmap / grad exist (the batched variants). */
  functorch: boolean;
  /** Case name → the variants the peer has for it. */
  cases: Record<string, string[]>;
}

/** The peer's reply to `run`. */
export interface PeerRun {
  /** Milliseconds of each timed step. */
  timesMs: number[];
  /** The peer process's peak resident memory so far, KiB (VmHWM). */
  peakRssKiB: number;
}

/** A request to the peer. */
export type PeerRequest =
  | { op: "hello" }
  | { op: "run"; case: string; variant: string; steps: number; warmup: number; seed: number }
  | { op: "quit" };

/** One request as the line the peer reads. */
export function encodeRequest(request: PeerRequest): string {
  return JSON.stringify(request) + "\n";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parses one reply line; throws an Error naming `what` and the line when it is not JSON, when
 * the peer reported a failure (`ok: false`, its message quoted), or when it lacks `ok: true`.
 */
export function parseReply(line: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`PyTorch peer: ${what}: expected a JSON reply, got ${JSON.stringify(line)}`);
  }
  if (!isObject(value)) {
    throw new Error(`PyTorch peer: ${what}: expected a JSON object, got ${JSON.stringify(line)}`);
  }
  if (value.ok === false) {
    throw new Error(`PyTorch peer: ${what} failed: ${String(value.error)}`);
  }
  if (value.ok !== true) {
    throw new Error(`PyTorch peer: ${what}: reply without "ok": true: ${JSON.stringify(line)}`);
  }
  return value;
}

/** Parses the reply to `hello` (see {@linkcode PeerHello}). */
export function parseHello(line: string): PeerHello {
  const v = parseReply(line, "hello");
  const cases = v.cases;
  if (
    typeof v.torch !== "string" || typeof v.threads !== "number" || !isObject(cases) ||
    !Object.values(cases).every((c) => Array.isArray(c) && c.every((s) => typeof s === "string"))
  ) {
    throw new Error(
      `PyTorch peer: hello: expected {torch, threads, functorch, cases: {name: [variants]}}, ` +
        `got ${line.trim()}`,
    );
  }
  return {
    torch: v.torch,
    threads: v.threads,
    functorch: v.functorch === true,
    cases: cases as Record<string, string[]>,
  };
}

/** Parses the reply to `run`, checking it timed `steps` steps. */
export function parseRun(line: string, steps: number, what = "run"): PeerRun {
  const v = parseReply(line, what);
  const times = v.timesMs;
  if (
    !Array.isArray(times) || !times.every((t) => typeof t === "number" && t >= 0) ||
    typeof v.peakRssKiB !== "number"
  ) {
    throw new Error(`PyTorch peer: ${what}: expected {timesMs: [ms…], peakRssKiB}, got ${line}`);
  }
  if (times.length !== steps) {
    throw new Error(`PyTorch peer: ${what}: expected ${steps} times, got ${times.length}`);
  }
  return { timesMs: times as number[], peakRssKiB: v.peakRssKiB };
}

/** One PyTorch variant's timing of a case. */
export interface VariantTiming {
  /** The variant, e.g. "loop", "vmap". */
  variant: string;
  /** Median ms per step. */
  medianMs: number;
  /** Minimum ms per step. */
  minMs: number;
  /** Timed steps. */
  steps: number;
  /** The peer's peak RSS, MiB. */
  peakRssMiB?: number;
}

/**
 * ours / PyTorch's best variant (the smallest median), from medians of the same run: below 1
 * means we are faster. Null when there is no variant.
 *
 * @example
 * ```ts
 * ratioToPyTorch(90, [{ variant: "loop", medianMs: 120, minMs: 110, steps: 5 },
 *   { variant: "vmap", medianMs: 60, minMs: 55, steps: 5 }]); // { ratio: 1.5, best: vmap's }
 * ```
 */
export function ratioToPyTorch(
  oursMedianMs: number,
  variants: VariantTiming[],
): { ratio: number; best: VariantTiming } | null {
  if (!variants.length) return null;
  const best = variants.reduce((a, b) => (b.medianMs < a.medianMs ? b : a));
  if (!(best.medianMs > 0)) {
    throw new Error(`ratioToPyTorch: PyTorch's median must be > 0, got ${best.medianMs}`);
  }
  return { ratio: oursMedianMs / best.medianMs, best };
}

/**
 * Runs `sides` in alternation for `rounds` rounds (round 0: side 0, side 1, …; round 1: side 0
 * again, …) and returns each side's times, concatenated over the rounds, in side order.
 */
export async function alternateRounds(
  rounds: number,
  sides: Array<(round: number) => Promise<number[]>>,
): Promise<number[][]> {
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`alternateRounds: rounds must be a positive integer, got ${rounds}`);
  }
  const times = sides.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let s = 0; s < sides.length; s++) times[s].push(...await sides[s](r));
  }
  return times;
}

/** A peer process serving one case. */
export interface PeerSession {
  /** The variants the peer has for this case. */
  variants: string[];
  /** Times `steps` steps of `variant` (built and warmed up `warmup` times on its first run). */
  run(variant: string, o: { steps: number; warmup: number; seed: number }): Promise<PeerRun>;
  /** Ends the peer process. */
  close(): Promise<void>;
}

/** A started PyTorch peer: opens one process per case. */
export interface TorchPeer {
  /** The interpreter that has torch. */
  python: string;
  /** The first process's hello (version, threads, cases). */
  hello: PeerHello;
  /** A fresh peer process for `caseName`, or null when the peer has no such case. */
  session(caseName: string): Promise<PeerSession | null>;
  /** Nothing to release between cases; kept for symmetry with a long-lived peer. */
  close(): Promise<void>;
}

/** Reads a child's stdout one line at a time. */
class LineReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line (without "\n"), or null at the end of the stream. */
  async next(): Promise<string | null> {
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) {
        if (!this.#buffer) return null;
        const rest = this.#buffer;
        this.#buffer = "";
        return rest;
      }
      this.#buffer += value;
    }
    const i = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, i);
    this.#buffer = this.#buffer.slice(i + 1);
    return line;
  }
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** One peer process: requests out, replies in, stderr kept for the error message. */
function spawnPeer(python: string, script: string, threads: number) {
  const child = new Deno.Command(python, {
    args: [script],
    env: { ...TORCH_PEER_ENV, METALAB_PEER_THREADS: String(threads) },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = new LineReader(child.stdout);
  const stderrText = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  let closed = false;
  const ask = async (request: PeerRequest): Promise<string> => {
    await writer.write(encoder.encode(encodeRequest(request)));
    const line = await lines.next();
    if (line === null) {
      const err = (await stderrText).trim().split("\n").slice(-3).join(" | ");
      throw new Error(`PyTorch peer (${python}) exited: ${err || "no message"}`);
    }
    return line;
  };
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      await writer.write(encoder.encode(encodeRequest({ op: "quit" })));
      await writer.close();
    } catch {
      // already gone
    }
    await lines.cancel();
    await child.status;
    await stderrText.catch(() => "");
  };
  return { ask, close };
}

/** Options of {@linkcode startTorchPeer}. */
export interface TorchPeerOptions {
  /** torch.set_num_threads in the peer: our thread count. */
  threads: number;
  /** The interpreter; default `METALAB_PYTHON`, else {@linkcode PYTHON_CANDIDATES} in order. */
  python?: string;
  /** The peer script (default {@linkcode TORCH_PEER_SCRIPT}). */
  script?: string;
}

/**
 * Finds an interpreter with torch and returns the peer, or `{skipped}` with the install hint
 * (and why each interpreter failed) when none has it.
 */
export async function startTorchPeer(
  options: TorchPeerOptions,
): Promise<TorchPeer | { skipped: string }> {
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get("METALAB_PYTHON") || undefined;
  } catch {
    fromEnv = undefined;
  }
  const candidates = options.python ? [options.python] : fromEnv ? [fromEnv] : [
    ...PYTHON_CANDIDATES,
  ];
  const script = options.script ?? TORCH_PEER_SCRIPT.pathname;
  const why: string[] = [];
  for (const python of candidates) {
    let p: ReturnType<typeof spawnPeer> | undefined;
    try {
      p = spawnPeer(python, script, options.threads);
      const hello = parseHello(await p.ask({ op: "hello" }));
      await p.close();
      return {
        python,
        hello,
        close: () => Promise.resolve(),
        session: async (caseName: string): Promise<PeerSession | null> => {
          const variants = hello.cases[caseName];
          if (!variants) return null;
          const s = spawnPeer(python, script, options.threads);
          try {
            // The handshake makes a peer that cannot start fail here, not in the first round.
            parseHello(await s.ask({ op: "hello" }));
          } catch (e) {
            await s.close();
            throw e;
          }
          return {
            variants,
            run: async (variant, o) =>
              parseRun(
                await s.ask({ op: "run", case: caseName, variant, ...o }),
                o.steps,
                `${caseName} ${variant}`,
              ),
            close: s.close,
          };
        },
      };
    } catch (e) {
      await p?.close();
      why.push(`${python}: ${(e as Error).message}`);
    }
  }
  return { skipped: `${torchInstallHint(candidates)} (${why.join("; ")})` };
}
