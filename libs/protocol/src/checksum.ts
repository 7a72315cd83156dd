import { crc32 } from 'node:zlib';

/** CRC-32 (zlib's polynomial) of the raw bytes of a weight vector: equal iff bit-identical (w.h.p.). */
export function weightsCrc(weights: Float32Array): number {
  return crc32(new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength)) >>> 0;
}
