/**
 * Saving and loading meta-learned parameters: a tfjs `IOHandler` for Deno that writes a
 * folder with `model.json` (weights manifest, config, seed, checksum) and `weights.bin`.
 * Writes are atomic: everything goes into a temporary sibling folder that is renamed into
 * place, so a crash never leaves a half-written model that looks complete, and a failed
 * save leaves what was there before untouched. Float32 round trips are bit-exact.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fnv1a } from "../files/mod.ts";

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
      const parent = dir.replace(/\/+$/, "").split("/").slice(0, -1).join("/") || ".";
      await Deno.mkdir(parent, { recursive: true });
      const tmp = `${dir.replace(/\/+$/, "")}.tmp-${Date.now()}-${
        Math.random().toString(36).slice(2, 8)
      }`;
      await Deno.mkdir(tmp);
      try {
        await Deno.writeFile(`${tmp}/${WEIGHTS}`, bytes);
        await Deno.writeTextFile(`${tmp}/${MANIFEST}`, JSON.stringify(manifest, null, 1));
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
