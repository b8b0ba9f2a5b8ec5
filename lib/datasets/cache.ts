/**
 * A compact binary cache for decoded arrays, with a header that makes stale or corrupt
 * files detectable, written atomically (temp file, then rename).
 *
 * Layout (little-endian):
 * ```
 * bytes 0..7    magic "MLCACHE2"
 * bytes 8..11   u32 length L of the JSON header
 * bytes 12..15  u32 FNV-1a checksum of every byte from 16 on (header, padding and data)
 * bytes 16..    L bytes of UTF-8 JSON: { format, key, dtype, length, meta }
 * then          padding to a multiple of 4, then the array's bytes
 * ```
 * `key` identifies what the data was built from (e.g. the source archive's sha256 and the
 * image size); the checksum covers the header as well as the data, so truncation or bit
 * rot anywhere — in `meta` too — is caught. (Format 1, `MLCACHE1`, checksummed the data
 * only: such caches read as an older format and are rebuilt once.)
 * @module
 */
import { atomicWrite, fnv1a } from "../files/mod.ts";

const MAGIC = "MLCACHE2";
/** Bumped whenever the layout or the meaning of cached data changes. */
export const CACHE_FORMAT = 2;
/** Magic of each older format, so such a file reads as "older format", not as garbage. */
const OLD_MAGICS: Record<string, number> = { MLCACHE1: 1 };
const PREFIX = 16;

/** The element types a cache file can hold. */
export type CacheDtype = "uint8" | "float32" | "int32";
type CacheArray = Uint8Array | Float32Array | Int32Array;

/** What {@linkcode readCache} returns for a valid file. */
export interface CacheContents<M> {
  data: CacheArray;
  meta: M;
}

interface Header<M> {
  format: number;
  key: string;
  dtype: CacheDtype;
  length: number;
  meta: M;
}

function dtypeOf(data: CacheArray): CacheDtype {
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Float32Array) return "float32";
  return "int32";
}

/**
 * Writes `data` with `key` and `meta` to `path` atomically: the bytes go to a temporary
 * file in the same folder that is renamed over `path` only when complete.
 */
export async function writeCache<M>(
  path: string,
  key: string,
  data: CacheArray,
  meta: M,
): Promise<void> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const header: Header<M> = {
    format: CACHE_FORMAT,
    key,
    dtype: dtypeOf(data),
    length: data.length,
    meta,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = Math.ceil((PREFIX + json.length) / 4) * 4;
  const out = new Uint8Array(dataStart + bytes.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  out.set(json, PREFIX);
  out.set(bytes, dataStart);
  const view = new DataView(out.buffer);
  view.setUint32(8, json.length, true);
  view.setUint32(12, fnv1a(out.subarray(PREFIX)), true);
  await atomicWrite(path, out);
}

/**
 * Reads a cache file written by {@linkcode writeCache}. Returns `{ ok: false, reason }` when
 * the file is missing, was built for another `key` (stale) or by an older format, or is
 * corrupt (bad magic, truncated, checksum mismatch in the header or the data) — the caller
 * then rebuilds it.
 */
export async function readCache<M>(
  path: string,
  key: string,
): Promise<{ ok: true; value: CacheContents<M> } | { ok: false; reason: string }> {
  let file: Uint8Array;
  try {
    file = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { ok: false, reason: "no cache file" };
    throw err;
  }
  const magic = new TextDecoder().decode(file.subarray(0, 8));
  if (Object.hasOwn(OLD_MAGICS, magic)) {
    return {
      ok: false,
      reason: `format ${OLD_MAGICS[magic]} (an older MetaLab), expected ${CACHE_FORMAT}`,
    };
  }
  if (file.length < PREFIX || magic !== MAGIC) {
    return { ok: false, reason: "not a MetaLab cache file (bad magic)" };
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const jsonLength = view.getUint32(8, true);
  if (PREFIX + jsonLength > file.length) return { ok: false, reason: "truncated header" };
  let header: Header<M>;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(PREFIX, PREFIX + jsonLength)));
  } catch {
    return { ok: false, reason: "unreadable header" };
  }
  if (header?.format !== CACHE_FORMAT) {
    return { ok: false, reason: `format ${header?.format}, expected ${CACHE_FORMAT}` };
  }
  const dataStart = Math.ceil((PREFIX + jsonLength) / 4) * 4;
  const width = header.dtype === "uint8" ? 1 : 4;
  const byteLength = header.length * width;
  if (file.length !== dataStart + byteLength) {
    return {
      ok: false,
      reason: `size ${file.length} bytes, expected ${dataStart + byteLength} (truncated?)`,
    };
  }
  // After the size check (so a cut-off file says "truncated"), every byte from the header on.
  if (fnv1a(file.subarray(PREFIX)) !== view.getUint32(12, true)) {
    return { ok: false, reason: "checksum mismatch" };
  }
  if (header.key !== key) return { ok: false, reason: "stale (built from a different source)" };
  const bytes = file.subarray(dataStart);
  // Copy into a fresh, aligned buffer owned by the array.
  const buffer = bytes.slice().buffer;
  const data = header.dtype === "uint8"
    ? new Uint8Array(buffer)
    : header.dtype === "float32"
    ? new Float32Array(buffer)
    : new Int32Array(buffer);
  return { ok: true, value: { data, meta: header.meta } };
}
