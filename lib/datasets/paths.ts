/**
 * Where MetaLab keeps data: the repository's `data/` folder, its git-ignored cache, and the
 * lookup for the Omniglot archives.
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root (two folders above this file). */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url)).replace(
  /[\\/]$/,
  "",
);

/** The default cache folder for decoded datasets: `data/cache/` (git-ignored). */
export const DEFAULT_CACHE_DIR: string = join(REPO_ROOT, "data", "cache");

/** The file names of the two official Omniglot archives. */
export const OMNIGLOT_ARCHIVES = ["images_background.zip", "images_evaluation.zip"] as const;

/** The folders searched for the Omniglot archives, in order. */
export function omniglotSearchDirs(): string[] {
  return [join(REPO_ROOT, "data", "omniglot"), join(REPO_ROOT, "..", "shared", "data", "omniglot")];
}

/**
 * The first folder holding both Omniglot archives: `data/omniglot/` (where
 * `deno task data omniglot` puts them), then `../shared/data/omniglot/` beside the repository.
 * Returns `null` when neither has both files.
 */
export function findOmniglotDir(): string | null {
  for (const dir of omniglotSearchDirs()) {
    if (OMNIGLOT_ARCHIVES.every((f) => existsSync(join(dir, f)))) return dir;
  }
  return null;
}
