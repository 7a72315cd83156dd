import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_BYTES, loadCifar10, type ImageSet } from '@cifar-dist/data';
import { CliError } from './errors.js';
import { decodeImageRgb32, readImagesRgb32 } from './image-input.js';
import { makeTempDir, recordOf, removeDir, SHARED_DATA_DIR, writeRecordImage } from './spec-helpers.js';

let dir: string;
let test: ImageSet;

beforeAll(async () => {
  dir = await makeTempDir();
  test = await loadCifar10(SHARED_DATA_DIR, 'test', { limit: 3 });
});
afterAll(() => removeDir(dir));

/** Mean absolute difference of two byte arrays of equal length. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

describe('readImagesRgb32', () => {
  it('returns the exact bytes of a 32x32 PNG made from CIFAR records, in file order', async () => {
    const files = [0, 1].map((i) => path.join(dir, `exact-${i}.png`));
    await writeRecordImage(recordOf(test.images, 0), files[0] as string);
    await writeRecordImage(recordOf(test.images, 1), files[1] as string);
    const batch = await readImagesRgb32(files);
    expect(Buffer.from(batch).equals(Buffer.from(test.images.subarray(0, 2 * IMAGE_BYTES)))).toBe(true);
  });

  it('resizes other sizes (PNG 64x64, PNG 100x80, JPEG 48x48) back to a close copy of the record', async () => {
    const record = recordOf(test.images, 2);
    const other = recordOf(test.images, 0);
    for (const [name, size] of [['up64.png', { w: 64, h: 64 }], ['up100x80.png', { w: 100, h: 80 }], ['up48.jpg', { w: 48, h: 48 }]] as const) {
      const file = path.join(dir, name);
      await writeRecordImage(record, file, size);
      const got = await readImagesRgb32([file]);
      expect(got.length).toBe(IMAGE_BYTES);
      // Resampling twice blurs a little (measured 3.8-5.1 levels); a wrong orientation, channel
      // order or scale would be as far off as an unrelated image (~70 levels).
      expect(meanAbsDiff(got, record), name).toBeLessThan(8);
      expect(meanAbsDiff(got, other), name).toBeGreaterThan(40);
    }
  });

  it('names a missing file and a text file renamed .png', async () => {
    const missing = path.join(dir, 'nope.png');
    await expect(readImagesRgb32([missing])).rejects.toThrow(`cannot read image ${missing}: no such file`);
    const text = path.join(dir, 'notes.png');
    await writeFile(text, 'not an image at all\n');
    const err = await readImagesRgb32([text]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe('E_CLI_IMAGE');
    expect((err as CliError).message).toContain(`${text} is not a decodable image`);
  });

  it('decodeImageRgb32 rejects a truncated PNG, naming the label', async () => {
    const file = path.join(dir, 'whole.png');
    await writeRecordImage(recordOf(test.images, 0), file);
    const bytes = await readFile(file);
    await expect(decodeImageRgb32(bytes.subarray(0, 40), 'cut.png')).rejects.toThrow(/^cut\.png is not a decodable image/);
  });
});
