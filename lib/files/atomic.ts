/**
 * Writing files so that a reader never sees half of one: write a temporary file in the
 * same folder, then rename it over the target (one step on POSIX file systems). A crash
 * or Ctrl-C mid-write leaves the previous file intact and at most a stray temporary.
 * @module
 */

/** The folder part of a path ("." for a bare file name). */
export function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/**
 * Writes `data` to `path` atomically, creating the folder if needed.
 *
 * @example
 * ```ts
 * await atomicWrite("results/bench.json", JSON.stringify(records));
 * ```
 */
export async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
