/**
 * Checkpoints: the state of a run (tensors + JSON) in ONE file, written atomically
 * (write a temporary file, then rename over the old one), so an interrupted write
 * or a Ctrl-C always leaves the last good checkpoint intact.
 *
 * File layout (little-endian):
 * ```
 * bytes 0..7    magic "MLCKPT02"
 * bytes 8..11   u32 length L of the JSON header
 * bytes 12..15  u32 FNV-1a checksum of every byte from 16 on (header and tensor data)
 * bytes 16..    L bytes of UTF-8 JSON: { step, state, tensors: [{ name, shape, dtype, offset, length }] }
 * then          the raw float32/int32 tensor bytes
 * ```
 * The checksum is the one caches and parameter files use ({@linkcode fnv1a}); it covers
 * the header too, so a flipped bit in the step, the history or a tensor is caught on load
 * instead of resuming from silently different numbers.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { atomicWrite, fnv1a } from "../files/mod.ts";

const MAGIC = "MLCKPT02";
/** The magic of the first layout, which had no checksum (such files are refused, not trusted). */
const MAGIC_V1 = "MLCKPT01";
const PREFIX = 16;

/** A run's saved state. */
export interface Checkpoint {
  /** The number of completed steps. */
  step: number;
  /** Plain JSON state (history, counters, the run's identity). */
  state: Record<string, unknown>;
  /** Named tensors (parameters, optimiser slots). */
  tensors: Record<string, tf.Tensor>;
}

interface TensorEntry {
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  offset: number;
  length: number;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** Reads and writes one checkpoint file. */
export class CheckpointStore {
  /** @param path the checkpoint file */
  constructor(readonly path: string) {}

  /** Whether a checkpoint exists. */
  exists(): boolean {
    try {
      return Deno.statSync(this.path).isFile;
    } catch {
      return false;
    }
  }

  /** Writes a checkpoint atomically. */
  async save(checkpoint: Checkpoint): Promise<void> {
    const entries: TensorEntry[] = [];
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const [name, t] of Object.entries(checkpoint.tensors)) {
      if (t.dtype !== "float32" && t.dtype !== "int32") {
        throw new Error(`checkpoint: tensor "${name}" has unsupported dtype ${t.dtype}`);
      }
      const data = await t.data();
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      entries.push({ name, shape: t.shape, dtype: t.dtype, offset, length: bytes.byteLength });
      chunks.push(bytes);
      offset += bytes.byteLength;
    }
    const header = new TextEncoder().encode(
      JSON.stringify({ step: checkpoint.step, state: checkpoint.state, tensors: entries }),
    );
    const out = new Uint8Array(PREFIX + header.byteLength + offset);
    out.set(new TextEncoder().encode(MAGIC), 0);
    out.set(header, PREFIX);
    let at = PREFIX + header.byteLength;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    const view = new DataView(out.buffer);
    view.setUint32(8, header.byteLength, true);
    view.setUint32(12, fnv1a(out.subarray(PREFIX)), true);
    await atomicWrite(this.path, out);
  }

  /**
   * Loads the checkpoint, or returns null when there is none. Throws, naming the file,
   * when it is corrupt (bad magic, unreadable header, truncated, checksum mismatch) or was
   * written by the first layout, which had no checksum to verify it by.
   */
  async load(): Promise<Checkpoint | null> {
    if (!this.exists()) return null;
    const bytes = await Deno.readFile(this.path);
    const fail = (why: string): never => {
      throw new Error(
        `corrupt checkpoint ${this.path}: ${why}; delete it to start this phase over`,
      );
    };
    const magic = new TextDecoder().decode(bytes.subarray(0, 8));
    if (magic === MAGIC_V1) {
      throw new Error(
        `checkpoint ${this.path} has the old layout ${MAGIC_V1}, which carries no checksum, ` +
          `so it cannot be verified (expected ${MAGIC}); delete it to start this phase over`,
      );
    }
    if (bytes.byteLength < PREFIX || magic !== MAGIC) fail(`bad magic, expected ${MAGIC}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = view.getUint32(8, true);
    const base = PREFIX + headerLength;
    if (base > bytes.byteLength) {
      fail(`truncated header (${headerLength} bytes declared, ${bytes.byteLength} in the file)`);
    }
    let header: { step: number; state: Record<string, unknown>; tensors: TensorEntry[] };
    try {
      header = JSON.parse(new TextDecoder().decode(bytes.subarray(PREFIX, base)));
    } catch (e) {
      return fail(`unreadable header (${(e as Error).message})`);
    }
    if (!Array.isArray(header?.tensors) || typeof header.step !== "number") {
      fail("the header has no step or no tensor table");
    }
    let end = base;
    for (const e of header.tensors) {
      if (base + e.offset + e.length > bytes.byteLength) fail(`truncated tensor ${e.name}`);
      end = Math.max(end, base + e.offset + e.length);
    }
    if (end !== bytes.byteLength) {
      fail(`${bytes.byteLength} bytes, expected ${end} from its header`);
    }
    // Structure first (so a cut-off file says "truncated"), then every byte.
    const stored = view.getUint32(12, true);
    const actual = fnv1a(bytes.subarray(PREFIX));
    if (actual !== stored) {
      fail(
        `checksum mismatch (FNV-1a ${hex(actual)}, expected ${hex(stored)}): ` +
          `the file changed after it was written`,
      );
    }
    const tensors: Record<string, tf.Tensor> = {};
    for (const e of header.tensors) {
      const raw = bytes.slice(base + e.offset, base + e.offset + e.length).buffer;
      const values = e.dtype === "float32" ? new Float32Array(raw) : new Int32Array(raw);
      tensors[e.name] = tf.tensor(values, e.shape, e.dtype);
    }
    return { step: header.step, state: header.state, tensors };
  }

  /** Deletes the checkpoint (after a run completes). */
  async remove(): Promise<void> {
    try {
      await Deno.remove(this.path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

/**
 * The checkpoints of one run: a folder with one file per training phase (an experiment
 * that trains several learners keeps one checkpoint per learner, so a resumed run skips
 * the learners already trained).
 */
export class CheckpointDir {
  /** @param dir the run's folder */
  constructor(readonly dir: string) {}

  /** The store of one phase (label: letters, digits, `-` and `_`). */
  store(label: string): CheckpointStore {
    if (!/^[\w-]+$/.test(label)) throw new Error(`invalid checkpoint label "${label}"`);
    return new CheckpointStore(`${this.dir}/checkpoint-${label}.ckpt`);
  }

  /** The checkpoint files present. */
  files(): string[] {
    try {
      return [...Deno.readDirSync(this.dir)]
        .filter((e) => e.isFile && /^checkpoint-[\w-]+\.ckpt$/.test(e.name))
        .map((e) => `${this.dir}/${e.name}`)
        .sort();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  /** Removes every checkpoint (after the run completed). */
  async clear(): Promise<void> {
    for (const f of this.files()) await new CheckpointStore(f).remove();
  }
}
