/**
 * File helpers every layer uses: atomic writes and a cheap checksum.
 * @module
 */
export { atomicWrite, dirname } from "./atomic.ts";
export { fnv1a } from "./checksum.ts";
