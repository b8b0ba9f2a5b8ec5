/**
 * Where MetaLab keeps data: the repository's `data/` folder, its git-ignored cache, and the
 * lookup for the Omniglot archives.
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
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

/** Where the Omniglot archives are, or why they cannot be used. */
export interface OmniglotSearch {
  /** The absolute folder holding both archives, or null. */
  dir: string | null;
  /** Why there is none (null when found): not found, half-filled, a named folder lacking files. */
  problem: string | null;
}

/** Options of {@linkcode searchOmniglot}. */
export interface OmniglotSearchOptions {
  /** A folder the user named (`reproduce --data-dir`): it alone is looked at. */
  dir?: string;
  /** The folders searched otherwise, in order (default {@linkcode omniglotSearchDirs}). */
  searchDirs?: string[];
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Finds the folder holding both Omniglot archives, saying why when there is none. A named
 * folder (`dir`) must hold both. Otherwise the search folders are tried in order, and one
 * that holds some but not all of the archives (an unfinished download) stops the search
 * with a problem: falling back to a later folder would silently use other data than the
 * one the user was putting in place.
 *
 * @example
 * ```ts
 * const { dir, problem } = searchOmniglot({ dir: "/data/omniglot" });
 * if (dir === null) throw new Error(problem!);
 * ```
 */
export function searchOmniglot(options: OmniglotSearchOptions = {}): OmniglotSearch {
  const present = (dir: string) => OMNIGLOT_ARCHIVES.filter((f) => existsSync(join(dir, f)));
  const names = OMNIGLOT_ARCHIVES.join(" and ");
  if (options.dir !== undefined) {
    const dir = resolve(options.dir);
    if (!isDir(dir)) {
      return {
        dir: null,
        problem: `the Omniglot folder ${dir} is not a folder (expected ${names})`,
      };
    }
    const missing = OMNIGLOT_ARCHIVES.filter((f) => !present(dir).includes(f));
    return missing.length === 0 ? { dir, problem: null } : {
      dir: null,
      problem: `the Omniglot folder ${dir} lacks ${missing.join(" and ")} (expected ${names})`,
    };
  }
  const dirs = options.searchDirs ?? omniglotSearchDirs();
  for (const dir of dirs.map((d) => resolve(d))) {
    const found = present(dir);
    if (found.length === OMNIGLOT_ARCHIVES.length) return { dir, problem: null };
    if (found.length > 0) {
      const missing = OMNIGLOT_ARCHIVES.filter((f) => !found.includes(f));
      return {
        dir: null,
        problem: `${dir} holds ${found.join(", ")} but not ${missing.join(", ")} (an ` +
          `unfinished download?): finish it with \`deno task data omniglot\`, or name a complete ` +
          `folder with --data-dir DIR; later folders are not searched while this one is half-filled`,
      };
    }
  }
  return {
    dir: null,
    problem: `the Omniglot archives (${names}) are in none of ${dirs.join(", ")}`,
  };
}

/**
 * The first folder holding both Omniglot archives: `data/omniglot/` (where
 * `deno task data omniglot` puts them), then `../shared/data/omniglot/` beside the repository.
 * Returns `null` when neither has both files, and also when `data/omniglot/` holds only one
 * of them ({@linkcode searchOmniglot} says why), rather than silently reading the other folder.
 */
export function findOmniglotDir(): string | null {
  return searchOmniglot().dir;
}
