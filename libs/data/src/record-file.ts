import { CifarDataError } from './errors';

/**
 * Checks that a record file's byte length is a whole, non-zero number of records (and exactly
 * `expectedRecords` when given) and returns the record count.
 *
 * @throws CifarDataError E_DATA_SIZE when the length is not a multiple of `recordBytes`,
 *   E_DATA_TRUNCATED when the file is empty or holds fewer/more records than `expectedRecords`.
 */
export function countRecords(
  byteLength: number,
  recordBytes: number,
  file: string,
  expectedRecords?: number | null,
): number {
  if (byteLength % recordBytes !== 0) {
    const whole = Math.floor(byteLength / recordBytes);
    throw new CifarDataError(
      'E_DATA_SIZE',
      `${file}: size ${byteLength} bytes is not a whole number of ${recordBytes}-byte records ` +
        `(${whole} whole records, then ${byteLength - whole * recordBytes} stray bytes at byte offset ${whole * recordBytes})`,
      { file, offset: whole * recordBytes, record: whole },
    );
  }
  const count = byteLength / recordBytes;
  if (count === 0) {
    throw new CifarDataError('E_DATA_TRUNCATED', `${file}: file is empty (0 records)`, { file, offset: 0, record: 0 });
  }
  if (expectedRecords !== undefined && expectedRecords !== null && count !== expectedRecords) {
    throw new CifarDataError(
      'E_DATA_TRUNCATED',
      `${file}: holds ${count} records (${byteLength} bytes) but must hold exactly ${expectedRecords} ` +
        `(${expectedRecords * recordBytes} bytes); the data ends at byte offset ${byteLength}, record ${count}`,
      { file, offset: byteLength, record: count },
    );
  }
  return count;
}

/**
 * Parses a class-name file (`batches.meta.txt`, `fine_label_names.txt`, `coarse_label_names.txt`):
 * one name per line; surrounding whitespace and blank lines are ignored (the official files end
 * with blank lines and some lines carry trailing spaces).
 *
 * @throws CifarDataError E_DATA_NAMES when the file does not hold exactly `expected` distinct names.
 */
export function parseClassNames(text: string, expected: number, file: string): string[] {
  const names = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (names.length !== expected) {
    throw new CifarDataError(
      'E_DATA_NAMES',
      `${file}: expected ${expected} class names (one per line), found ${names.length}`,
      { file },
    );
  }
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (seen.has(name)) {
      throw new CifarDataError('E_DATA_NAMES', `${file}: class name '${name}' appears twice (name ${i})`, { file, record: i });
    }
    seen.add(name);
  }
  return names;
}

/** Checks a `limit` option: undefined (no limit) or a positive integer. */
export function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new CifarDataError('E_DATA_ARGUMENT', `limit must be a positive integer, got ${String(limit)}`);
  }
}
