/**
 * Omniglot (Lake et al. 2015) read directly from the official archives
 * `images_background.zip` (30 alphabets, 964 characters) and `images_evaluation.zip`
 * (20 alphabets, 659 characters), 20 drawers per character, 105×105 1-bit PNGs.
 *
 * Images are stored as "ink" (stroke = 1, paper = 0, as Finn et al. and Snell et al. do),
 * resized by area averaging (PIL's BOX filter) to `size × size` (28 by default), and kept
 * in memory as one `Uint8Array` (value × 255). Decoded arrays are cached on disk
 * (see {@linkcode writeCache}) keyed by the archive's sha256 and the size, so a second
 * load reads one file.
 * @module
 */
import { unzipSync } from "fflate";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ArrayDataset } from "./array_dataset.ts";
import { readCache, writeCache } from "./cache.ts";
import { AreaResizer, decodeInkPng } from "./image.ts";
import { DEFAULT_CACHE_DIR } from "./paths.ts";
import type { ClassInfo } from "./types.ts";

/** The two official Omniglot image sets. */
export type OmniglotSet = "background" | "evaluation";

/** Side of the original images. */
export const OMNIGLOT_SOURCE_SIZE = 105;
/** Drawers (examples) per character. */
export const OMNIGLOT_DRAWERS = 20;

/** One Omniglot character (a class of the unrotated dataset). */
export interface OmniglotCharacter {
  /** Alphabet folder name, e.g. "Latin". */
  alphabet: string;
  /** Character folder name, e.g. "character01". */
  character: string;
  /** Global character id from the file names (1–964 background, 965–1623 evaluation). */
  id: number;
  /** Which archive it comes from. */
  set: OmniglotSet;
}

/** Options for {@linkcode loadOmniglot}. */
export interface OmniglotOptions {
  /** Folder holding the archives (e.g. from `findOmniglotDir()`). */
  dir: string;
  /** Which sets to load, in this order (default both: background then evaluation). */
  sets?: OmniglotSet[];
  /** Output side in pixels (default 28; 105 keeps the originals). */
  size?: number;
  /** Cache folder (default `data/cache/`); `false` disables the cache. */
  cacheDir?: string | false;
  /** Called with short progress messages (cache hits, decode progress). */
  onProgress?: (message: string) => void;
}

/**
 * The Omniglot characters as a labelled dataset: class `c` is `characters[c]`, its examples
 * are `c * 20 + (drawer − 1)`. Classes are ordered by set (as requested) and, within a set,
 * by the global character id in the file names — a documented, deterministic order.
 */
export class OmniglotDataset extends ArrayDataset {
  /** The characters, one per class. */
  readonly characters: readonly OmniglotCharacter[];
  /** Side of each image in pixels. */
  readonly size: number;

  constructor(data: Uint8Array, characters: OmniglotCharacter[], size: number) {
    const labels = new Int32Array(characters.length * OMNIGLOT_DRAWERS);
    for (let i = 0; i < labels.length; i++) labels[i] = Math.floor(i / OMNIGLOT_DRAWERS);
    const classes: ClassInfo[] = characters.map((ch) => ({
      id: `${ch.alphabet}/${ch.character}`,
      source: `${ch.alphabet}/${ch.character}`,
      group: ch.alphabet,
      extra: { set: ch.set, characterId: ch.id },
    }));
    super({
      name: "omniglot",
      data,
      itemShape: [size, size, 1],
      labels,
      classes,
      scale: 1 / 255,
    });
    this.characters = characters;
    this.size = size;
  }

  /** The distinct alphabets, in class order. */
  get alphabets(): string[] {
    return [...new Set(this.characters.map((c) => c.alphabet))];
  }
}

interface CacheMeta {
  characters: OmniglotCharacter[];
  size: number;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const MEMBER = /^images_(background|evaluation)\/([^/]+)\/(character\d+)\/(\d{4})_(\d{2})\.png$/;

/**
 * Decodes one archive (already read into memory) into `[characters × 20, size, size]` bytes.
 * Every error names the archive and, where it applies, the member file.
 */
export function decodeOmniglotArchive(
  zipBytes: Uint8Array,
  set: OmniglotSet,
  size: number,
  archiveName: string,
  onProgress?: (message: string) => void,
): { data: Uint8Array; characters: OmniglotCharacter[] } {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zipBytes, { filter: (f) => f.name.endsWith(".png") });
  } catch (err) {
    throw new Error(`corrupt Omniglot archive ${archiveName}: ${(err as Error).message}`);
  }
  // Group members by character folder.
  const byCharacter = new Map<string, { ch: OmniglotCharacter; drawers: (string | null)[] }>();
  for (const name of Object.keys(files)) {
    const m = MEMBER.exec(name);
    if (!m) continue;
    if (m[1] !== set) {
      throw new Error(`${archiveName}: member ${name} is not in images_${set}/`);
    }
    const folder = `${m[2]}/${m[3]}`;
    let entry = byCharacter.get(folder);
    if (!entry) {
      entry = {
        ch: { alphabet: m[2], character: m[3], id: Number(m[4]), set },
        drawers: new Array(OMNIGLOT_DRAWERS).fill(null),
      };
      byCharacter.set(folder, entry);
    }
    const drawer = Number(m[5]);
    if (drawer < 1 || drawer > OMNIGLOT_DRAWERS) {
      throw new Error(`${archiveName}: unexpected drawer number in ${name}`);
    }
    if (Number(m[4]) !== entry.ch.id) {
      throw new Error(`${archiveName}: ${name} has character id ${m[4]}, expected ${entry.ch.id}`);
    }
    entry.drawers[drawer - 1] = name;
  }
  if (byCharacter.size === 0) {
    throw new Error(`${archiveName} holds no images_${set}/<Alphabet>/<character>/*.png files`);
  }
  const entries = [...byCharacter.values()].sort((a, b) => a.ch.id - b.ch.id);
  const px = size * size;
  const data = new Uint8Array(entries.length * OMNIGLOT_DRAWERS * px);
  const resizer = size === OMNIGLOT_SOURCE_SIZE
    ? null
    : new AreaResizer(OMNIGLOT_SOURCE_SIZE, OMNIGLOT_SOURCE_SIZE, size, size);
  const expected = { width: OMNIGLOT_SOURCE_SIZE, height: OMNIGLOT_SOURCE_SIZE };
  entries.forEach((entry, c) => {
    const folder = `images_${set}/${entry.ch.alphabet}/${entry.ch.character}`;
    for (let d = 0; d < OMNIGLOT_DRAWERS; d++) {
      const member = entry.drawers[d];
      if (member === null) {
        const file = `${String(entry.ch.id).padStart(4, "0")}_${String(d + 1).padStart(2, "0")}`;
        throw new Error(`${archiveName}: missing file ${folder}/${file}.png`);
      }
      const img = decodeInkPng(files[member], `${archiveName}:${member}`, expected);
      const offset = (c * OMNIGLOT_DRAWERS + d) * px;
      if (resizer) resizer.resize(img.data, data, offset, 255);
      else for (let i = 0; i < px; i++) data[offset + i] = Math.round(img.data[i] * 255);
    }
    if (onProgress && (c + 1) % 200 === 0) {
      onProgress(`${archiveName}: decoded ${c + 1}/${entries.length} characters`);
    }
  });
  return { data, characters: entries.map((e) => e.ch) };
}

/**
 * Loads one set, from the cache when it is valid for this archive and size, else by
 * decoding the archive and writing the cache.
 */
async function loadSet(
  dir: string,
  set: OmniglotSet,
  size: number,
  cacheDir: string | false,
  onProgress?: (message: string) => void,
): Promise<{ data: Uint8Array; characters: OmniglotCharacter[] }> {
  const archive = join(dir, `images_${set}.zip`);
  let zipBytes: Uint8Array;
  try {
    zipBytes = await Deno.readFile(archive);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        `missing Omniglot archive ${archive}; run \`deno task data omniglot\` to download it`,
      );
    }
    throw err;
  }
  const key = `omniglot/${set}/size=${size}/sha256=${sha256Hex(zipBytes)}`;
  const cachePath = cacheDir ? join(cacheDir, `omniglot_${set}_${size}.bin`) : null;
  if (cachePath) {
    const cached = await readCache<CacheMeta>(cachePath, key);
    if (cached.ok) {
      onProgress?.(`${set}: loaded from cache ${cachePath}`);
      return { data: cached.value.data as Uint8Array, characters: cached.value.meta.characters };
    }
    onProgress?.(`${set}: rebuilding cache (${cached.reason})`);
  }
  const decoded = decodeOmniglotArchive(zipBytes, set, size, archive, onProgress);
  if (cachePath) {
    await writeCache<CacheMeta>(cachePath, key, decoded.data, {
      characters: decoded.characters,
      size,
    });
  }
  return decoded;
}

/**
 * Loads Omniglot from the official archives in `dir`.
 *
 * @example
 * ```ts
 * const dir = findOmniglotDir();
 * if (dir) {
 *   const omniglot = await loadOmniglot({ dir }); // 1623 classes × 20, 28×28×1
 * }
 * ```
 */
export async function loadOmniglot(options: OmniglotOptions): Promise<OmniglotDataset> {
  const { dir, sets = ["background", "evaluation"], size = 28, onProgress } = options;
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  if (!Number.isInteger(size) || size < 1 || size > OMNIGLOT_SOURCE_SIZE) {
    throw new RangeError(`Omniglot size must be an integer in [1, 105], got ${size}`);
  }
  if (sets.length === 0 || new Set(sets).size !== sets.length) {
    throw new RangeError(`Omniglot sets must be distinct and non-empty, got ${sets}`);
  }
  for (const s of sets) {
    if (s !== "background" && s !== "evaluation") {
      throw new RangeError(`unknown Omniglot set "${s}" (expected "background" or "evaluation")`);
    }
  }
  const parts = [];
  for (const set of sets) parts.push(await loadSet(dir, set, size, cacheDir, onProgress));
  if (parts.length === 1) return new OmniglotDataset(parts[0].data, parts[0].characters, size);
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
  }
  return new OmniglotDataset(data, parts.flatMap((p) => p.characters), size);
}
