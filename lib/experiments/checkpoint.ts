/**
 * Checkpoints: the state of a run (tensors + JSON) in ONE file, written atomically
 * (write a temporary file, then rename over the old one), so an interrupted write
 * or a Ctrl-C always leaves the last good checkpoint intact.
 *
 * File layout: 8-byte magic "MLCKPT01", 4-byte little-endian header length, the JSON
 * header (step, state, tensor table), then the raw float32/int32 tensor bytes.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { atomicWrite } from "../files/mod.ts";

const MAGIC = "MLCKPT01";

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
    const out = new Uint8Array(12 + header.byteLength + offset);
    out.set(new TextEncoder().encode(MAGIC), 0);
    new DataView(out.buffer).setUint32(8, header.byteLength, true);
    out.set(header, 12);
    let at = 12 + header.byteLength;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    await atomicWrite(this.path, out);
  }

  /** Loads the checkpoint, or returns null when there is none. Throws on a corrupt file. */
  async load(): Promise<Checkpoint | null> {
    if (!this.exists()) return null;
    const bytes = await Deno.readFile(this.path);
    const fail = (why: string): never => {
      throw new Error(`corrupt checkpoint ${this.path}: ${why}`);
    };
    if (bytes.byteLength < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
      fail("bad magic");
    }
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
    if (12 + headerLength > bytes.byteLength) fail("truncated header");
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
    const base = 12 + headerLength;
    const tensors: Record<string, tf.Tensor> = {};
    for (const e of header.tensors as TensorEntry[]) {
      if (base + e.offset + e.length > bytes.byteLength) fail(`truncated tensor ${e.name}`);
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
