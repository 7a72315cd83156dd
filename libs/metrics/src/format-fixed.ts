/**
 * `x` with exactly `digits` decimals, byte-identical to Python's `format(x, f'.{digits}f')`.
 *
 * Why not plain `toFixed`: both round the exact binary value correctly, but on an exact tie
 * (e.g. 0.125 → 2 decimals) JavaScript rounds half up ("0.13") while Python rounds half to even
 * ("0.12"). scikit-learn's text report is produced by Python, so ties are settled here the
 * Python way. Also like Python: NaN → 'nan', ±Infinity → 'inf' / '-inf', -0 → '-0.00…', and no
 * exponent notation for |x| ≥ 1e21.
 *
 * @param digits integer in [0, 100] (toFixed's range)
 */
export function formatFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const a = Math.abs(x);

  if (a >= 1e21) {
    // Every double this large is an integer; BigInt gives its exact decimal digits.
    return sign + BigInt(a).toString() + (digits > 0 ? '.' + '0'.repeat(digits) : '');
  }

  // a·10^d is a tie (….5 exactly) iff a = j / 2^(d+1) with j odd: only dyadic values can tie.
  const j = a * 2 ** (digits + 1); // exact: scaling by a power of two
  if (Number.isInteger(j) && !Number.isInteger(a * 2 ** digits)) {
    const twice = BigInt(j) * 5n ** BigInt(digits); // = 2·a·10^d, an odd integer
    const below = (twice - 1n) / 2n;
    const rounded = below % 2n === 0n ? below : below + 1n; // half to even
    return sign + insertPoint(rounded.toString(), digits);
  }
  return sign + a.toFixed(digits);
}

/** Places a decimal point `digits` places from the right of the integer string `intDigits`. */
function insertPoint(intDigits: string, digits: number): string {
  if (digits === 0) return intDigits;
  const padded = intDigits.padStart(digits + 1, '0');
  return padded.slice(0, padded.length - digits) + '.' + padded.slice(padded.length - digits);
}
