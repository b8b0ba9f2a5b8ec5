/**
 * Running MetaLab's own command-line entry points from a test, as a user would: a fresh
 * Deno process on the script, in the project root, without colours.
 * @module
 */

/** What a finished command gave back. */
export interface CliResult {
  /** Its exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** Both, standard output first (what a person reads in a terminal, near enough). */
  text: string;
}

const ROOT = new URL("../..", import.meta.url).pathname;

/**
 * Runs `deno run --allow-all SCRIPT ARGS…` (SCRIPT relative to the project root) and returns
 * its exit code and output; `env` adds to the environment.
 *
 * @example
 * ```ts
 * const r = await runCli("lib/cli/reproduce.ts", ["--list"]);
 * assert.equal(r.code, 0, r.text);
 * ```
 */
export async function runCli(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  const stdout = decode(out.stdout);
  const stderr = decode(out.stderr);
  return { code: out.code, stdout, stderr, text: stdout + stderr };
}
