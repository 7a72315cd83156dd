import { describe, expect, it } from 'vitest';
import { DURATION_RULE, durationHelp, formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';

describe('parseDuration: one unit rule for every duration option', () => {
  it.each([
    ['500ms', 's', 500],
    ['30s', 'ms', 30_000],
    ['2m', 's', 120_000],
    ['1h', 's', 3_600_000],
    ['1m30s', 'ms', 90_000],
    ['1h2m3s4ms', 's', 3_723_004],
    ['1.5s', 's', 1_500],
    ['.5m', 's', 30_000],
    ['0.4ms', 's', 0] as const,
    [' 45s ', 's', 45_000],
    // a bare number is the option's own unit (its unit before suffixes existed)
    ['30000', 'ms', 30_000],
    ['300', 's', 300_000],
    ['2.5', 's', 2_500],
    ['90', 'm', 5_400_000],
  ] as const)('%s (bare unit %s) -> %i ms', (text, bare, ms) => {
    if (ms === 0) expect(() => parseDuration(text, bare)).toThrow(`'${text}' is shorter than 1 ms: give a positive duration (a duration: 500ms, 30s, 2m, 1h or 1m30s; a bare number is seconds)`);
    else expect(parseDuration(text, bare)).toBe(ms);
  });

  it.each(['', '30x', '30 s', '-5s', 's', '1m30', '2d', '1e3s', 'ms', '5sec', '0x10'])('refuses %j with the rule', (text) => {
    expect(() => parseDuration(text, 'ms')).toThrow(`'${text}' is not a duration (a duration: 500ms, 30s, 2m, 1h or 1m30s; a bare number is milliseconds)`);
  });

  it('refuses zero and durations past what a Node.js timer holds (they would fire at once)', () => {
    expect(() => parseDuration('0', 's')).toThrow(/'0' is shorter than 1 ms/);
    expect(() => parseDuration('0s', 's')).toThrow(/'0s' is shorter than 1 ms/);
    expect(parseDuration(`${MAX_DURATION_MS}ms`, 's')).toBe(2_147_483_647);
    expect(() => parseDuration('2147483648ms', 's')).toThrow("'2147483648ms' is longer than 596h31m23s647ms (2147483647 ms), the longest timer Node.js keeps");
    expect(() => parseDuration('1000h', 's')).toThrow(/'1000h' is longer than 596h31m23s647ms/);
  });

  it('formats in the largest exact units, and reads back to the same milliseconds', () => {
    const table: Array<[number, string]> = [[120_000, '2m'], [90_000, '1m30s'], [1_500, '1s500ms'], [300_000, '5m'], [180_000, '3m'], [3_600_000, '1h'], [1, '1ms']];
    for (const [ms, text] of table) {
      expect(formatDuration(ms)).toBe(text);
      expect(parseDuration(text, 'ms')).toBe(ms);
    }
  });

  it('states the rule for the help texts', () => {
    expect(DURATION_RULE).toBe('a duration: 500ms, 30s, 2m, 1h or 1m30s');
    expect(durationHelp('s')).toBe('a duration: 500ms, 30s, 2m, 1h or 1m30s; a bare number is seconds');
    expect(durationHelp('ms')).toBe('a duration: 500ms, 30s, 2m, 1h or 1m30s; a bare number is milliseconds');
  });
});
