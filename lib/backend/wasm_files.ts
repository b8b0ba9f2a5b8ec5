/**
 * Finds the tfjs wasm binaries on disk, so the wasm backend loads offline from the npm
 * package whatever the working directory (repo root, notebooks/, tests/).
 * @module
 */
import { version_wasm } from "@tensorflow/tfjs-backend-wasm";

const PACKAGE = "@tensorflow/tfjs-backend-wasm";
const PROBE_FILE = "tfjs-backend-wasm-simd.wasm";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Candidate `dist/` folders, most specific first. */
function candidates(): string[] {
  const out: string[] = [];
  const add = (dir: string) => out.push(dir.endsWith("/") ? dir : dir + "/");
  // 1. node_modules beside the repo root, found from this module's own location (two levels
  //    up from lib/backend/), so it works from any working directory.
  if (import.meta.url.startsWith("file:")) {
    const root = new URL("../../", import.meta.url);
    add(new URL(`node_modules/${PACKAGE}/dist/`, root).pathname);
    add(
      new URL(
        `node_modules/.deno/@tensorflow+tfjs-backend-wasm@${version_wasm}/node_modules/${PACKAGE}/dist/`,
        root,
      ).pathname,
    );
  }
  // 2. node_modules under the current directory and its parents.
  let dir = Deno.cwd();
  for (let i = 0; i < 6; i++) {
    add(`${dir}/node_modules/${PACKAGE}/dist/`);
    const parent = dir.replace(/\/[^/]*$/, "");
    if (!parent || parent === dir) break;
    dir = parent;
  }
  // 3. Deno's global npm cache (when nodeModulesDir is off).
  const denoDir = Deno.env.get("DENO_DIR") ??
    (Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? ""}/.cache`) + "/deno";
  add(`${denoDir}/npm/registry.npmjs.org/${PACKAGE}/${version_wasm}/dist/`);
  return out;
}

/**
 * The `file://` URL of the folder holding the tfjs wasm binaries (with a trailing slash).
 * Throws, listing the places it looked, when none holds them.
 */
export function wasmBinaryDir(): string {
  let env: string | undefined;
  try {
    env = Deno.env.get("METALAB_WASM_DIR");
  } catch {
    env = undefined; // no --allow-env: fall through to the usual places
  }
  const tried = env ? [env.endsWith("/") ? env : env + "/", ...candidates()] : candidates();
  for (const dir of tried) {
    if (exists(dir + PROBE_FILE)) return new URL(`file://${dir}`).href;
  }
  throw new Error(
    `tfjs wasm binaries (${PROBE_FILE}) not found; looked in:\n  ${tried.join("\n  ")}\n` +
      `Run any deno task once online so Deno installs ${PACKAGE}@${version_wasm}, ` +
      `or set METALAB_WASM_DIR to its dist/ folder.`,
  );
}

/** The files of tfjs's threaded-SIMD build, as `file://` URLs. */
export interface WasmThreadedFiles {
  /** The Emscripten glue (`wasm-out/tfjs-backend-wasm-threaded-simd.js`, beside `dist/`). */
  glue: string;
  /** The binary (`dist/tfjs-backend-wasm-threaded-simd.wasm`). */
  wasm: string;
}

/**
 * Finds the threaded-SIMD build's glue and binary in the package folder
 * {@linkcode wasmBinaryDir} found. Throws, naming the missing file, when either is absent.
 */
export function wasmThreadedFiles(): WasmThreadedFiles {
  const dist = wasmBinaryDir();
  const files = {
    glue: new URL("../wasm-out/tfjs-backend-wasm-threaded-simd.js", dist).href,
    wasm: new URL("tfjs-backend-wasm-threaded-simd.wasm", dist).href,
  };
  for (const url of Object.values(files)) {
    if (!exists(new URL(url).pathname)) {
      throw new Error(`tfjs threaded wasm build incomplete: ${new URL(url).pathname} not found`);
    }
  }
  return files;
}
