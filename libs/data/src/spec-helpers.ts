// Assertion helpers shared by the specs (not exported from index.ts).
import { expect } from 'vitest';
import { CifarDataError, type CifarDataErrorCode } from './errors';

/** Awaits `p`, expects it to reject with a CifarDataError of `code`, and returns that error. */
export async function expectDataError(p: Promise<unknown>, code: CifarDataErrorCode): Promise<CifarDataError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CifarDataError);
  expect((err as CifarDataError).code).toBe(code);
  return err as CifarDataError;
}

/** Runs `fn`, expects it to throw a CifarDataError of `code`, and returns that error. */
export function expectThrowsData(fn: () => unknown, code: CifarDataErrorCode): CifarDataError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CifarDataError);
  expect((caught as CifarDataError).code).toBe(code);
  return caught as CifarDataError;
}

/**
 * Byte-exact equality of two byte arrays. Use instead of toEqual for megabyte arrays: vitest's
 * deep equality walks element by element and takes minutes on 30 MB.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
