/**
 * Test helpers: numeric closeness and tensor-leak checks (used with `node:assert/strict`), the
 * notebooks' equation-equals-library checks, and
 * running the command-line entry points as a user would.
 * @module
 */
export { assertAllClose, assertNoTensorLeak } from "./assert.ts";
export type { CloseOptions, Numeric } from "./assert.ts";
export { type CliResult, runCli } from "./cli.ts";
export { type EquationCheck, EquationChecks } from "./equations.ts";
