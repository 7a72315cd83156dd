import { expect } from 'vitest';
import { MetricsError } from './errors.js';

/** Runs `fn`, expecting it to throw a MetricsError; returns that error's code. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MetricsError);
    return (err as MetricsError).code;
  }
  throw new Error('expected a MetricsError, nothing was thrown');
}
