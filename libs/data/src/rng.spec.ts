import { describe, expect, it } from 'vitest';
import { createRng, createStreamRng } from './rng';
import { expectThrowsData } from './spec-helpers';

// Reference outputs from a C transcription of PractRand's sfc32 (raw32 + seed(Uint64), 12
// discarded outputs), compiled with gcc on this machine.
describe('createRng (sfc32)', () => {
  it('matches the C reference for a raw state', () => {
    const rng = createRng(0);
    rng.setState([0, 0, 0, 1]);
    expect(Array.from({ length: 6 }, () => rng.nextUint32())).toEqual([1, 2, 12, 18874399, 56669315, 2581679515]);
  });

  it('matches the C reference seeding for seeds 42, 2^32 + 7 and -1', () => {
    const r42 = createRng(42);
    expect(r42.getState()).toEqual([2526348523, 3033030979, 834219466, 13]);
    expect(Array.from({ length: 6 }, () => r42.nextUint32())).toEqual([
      1264412219, 1947509147, 3919439299, 1251167922, 656401615, 478193053,
    ]);
    const big = createRng(2 ** 32 + 7);
    expect(Array.from({ length: 4 }, () => big.nextUint32())).toEqual([3404989448, 1745631766, 2856156403, 3234381107]);
    const neg = createRng(-1);
    expect(Array.from({ length: 4 }, () => neg.nextUint32())).toEqual([3339006752, 3678934910, 3081961671, 2370706465]);
  });

  it('next() is the raw output / 2^32', () => {
    const a = createRng(42);
    expect(a.next()).toBe(1264412219 / 4294967296);
    for (let i = 0; i < 1000; i++) {
      const v = a.next();
      expect(v >= 0 && v < 1).toBe(true);
    }
  });

  it('is deterministic per seed and differs across seeds', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const sa = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c.next())).not.toEqual(sa);
  });

  it('getState / setState resume the exact stream (checkpoint round trip through JSON)', () => {
    const a = createRng(123);
    for (let i = 0; i < 17; i++) a.next();
    const saved = JSON.parse(JSON.stringify(a.getState())) as number[];
    const expected = Array.from({ length: 10 }, () => a.nextInt(1000));
    const b = createRng(999);
    b.setState(saved);
    expect(Array.from({ length: 10 }, () => b.nextInt(1000))).toEqual(expected);
  });

  it('setState rejects malformed states', () => {
    const r = createRng(1);
    expectThrowsData(() => r.setState([1, 2, 3]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => r.setState([1, 2, 3, 2 ** 32]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => r.setState([1, 2, 3, -1]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => r.setState([1, 2, 3, 0.5]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => createRng(1.5), 'E_DATA_ARGUMENT');
  });

  it('nextInt is in range, covers every value, rejects by the documented rule', () => {
    const r = createRng(5);
    const seen = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) {
      const v = r.nextInt(7);
      expect(Number.isInteger(v) && v >= 0 && v < 7).toBe(true);
      seen[v]++;
    }
    // each bucket ~1000; 5 sigma is ~150
    for (const n of seen) expect(Math.abs(n - 1000)).toBeLessThan(160);
    expect(r.nextInt(1)).toBe(0);
    // n = 3 * 2^30: outputs >= 3 * 2^30 must be rejected, so from the raw state [0,0,0,1]
    // (outputs 1, 2, 12, ...) the results are those outputs themselves
    const s = createRng(0);
    s.setState([0, 0, 0, 1]);
    expect([s.nextInt(3 * 2 ** 30), s.nextInt(3 * 2 ** 30)]).toEqual([1, 2]);
    expectThrowsData(() => r.nextInt(0), 'E_DATA_ARGUMENT');
    expectThrowsData(() => r.nextInt(2.5), 'E_DATA_ARGUMENT');
  });

  it('nextInt(n) rejects raw outputs at or above 2^32 - (2^32 mod n)', () => {
    // Raw outputs from [0,0,0,1] (C reference): 1 2 12 18874399 56669315 2581679515 3653559774
    // 1064146342 1496911795 4955899. For n = 2^31 + 1 the limit is n itself, so the 6th and 7th
    // outputs are skipped.
    const s = createRng(0);
    s.setState([0, 0, 0, 1]);
    const n = 2 ** 31 + 1;
    expect(Array.from({ length: 8 }, () => s.nextInt(n))).toEqual([
      1, 2, 12, 18874399, 56669315, 1064146342, 1496911795, 4955899,
    ]);
    // for n = 10 nothing in that run is rejected: plain residues
    const t = createRng(0);
    t.setState([0, 0, 0, 1]);
    expect(Array.from({ length: 10 }, () => t.nextInt(10))).toEqual([1, 2, 2, 9, 5, 5, 4, 2, 5, 9]);
  });

  it('streams of one seed are independent of createRng(seed)', () => {
    const base = createRng(42);
    const s1 = createStreamRng(42, 1);
    const s0 = createStreamRng(42, 0);
    expect(s0.getState()).toEqual(base.getState());
    expect(s1.nextUint32()).not.toBe(base.nextUint32());
  });
});
