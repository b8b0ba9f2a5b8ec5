/**
 * FNV-1a (32-bit): a cheap checksum that catches truncated files and flipped bits in
 * caches and weight files (not a cryptographic hash; downloads use sha256).
 * @module
 */

/** FNV-1a 32-bit hash of `bytes`. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
