import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_BYTES, loadCifar10, type ImageSet } from '@cifar-dist/data';
import { CliError } from './errors.js';
import {
  CMYK_QUADRANTS,
  decoderCases,
  encodeBmp24,
  encodePng,
  maxQuadrantError,
  over,
  quadrantCentres,
  quadrantRgb,
  quadrantSamples,
  QUADRANTS,
  withExifOrientation,
  type Rgb,
} from './image-fixtures.js';
import { decodeImageRgb32, FORMATS_READ, MAX_INPUT_PIXELS, readImages, readImagesRgb32 } from './image-input.js';
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

// Issue 14, item 1: whatever libpng/libjpeg-based tools open, predict opens. The files are built
// here (image-fixtures.ts writes the PNGs and BMPs byte by byte; JPEG, WebP, GIF and TIFF come
// from sharp's encoders, i.e. libjpeg-turbo, libwebp, cgif, libtiff).

/** A 32x32 record as interleaved RGB samples scaled by `scale` (257 maps 8-bit to 16-bit exactly). */
function samplesOf(record: Uint8Array, scale = 1): number[] {
  return Array.from(record, (v) => v * scale);
}

/** The largest per-channel difference between two records. */
function maxAbsDiff(a: Uint8Array, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/** Decodes `bytes`, failing the test with the decoder's message if it refuses them. */
async function decode(bytes: Buffer, label = 'case', onWarning?: (m: string) => void): Promise<Uint8Array> {
  const got = await decodeImageRgb32(bytes, label, onWarning);
  expect(got.length).toBe(IMAGE_BYTES);
  return got;
}

/** The offset of the first JPEG marker `code` (0xFFxx), or -1. */
function jpegMarker(jpeg: Buffer, code: number): number {
  return jpeg.indexOf(Buffer.from([0xff, code]));
}

describe('decodeImageRgb32: PNGs that libpng reads', () => {
  it('a PNG with one extra byte after IEND gives the record exactly (the issue\'s example; jimp refused it)', async () => {
    const record = recordOf(test.images, 0);
    const png = encodePng({ width: 32, height: 32, colorType: 2, bitDepth: 8, samples: samplesOf(record) });
    const got = await decode(Buffer.concat([png, Buffer.from([0x00])]));
    expect(Buffer.from(got).equals(Buffer.from(record))).toBe(true);
  });

  it('16-bit RGB: each sample v*257 comes back as v exactly', async () => {
    const record = recordOf(test.images, 1);
    const got = await decode(encodePng({ width: 32, height: 32, colorType: 2, bitDepth: 16, samples: samplesOf(record, 257) }));
    expect(Buffer.from(got).equals(Buffer.from(record))).toBe(true);
  });

  it('Adam7 interlaced: exact at 32x32, and the right quadrants at 45x37 (every pass partial)', async () => {
    const record = recordOf(test.images, 2);
    const got = await decode(encodePng({ width: 32, height: 32, colorType: 2, bitDepth: 8, interlace: true, samples: samplesOf(record) }));
    expect(Buffer.from(got).equals(Buffer.from(record))).toBe(true);
    const odd = await decode(encodePng({ width: 45, height: 37, colorType: 2, bitDepth: 8, interlace: true, samples: quadrantSamples(45, 37, (q) => QUADRANTS[q] as Rgb) }));
    expect(maxQuadrantError(quadrantCentres(odd), QUADRANTS)).toBeLessThanOrEqual(1);
  });

  it('palette with tRNS: opaque, transparent and half-transparent entries, composited onto white', async () => {
    const palette: Rgb[] = [[200, 40, 30], [10, 120, 250], [90, 200, 20], [250, 250, 0]];
    const alpha = [255, 0, 128, 64];
    const index = (p: number) => ((p >> 5) + (p & 31)) % 4; // diagonal stripes
    const png = encodePng({ width: 32, height: 32, colorType: 3, bitDepth: 8, samples: Array.from({ length: 1024 }, (_, p) => index(p)), palette, paletteAlpha: alpha });
    const expected = Array.from({ length: 3072 }, (_, i) => over((palette[index(i / 3 | 0)] as Rgb)[i % 3] as number, alpha[index(i / 3 | 0)] as number, 255));
    expect(maxAbsDiff(await decode(png), expected)).toBeLessThanOrEqual(1);
  });

  it('gray + alpha: R = G = B = gray composited onto white, per pixel', async () => {
    const gray = (p: number) => (p * 7) % 256;
    const alpha = (p: number) => (p * 13) % 256;
    const png = encodePng({ width: 32, height: 32, colorType: 4, bitDepth: 8, samples: Array.from({ length: 1024 }, (_, p) => [gray(p), alpha(p)]).flat() });
    const expected = Array.from({ length: 3072 }, (_, i) => over(gray(i / 3 | 0), alpha(i / 3 | 0), 255));
    expect(maxAbsDiff(await decode(png), expected)).toBeLessThanOrEqual(1);
  });

  it('16-bit gray + alpha and 8-bit gray: exact', async () => {
    const record = recordOf(test.images, 0);
    const luma = Array.from({ length: 1024 }, (_, p) => record[p * 3] as number); // the red plane as a gray image
    const gray = await decode(encodePng({ width: 32, height: 32, colorType: 0, bitDepth: 8, samples: luma }));
    expect(maxAbsDiff(gray, luma.flatMap((v) => [v, v, v]))).toBe(0);
    const gray16 = await decode(encodePng({ width: 32, height: 32, colorType: 4, bitDepth: 16, samples: luma.flatMap((v) => [v * 257, 65535]) }));
    expect(maxAbsDiff(gray16, luma.flatMap((v) => [v, v, v]))).toBe(0);
  });

  it('an unknown ancillary chunk, a missing IEND, a bad CRC on a tEXt chunk: read as libpng reads them', async () => {
    const record = recordOf(test.images, 1);
    const samples = samplesOf(record);
    const unknown = encodePng({ width: 32, height: 32, colorType: 2, bitDepth: 8, samples, extraChunks: [{ type: 'zzZz', data: Buffer.from('private data') }] });
    const noIend = encodePng({ width: 32, height: 32, colorType: 2, bitDepth: 8, samples }).subarray(0, -12);
    const text = encodePng({ width: 32, height: 32, colorType: 2, bitDepth: 8, samples, extraChunks: [{ type: 'tEXt', data: Buffer.from('Comment\0hello') }] });
    text[text.indexOf('tEXt') + 4 + 13 + 3] ^= 0xff; // the last byte of the chunk's CRC
    for (const [name, png] of [['unknown chunk', unknown], ['no IEND', noIend], ['tEXt CRC', text]] as const) {
      expect(Buffer.from(await decode(png, name)).equals(Buffer.from(record)), name).toBe(true);
    }
  });

  it('1 pixel wide (1x40) and 1 pixel high (40x1): stretched to 32x32', async () => {
    const tall = await decode(encodePng({ width: 1, height: 40, colorType: 2, bitDepth: 8, samples: quadrantSamples(1, 40, (q) => QUADRANTS[q] as Rgb) }));
    // With one column, every pixel is in the right-hand quadrants: green above, yellow below.
    const row = (r: Uint8Array, y: number) => Array.from(r.subarray(y * 96, y * 96 + 96));
    expect(maxAbsDiff(Uint8Array.from(row(tall, 2)), Array(32).fill(QUADRANTS[1]).flat())).toBeLessThanOrEqual(1);
    expect(maxAbsDiff(Uint8Array.from(row(tall, 29)), Array(32).fill(QUADRANTS[3]).flat())).toBeLessThanOrEqual(1);
    const wide = await decode(encodePng({ width: 40, height: 1, colorType: 2, bitDepth: 8, samples: quadrantSamples(40, 1, (q) => QUADRANTS[q] as Rgb) }));
    // One row: every pixel in the bottom quadrants: blue on the left, yellow on the right, on every row.
    for (const y of [0, 31]) {
      expect(maxAbsDiff(Uint8Array.from(row(wide, y).slice(0, 3)), QUADRANTS[2])).toBeLessThanOrEqual(1);
      expect(maxAbsDiff(Uint8Array.from(row(wide, y).slice(93)), QUADRANTS[3])).toBeLessThanOrEqual(1);
    }
  });

  it('an embedded Display P3 ICC profile is converted to sRGB', async () => {
    const png = await sharp(quadrantRgb(64, 48, QUADRANTS), { raw: { width: 64, height: 48, channels: 3 } }).withIccProfile('p3').png().toBuffer();
    // The stored values are P3 ones (red is about (202, 54, 50) there), far from the sRGB colours...
    const stored = await sharp(png, { ignoreIcc: true }).resize(32, 32, { fit: 'fill' }).raw().toBuffer();
    expect(maxQuadrantError(quadrantCentres(stored), QUADRANTS)).toBeGreaterThan(10);
    // ...and shown in sRGB they are the quadrant colours again.
    expect(maxQuadrantError(quadrantCentres(await decode(png)), QUADRANTS)).toBeLessThanOrEqual(2);
  });
});

describe('decodeImageRgb32: JPEGs that libjpeg reads', () => {
  const w = 64;
  const h = 48;
  const jpegOf = (colours: readonly [Rgb, Rgb, Rgb, Rgb], options: { progressive?: boolean; cmyk?: boolean } = {}) => {
    const image = sharp(quadrantRgb(w, h, colours), { raw: { width: w, height: h, channels: 3 } });
    return (options.cmyk ? image.toColourspace('cmyk') : image).jpeg({ quality: 95, progressive: options.progressive ?? false }).toBuffer();
  };

  it('progressive (SOF2): the quadrant colours within 3 levels', async () => {
    const jpeg = await jpegOf(QUADRANTS, { progressive: true });
    expect(jpegMarker(jpeg, 0xc2)).toBeGreaterThan(0);
    expect(maxQuadrantError(quadrantCentres(await decode(jpeg)), QUADRANTS)).toBeLessThanOrEqual(3);
  });

  it('CMYK (4 components, Adobe APP14, no ICC profile): converted to sRGB, within 20 levels', async () => {
    const jpeg = await jpegOf(CMYK_QUADRANTS, { cmyk: true });
    const sof = jpegMarker(jpeg, 0xc0);
    expect(jpeg[sof + 9]).toBe(4); // number of components
    expect(jpegMarker(jpeg, 0xee)).toBeGreaterThan(0);
    // Measured: at most 15 levels (the CMYK round trip through libvips' profile); jimp's naive
    // conversion was 82 levels off.
    expect(maxQuadrantError(quadrantCentres(await decode(jpeg)), CMYK_QUADRANTS)).toBeLessThanOrEqual(20);
  });

  it('EXIF orientation 6, 3 and 8: shown upright (the stored bottom-left quadrant is top-left for 6)', async () => {
    const jpeg = await jpegOf(QUADRANTS);
    const [tl, tr, bl, br] = QUADRANTS;
    for (const [orientation, shown] of [
      [6, [bl, tl, br, tr]], // rotate 90 degrees clockwise to show
      [3, [br, bl, tr, tl]], // 180 degrees
      [8, [tr, br, tl, bl]], // 90 degrees counter-clockwise
      [1, [tl, tr, bl, br]],
    ] as const) {
      const got = quadrantCentres(await decode(withExifOrientation(jpeg, orientation)));
      expect(maxQuadrantError(got, shown), `orientation ${orientation}`).toBeLessThanOrEqual(3);
    }
  });

  it('50 megapixels (8688x5792, 0.3 MB): decoded and resized, in under 5 s (jimp: maxMemoryUsageInMB exceeded)', async () => {
    const [W, H] = [8688, 5792];
    const jpeg = await sharp(quadrantRgb(W, H, QUADRANTS), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    const t = performance.now();
    const got = await decode(jpeg, '50mp.jpg');
    expect(performance.now() - t).toBeLessThan(5000);
    expect(maxQuadrantError(quadrantCentres(got), QUADRANTS)).toBeLessThanOrEqual(3);
  });

  it('bytes after EOI are ignored; a truncated JPEG is decoded as libjpeg does (gray below the cut), with a warning naming it', async () => {
    const jpeg = await jpegOf(QUADRANTS);
    const trailing = await decode(Buffer.concat([jpeg, Buffer.from('\0\0 trailing bytes an editor left')]));
    expect(maxQuadrantError(quadrantCentres(trailing), QUADRANTS)).toBeLessThanOrEqual(3);

    // Noise makes the entropy-coded data most of the file, so a cut at 75% keeps the top half.
    const W = 512;
    const H = 384;
    const noisy = quadrantRgb(W, H, QUADRANTS).map((v, i) => Math.max(0, Math.min(255, v + (((i * 2654435761) >>> 9) % 33) - 16)));
    const big = await sharp(noisy, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    const warnings: string[] = [];
    const cut = await decode(big.subarray(0, Math.floor(big.length * 0.75)), 'cut.jpg', (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringMatching(/^cut\.jpg: damaged image data \(.*premature end of JPEG.*\); decoded what could be read$/)]);
    const [tl, tr] = quadrantCentres(cut);
    expect(maxQuadrantError([tl as Rgb, tr as Rgb], QUADRANTS.slice(0, 2))).toBeLessThanOrEqual(4);
    expect(maxAbsDiff(cut.subarray(31 * 96), Array(96).fill(128))).toBeLessThanOrEqual(1); // the last row: libjpeg's gray
  });
});

describe('decodeImageRgb32: other formats', () => {
  it('every kind in decoderCases() (the benchmark\'s tolerance table) shows its quadrant colours', async () => {
    for (const c of await decoderCases()) {
      expect(maxQuadrantError(quadrantCentres(await decode(c.bytes, c.name)), c.shown), c.name).toBeLessThanOrEqual(c.tolerance);
    }
  });

  it('lossless WebP, TIFF and 24-bit BMP (read through jimp) of a record: exact', async () => {
    const record = recordOf(test.images, 2);
    const raw = () => sharp(Buffer.from(record), { raw: { width: 32, height: 32, channels: 3 } });
    for (const [name, bytes] of [
      ['webp', await raw().webp({ lossless: true }).toBuffer()],
      ['tiff', await raw().tiff({ compression: 'lzw' }).toBuffer()],
      ['bmp', encodeBmp24(32, 32, record)],
    ] as const) {
      expect(Buffer.from(await decode(bytes, name)).equals(Buffer.from(record)), name).toBe(true);
    }
  });
});

describe('decodeImageRgb32: limits and broken files', () => {
  /** A PNG whose IHDR claims width x height, with one tiny IDAT. */
  const claimed = (width: number, height: number) => {
    const png = encodePng({ width: 1, height: 1, colorType: 0, bitDepth: 8, samples: [0] });
    png.writeUInt32BE(width, 16);
    png.writeUInt32BE(height, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
    return png;
  };

  it(`refuses at once a header claiming more than ${MAX_INPUT_PIXELS} pixels, naming the size and the limit`, async () => {
    const t = performance.now();
    await expect(decodeImageRgb32(claimed(20000, 20000), 'bomb.png')).rejects.toThrow(
      new CliError('E_CLI_IMAGE', `bomb.png is not a decodable image (${FORMATS_READ} expected): 20000x20000 is 400.0 MP, above the limit of 268.4 MP`),
    );
    expect(performance.now() - t).toBeLessThan(1000);
  });

  it('names the file and the reason: truncated header, random bytes, empty file, text, SVG', async () => {
    const png = encodePng({ width: 32, height: 32, colorType: 2, bitDepth: 8, samples: samplesOf(recordOf(test.images, 0)) });
    let seed = 7;
    const random = Buffer.from(Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
    random[0] = 0x17; // not 'BM'
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>');
    const prefix = (label: string) => `${label} is not a decodable image (${FORMATS_READ} expected): `;
    for (const [label, bytes, reason] of [
      ['header.png', png.subarray(0, 20), /^corrupt header/],
      ['idat.png', png.subarray(0, 40), /^corrupt header/],
      ['random.jpg', random, /^unrecognised content, starting 0x17/],
      ['empty.png', Buffer.alloc(0), /^the file is empty \(0 bytes\)$/],
      ['page.jpg', Buffer.from('<!DOCTYPE html><html>Not found</html>'), /^unrecognised content, starting "<!DOCTYP"$/],
      ['vector.svg', svg, /^an SVG \(vector\) image; predict reads raster images$/],
      ['bad.bmp', Buffer.from('BM this is no bitmap'), /^BMP: /],
    ] as const) {
      const err = await decodeImageRgb32(bytes, label).catch((e: unknown) => e);
      expect(err, label).toBeInstanceOf(CliError);
      expect((err as CliError).code).toBe('E_CLI_IMAGE');
      const message = (err as CliError).message;
      expect(message.startsWith(prefix(label)), message).toBe(true);
      expect(message.slice(prefix(label).length), label).toMatch(reason);
    }
  });
});

describe('readImages: goes on past the files it cannot read', () => {
  it('decodes the good files in order and names each bad one (missing, directory, empty, text) with its reason', async () => {
    const good = [0, 1].map((i) => path.join(dir, `good-${i}.png`));
    await writeRecordImage(recordOf(test.images, 0), good[0] as string);
    await writeRecordImage(recordOf(test.images, 1), good[1] as string);
    const missing = path.join(dir, 'missing.png');
    const folder = path.join(dir, 'a-folder.png');
    await mkdir(folder);
    const empty = path.join(dir, 'empty.jpg');
    await writeFile(empty, '');
    const text = path.join(dir, 'text.png');
    await writeFile(text, 'just words\n');
    const files = [missing, good[0], folder, empty, good[1], text] as string[];
    const reported: string[] = [];
    const got = await readImages(files, { onFailure: (f) => reported.push(f.file) });
    expect(got.decoded).toEqual([1, 4]);
    expect(Buffer.from(got.images).equals(Buffer.from(test.images.subarray(0, 2 * IMAGE_BYTES)))).toBe(true);
    expect(reported).toEqual([missing, folder, empty, text]);
    expect(got.failures.map((f) => [f.index, f.error.code, f.error.message])).toEqual([
      [0, 'E_CLI_IMAGE', `cannot read image ${missing}: no such file`],
      [2, 'E_CLI_IMAGE', `cannot read image ${folder}: it is a directory`],
      [3, 'E_CLI_IMAGE', `${empty} is not a decodable image (${FORMATS_READ} expected): the file is empty (0 bytes)`],
      [5, 'E_CLI_IMAGE', `${text} is not a decodable image (${FORMATS_READ} expected): unrecognised content, starting "just wor"`],
    ]);
  });
});
