/**
 * Seeded randomness: one seed reproduces a run exactly on a backend.
 * @module
 */
export { Rng } from "./rng.ts";
