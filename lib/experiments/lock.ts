/**
 * One run at a time per experiment folder: a lock file (`run.lock`, holding the PID, host
 * and start time of the run writing there) created atomically with `createNew`, removed when
 * the run ends — also on an error, an interrupt or `Deno.exit`. A lock whose process is no
 * longer alive (a run that was killed) is stale: the next run takes it over and says so.
 * @module
 */

/** The lock file's name inside an experiment folder. */
export const LOCK_FILE = "run.lock";

/** What a lock file records about the run holding it. */
export interface LockHolder {
  /** Process id of the run. */
  pid: number;
  /** Host it runs on (a PID means nothing on another machine). */
  hostname: string;
  /** ISO time the lock was taken. */
  startedAt: string;
}

/** Another run is writing into the folder. */
export class FolderInUseError extends Error {
  override name = "FolderInUseError";
  /**
   * @param dir the folder
   * @param holder the run holding its lock
   */
  constructor(readonly dir: string, readonly holder: LockHolder, message: string) {
    super(message);
  }
}

/**
 * Lock files this process has claimed (real paths), from just before it creates one to its
 * release: a second run of this process into the same folder is refused here, before the
 * file system could be asked.
 */
const claimed = new Map<string, LockHolder>();
/** Lock files this process created, removed on `Deno.exit` (a second Ctrl-C) too. */
const held = new Set<string>();
let unloadHooked = false;

function hookUnload(): void {
  if (unloadHooked) return;
  unloadHooked = true;
  globalThis.addEventListener("unload", () => {
    for (const path of held) {
      try {
        Deno.removeSync(path);
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Whether process `pid` is alive on this machine: signal 0 checks without sending
 * anything. A process of another user (permission denied) is alive too.
 */
export function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text);
    return Number.isSafeInteger(v?.pid) && v.pid > 0 && typeof v.hostname === "string"
      ? { pid: v.pid, hostname: v.hostname, startedAt: String(v.startedAt ?? "") }
      : null;
  } catch {
    return null;
  }
}

async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * The lock of one experiment folder, held by this process until {@linkcode RunLock.release}.
 *
 * @example
 * ```ts
 * const lock = await RunLock.acquire("results/quick/sinusoid-k5");
 * try {
 *   // … train, write result.json …
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export class RunLock {
  private constructor(readonly path: string, private readonly content: string) {}

  /**
   * Takes the lock of `dir` (which must exist). Throws {@linkcode FolderInUseError} naming
   * the other run's PID when a live run holds it; takes over a stale one (its process is
   * gone), telling `log`.
   */
  static async acquire(
    dir: string,
    { log = () => {} }: { log?: (message: string) => void } = {},
  ): Promise<RunLock> {
    // One spelling per folder, so that this process knows its own locks however named.
    const path = `${Deno.realPathSync(dir)}/${LOCK_FILE}`;
    const me: LockHolder = {
      pid: Deno.pid,
      hostname: Deno.hostname(),
      startedAt: new Date().toISOString(),
    };
    const content = JSON.stringify(me) + "\n";
    const mine = claimed.get(path);
    if (mine) {
      throw new FolderInUseError(
        dir,
        mine,
        `${dir} is in use by another run in this process (PID ${mine.pid}, started ` +
          `${mine.startedAt}); wait for it to finish or choose another --out`,
      );
    }
    claimed.set(path, me); // synchronously after the check: no other run of ours gets here
    try {
      return await RunLock.take(dir, path, me, content, log);
    } catch (e) {
      claimed.delete(path);
      throw e;
    }
  }

  private static async take(
    dir: string,
    path: string,
    me: LockHolder,
    content: string,
    log: (message: string) => void,
  ): Promise<RunLock> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        // createNew: exactly one of two racing runs creates the file.
        await Deno.writeTextFile(path, content, { createNew: true });
        held.add(path);
        hookUnload();
        return new RunLock(path, content);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) {
          throw new Error(`cannot create the lock file ${path}: ${(e as Error).message}`);
        }
      }
      const text = await readText(path);
      if (text === null) continue; // released meanwhile: try again
      const holder = parseHolder(text);
      if (holder === null) {
        // Another run may be between creating the file and writing it: give it a moment.
        await new Promise((r) => setTimeout(r, 200));
        if ((await readText(path)) !== text) continue;
        log(`${path} is unreadable (${JSON.stringify(text.slice(0, 80))}): taking it over`);
      } else if (holder.hostname !== me.hostname) {
        throw new FolderInUseError(
          dir,
          holder,
          `${dir} is in use by a run on host ${holder.hostname} (PID ${holder.pid}, started ` +
            `${holder.startedAt}); wait for it or choose another --out (if that run is gone, ` +
            `delete ${path})`,
        );
      } else if (holder.pid !== me.pid && processAlive(holder.pid)) {
        // (A lock with this process's own PID that it has not claimed is a dead run's whose
        // PID came round again, e.g. after a container restart: stale.)
        throw new FolderInUseError(
          dir,
          holder,
          `${dir} is in use by another run (PID ${holder.pid}, started ${holder.startedAt}); ` +
            `wait for it to finish or choose another --out (if no such run exists, delete ${path})`,
        );
      } else {
        log(
          `taking over the stale lock ${path} of PID ${holder.pid} (started ` +
            `${holder.startedAt}; that process is no longer running)`,
        );
      }
      // Remove the stale lock only if it is still the one judged stale, then race for it
      // again with createNew.
      if ((await readText(path)) === text) await Deno.remove(path).catch(() => {});
    }
    throw new Error(`cannot take the lock ${path}: other runs keep taking it`);
  }

  /** Removes the lock (if it is still this run's). Safe to call twice. */
  async release(): Promise<void> {
    if (!held.delete(this.path)) return;
    try {
      if ((await readText(this.path)) === this.content) await Deno.remove(this.path);
    } finally {
      claimed.delete(this.path);
    }
  }
}
