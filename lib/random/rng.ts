/**
 * Seeded pseudo-random numbers. Every sampler and initialiser in MetaLab takes an
 * {@linkcode Rng}, so one seed reproduces a whole run exactly on a given backend.
 *
 * The generator is sfc32 (Small Fast Counter, from PractRand): 128 bits of state,
 * passes BigCrush, and is fast in pure JS because it only uses 32-bit integer ops.
 * @module
 */

/** Mixes a 32-bit seed into a well-spread 32-bit word (splitmix32). */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

/**
 * A seeded random number generator.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = new Rng(42);
 * const u = rng.uniform(-5, 5); // same value on every run for seed 42
 * const picks = rng.choose(10, 3); // 3 distinct integers in [0, 10)
 * ```
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | null = null;

  /** Creates a generator from an integer seed (any safe integer). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Rng seed must be a safe integer, got ${seed}`);
    }
    // Fold the high bits in too, so seeds above 2^32 are distinct.
    let s = (seed | 0) ^ Math.floor(seed / 0x100000000);
    let v: number;
    [s, v] = splitmix32(s);
    this.#a = v;
    [s, v] = splitmix32(s);
    this.#b = v;
    [s, v] = splitmix32(s);
    this.#c = v;
    [s, v] = splitmix32(s);
    this.#d = v;
    // Warm up so that nearby seeds decorrelate.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float uniform in [0, 1) with 53 bits of precision. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A float uniform in [low, high). */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.next();
  }

  /** An integer uniform in [0, n). Unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) {
      throw new RangeError(`Rng.int expects an integer n in [1, 2^32], got ${n}`);
    }
    const limit = 0x100000000 - (0x100000000 % n);
    let x: number;
    do x = this.nextUint32(); while (x >= limit);
    return x % n;
  }

  /** A standard normal sample (Box–Muller, caching the second value). */
  normal(mean = 0, std = 1): number {
    if (this.#spare !== null) {
      const z = this.#spare;
      this.#spare = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** `k` distinct integers from [0, n), in random order. */
  choose(n: number, k: number): number[] {
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new RangeError(`Rng.choose: cannot pick ${k} distinct items from ${n}`);
    }
    // Partial Fisher–Yates over a sparse map: O(k) time and memory.
    const swapped = new Map<number, number>();
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const vi = swapped.get(i) ?? i;
      const vj = swapped.get(j) ?? j;
      out.push(vj);
      swapped.set(j, vi);
    }
    return out;
  }

  /** A fresh integer seed, e.g. for `tf.randomNormal(shape, 0, 1, "float32", seed)`. */
  seed(): number {
    return this.nextUint32();
  }

  /** A new independent generator derived from this one (for sub-streams). */
  fork(): Rng {
    return new Rng(this.nextUint32() * 0x200000 + (this.nextUint32() >>> 11));
  }

  /** Fills a new Float32Array with normal samples. */
  normalArray(size: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Fills a new Float32Array with uniform samples in [low, high). */
  uniformArray(size: number, low = 0, high = 1): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = this.uniform(low, high);
    return out;
  }
}
