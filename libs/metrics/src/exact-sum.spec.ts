import { describe, expect, it } from 'vitest';
import { ExactSum } from './exact-sum.js';
import { mulberry32 } from './test-fixtures.js';

function fsum(values: number[]): number {
  const s = new ExactSum();
  s.addAll(values);
  return s.value();
}

describe('ExactSum', () => {
  it('matches Python math.fsum where a plain sum does not', () => {
    // Right-hand sides from python3's math.fsum (several are CPython's own test_math cases,
    // which exercise the final half-even correction across partials).
    expect(fsum([1e100, 1, -1e100])).toBe(1);
    expect(fsum(new Array<number>(10).fill(0.1))).toBe(1);
    expect(fsum([0.1, 0.2, 0.3])).toBe(0.6);
    expect(fsum([1e16, 1, 1e-16])).toBe(10000000000000002);
    expect(fsum([1e-16, 1, 1e16])).toBe(10000000000000002);
    expect(fsum([2 ** 53, -0.5, -(2 ** -54)])).toBe(2 ** 53 - 1);
    expect(fsum([2 ** 53, 1, 2 ** -100])).toBe(2 ** 53 + 2);
    expect(fsum([2 ** 53 + 10, 1, 2 ** -100])).toBe(2 ** 53 + 12);
    expect(fsum([2 ** 53 - 4, 0.5, 2 ** -54])).toBe(2 ** 53 - 3);
    expect(fsum(Array.from({ length: 1000 }, (_, i) => 1 / (i + 1)))).toBe(7.485470860550345);
    expect(fsum([])).toBe(0);
  });

  it('does not depend on the order of the values', () => {
    const rand = mulberry32(7);
    const values = Array.from({ length: 5000 }, () => Math.fround(rand() * 10 ** Math.floor(rand() * 8 - 4)));
    const forward = fsum(values);
    expect(fsum([...values].reverse())).toBe(forward);
    expect(fsum([...values].sort((a, b) => a - b))).toBe(forward);
    // A plain running sum of the same values does depend on order here.
    const plain = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(plain([...values].sort((a, b) => a - b))).not.toBe(plain([...values].sort((a, b) => b - a)));
  });

  it('merges two partial sums into the sum of the union', () => {
    const a = new ExactSum();
    const b = new ExactSum();
    a.addAll([1e100, 0.1]);
    b.addAll([-1e100, 0.2, 0.3]);
    a.merge(b);
    expect(a.value()).toBe(0.6);
  });

  it('propagates NaN and infinities like IEEE addition', () => {
    expect(fsum([1, Infinity, 2])).toBe(Infinity);
    expect(fsum([-Infinity, 1])).toBe(-Infinity);
    expect(fsum([Infinity, -Infinity])).toBeNaN();
    expect(fsum([1, NaN])).toBeNaN();
    expect(fsum([Number.MAX_VALUE, Number.MAX_VALUE])).toBe(Infinity);
  });
});
