/**
 * Where a number came from: the machine a run ran on and the project's git commit, written
 * into every results file and saved model so that a number can be traced back.
 * @module
 */

/** The machine of a run. */
export interface MachineInfo {
  /** Logical cores. */
  cores: number;
  /** The processor's model name, when the OS tells it. */
  cpu: string | null;
  /** Total memory in GiB, when known. */
  memoryGiB: number | null;
  /** Operating system and architecture, e.g. `linux x86_64`. */
  os: string;
}

/** This machine. */
export function machineInfo(): MachineInfo {
  let cpu: string | null = null;
  try {
    const text = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(text)?.[1].trim() ?? null;
  } catch {
    // not Linux, or not readable: left unknown
  }
  let memoryGiB: number | null = null;
  try {
    memoryGiB = Math.round(Deno.systemMemoryInfo().total / 2 ** 30);
  } catch {
    // not permitted: left unknown
  }
  return {
    cores: navigator.hardwareConcurrency,
    cpu,
    memoryGiB,
    os: `${Deno.build.os} ${Deno.build.arch}`,
  };
}

let commit: string | null | undefined;

/**
 * The git commit of the working tree MetaLab runs from, with `-dirty` when tracked files
 * have uncommitted changes (the number then is not exactly that commit's); null when it is
 * not a git checkout or git is missing. Asked once per process.
 */
export function gitCommit(): string | null {
  if (commit !== undefined) return commit;
  const cwd = new URL("../..", import.meta.url).pathname;
  const git = (...args: string[]) => {
    const out = new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  };
  try {
    const head = git("rev-parse", "HEAD");
    const dirty = head === null ? null : git("status", "--porcelain", "--untracked-files=no");
    commit = head === null ? null : `${head}${dirty ? "-dirty" : ""}`;
  } catch {
    commit = null; // no git here
  }
  return commit;
}
