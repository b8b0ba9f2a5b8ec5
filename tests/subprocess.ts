/**
 * Test helper: runs a module body in a fresh `deno eval` process, for what is decided once per
 * process (the backend's threads, which native library loaded, what the environment held).
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** What a {@linkcode runDeno} process left. */
export interface DenoRun {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `code` in the repository root with `env` added to this process's environment (or, with
 * `clearEnv`, as the whole environment); fails after two minutes instead of hanging (a pthread
 * worker that kept the process alive would).
 */
export async function runDeno(
  code: string,
  env: Record<string, string> = {},
  { clearEnv = false } = {},
): Promise<DenoRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    cwd: ROOT.pathname,
    env,
    clearEnv,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  return {
    code: out.code,
    signal: out.signal,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** {@linkcode runDeno}, asserting exit 0, and its last stdout line parsed as JSON. */
export async function runDenoJson(
  code: string,
  env: Record<string, string> = {},
  options: { clearEnv?: boolean } = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const out = await runDeno(code, env, options);
  assert.equal(out.code, 0, `exit ${out.code}; stderr:\n${out.stderr}`);
  return JSON.parse(out.stdout.trim().split("\n").at(-1)!);
}
