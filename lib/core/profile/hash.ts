/* eslint-disable no-bitwise */ // hashing, register packing and index arithmetic are bit operations by nature
/**
 * 64-bit hashing of column values for the HyperLogLog sketch, as two 32-bit lanes (no BigInt on the hot path).
 *
 * Strings: two multiplicative lanes over the UTF-16 code units (cyrb53 construction) finished with the
 * murmur3 fmix32 avalanche on both lanes cross-mixed. Numbers: the IEEE-754 bits of the value mixed the same way,
 * with a different seed so that the number 1 and the string "1" hash apart. Booleans hash as fixed constants.
 * Quality is checked by the HLL accuracy tests (sequential integers, random strings, shared prefixes).
 */

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Result lanes of the last hash call (avoids allocating a tuple per value). */
export const hashOut = { h1: 0, h2: 0 };

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a string into {@link hashOut}. */
export function hashString(s: string): void {
  let a = 0xdeadbeef ^ s.length;
  let b = 0x41c6ce57 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    a = Math.imul(a ^ ch, 2654435761);
    b = Math.imul(b ^ ch, 1597334677);
  }
  a = fmix32(a ^ Math.imul(b, 0x9e3779b1));
  b = fmix32(b ^ Math.imul(a, 0x27d4eb2f));
  hashOut.h1 = a;
  hashOut.h2 = b;
}

/** Hashes a finite number (by its float64 bits; -0 and 0 hash alike) into {@link hashOut}. */
export function hashNumber(x: number): void {
  f64[0] = x === 0 ? 0 : x;
  hashNumberWords(u32[0], u32[1]);
}

/**
 * Hashes a number given as the two 32-bit words of its float64 bits (little-endian order: low word first, as a
 * Uint32Array view of a Float64Array reads them) into {@link hashOut}; -0 must be passed as 0 (hi word 0).
 * For callers that already hold numbers in a Float64Array (the profiler's number batches).
 */
export function hashNumberWords(lo: number, hi: number): void {
  const a = fmix32(lo ^ 0x9747b28c ^ Math.imul(fmix32(hi ^ 0x5bd1e995), 0x9e3779b1));
  const b = fmix32(hi ^ 0x1b873593 ^ Math.imul(a, 0xcc9e2d51));
  hashOut.h1 = a;
  hashOut.h2 = b;
}

/** Hashes a boolean into {@link hashOut}. */
export function hashBoolean(x: boolean): void {
  hashOut.h1 = x ? 0x6a09e667 : 0xbb67ae85;
  hashOut.h2 = x ? 0x3c6ef372 : 0xa54ff53a;
}

/**
 * Small seedable PRNG (xorshift32). Used for the KLL coin flips (reproducible runs) and by the tests and benchmark
 * as a cheap deterministic generator.
 */
export class XorShift32 {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x9e3779b9;
  }
  /** Next unsigned 32-bit value. */
  nextU32(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s >>> 0;
    return this.s;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}
