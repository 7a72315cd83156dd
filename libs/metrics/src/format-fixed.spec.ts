import { describe, expect, it } from 'vitest';
import { formatFixed } from './format-fixed.js';

describe('formatFixed (Python format(x, ".Nf"))', () => {
  it('rounds exact ties half to even, where toFixed rounds half up', () => {
    expect((0.125).toFixed(2)).toBe('0.13'); // the JS behaviour this function exists to avoid
    expect(formatFixed(0.125, 2)).toBe('0.12');
    expect(formatFixed(0.375, 2)).toBe('0.38');
    expect(formatFixed(2.5, 0)).toBe('2');
    expect(formatFixed(3.5, 0)).toBe('4');
    expect(formatFixed(0.5, 0)).toBe('0');
  });

  it('matches Python for every k/16, k = 0..32, at 0..3 decimals', () => {
    // Produced by python3: ' '.join(format(k/16, '.%df' % d) for k in range(33)).
    const python = [
      '0 0 0 0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2',
      '0.0 0.1 0.1 0.2 0.2 0.3 0.4 0.4 0.5 0.6 0.6 0.7 0.8 0.8 0.9 0.9 1.0 1.1 1.1 1.2 1.2 1.3 1.4 1.4 1.5 1.6 1.6 1.7 1.8 1.8 1.9 1.9 2.0',
      '0.00 0.06 0.12 0.19 0.25 0.31 0.38 0.44 0.50 0.56 0.62 0.69 0.75 0.81 0.88 0.94 1.00 1.06 1.12 1.19 1.25 1.31 1.38 1.44 1.50 1.56 1.62 1.69 1.75 1.81 1.88 1.94 2.00',
      '0.000 0.062 0.125 0.188 0.250 0.312 0.375 0.438 0.500 0.562 0.625 0.688 0.750 0.812 0.875 0.938 1.000 1.062 1.125 1.188 1.250 1.312 1.375 1.438 1.500 1.562 1.625 1.688 1.750 1.812 1.875 1.938 2.000',
    ];
    python.forEach((expected, digits) => {
      const ours = Array.from({ length: 33 }, (_, k) => formatFixed(k / 16, digits)).join(' ');
      expect(ours).toBe(expected);
    });
  });

  it('rounds non-ties by the exact binary value, like Python', () => {
    expect(formatFixed(1.005, 2)).toBe('1.00'); // 1.005 is 1.00499999999999989...
    expect(formatFixed(2.675, 2)).toBe('2.67');
    expect(formatFixed(2 / 3, 4)).toBe('0.6667');
    expect(formatFixed(0.6858973166951154, 4)).toBe('0.6859');
  });

  it('writes signs, non-finite values and huge values as Python does', () => {
    expect(formatFixed(-0, 2)).toBe('-0.00');
    expect(formatFixed(-0.125, 2)).toBe('-0.12');
    expect(formatFixed(NaN, 2)).toBe('nan');
    expect(formatFixed(Infinity, 2)).toBe('inf');
    expect(formatFixed(-Infinity, 2)).toBe('-inf');
    expect(formatFixed(1e21, 2)).toBe('1000000000000000000000.00');
  });
});
