/**
 * Downloads with progress, checksum verification, atomic writes and resume — used by
 * `deno task data omniglot` to fetch the official Omniglot archives.
 *
 * A download goes to `<dest>.partial` and is renamed to `<dest>` only once complete and
 * verified, so a cut-off download never leaves a file that looks complete. A later call
 * resumes a `.partial` with an HTTP Range request (falling back to a clean download when
 * the server ignores ranges, and retrying from scratch when a resumed file fails its check).
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";

/** An expected checksum. */
export interface Checksum {
  /** Hash algorithm. */
  algorithm: "sha256" | "md5";
  /** Lower-case hex digest. */
  hex: string;
}

/** A progress report while downloading. */
export interface DownloadProgress {
  /** File name being downloaded. */
  file: string;
  /** Bytes on disk so far (including a resumed part). */
  received: number;
  /** Total bytes if the server said, else null. */
  total: number | null;
  /** Average rate of this attempt, bytes per second. */
  bytesPerSecond: number;
  /** Whether this attempt resumed a partial file. */
  resumed: boolean;
  /** True on the last report of a file. */
  done: boolean;
}

/** Options for {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** Checksum the finished file must have; null skips verification. */
  expected?: Checksum | null;
  /** Called as bytes arrive (at most every ~100 ms, plus once at the end). */
  onProgress?: (p: DownloadProgress) => void;
  /** Extra attempts after a failed one (default 2); each resumes what is on disk. */
  retries?: number;
  /** The fetch function (tests may inject one). */
  fetch?: typeof fetch;
}

/** The outcome of a download. */
export interface DownloadResult {
  path: string;
  bytes: number;
  /** True when a verified file was already there. */
  skipped: boolean;
  /** True when the download continued a partial file. */
  resumed: boolean;
}

/** A file already at the destination whose checksum is not the expected one. */
export interface RejectedFile {
  /** Where it is. */
  path: string;
  /** The checksum expected. */
  expected: Checksum;
  /** Its actual digest (same algorithm). */
  actualHex: string;
}

/** A network failure that looks like being offline (DNS, refused connection, ...). */
export class OfflineError extends Error {
  /**
   * @param message what failed
   * @param rejected files present at their destination that failed their checksum (the
   *   download was meant to replace them), so the message can say so rather than hide it
   */
  constructor(message: string, readonly rejected: RejectedFile[] = []) {
    super(message);
    this.name = "OfflineError";
  }
}

/** "…/x.zip is present but its md5 is …, expected …" for each rejected file. */
function describeRejected(rejected: RejectedFile[]): string {
  return rejected.map((r) =>
    `${r.path} is present but failed its checksum: ${r.expected.algorithm} is ${r.actualHex}, ` +
    `expected ${r.expected.hex} (kept until a verified copy replaces it)`
  ).join("\n");
}

/** A finished download whose checksum is not the expected one. */
export class ChecksumError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChecksumError";
  }
}

/** The checksum of a file, streamed through node:crypto. */
export async function fileChecksum(
  path: string,
  algorithm: Checksum["algorithm"],
): Promise<string> {
  const hash = createHash(algorithm);
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

async function fileSize(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** "1.2 MB" style byte counts. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** One line describing a progress report: name, percent, bytes, rate. */
export function formatProgress(p: DownloadProgress): string {
  const pct = p.total ? `${((100 * p.received) / p.total).toFixed(1).padStart(5)}%` : "    ?%";
  const of = p.total
    ? `${formatBytes(p.received)} / ${formatBytes(p.total)}`
    : formatBytes(p.received);
  const rate = `${formatBytes(Math.round(p.bytesPerSecond))}/s`;
  return `${p.file}  ${pct}  ${of}  ${rate}${p.resumed ? "  (resumed)" : ""}`;
}

/** One attempt: fetch (with Range when resuming) and append to `partial`. */
async function attempt(
  url: string,
  partial: string,
  file: string,
  fetchFn: typeof fetch,
  onProgress?: (p: DownloadProgress) => void,
): Promise<{ resumed: boolean }> {
  const offset = (await fileSize(partial)) ?? 0;
  const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  let res: Response;
  try {
    res = await fetchFn(url, { headers });
  } catch (err) {
    throw new OfflineError(`cannot reach ${new URL(url).host}: ${(err as Error).message}`);
  }
  if (res.status === 416 && offset > 0) {
    // The partial file already holds every byte; let verification decide.
    await res.body?.cancel();
    return { resumed: true };
  }
  let resumed = false;
  if (res.status === 206 && offset > 0) {
    const range = res.headers.get("content-range") ?? "";
    const start = Number(/bytes (\d+)-/.exec(range)?.[1]);
    if (start !== offset) {
      await res.body?.cancel();
      throw new Error(`server answered range "${range}" to a request from byte ${offset}`);
    }
    resumed = true;
  } else if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`GET ${url}: HTTP ${res.status} ${res.statusText}`);
  }
  const length = Number(res.headers.get("content-length"));
  const total = Number.isFinite(length) && length > 0 ? length + (resumed ? offset : 0) : null;
  let received = resumed ? offset : 0;
  const t0 = performance.now();
  let lastReport = 0;
  const report = (done: boolean) => {
    const seconds = Math.max((performance.now() - t0) / 1000, 1e-3);
    onProgress?.({
      file,
      received,
      total,
      bytesPerSecond: (received - (resumed ? offset : 0)) / seconds,
      resumed,
      done,
    });
  };
  // Append when resuming, else start the partial file afresh.
  using out = await Deno.open(partial, {
    write: true,
    create: true,
    append: resumed,
    truncate: !resumed,
  });
  if (!res.body) throw new Error(`GET ${url}: empty response body`);
  for await (const chunk of res.body) {
    let written = 0;
    while (written < chunk.length) written += await out.write(chunk.subarray(written));
    received += chunk.length;
    if (performance.now() - lastReport > 100) {
      lastReport = performance.now();
      report(false);
    }
  }
  if (total !== null && received !== total) {
    throw new Error(`GET ${url}: connection closed after ${received} of ${total} bytes`);
  }
  report(true);
  return { resumed };
}

/**
 * Downloads `url` to `dest` atomically (via `<dest>.partial`), resuming a partial file left
 * by an earlier attempt, verifying `expected` when given. A file already at `dest` with the
 * right checksum is kept (`skipped: true`). A checksum mismatch removes the partial file and
 * throws {@linkcode ChecksumError}; no reachable server throws {@linkcode OfflineError},
 * whose message (and `rejected`) says when a file at `dest` was there but failed its
 * checksum. Any other failure says whether a `.partial` file is kept for the next run.
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const { expected = null, onProgress, retries = 2, fetch: fetchFn = fetch } = options;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new RangeError(`retries must be a non-negative integer, got ${retries}`);
  }
  const file = basename(dest);
  const existing = await fileSize(dest);
  let rejected: RejectedFile | null = null;
  if (existing !== null) {
    const actualHex = expected ? await fileChecksum(dest, expected.algorithm) : null;
    if (!expected || actualHex === expected.hex) {
      return { path: dest, bytes: existing, skipped: true, resumed: false };
    }
    // A wrong file is replaced, but only once the new one is verified.
    rejected = { path: dest, expected, actualHex: actualHex! };
  }
  await Deno.mkdir(dirname(dest), { recursive: true });
  const partial = `${dest}.partial`;
  let lastError: Error | null = null;
  let cleanRetryUsed = false;
  for (let i = 0; i <= retries; i++) {
    let resumed = false;
    try {
      ({ resumed } = await attempt(url, partial, file, fetchFn, onProgress));
    } catch (err) {
      lastError = err as Error;
      continue; // keep the partial file: the next attempt resumes it
    }
    if (expected) {
      const actual = await fileChecksum(partial, expected.algorithm);
      if (actual !== expected.hex) {
        await Deno.remove(partial).catch(() => {});
        if (resumed && !cleanRetryUsed) {
          // The stitched file may be bad (the server's file changed): retry once from zero.
          cleanRetryUsed = true;
          i--;
          continue;
        }
        throw new ChecksumError(
          `${file}: ${expected.algorithm} is ${actual}, expected ${expected.hex} ` +
            `(downloaded from ${url}; the file was discarded)`,
        );
      }
    }
    await Deno.rename(partial, dest);
    const bytes = (await fileSize(dest)) ?? 0;
    return { path: dest, bytes, skipped: false, resumed };
  }
  if (lastError instanceof OfflineError) {
    if (!rejected) throw lastError;
    throw new OfflineError(`${lastError.message}\n${describeRejected([rejected])}`, [rejected]);
  }
  // Only a file that exists is promised to the next run (a 404 leaves none).
  const partialSize = await fileSize(partial);
  const kept = partialSize !== null
    ? `the partial file ${partial} (${
      formatBytes(partialSize)
    }) is kept and the next run resumes it`
    : "no partial file was written";
  throw new Error(
    `${file}: download failed after ${retries + 1} attempt(s): ${lastError?.message}; ${kept}` +
      (rejected ? `\n${describeRejected([rejected])}` : ""),
  );
}

/** Where the official archives live: the Omniglot project's public GitHub repository. */
export const OMNIGLOT_BASE_URL = "https://github.com/brendenlake/omniglot/raw/master/python/";

/**
 * Checksums of the official archives (brendenlake/omniglot `python/`): the MD5s that
 * torchvision also pins, 9,464,212 and 6,462,886 bytes. Override them (e.g. with the
 * sha256 of a mirror) through {@linkcode OmniglotDownloadOptions.checksums}.
 */
export const OMNIGLOT_CHECKSUMS: Readonly<Record<string, Checksum>> = {
  "images_background.zip": { algorithm: "md5", hex: "68d2efa1b9178cc56df9314c21c6e718" },
  "images_evaluation.zip": { algorithm: "md5", hex: "6b91aef0f799c5bb55b94e3f2daec811" },
};

/** Options for {@linkcode downloadOmniglot}. */
export interface OmniglotDownloadOptions {
  /** Target folder (created if needed). */
  dir: string;
  /** Base URL the two file names are appended to (default the official repository). */
  baseUrl?: string;
  /** Expected checksum per file name (default {@linkcode OMNIGLOT_CHECKSUMS}). */
  checksums?: Record<string, Checksum | null>;
  /** Progress callback. */
  onProgress?: (p: DownloadProgress) => void;
  /** Extra attempts per file (default 2). */
  retries?: number;
  /** The fetch function (tests may inject one). */
  fetch?: typeof fetch;
}

/**
 * Downloads `images_background.zip` and `images_evaluation.zip` into `dir`. When offline,
 * throws an {@linkcode OfflineError} that says where to get the files by hand.
 */
export async function downloadOmniglot(
  options: OmniglotDownloadOptions,
): Promise<DownloadResult[]> {
  const { dir, baseUrl = OMNIGLOT_BASE_URL, checksums = OMNIGLOT_CHECKSUMS } = options;
  const results: DownloadResult[] = [];
  for (const name of ["images_background.zip", "images_evaluation.zip"]) {
    const url = new URL(name, baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`).href;
    try {
      results.push(
        await downloadFile(url, join(dir, name), {
          expected: checksums[name] ?? null,
          onProgress: options.onProgress,
          retries: options.retries,
          fetch: options.fetch,
        }),
      );
    } catch (err) {
      if (err instanceof OfflineError) {
        const replace = err.rejected.length > 0
          ? ` The ${name} there failed its checksum (see above): replace it with a good copy.`
          : "";
        throw new OfflineError(
          `${err.message}\nYou seem to be offline. Download ${name} by hand from ${url} ` +
            `and put it in ${dir}, or point --dir at a folder that already holds both archives.` +
            replace,
          err.rejected,
        );
      }
      throw err;
    }
  }
  return results;
}
