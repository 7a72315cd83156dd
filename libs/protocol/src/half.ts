/*
 * 16-bit gradients on the wire (`--grad-dtype float16|bfloat16`): the worker encodes its float32
 * gradient, the coordinator decodes while it averages, in float32. Weights stay float32.
 *
 * float16 is IEEE 754 binary16 (5 exponent bits, 10 mantissa bits, largest finite 65504). To keep
 * a healthy gradient from overflowing (or vanishing into binary16's subnormals), the values are
 * encoded in blocks of HALF_BLOCK, each divided by its own power-of-two scale chosen so that the
 * block's largest magnitude lands in [2^14, 2^15]: a block-floating-point format like the
 * per-tensor scaling of mixed-precision training (Micikevicius et al. 2018, "Mixed Precision
 * Training"), per block instead of per tensor. Dividing by a power of two is exact, so a value
 * v decodes to half(v / s) * s with a relative error of at most 2^-11 (round to nearest even)
 * whenever |v| >= s * 2^-14 (binary16's normal range; s * 2^-14 <= max|block| * 2^-28), and with
 * an absolute error of at most s * 2^-25 below that.
 *
 * bfloat16 is the top half of a float32 (8 exponent bits, 7 mantissa bits), rounded to nearest
 * even: the same range as float32, so no scale; relative error at most 2^-8.
 *
 * Non-finite values stay non-finite in both (NaN as a quiet NaN, ±Infinity as ±Infinity), so the
 * coordinator still rejects them.
 */

/** Wire dtypes of a gradient. */
export const GRAD_DTYPES = ['float32', 'float16', 'bfloat16'] as const;
export type GradDtype = (typeof GRAD_DTYPES)[number];

/** Values per float16 scale block. */
export const HALF_BLOCK = 1024;

/** One block of scaled values, and their bits. */
const scaled = new Float32Array(HALF_BLOCK);
const scaledBits = new Uint32Array(scaled.buffer);

/** float32 -> binary16 bits, round to nearest even; overflow -> ±Infinity, NaN -> quiet NaN. */
function toHalfBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 112; // binary16 exponent field
  if (e >= 31) return sign | 0x7c00;
  if (e >= 1) {
    const h = sign | (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    // Round to nearest, ties to even; a carry rolls into the exponent (up to Infinity) correctly.
    return h + (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1) ? 1 : 0);
  }
  // Subnormal (or zero): the 24-bit significand shifted into units of 2^-24.
  const shift = 14 - e;
  if (shift > 24) return sign;
  const m = mant | 0x800000;
  const h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (h + (rest > half || (rest === half && (h & 1) === 1) ? 1 : 0));
}

/** Every binary16 bit pattern's float32 value (256 KiB, built once). */
let halfTable: Float32Array | null = null;

/** The float32 value of each of the 65536 binary16 bit patterns. */
export function halfToFloatTable(): Float32Array {
  if (halfTable !== null) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m !== 0 ? Number.NaN : sign * Number.POSITIVE_INFINITY) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  halfTable = t;
  return t;
}

/** A gradient as 16-bit values on the wire (with float16's block scales). */
export interface EncodedGradient {
  dtype: 'float16' | 'bfloat16';
  values: Uint16Array;
  /** float16 only: the power-of-two scale of each block of HALF_BLOCK values. */
  scales?: Float32Array;
}

/**
 * Encodes a float32 gradient for the wire.
 * @param values the gradient, any length: one part, or consecutive parts of `partLength` values
 * @param out reused 16-bit output (and scales) when long enough; fresh arrays otherwise
 * @param partLength float16 blocks restart at every multiple of this (0: one part)
 * @returns the 16-bit values (length of `values`) and, for float16, ceil(partLength / HALF_BLOCK)
 *   scales per part
 */
export function encodeHalf(
  values: Float32Array,
  dtype: 'float16' | 'bfloat16',
  out?: { values?: Uint16Array; scales?: Float32Array },
  partLength = 0,
): EncodedGradient {
  const n = values.length;
  const h = out?.values && out.values.length >= n ? out.values.subarray(0, n) : new Uint16Array(n);
  if (dtype === 'bfloat16') {
    const bits = new Uint32Array(values.buffer, values.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const b = bits[i] as number;
      if ((b & 0x7fffffff) > 0x7f800000) h[i] = ((b >>> 16) & 0x8000) | 0x7fc0;
      else h[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
    return { dtype, values: h };
  }
  // Blocks restart at every part (deterministic mode sends one gradient per micro-batch).
  const part = partLength > 0 ? partLength : Math.max(1, n);
  const blocks = Math.ceil(n / part) * Math.ceil(part / HALF_BLOCK);
  const scales = out?.scales && out.scales.length >= blocks ? out.scales.subarray(0, blocks) : new Float32Array(blocks);
  let block = 0;
  for (let p = 0; p < n; p += part) {
    const partEnd = Math.min(n, p + part);
    for (let start = p; start < p + part; start += HALF_BLOCK, block++) {
      const end = Math.min(partEnd, start + HALF_BLOCK);
      let max = 0;
      for (let i = start; i < end; i++) {
        const a = Math.abs(values[i] as number);
        // The largest finite magnitude: NaN never raises it, Infinity is skipped (it stays Infinity).
        if (a > max && a !== Number.POSITIVE_INFINITY) max = a;
      }
      // 2^(ceil(log2 max) - 15): the block's largest magnitude lands in [2^14, 2^15]; never below
      // 2^-126 (a normal float32), and 1 for an all-zero block.
      const scale = max > 0 ? 2 ** Math.max(-126, Math.ceil(Math.log2(max)) - 15) : 1;
      scales[block] = scale;
      const inv = 1 / scale;
      for (let i = start; i < end; i++) scaled[i - start] = (values[i] as number) * inv;
      for (let i = start; i < end; i++) {
        const b = scaledBits[i - start] as number;
        const a = b & 0x7fffffff;
        // binary16's normal range [2^-14, 2^16): rebias the exponent and round to nearest even in
        // one add (a carry rolls into the exponent, up to Infinity); the rest takes the long way.
        h[i] = a >= 0x38800000 && a < 0x47800000 ? ((b >>> 16) & 0x8000) | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13) : toHalfBits(b);
      }
    }
  }
  return { dtype, values: h, scales };
}

/**
 * Decodes an encoded gradient into float32 (tests and tools; the coordinator decodes inside its
 * averaging pass instead).
 * @param partLength as given to encodeHalf
 * @throws RangeError when float16 scales are missing or too few
 */
export function decodeHalf(encoded: EncodedGradient, out = new Float32Array(encoded.values.length), partLength = 0): Float32Array {
  const { values } = encoded;
  if (encoded.dtype === 'bfloat16') {
    const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < values.length; i++) o[i] = (values[i] as number) << 16;
    return out;
  }
  const scales = encoded.scales;
  const part = partLength > 0 ? partLength : Math.max(1, values.length);
  const perPart = Math.ceil(part / HALF_BLOCK);
  if (scales === undefined || scales.length < Math.ceil(values.length / part) * perPart) throw new RangeError('float16 gradient without its block scales');
  const table = halfToFloatTable();
  for (let i = 0; i < values.length; i++) {
    const block = ((i / part) | 0) * perPart + (((i % part) / HALF_BLOCK) | 0);
    out[i] = (table[values[i] as number] as number) * (scales[block] as number);
  }
  return out;
}
