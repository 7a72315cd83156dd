import { describe, expect, it } from 'vitest';
import { IMAGE_BYTES, nhwcToPlanar, planarToNhwc } from './layout';

describe('planarToNhwc', () => {
  it('interleaves three different planes byte-exactly', () => {
    // R = p mod 256, G = 255 - (p mod 256), B = p >> 2, written straight in the file layout.
    const planar = new Uint8Array(5 + IMAGE_BYTES);
    for (let p = 0; p < 1024; p++) {
      planar[5 + p] = p & 255;
      planar[5 + 1024 + p] = 255 - (p & 255);
      planar[5 + 2048 + p] = p >> 2;
    }
    const nhwc = new Uint8Array(2 * IMAGE_BYTES);
    planarToNhwc(planar, 5, nhwc, IMAGE_BYTES);
    expect(nhwc.subarray(0, IMAGE_BYTES).every((v) => v === 0)).toBe(true);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const p = y * 32 + x;
        const o = IMAGE_BYTES + p * 3;
        expect([nhwc[o], nhwc[o + 1], nhwc[o + 2]]).toEqual([p & 255, 255 - (p & 255), p >> 2]);
      }
    }
    // Spot checks written out by hand: pixel (0,1), (1,0) = p 32, (31,31) = p 1023.
    expect(Array.from(nhwc.subarray(IMAGE_BYTES, IMAGE_BYTES + 6))).toEqual([0, 255, 0, 1, 254, 0]);
    expect(Array.from(nhwc.subarray(IMAGE_BYTES + 32 * 3, IMAGE_BYTES + 33 * 3))).toEqual([32, 223, 8]);
    expect(Array.from(nhwc.subarray(2 * IMAGE_BYTES - 3))).toEqual([255, 0, 255]);
  });

  it('nhwcToPlanar inverts it', () => {
    const planar = new Uint8Array(IMAGE_BYTES);
    for (let i = 0; i < IMAGE_BYTES; i++) planar[i] = (i * 31 + 7) & 255;
    const nhwc = new Uint8Array(IMAGE_BYTES);
    planarToNhwc(planar, 0, nhwc, 0);
    const back = new Uint8Array(IMAGE_BYTES);
    nhwcToPlanar(nhwc, 0, back, 0);
    expect(back).toEqual(planar);
  });
});
