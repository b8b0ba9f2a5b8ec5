/**
 * Choosing and setting up the tfjs backend. (Initial version: the compute-layer work
 * extends this with WebGPU detection and the missing kernels and gradients.)
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

/** Backend names MetaLab knows; `auto` picks the fastest one available. */
export const BACKEND_NAMES = ["auto", "webgpu", "wasm", "cpu"] as const;
/** A backend choice. */
export type BackendChoice = typeof BACKEND_NAMES[number];

/** What {@linkcode initBackend} set up. */
export interface BackendInfo {
  /** The active tfjs backend name. */
  name: string;
  /** tfjs version. */
  tfjsVersion: string;
}

/** Sets up and activates a backend (default `auto`). */
export async function initBackend(choice: string = "auto"): Promise<BackendInfo> {
  if (!(BACKEND_NAMES as readonly string[]).includes(choice)) {
    throw new Error(
      `unknown backend "${choice}": choose one of ${BACKEND_NAMES.join(", ")}`,
    );
  }
  const name = choice === "auto" ? "wasm" : choice;
  if (name === "wasm") {
    setWasmPaths(
      new URL("../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url).href,
    );
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend "${name}" failed to initialise`);
  await tf.ready();
  return { name: tf.getBackend(), tfjsVersion: tf.version.tfjs };
}
