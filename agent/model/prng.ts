/**
 * The pseudo-random numbers of spikecap: splitmix32 to seed, xoshiro128** to draw.
 *
 * SPEC.md ("The standard input") and the model generator refer to this file as the definition,
 * so the algorithms are written out exactly, 32-bit unsigned arithmetic throughout:
 *
 * splitmix32 (a 32-bit splitmix with the "lowbias32" finaliser of Chris Wellons' hash-prospector):
 *
 *     state = state + 0x9e3779b9              (mod 2^32)
 *     z = state
 *     z = (z ^ (z >>> 16)) * 0x21f0aaad       (mod 2^32)
 *     z = (z ^ (z >>> 15)) * 0x735a2d97       (mod 2^32)
 *     return z ^ (z >>> 15)
 *
 * xoshiro128** (Blackman and Vigna, https://prng.di.unimi.it/xoshiro128starstar.c), its four
 * state words s0…s3 being the first four outputs of splitmix32 started at the seed:
 *
 *     result = rotl(s1 * 5, 7) * 9            (mod 2^32)
 *     t = s1 << 9
 *     s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11)
 *     return result
 *
 * Derived draws (each documented where it is defined below): nextFloat() is the top 24 bits of
 * one nextU32() over 2^24, nextInt(n) rejects the top partial range so it is exactly uniform,
 * shuffle and partialShuffle are Fisher-Yates from the front.
 *
 * C implementations of the same (C core tests, firmware) must produce the same sequence; the
 * unit tests pin the first outputs for a few seeds.
 */

/** The splitmix32 generator: used only to turn one 32-bit seed into xoshiro's 128-bit state. */
export class SplitMix32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** xoshiro128**: a small, fast generator with a 128-bit state, good enough for simulations. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Seeds the four state words with splitmix32(seed); `seed` is taken modulo 2^32. */
  constructor(seed: number) {
    const sm = new SplitMix32(seed);
    this.s0 = sm.nextU32();
    this.s1 = sm.nextU32();
    this.s2 = sm.nextU32();
    this.s3 = sm.nextU32();
    // An all-zero state would stay zero forever. splitmix32 never gives four zeros in a row
    // (its output is a bijection of a counter), but the guard costs nothing.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniform integer in 0 … 2^32 − 1. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform number in [0, 1) with 24 random bits: (nextU32() >>> 8) / 2^24. */
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 0x1000000;
  }

  /**
   * A uniform integer in 0 … n − 1, exactly (no modulo bias), for 1 ≤ n ≤ 2^32: draws
   * nextU32() until it falls below the largest multiple of n that fits in 2^32, then takes it
   * modulo n. Consumes one draw except, rarely, when a draw is rejected.
   */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000)
      throw new RangeError(`nextInt: n must be an integer 1 … 2^32, got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Shuffles `array` in place (Fisher-Yates from the front: i = 0 … n−2 swaps with i … n−1). */
  shuffle<V>(array: MutableList<V>): void {
    this.partialShuffle(array, array.length);
  }

  /**
   * Moves a uniformly random ordered selection of `k` distinct elements of `array` to its first
   * `k` positions (the first k rounds of Fisher-Yates). The rest of `array` stays a permutation
   * of the remaining elements, so the same array can be drawn from again.
   */
  partialShuffle<V>(array: MutableList<V>, k: number): void {
    const n = array.length;
    if (!Number.isInteger(k) || k < 0 || k > n)
      throw new RangeError(`partialShuffle: k must be an integer 0 … ${n}, got ${k}`);
    for (let i = 0; i < Math.min(k, n - 1); i++) {
      const j = i + this.nextInt(n - i);
      const tmp = array[i] as V;
      array[i] = array[j] as V;
      array[j] = tmp;
    }
  }
}

/** An array or typed array. */
export interface MutableList<V> {
  readonly length: number;
  [index: number]: V;
}
