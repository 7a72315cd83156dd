/**
 * The measurement behind predict's decoder choice: jimp (pure JS, what predict used before) beside
 * sharp (libvips, what it uses now), on
 * 1. tolerance: the kinds of file in `decoderCases()` (image-fixtures.ts), each decoded and resized
 *    to 32x32; "ok" when the four quadrants show the colours they should, within the case's tolerance;
 * 2. speed: decode + resize to 32x32 of photo-like JPEGs (12 MP, 50 MP) and PNGs (2 MP, 12 MP),
 *    from bytes in memory, best of 3.
 *
 *   npx tsx --tsconfig apps/cli/tsconfig.json apps/cli/src/image-input.bench.ts
 */
import { IMAGE_BYTES, IMAGE_SIZE } from '@cifar-dist/data';
import { Jimp } from 'jimp';
import sharp from 'sharp';
import { decoderCases, maxQuadrantError, over, quadrantCentres } from './image-fixtures.js';
import { decodeImageRgb32 } from './image-input.js';

/**
 * predict's decoder before sharp (jimp's default decoders and resize), except that alpha is
 * composited onto white as predict now does (the old code dropped it), so that the table compares
 * the decoders rather than the alpha policy.
 */
async function jimpRgb32(bytes: Buffer, options?: Parameters<typeof Jimp.fromBuffer>[1]): Promise<Uint8Array> {
  const image = await Jimp.fromBuffer(bytes, options);
  if (image.bitmap.width !== IMAGE_SIZE || image.bitmap.height !== IMAGE_SIZE) image.resize({ w: IMAGE_SIZE, h: IMAGE_SIZE });
  const rgba = image.bitmap.data;
  const out = new Uint8Array(IMAGE_BYTES);
  for (let p = 0; p < IMAGE_SIZE * IMAGE_SIZE; p++) {
    const a = rgba[p * 4 + 3] as number;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round(over(rgba[p * 4 + c] as number, a, 255));
  }
  return out;
}

const decoders: [string, (bytes: Buffer) => Promise<Uint8Array>][] = [
  ['jimp 1.6 (defaults; alpha onto white)', (b) => jimpRgb32(b)],
  [`sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})`, (b) => decodeImageRgb32(b, 'bench')],
];

const short = (s: string, n = 60) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

console.log('1. Tolerance (64x48 quadrant images -> 32x32; ok = quadrant centres within the stated tolerance)\n');
console.log(`| file | ${decoders.map(([n]) => n).join(' | ')} |`);
console.log(`|---|${decoders.map(() => '---').join('|')}|`);
for (const c of await decoderCases()) {
  const cells: string[] = [];
  for (const [, decode] of decoders) {
    try {
      const err = maxQuadrantError(quadrantCentres(await decode(c.bytes)), c.shown);
      cells.push(err <= c.tolerance ? `ok (max error ${err.toFixed(1)})` : `**wrong pixels** (max error ${err.toFixed(0)} > ${c.tolerance})`);
    } catch (e) {
      cells.push(`**refused**: ${short((e as Error).message.replace(/^bench is not a decodable image \([^)]*\): /, ''))}`);
    }
  }
  console.log(`| ${c.name} | ${cells.join(' | ')} |`);
}

/** A photo-like RGB image: smooth gradients plus ±12 levels of noise (so JPEG sizes are camera-like). */
function photoLike(width: number, height: number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  const noise = Int8Array.from({ length: 4099 }, (_, i) => (((i * 2654435761) >>> 7) % 25) - 12);
  const cols = [0, 1, 2].map((c) => Float32Array.from({ length: width }, (_, x) => Math.sin((x / width) * 7 + c * 2)));
  let n = 0;
  for (let y = 0; y < height; y++) {
    const cy = Math.cos((y / height) * 5);
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const at = (y * width + x) * 3 + c;
        out[at] = Math.max(0, Math.min(255, 128 + 100 * (cols[c] as Float32Array)[x]! * cy + noise[n++ % 4099]!));
      }
    }
  }
  return out;
}

async function bestOf3(f: () => Promise<unknown>): Promise<string> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    try {
      await f();
    } catch (e) {
      return `fails: ${short((e as Error).message, 50)} (after ${((performance.now() - t) / 1000).toFixed(2)} s)`;
    }
    best = Math.min(best, performance.now() - t);
  }
  return `${(best / 1000).toFixed(2)} s`;
}

console.log('\n2. Decode + resize to 32x32, best of 3, one process, bytes in memory\n');
console.log(`| file | bytes | ${decoders.map(([n]) => n).join(' | ')} | jimp, maxMemoryUsageInMB 4096 |`);
console.log(`|---|---|${decoders.map(() => '---').join('|')}|---|`);
for (const [name, width, height, format] of [
  ['JPEG 12 MP (4000x3000, q90)', 4000, 3000, 'jpeg'],
  ['JPEG 50 MP (8688x5792, q90)', 8688, 5792, 'jpeg'],
  ['PNG 2 MP (1920x1080)', 1920, 1080, 'png'],
  ['PNG 12 MP (4000x3000)', 4000, 3000, 'png'],
] as const) {
  const input = sharp(photoLike(width, height), { raw: { width, height, channels: 3 } });
  const bytes = format === 'jpeg' ? await input.jpeg({ quality: 90 }).toBuffer() : await input.png().toBuffer();
  const cells: string[] = [];
  for (const [, decode] of decoders) cells.push(await bestOf3(() => decode(bytes)));
  cells.push(format === 'jpeg' ? await bestOf3(() => jimpRgb32(bytes, { 'image/jpeg': { maxMemoryUsageInMB: 4096 } })) : '');
  console.log(`| ${name} | ${(bytes.length / 1e6).toFixed(1)} MB | ${cells.join(' | ')} |`);
}
