/**
 * The compute layer: backend choice and set-up.
 * @module
 */
export { BACKEND_NAMES, initBackend } from "./init.ts";
export type { BackendChoice, BackendInfo } from "./init.ts";
