/**
 * Saving and loading meta-learned parameters: a tfjs `IOHandler` for Deno that writes a
 * folder with `model.json` (weights manifest, config, seed, checksum) and `weights.bin`.
 * Writes are atomic: everything goes into a temporary sibling folder that is renamed into
 * place, so a crash never leaves a half-written model that looks complete, and a failed
 * save leaves what was there before untouched. Float32 round trips are bit-exact. On load,
 * `weights.bin` is checked against the manifest (size, FNV-1a) and the manifest's weight
 * table against `weights.bin` (every parameter's name, shape, dtype and bytes), and the
 * manifest against its own FNV-1a, each error naming the file and the parameter.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fnv1a } from "../files/mod.ts";

/** Bytes per element of each dtype a weight can have (what tfjs' encodeWeights writes). */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
/** Bytes per element of each quantization tfjs knows. */
const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** The FNV-1a of a manifest without its own `manifestFnv1a` field. */
function manifestChecksum(manifest: Record<string, unknown>): number {
  const { manifestFnv1a: _, ...rest } = manifest;
  return fnv1a(new TextEncoder().encode(JSON.stringify(rest)));
}

/**
 * Checks the weight table of `model.json` against `weights.bin` before tfjs decodes it, so
 * an edited or damaged manifest is reported with the file and the parameter (expected vs
 * found) rather than as a tfjs message naming neither.
 */
function checkWeightSpecs(
  manifestPath: string,
  weightsPath: string,
  specs: unknown[],
  byteLength: number,
  saved: { names?: unknown; shapes?: unknown; dtypes?: unknown },
): void {
  const where = `${manifestPath}: weightsManifest[0].weights`;
  const mismatch = "the manifest does not match the weights (was it edited?)";
  const seen = new Set<string>();
  // Files written by tf.LayersModel.save, or before shapes were kept, have none of these.
  const savedNames: unknown[] = Array.isArray(saved.names) ? saved.names : [];
  let offset = 0;
  let firstPastEnd = "";
  specs.forEach((raw, i) => {
    const spec = raw as {
      name?: unknown;
      shape?: unknown;
      dtype?: unknown;
      quantization?: unknown;
    };
    if (typeof spec?.name !== "string" || spec.name === "") {
      throw new Error(`${where}[${i}] has no parameter name (found ${JSON.stringify(raw)})`);
    }
    const name = spec.name;
    if (seen.has(name)) throw new Error(`${manifestPath}: parameter "${name}" is listed twice`);
    seen.add(name);
    const shape = spec.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(
        `${manifestPath}: parameter "${name}" has shape ${JSON.stringify(shape)}, ` +
          `expected an array of non-negative integers`,
      );
    }
    const dtype = String(spec.dtype);
    const quant = spec.quantization === undefined
      ? null
      : String((spec.quantization as { dtype?: unknown } | null)?.dtype);
    if (
      !Object.hasOwn(DTYPE_BYTES, dtype) || (quant !== null && !Object.hasOwn(QUANT_BYTES, quant))
    ) {
      throw new Error(
        `${manifestPath}: parameter "${name}" has dtype ${JSON.stringify(spec.dtype)}` +
          (quant === null ? "" : ` quantized as ${JSON.stringify(quant)}`) +
          `, expected one of ${Object.keys(DTYPE_BYTES).join(", ")}` +
          (quant === null ? "" : ` quantized as one of ${Object.keys(QUANT_BYTES).join(", ")}`),
      );
    }
    const width = quant === null ? DTYPE_BYTES[dtype] : QUANT_BYTES[quant];
    const size = shape.reduce((a: number, b: number) => a * b, 1) * width;
    // saveParams keeps each parameter's shape and dtype beside its name: an edited entry
    // is then named with what it was saved as.
    const savedAt = savedNames.indexOf(name);
    const savedShape = Array.isArray(saved.shapes) ? saved.shapes[savedAt] : undefined;
    if (savedShape !== undefined && JSON.stringify(savedShape) !== JSON.stringify(shape)) {
      throw new Error(
        `${manifestPath}: parameter "${name}" has shape ${JSON.stringify(shape)} in the ` +
          `weight table, expected ${JSON.stringify(savedShape)} (as saved): ${mismatch}`,
      );
    }
    const savedDtype = Array.isArray(saved.dtypes) ? saved.dtypes[savedAt] : undefined;
    if (savedDtype !== undefined && savedDtype !== dtype) {
      throw new Error(
        `${manifestPath}: parameter "${name}" has dtype ${JSON.stringify(dtype)} in the ` +
          `weight table, expected ${JSON.stringify(savedDtype)} (as saved): ${mismatch}`,
      );
    }
    if (offset + size > byteLength && firstPastEnd === "") {
      firstPastEnd = `"${name}" (shape [${shape}], ${dtype}, bytes ${offset}..${offset + size})`;
    }
    offset += size;
  });
  if (Array.isArray(saved.names)) {
    const names = savedNames;
    const listed = specs.map((s) => (s as { name: string }).name);
    const missing = names.find((n) => !seen.has(String(n)));
    if (missing !== undefined) {
      throw new Error(
        `${manifestPath}: parameter "${missing}" was saved but is not in the weight table, ` +
          `which lists ${JSON.stringify(listed)}: ${mismatch}`,
      );
    }
    const extra = listed.find((n) => !names.includes(n));
    if (extra !== undefined) {
      throw new Error(
        `${manifestPath}: parameter "${extra}" is in the weight table but was not saved ` +
          `(the saved names: ${JSON.stringify(names)}): ${mismatch}`,
      );
    }
    // The bytes are read in table order: a reordered table would hand one's values to another.
    const moved = listed.findIndex((n, i) => n !== names[i]);
    if (moved >= 0) {
      throw new Error(
        `${manifestPath}: parameter "${listed[moved]}" is entry ${moved} of the weight table, ` +
          `expected "${names[moved]}" there (the saved order: ${JSON.stringify(names)}): ` +
          mismatch,
      );
    }
  }
  if (offset !== byteLength) {
    throw new Error(
      `${manifestPath}: the weight table's ${specs.length} parameter(s) take ${offset} bytes, ` +
        `but ${weightsPath} has ${byteLength}: ${mismatch}` +
        (firstPastEnd ? `; the first parameter past its end is ${firstPastEnd}` : ""),
    );
  }
}

/** Manifest format tag written into `model.json`. */
export const PARAMS_FORMAT = "metalab-params/1";
const MANIFEST = "model.json";
const WEIGHTS = "weights.bin";

/** What is stored beside the weights. */
export interface ParamsMetadata {
  /** The configuration the parameters were trained with (any JSON value). */
  config?: unknown;
  /** The seed of the run. */
  seed?: number | null;
  /** Anything else worth keeping (algorithm name, step, backend, ...). */
  extra?: Record<string, unknown>;
}

/** Parameters read back by {@linkcode loadParams}. */
export interface LoadedParams extends Required<Pick<ParamsMetadata, "config" | "seed">> {
  /** Parameter names in saved order. */
  names: string[];
  /** Name → tensor (the caller owns and disposes them). */
  tensors: Record<string, tf.Tensor>;
  /** The `extra` metadata. */
  extra: Record<string, unknown>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Replaces folder `dir` with the fully written folder `tmp` (rename-based, never half-done). */
async function swapIntoPlace(tmp: string, dir: string, overwrite: boolean): Promise<void> {
  if (!(await exists(dir))) {
    await Deno.rename(tmp, dir);
    return;
  }
  if (!overwrite) {
    await Deno.remove(tmp, { recursive: true });
    throw new Error(`${dir} already exists; pass overwrite: true to replace it`);
  }
  const old = `${dir}.old-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  await Deno.rename(dir, old);
  try {
    await Deno.rename(tmp, dir);
  } catch (e) {
    await Deno.rename(old, dir); // put the previous version back
    throw e;
  }
  await Deno.remove(old, { recursive: true });
}

/**
 * A tfjs `IOHandler` reading and writing a folder on disk (`model.json` + `weights.bin`).
 * Works with `tf.LayersModel.save`/`tf.loadLayersModel` and with {@linkcode saveParams}.
 */
export function denoFolderHandler(
  dir: string,
  { overwrite = true }: { overwrite?: boolean } = {},
): Required<Pick<tf.io.IOHandler, "save" | "load">> {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const data = artifacts.weightData === undefined
        ? new ArrayBuffer(0)
        : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const bytes = new Uint8Array(data);
      const manifest = {
        format: PARAMS_FORMAT,
        modelTopology: artifacts.modelTopology ?? null,
        weightsManifest: [{ paths: [WEIGHTS], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: artifacts.userDefinedMetadata ?? {},
        weightsBytes: bytes.byteLength,
        weightsFnv1a: fnv1a(bytes),
      };
      // The manifest's own checksum: an edit the checks below cannot see (two dimensions
      // swapped, a changed seed) is refused too rather than loaded as if saved so.
      const stored = { ...manifest, manifestFnv1a: manifestChecksum(manifest) };
      const parent = dir.replace(/\/+$/, "").split("/").slice(0, -1).join("/") || ".";
      await Deno.mkdir(parent, { recursive: true });
      const tmp = `${dir.replace(/\/+$/, "")}.tmp-${Date.now()}-${
        Math.random().toString(36).slice(2, 8)
      }`;
      await Deno.mkdir(tmp);
      try {
        await Deno.writeFile(`${tmp}/${WEIGHTS}`, bytes);
        await Deno.writeTextFile(`${tmp}/${MANIFEST}`, JSON.stringify(stored, null, 1));
      } catch (e) {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
        throw e;
      }
      await swapIntoPlace(tmp, dir.replace(/\/+$/, ""), overwrite);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const manifestPath = `${dir}/${MANIFEST}`;
      let manifest;
      try {
        manifest = JSON.parse(await Deno.readTextFile(manifestPath));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new Error(`no saved parameters at ${dir}: ${manifestPath} is missing`);
        }
        throw new Error(`${manifestPath} is not valid JSON: ${(e as Error).message}`);
      }
      const entry = manifest?.weightsManifest?.[0];
      if (!entry || !Array.isArray(entry.weights)) {
        throw new Error(`${manifestPath} has no weightsManifest`);
      }
      const weightsPath = `${dir}/${entry.paths?.[0] ?? WEIGHTS}`;
      const bytes = await Deno.readFile(weightsPath).catch((e) => {
        throw new Error(`${weightsPath} cannot be read: ${e.message}`);
      });
      if (manifest.weightsBytes !== undefined && bytes.byteLength !== manifest.weightsBytes) {
        throw new Error(
          `${weightsPath} has ${bytes.byteLength} bytes, the manifest says ${manifest.weightsBytes}`,
        );
      }
      if (manifest.weightsFnv1a !== undefined && fnv1a(bytes) !== manifest.weightsFnv1a) {
        throw new Error(`${weightsPath} is corrupt: its checksum does not match ${manifestPath}`);
      }
      checkWeightSpecs(
        manifestPath,
        weightsPath,
        entry.weights,
        bytes.byteLength,
        manifest.userDefinedMetadata ?? {},
      );
      // Absent from files written before the manifest had a checksum.
      if (manifest.manifestFnv1a !== undefined) {
        const actual = manifestChecksum(manifest);
        if (actual !== manifest.manifestFnv1a) {
          throw new Error(
            `${manifestPath} was changed after it was written: its FNV-1a is ${actual}, ` +
              `expected ${manifest.manifestFnv1a} (manifestFnv1a); save the parameters again`,
          );
        }
      }
      return {
        modelTopology: manifest.modelTopology ?? undefined,
        weightSpecs: entry.weights,
        weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
        userDefinedMetadata: manifest.userDefinedMetadata,
      };
    },
  };
}

/**
 * Saves named parameters (e.g. a learner's `paramNames` and `params`) with their config and
 * seed to folder `dir`, atomically. With `overwrite: false` an existing folder is an error.
 */
export async function saveParams(
  dir: string,
  names: string[],
  tensors: tf.Tensor[],
  metadata: ParamsMetadata = {},
  { overwrite = true }: { overwrite?: boolean } = {},
): Promise<void> {
  if (names.length !== tensors.length) {
    throw new Error(`saveParams: ${names.length} names for ${tensors.length} tensors`);
  }
  if (new Set(names).size !== names.length) {
    throw new Error(`saveParams: parameter names must be unique`);
  }
  const { data, specs } = await tf.io.encodeWeights(
    names.map((name, i) => ({ name, tensor: tensors[i] })),
  );
  await denoFolderHandler(dir, { overwrite }).save({
    weightSpecs: specs,
    weightData: data,
    userDefinedMetadata: {
      config: (metadata.config ?? null) as object,
      seed: (metadata.seed ?? null) as unknown as object,
      extra: (metadata.extra ?? {}) as object,
      names: names as unknown as object,
      // Each parameter's shape and dtype as saved, so an edited weight table is named.
      shapes: specs.map((s) => s.shape) as unknown as object,
      dtypes: specs.map((s) => s.dtype) as unknown as object,
    },
  });
}

/** Loads what {@linkcode saveParams} wrote. */
export async function loadParams(dir: string): Promise<LoadedParams> {
  const artifacts = await denoFolderHandler(dir).load();
  const specs = artifacts.weightSpecs ?? [];
  const tensors = tf.io.decodeWeights(artifacts.weightData!, specs) as Record<string, tf.Tensor>;
  const meta = (artifacts.userDefinedMetadata ?? {}) as Record<string, unknown>;
  return {
    names: specs.map((s) => s.name),
    tensors,
    config: meta.config ?? null,
    seed: (meta.seed ?? null) as number | null,
    extra: (meta.extra ?? {}) as Record<string, unknown>,
  };
}

/** Something with named parameters that can be overwritten (every MetaLearner in lib/meta). */
export interface HasParams {
  /** Parameter names. */
  readonly paramNames: string[];
  /** Parameter variables. */
  readonly params: tf.Variable[];
}

/** Saves a learner's meta-parameters with its config and seed. */
export function saveLearner(
  dir: string,
  learner: HasParams & { name?: string },
  metadata: ParamsMetadata = {},
  options: { overwrite?: boolean } = {},
): Promise<void> {
  return saveParams(dir, learner.paramNames, learner.params, {
    ...metadata,
    extra: { learner: learner.name ?? null, ...(metadata.extra ?? {}) },
  }, options);
}

/**
 * Loads saved parameters into a learner (names and shapes must match; a mismatch names the
 * parameter). Returns the stored config and seed.
 */
export async function loadLearner(
  dir: string,
  learner: HasParams,
): Promise<Omit<LoadedParams, "tensors">> {
  const loaded = await loadParams(dir);
  try {
    learner.paramNames.forEach((name, i) => {
      const t = loaded.tensors[name];
      if (!t) throw new Error(`${dir}: parameter "${name}" is missing from the saved file`);
      const want = learner.params[i].shape.join(",");
      if (t.shape.join(",") !== want) {
        throw new Error(`${dir}: parameter "${name}" has shape [${t.shape}], expected [${want}]`);
      }
    });
    learner.paramNames.forEach((name, i) => learner.params[i].assign(loaded.tensors[name]));
  } finally {
    tf.dispose(Object.values(loaded.tensors));
  }
  const { tensors: _t, ...rest } = loaded;
  return rest;
}
