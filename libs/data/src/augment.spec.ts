import { describe, expect, it } from 'vitest';
import { augmentBatch, cutoutBatch } from './augment';
import { IMAGE_BYTES } from './layout';
import { createRng, type Rng } from './rng';
import { expectThrowsData } from './spec-helpers';
import { patternImage, patternImages } from './test-fixtures';

/** An Rng that plays back scripted draws, to pin crop offsets and flips. */
function scripted(ints: number[], floats: number[] = []): Rng & { intsLeft: () => number } {
  let i = 0;
  let f = 0;
  return {
    next: () => floats[f++],
    nextInt: (n: number) => {
      const v = ints[i++];
      if (v >= n) throw new Error(`scripted ${v} >= ${n}`);
      return v;
    },
    getState: () => [i, f],
    setState: ([a, b]: number[]) => {
      i = a;
      f = b;
    },
    intsLeft: () => ints.length - i,
  };
}

function px(img: Uint8Array, y: number, x: number): number[] {
  const o = (y * 32 + x) * 3;
  return [img[o], img[o + 1], img[o + 2]];
}

describe('augmentBatch', () => {
  const src = patternImages(10, 3);

  it('pad 0 and flip disabled is the identity (as a new array)', () => {
    const out = augmentBatch(src, 3, createRng(1), { pad: 0, flip: false });
    expect(out).toEqual(src);
    expect(out).not.toBe(src);
  });

  it('a flip reverses x exactly', () => {
    // pad 0: offsets are nextInt(1) = 0; next() = 0.25 < 0.5 flips
    const out = augmentBatch(patternImage(7), 1, scripted([0, 0], [0.25]), { pad: 0 });
    const img = patternImage(7);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) expect(px(out, y, x)).toEqual(px(img, y, 31 - x));
    const kept = augmentBatch(patternImage(7), 1, scripted([0, 0], [0.5]), { pad: 0 });
    expect(kept).toEqual(img);
  });

  it('crop offsets shift pixels and fill zeros (pad 4, dy = 0, dx = 8)', () => {
    // offsets drawn in [0, 8]: dy index 0 -> shift -4 rows, dx index 8 -> +4 columns
    const img = patternImage(3);
    const out = augmentBatch(img, 1, scripted([0, 8]), { pad: 4, flip: false });
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const sy = y - 4;
        const sx = x + 4;
        const inside = sy >= 0 && sx < 32;
        expect(px(out, y, x)).toEqual(inside ? px(img, sy, sx) : [0, 0, 0]);
      }
    }
    // hand-checked corners: out(4,0) = img(0,4); out(0,0) and out(31,31) are padding
    expect(px(out, 4, 0)).toEqual(px(img, 0, 4));
    expect(px(out, 0, 0)).toEqual([0, 0, 0]);
    expect(px(out, 31, 31)).toEqual([0, 0, 0]);
  });

  it('crop and flip combine as documented: out(y,x) = in(y + dy - pad, 31 - x + dx - pad)', () => {
    const img = patternImage(9);
    const out = augmentBatch(img, 1, scripted([4, 1], [0.1]), { pad: 2 });
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const sy = y + 4 - 2;
        const sx = 31 - x + 1 - 2;
        const inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
        expect(px(out, y, x)).toEqual(inside ? px(img, sy, sx) : [0, 0, 0]);
      }
    }
  });

  it('draws dy, dx, flip per image in order and leaves the input untouched', () => {
    const before = src.slice();
    const rng = scripted([4, 4, 0, 0, 8, 8], [0.9, 0.9, 0.9]);
    const out = augmentBatch(src, 3, rng);
    expect(rng.intsLeft()).toBe(0);
    expect(src).toEqual(before);
    expect(out.subarray(0, IMAGE_BYTES)).toEqual(src.subarray(0, IMAGE_BYTES)); // centre crop
    expect(px(out.subarray(IMAGE_BYTES, 2 * IMAGE_BYTES), 4, 4)).toEqual(px(src.subarray(IMAGE_BYTES), 0, 0));
    expect(px(out.subarray(2 * IMAGE_BYTES), 0, 0)).toEqual(px(src.subarray(2 * IMAGE_BYTES), 4, 4));
  });

  it('is deterministic given the rng state', () => {
    const a = augmentBatch(src, 3, createRng(77));
    const b = augmentBatch(src, 3, createRng(77));
    expect(a).toEqual(b);
    const rng = createRng(77);
    rng.nextInt(9);
    expect(augmentBatch(src, 3, rng)).not.toEqual(a);
  });

  it('rejects a wrong length or pad', () => {
    expectThrowsData(() => augmentBatch(new Uint8Array(100), 1, createRng(1)), 'E_DATA_ARGUMENT');
    expectThrowsData(() => augmentBatch(src, 3, createRng(1), { pad: -1 }), 'E_DATA_ARGUMENT');
  });
});

describe('cutoutBatch', () => {
  it('fills the size x size square at the drawn centre, clipped at the border, only on chosen images', () => {
    const images = patternImages(0, 3);
    const before = images.slice();
    // image 0: centre (10, 20) -> rows 8..11, cols 18..21 (size 4, half 2); image 1 not chosen;
    // image 2: centre (0, 31) -> rows 0..1, cols 29..31 (clipped)
    const rng = scripted([10, 20, 0, 31]);
    cutoutBatch(images, 3, rng, 4, [1, 2, 3], (n) => n !== 1);
    expect(rng.intsLeft()).toBe(0);
    const img = (n: number): Uint8Array => images.subarray(n * IMAGE_BYTES, (n + 1) * IMAGE_BYTES);
    const old = (n: number): Uint8Array => before.subarray(n * IMAGE_BYTES, (n + 1) * IMAGE_BYTES);
    let filled0 = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = y >= 8 && y <= 11 && x >= 18 && x <= 21;
        expect(px(img(0), y, x)).toEqual(inside ? [1, 2, 3] : px(old(0), y, x));
        if (inside) filled0++;
        const inside2 = y <= 1 && x >= 29;
        expect(px(img(2), y, x)).toEqual(inside2 ? [1, 2, 3] : px(old(2), y, x));
      }
    }
    expect(filled0).toBe(16);
    expect(Buffer.from(img(1)).equals(Buffer.from(old(1)))).toBe(true);
  });

  it('refuses a size outside 1..32 and a wrong length', () => {
    expectThrowsData(() => cutoutBatch(new Uint8Array(IMAGE_BYTES), 1, createRng(1), 33, [0, 0, 0]), 'E_DATA_ARGUMENT');
    expectThrowsData(() => cutoutBatch(new Uint8Array(10), 1, createRng(1), 8, [0, 0, 0]), 'E_DATA_ARGUMENT');
  });
});
