/**
 * Test helpers: numeric closeness and tensor-leak checks (used with `node:assert/strict`).
 * @module
 */
export { assertAllClose, assertNoTensorLeak } from "./assert.ts";
export type { CloseOptions, Numeric } from "./assert.ts";
