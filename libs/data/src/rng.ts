import { argumentError } from './errors';

/**
 * A small seedable PRNG whose whole state can be saved in a checkpoint and restored.
 * `next()` is uniform in [0, 1) with 32 random bits; `nextInt(n)` is uniform on 0..n-1 without
 * modulo bias.
 */
export interface Rng {
  next(): number;
  nextInt(n: number): number;
  /** The full state as plain numbers (JSON-safe); feed back to setState to continue the same stream. */
  getState(): number[];
  setState(s: number[]): void;
}

/** The generator {@link createRng} returns: an {@link Rng} that also exposes its raw output. */
export interface Sfc32Rng extends Rng {
  /** The raw 32-bit output, 0..2^32-1. */
  nextUint32(): number;
  /** [a, b, c, counter], each 0..2^32-1. */
  getState(): number[];
  /** @throws CifarDataError E_DATA_ARGUMENT unless given 4 integers in 0..2^32-1 */
  setState(s: number[]): void;
}

const TWO_32 = 4294967296;

/**
 * sfc32 ("Small Fast Counting", 32-bit), Chris Doty-Humphrey's generator from the PractRand test
 * suite (public domain; pracrand.sourceforge.net, RNGs/sfc.cpp): 128-bit state (a, b, c, counter),
 * one step = tmp = a + b + counter++; a = b ^ (b >>> 9); b = c + (c << 3); c = rotl(c, 21) + tmp;
 * output tmp. Passes PractRand to terabytes; the counter guarantees a period of at least 2^32.
 * Chosen over xoshiro128** for having no multiply and no all-zero bad state.
 *
 * Seeding follows PractRand's sfc32::seed(Uint64): a = 0, b = low 32 bits of the seed,
 * c = high 32 bits, counter = 1, then 12 outputs discarded. `domain` replaces the 0 in `a` so
 * that independent streams (e.g. one per epoch) can come from one seed.
 */
class Sfc32 implements Sfc32Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(lo: number, hi: number, domain: number) {
    this.a = domain >>> 0;
    this.b = lo >>> 0;
    this.c = hi >>> 0;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextUint32() / TWO_32;
  }

  nextInt(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > TWO_32) {
      throw argumentError(`nextInt(n): n must be an integer in 1..2^32, got ${n}`);
    }
    // Rejection sampling: drop the top 2^32 mod n values so every residue is equally likely.
    const limit = TWO_32 - (TWO_32 % n);
    let u = this.nextUint32();
    while (u >= limit) u = this.nextUint32();
    return u % n;
  }

  getState(): number[] {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  setState(s: number[]): void {
    if (!Array.isArray(s) || s.length !== 4 || !s.every((v) => Number.isInteger(v) && v >= 0 && v < TWO_32)) {
      throw argumentError(`Rng state must be 4 integers in 0..2^32-1, got ${JSON.stringify(s)}`);
    }
    [this.a, this.b, this.c, this.d] = s.map((v) => v | 0);
  }
}

function splitSeed(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed)) throw argumentError(`seed must be a safe integer, got ${seed}`);
  // Two's complement over 64 bits, so negative seeds are distinct from positive ones.
  const u = BigInt.asUintN(64, BigInt(seed));
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
}

/**
 * A new sfc32 generator seeded from `seed` (any safe integer, negative included) per PractRand.
 * @throws CifarDataError E_DATA_ARGUMENT when seed is not a safe integer
 */
export function createRng(seed: number): Sfc32Rng {
  const [lo, hi] = splitSeed(seed);
  return new Sfc32(lo, hi, 0);
}

/**
 * A generator for stream `domain` (a uint32 other than 0, which is {@link createRng}'s) of
 * `seed`: same seed, different domain -> an unrelated stream.
 */
export function createStreamRng(seed: number, domain: number): Sfc32Rng {
  if (!Number.isInteger(domain) || domain < 0 || domain >= TWO_32) {
    throw argumentError(`domain must be an integer in 0..2^32-1, got ${domain}`);
  }
  const [lo, hi] = splitSeed(seed);
  return new Sfc32(lo, hi, domain);
}
