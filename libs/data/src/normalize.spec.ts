import { describe, expect, it } from 'vitest';
import { IMAGE_BYTES } from './layout';
import { CIFAR10_MEAN, CIFAR10_STD, normalizeImages } from './normalize';
import { expectThrowsData } from './spec-helpers';

describe('normalizeImages', () => {
  it('computes (x - mean[c]) / std[c] per channel, as float32', () => {
    const img = new Uint8Array(2 * IMAGE_BYTES);
    img.set([0, 255, 128, 10, 20, 30]);
    img[IMAGE_BYTES + 5] = 200;
    const out = normalizeImages(img, 2);
    expect(out).toBeInstanceOf(Float32Array);
    expect(out).toHaveLength(2 * IMAGE_BYTES);
    expect(out[0]).toBe(Math.fround(-125.3069 / 62.9932));
    expect(out[1]).toBe(Math.fround((255 - 122.9504) / 62.0887));
    expect(out[2]).toBe(Math.fround((128 - 113.8654) / 66.7049));
    expect(out[3]).toBe(Math.fround((10 - 125.3069) / 62.9932));
    expect(out[5]).toBe(Math.fround((30 - 113.8654) / 66.7049));
    expect(out[IMAGE_BYTES + 5]).toBe(Math.fround((200 - 113.8654) / 66.7049));
    expect(out[IMAGE_BYTES + 3]).toBe(Math.fround(-125.3069 / 62.9932));
    expect(out[0]).toBeCloseTo(-1.98922, 4);
  });

  it('writes into a given buffer (a view of its first count * 3072 values) the values a fresh array gets, and refuses a short one', () => {
    const img = new Uint8Array(2 * IMAGE_BYTES).map((_, i) => (i * 29) % 256);
    const scratch = new Float32Array(3 * IMAGE_BYTES).fill(Number.NaN);
    const got = normalizeImages(img, 2, scratch);
    expect(got.buffer).toBe(scratch.buffer);
    expect(got).toHaveLength(2 * IMAGE_BYTES);
    expect(Array.from(got)).toEqual(Array.from(normalizeImages(img, 2)));
    expect(Number.isNaN(scratch[2 * IMAGE_BYTES])).toBe(true);
    expectThrowsData(() => normalizeImages(img, 2, new Float32Array(IMAGE_BYTES)), 'E_DATA_ARGUMENT');
  });

  it('exposes the README figures', () => {
    expect(CIFAR10_MEAN).toEqual([125.3069, 122.9504, 113.8654]);
    expect(CIFAR10_STD).toEqual([62.9932, 62.0887, 66.7049]);
    expect(Object.isFrozen(CIFAR10_MEAN)).toBe(true);
  });

  it('throws on a wrong length', () => {
    expectThrowsData(() => normalizeImages(new Uint8Array(IMAGE_BYTES + 1), 1), 'E_DATA_ARGUMENT');
    expectThrowsData(() => normalizeImages(new Uint8Array(IMAGE_BYTES), 2), 'E_DATA_ARGUMENT');
    expect(normalizeImages(new Uint8Array(0), 0)).toHaveLength(0);
  });
});
