// Image files built byte by byte for the specs and the decoder benchmark (not used by the commands):
// a small PNG writer that covers every colour type, bit depth and interlace the format has, a 24-bit
// BMP writer, and an EXIF orientation segment for JPEGs. Written here rather than with an image
// library so that the files the decoder is tested on do not come from the decoder under test.
import { crc32, deflateSync } from 'node:zlib';

/** An RGB colour, 8 bits per channel. */
export type Rgb = readonly [number, number, number];

/** PNG colour types: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
export type PngColorType = 0 | 2 | 3 | 4 | 6;

const CHANNELS: Record<PngColorType, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** A PNG to write (see {@link encodePng}). */
export interface PngSpec {
  width: number;
  height: number;
  colorType: PngColorType;
  /** 8 or 16 (palette: 8) */
  bitDepth: 8 | 16;
  /**
   * Samples, row-major, channels interleaved (gray; gray, alpha; R, G, B; palette index; R, G, B, A),
   * each 0..255 (bit depth 8) or 0..65535 (bit depth 16).
   */
  samples: ArrayLike<number>;
  /** Adam7 interlacing */
  interlace?: boolean;
  /** PLTE entries (colour type 3) */
  palette?: readonly Rgb[];
  /** tRNS: alpha per palette entry (colour type 3), missing entries opaque */
  paletteAlpha?: readonly number[];
  /** extra chunks written between IHDR/PLTE/tRNS and IDAT, e.g. an unknown ancillary chunk */
  extraChunks?: readonly { type: string; data: Buffer }[];
}

/** One PNG chunk: length, type, data, CRC of type + data. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** The seven Adam7 passes: [x0, y0, dx, dy]. */
const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** The filtered (filter type 0) scanlines of the pixels (x0 + i*dx, y0 + j*dy). */
function scanlines(spec: PngSpec, x0: number, y0: number, dx: number, dy: number): Buffer {
  const ch = CHANNELS[spec.colorType];
  const bytes = spec.bitDepth / 8;
  const w = Math.ceil((spec.width - x0) / dx);
  const h = Math.ceil((spec.height - y0) / dy);
  if (w <= 0 || h <= 0) return Buffer.alloc(0);
  const row = 1 + w * ch * bytes;
  const out = Buffer.alloc(h * row);
  for (let j = 0; j < h; j++) {
    const y = y0 + j * dy;
    for (let i = 0; i < w; i++) {
      const x = x0 + i * dx;
      for (let c = 0; c < ch; c++) {
        const v = spec.samples[(y * spec.width + x) * ch + c] as number;
        const at = j * row + 1 + (i * ch + c) * bytes;
        if (bytes === 2) out.writeUInt16BE(v, at);
        else out[at] = v;
      }
    }
  }
  return out;
}

/** A complete PNG file (signature, IHDR, PLTE/tRNS, extra chunks, one IDAT, IEND). */
export function encodePng(spec: PngSpec): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(spec.width, 0);
  ihdr.writeUInt32BE(spec.height, 4);
  ihdr[8] = spec.bitDepth;
  ihdr[9] = spec.colorType;
  ihdr[12] = spec.interlace ? 1 : 0;
  const raw = spec.interlace
    ? Buffer.concat(ADAM7.map(([x0, y0, dx, dy]) => scanlines(spec, x0, y0, dx, dy)))
    : scanlines(spec, 0, 0, 1, 1);
  const chunks = [pngChunk('IHDR', ihdr)];
  if (spec.palette) chunks.push(pngChunk('PLTE', Buffer.from(spec.palette.flat())));
  if (spec.paletteAlpha) chunks.push(pngChunk('tRNS', Buffer.from(spec.paletteAlpha)));
  for (const c of spec.extraChunks ?? []) chunks.push(pngChunk(c.type, c.data));
  chunks.push(pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks]);
}

/**
 * Interleaved samples of a width x height image split into four quadrants (the left half is
 * floor(width/2) columns, the top half floor(height/2) rows), each pixel `sample(quadrant)`:
 * quadrant 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right.
 */
export function quadrantSamples(width: number, height: number, sample: (quadrant: number) => readonly number[]): number[] {
  const per = [0, 1, 2, 3].map(sample);
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out.push(...(per[(y < height >> 1 ? 0 : 2) + (x < width >> 1 ? 0 : 1)] as number[]));
  }
  return out;
}

/** The same as {@link quadrantSamples} for 3-channel 8-bit pixels, as a Buffer (for raw encoders). */
export function quadrantRgb(width: number, height: number, colours: readonly [Rgb, Rgb, Rgb, Rgb]): Buffer {
  const out = Buffer.alloc(width * height * 3);
  const row = Buffer.alloc(width * 3);
  for (let half = 0; half < 2; half++) {
    for (let x = 0; x < width; x++) (colours[half * 2 + (x < width >> 1 ? 0 : 1)] as Rgb).forEach((v, c) => (row[x * 3 + c] = v));
    const [from, to] = half === 0 ? [0, height >> 1] : [height >> 1, height];
    for (let y = from; y < to; y++) row.copy(out, y * width * 3);
  }
  return out;
}

/** A 24-bit uncompressed BMP (bottom-up rows, BGR, rows padded to 4 bytes) of 8-bit RGB samples. */
export function encodeBmp24(width: number, height: number, rgb: ArrayLike<number>): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    const at = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) out[at + x * 3 + (2 - c)] = rgb[(y * width + x) * 3 + c] as number;
    }
  }
  return out;
}

/**
 * `jpeg` with an APP1 Exif segment holding one tag, Orientation = `orientation` (1..8), inserted
 * right after SOI (before any JFIF APP0, as cameras write it).
 */
export function withExifOrientation(jpeg: Buffer, orientation: number): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG (no SOI)');
  // TIFF header (big-endian), IFD0 at offset 8 with one entry: tag 0x0112 SHORT count 1 value.
  const tiff = Buffer.from([
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08,
    0x00, 0x01,
    0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, orientation, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
  ]);
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, payload, jpeg.subarray(2)]);
}

/** Alpha compositing of one 8-bit value over a background value (straight alpha). */
export function over(value: number, alpha: number, background: number): number {
  return (value * alpha + background * (255 - alpha)) / 255;
}

/** The quadrant colours of the decoder cases: red, green, blue, yellow (TL, TR, BL, BR). */
export const QUADRANTS: readonly [Rgb, Rgb, Rgb, Rgb] = [
  [220, 30, 40],
  [30, 200, 60],
  [40, 50, 210],
  [230, 220, 40],
];
/** Quadrant colours inside a CMYK press gamut (the saturated ones above are not), for CMYK cases. */
export const CMYK_QUADRANTS: readonly [Rgb, Rgb, Rgb, Rgb] = [
  [180, 90, 70],
  [80, 150, 90],
  [70, 90, 160],
  [200, 190, 90],
];

/** One file of a kind mainstream decoders read, with what a decoder must show. */
export interface DecoderCase {
  name: string;
  bytes: Buffer;
  /** the colours of the four quadrants (TL, TR, BL, BR) as the image is meant to be shown */
  shown: readonly [Rgb, Rgb, Rgb, Rgb];
  /** the largest per-channel error allowed at the quadrants' centres (lossy formats, colour conversion) */
  tolerance: number;
}

/**
 * A 64x48 quadrant image (see {@link quadrantSamples}) in each of the kinds that libpng/libjpeg-based
 * tools read, for the decoder benchmark's tolerance table. PNGs are written by {@link encodePng};
 * JPEG, WebP, GIF and TIFF by sharp's encoders (libjpeg-turbo, libwebp, cgif, libtiff).
 */
export async function decoderCases(): Promise<DecoderCase[]> {
  const { default: sharp } = await import('sharp');
  const w = 64;
  const h = 48;
  const q = QUADRANTS;
  const rgbPng = encodePng({ width: w, height: h, colorType: 2, bitDepth: 8, samples: quadrantSamples(w, h, (i) => q[i] as Rgb) });
  const raw = (colours: readonly [Rgb, Rgb, Rgb, Rgb]) => sharp(quadrantRgb(w, h, colours), { raw: { width: w, height: h, channels: 3 } });
  const jpeg = await raw(q).jpeg({ quality: 95 }).toBuffer();
  const white: Rgb = [255, 255, 255];
  const mix = (c: Rgb, a: number): Rgb => c.map((v) => Math.round(over(v, a, 255))) as unknown as Rgb;
  return [
    { name: 'PNG, 1 byte after IEND', bytes: Buffer.concat([rgbPng, Buffer.from([0])]), shown: q, tolerance: 1 },
    { name: 'PNG, 16-bit RGB', bytes: encodePng({ width: w, height: h, colorType: 2, bitDepth: 16, samples: quadrantSamples(w, h, (i) => (q[i] as Rgb).map((v) => v * 257)) }), shown: q, tolerance: 1 },
    {
      name: 'PNG, palette + tRNS',
      bytes: encodePng({ width: w, height: h, colorType: 3, bitDepth: 8, samples: quadrantSamples(w, h, (i) => [i]), palette: q, paletteAlpha: [255, 0, 128] }),
      shown: [q[0], white, mix(q[2], 128), q[3]],
      tolerance: 1,
    },
    { name: 'PNG, Adam7 interlaced', bytes: encodePng({ width: w, height: h, colorType: 2, bitDepth: 8, interlace: true, samples: quadrantSamples(w, h, (i) => q[i] as Rgb) }), shown: q, tolerance: 1 },
    {
      name: 'PNG, gray + alpha',
      bytes: encodePng({ width: w, height: h, colorType: 4, bitDepth: 8, samples: quadrantSamples(w, h, (i) => [[0, 255], [200, 0], [100, 128], [255, 255]][i] as number[]) }),
      shown: [[0, 0, 0], white, mix([100, 100, 100], 128), white],
      tolerance: 1,
    },
    {
      name: 'PNG, unknown ancillary chunk',
      bytes: encodePng({ width: w, height: h, colorType: 2, bitDepth: 8, samples: quadrantSamples(w, h, (i) => q[i] as Rgb), extraChunks: [{ type: 'zzZz', data: Buffer.from('private data') }] }),
      shown: q,
      tolerance: 1,
    },
    { name: 'JPEG, baseline', bytes: jpeg, shown: q, tolerance: 6 },
    { name: 'JPEG, progressive', bytes: await raw(q).jpeg({ quality: 95, progressive: true }).toBuffer(), shown: q, tolerance: 6 },
    { name: 'JPEG, CMYK (Adobe)', bytes: await raw(CMYK_QUADRANTS).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer(), shown: CMYK_QUADRANTS, tolerance: 20 },
    { name: 'JPEG, EXIF orientation 6', bytes: withExifOrientation(jpeg, 6), shown: [q[2], q[0], q[3], q[1]], tolerance: 6 },
    { name: 'JPEG, text after EOI', bytes: Buffer.concat([jpeg, Buffer.from('trailing bytes a camera or editor left')]), shown: q, tolerance: 6 },
    { name: 'BMP, 24-bit', bytes: encodeBmp24(w, h, quadrantRgb(w, h, q)), shown: q, tolerance: 1 },
    { name: 'WebP, lossless', bytes: await raw(q).webp({ lossless: true }).toBuffer(), shown: q, tolerance: 1 },
    { name: 'GIF', bytes: await raw(q).gif().toBuffer(), shown: q, tolerance: 1 },
    { name: 'TIFF, LZW', bytes: await raw(q).tiff({ compression: 'lzw' }).toBuffer(), shown: q, tolerance: 1 },
  ];
}

/**
 * The mean colour of each quadrant's centre (the middle half of each 16x16 quadrant of a 32x32
 * RGB record: rows and columns 4..11 of it), TL, TR, BL, BR: away from the edges a resize blurs.
 */
export function quadrantCentres(record: Uint8Array): [Rgb, Rgb, Rgb, Rgb] {
  return [0, 1, 2, 3].map((quadrant) => {
    const sum = [0, 0, 0];
    const y0 = (quadrant >> 1) * 16 + 4;
    const x0 = (quadrant & 1) * 16 + 4;
    for (let y = y0; y < y0 + 8; y++) {
      for (let x = x0; x < x0 + 8; x++) for (let c = 0; c < 3; c++) (sum[c] as number) += record[(y * 32 + x) * 3 + c] as number;
    }
    return sum.map((s) => s / 64) as unknown as Rgb;
  }) as [Rgb, Rgb, Rgb, Rgb];
}

/** The largest per-channel difference between two sets of quadrant colours. */
export function maxQuadrantError(got: readonly Rgb[], want: readonly Rgb[]): number {
  return Math.max(...got.flatMap((g, i) => g.map((v, c) => Math.abs(v - ((want[i] as Rgb)[c] as number)))));
}
