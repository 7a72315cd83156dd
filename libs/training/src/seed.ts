/**
 * Mixes integers into one 32-bit seed (MurmurHash3's fmix32 finaliser applied per word), so that
 * every (seed, phase, epoch, step) gets its own independent-looking stream.
 */
export function mixSeed(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const word of words) {
    h = Math.imul(h ^ (word >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
