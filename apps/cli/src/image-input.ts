import { readFile } from 'node:fs/promises';
import { IMAGE_BYTES, IMAGE_SIZE } from '@cifar-dist/data';
import { Jimp } from 'jimp';
import sharp, { type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { CliError } from './errors.js';

/**
 * The largest image predict decodes, in pixels (width x height): 2^28 = 268,435,456, e.g.
 * 16384 x 16384 or 20000 x 13400. That admits every camera (24-50 MP full frame, 100-150 MP
 * medium format) and most stitched panoramas, and is sharp's own default (0x3FFF^2) rounded up,
 * set here on purpose. Memory does not bound the size much: JPEGs are shrunk while they are
 * decoded (libjpeg's DCT scaling) and non-interlaced files are read in strips (measured: a
 * 16384x16384 PNG, 0.3 s and 160 MB peak RSS); only an interlaced PNG is decoded whole (8192x8192
 * 16-bit RGBA Adam7: 2.1 s, 650 MB; about 2 GiB at the limit). The limit is checked against the
 * header's dimensions before any pixel is decoded, so a small file that claims a huge size (a
 * decompression bomb) is refused at once, and it is passed to sharp as `limitInputPixels`.
 */
export const MAX_INPUT_PIXELS = 2 ** 28;

/**
 * The resampling kernel for the resize to 32x32: libvips' Lanczos-3 (sharp's default). When the
 * image shrinks, libvips first box-averages it by an integral factor (for JPEGs, during decoding)
 * and then applies the kernel widened by the remaining factor, so large photos are filtered over
 * their whole footprint and do not alias. Images that grow are interpolated with the same kernel.
 *
 * Chosen by measurement on 100 CIFAR-10 test records enlarged with jimp's bilinear resize and
 * shrunk back to 32x32: mean absolute error 3.7 / 3.2 / 4.0 levels from 64x64 / 100x80 / 256x256,
 * against 3.9 / 3.8 / 4.1 for jimp's resize (what predict used before), 4.2 / 3.6 / 4.4 for cubic,
 * 5.0 / 4.6 / 5.2 for mitchell and 5.5 / 4.9 / 5.7 for linear; the short spec run's model gave the
 * same top-1 class as on the original records for 96-97 of 100, as with jimp.
 */
export const RESIZE_KERNEL = 'lanczos3' as const;

/** The background transparent pixels are composited onto (alpha flattening): white, as browsers and ImageMagick's -flatten show them. */
export const ALPHA_BACKGROUND = { r: 255, g: 255, b: 255 } as const;

/** The formats predict decodes (sharp's names, from the file's content, whatever its extension). */
const FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);
/** What a user is told predict reads. */
export const FORMATS_READ = 'PNG, JPEG, WebP, GIF, TIFF, AVIF or BMP';

/** Called with a note about a file predict decoded although it is damaged. */
export type ImageWarning = (message: string) => void;

function notDecodable(label: string, reason: string, cause?: unknown): CliError {
  return new CliError('E_CLI_IMAGE', `${label} is not a decodable image (${FORMATS_READ} expected): ${reason}`, { cause });
}

/** libvips' message as one line, without sharp's "Input buffer has/contains" prefix. */
function vipsReason(err: unknown): string {
  return (err as Error).message
    .replace(/^Input buffer (has|contains) /, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('; ');
}

/** The first 8 bytes, as text when they are printable ASCII (an HTML page saved as .jpg), else in hex. */
function firstBytes(bytes: Buffer): string {
  const head = bytes.subarray(0, 8);
  return head.every((b) => b >= 0x20 && b < 0x7f) ? JSON.stringify(head.toString('latin1')) : `0x${head.toString('hex')}`;
}

const megapixels = (pixels: number): string => `${(pixels / 1e6).toFixed(1)} MP`;

/** The pipeline of {@link decodeImageRgb32} after decoding: flatten, resize, 8-bit sRGB RGB; checks the shape. */
async function toRgb32(input: Sharp): Promise<Uint8Array> {
  const { data, info } = await input
    .flatten({ background: ALPHA_BACKGROUND })
    .resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'fill', kernel: RESIZE_KERNEL })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== IMAGE_SIZE || info.height !== IMAGE_SIZE || info.channels !== 3 || data.length !== IMAGE_BYTES) {
    throw new Error(`decoder returned ${info.width}x${info.height}x${info.channels} (${data.length} bytes), expected 32x32x3`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A BMP (which libvips does not read) decoded by jimp, as 8-bit RGB for the same pipeline. BMPs are
 * taken as opaque: 32-bit ones mostly leave their fourth byte 0 ("unused"), which as alpha would
 * turn them white.
 */
async function bmpToSharp(bytes: Buffer, label: string): Promise<Sharp> {
  let image: Awaited<ReturnType<typeof Jimp.fromBuffer>>;
  try {
    image = await Jimp.fromBuffer(bytes);
  } catch (err) {
    throw notDecodable(label, `BMP: ${(err as Error).message}`, err);
  }
  const { width, height, data } = image.bitmap;
  if (width * height > MAX_INPUT_PIXELS) throw notDecodable(label, `${width}x${height} is ${megapixels(width * height)}, above the limit of ${megapixels(MAX_INPUT_PIXELS)}`);
  const rgb = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    rgb[p * 3] = data[p * 4] as number;
    rgb[p * 3 + 1] = data[p * 4 + 1] as number;
    rgb[p * 3 + 2] = data[p * 4 + 2] as number;
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } });
}

/**
 * Decodes one image file's bytes and resizes it to 32x32, returning its pixels as one CIFAR-style
 * record: uint8 NHWC [32, 32, 3], sRGB, row-major (pixel (y,x) channel c at (y*32+x)*3+c), the
 * layout `normalizeImages` takes.
 *
 * Decoding is sharp's (libvips with libjpeg-turbo, libpng, libwebp, libtiff, libheif for AVIF,
 * cgif), so the file is read as those libraries read it: PNG of any colour type and bit depth,
 * interlaced or not, with data after IEND; baseline, progressive and CMYK JPEG, with data after
 * EOI; WebP, GIF (first frame), TIFF (first page), AVIF; BMP through jimp. The format is taken
 * from the content, not the name. Then, in this order:
 * - EXIF orientation is applied (a portrait photo stored sideways is turned upright);
 * - transparent pixels are composited onto {@link ALPHA_BACKGROUND} (white);
 * - gray, CMYK (through its embedded ICC profile, else libvips' CMYK profile), palette and 16-bit
 *   images become 8-bit sRGB RGB; an embedded ICC profile is converted to sRGB;
 * - the image is resized to exactly 32x32, stretched (the aspect ratio is not kept, as with
 *   jimp before: a 4:3 photo fills the whole square), with {@link RESIZE_KERNEL}, in sRGB values
 *   (not linear light). An image that is already 32x32 is not resampled: its pixels pass
 *   through unchanged.
 *
 * Limits: at most {@link MAX_INPUT_PIXELS} pixels. A file that libvips reports as damaged
 * (truncated JPEG or PNG data, a bad CRC, a libjpeg warning) is decoded a second time with
 * sharp's `failOn: 'none'`, which keeps what could be read (libjpeg fills the rest with gray),
 * as djpeg and browsers show it; `onWarning` is told so, with libvips' reason. A file whose
 * header cannot be parsed, an unknown format, SVG (vector) input and an empty file are errors.
 *
 * @param label the file name, for messages
 * @param onWarning told about a damaged file that was decoded anyway
 * @throws CliError E_CLI_IMAGE naming `label` and the reason when the bytes are not a decodable image
 */
export async function decodeImageRgb32(bytes: Buffer, label: string, onWarning?: ImageWarning): Promise<Uint8Array> {
  if (bytes.length === 0) throw notDecodable(label, 'the file is empty (0 bytes)');
  const options = (failOn: 'warning' | 'none'): SharpOptions => ({
    failOn,
    limitInputPixels: MAX_INPUT_PIXELS,
    autoOrient: true,
    sequentialRead: true,
  });
  let meta: Metadata;
  try {
    // Only the header is parsed here; the pixel limit is checked below, with the dimensions in the message.
    meta = await sharp(bytes, { ...options('none'), limitInputPixels: false }).metadata();
  } catch (err) {
    if (bytes.subarray(0, 2).toString('latin1') === 'BM') return toRgb32(await bmpToSharp(bytes, label));
    if (/unsupported image format/.test((err as Error).message)) throw notDecodable(label, `unrecognised content, starting ${firstBytes(bytes)}`, err);
    throw notDecodable(label, vipsReason(err), err);
  }
  if (!FORMATS.has(meta.format)) {
    throw notDecodable(label, meta.format === 'svg' ? 'an SVG (vector) image; predict reads raster images' : `${meta.format} input is not read`);
  }
  const pixels = meta.width * meta.height;
  if (pixels > MAX_INPUT_PIXELS) {
    throw notDecodable(label, `${meta.width}x${meta.height} is ${megapixels(pixels)}, above the limit of ${megapixels(MAX_INPUT_PIXELS)}`);
  }
  try {
    return await toRgb32(sharp(bytes, options('warning')));
  } catch (strict) {
    let image: Uint8Array;
    try {
      image = await toRgb32(sharp(bytes, options('none')));
    } catch (err) {
      throw notDecodable(label, vipsReason(err), err);
    }
    onWarning?.(`${label}: damaged image data (${vipsReason(strict)}); decoded what could be read`);
    return image;
  }
}

/** A file that could not be read or decoded, and why. */
export interface ImageFailure {
  /** the index of the file in the list given */
  index: number;
  file: string;
  error: CliError;
}

/** What {@link readImages} read: the decoded images and the files it could not. */
export interface ImagesRead {
  /** uint8 NHWC [decoded.length, 32, 32, 3], the decoded files in the order given */
  images: Uint8Array;
  /** the indices (into the list given) of the files in `images`, in order */
  decoded: number[];
  /** the files that could not be read or decoded, in the order given */
  failures: ImageFailure[];
}

/** Why reading a file failed, in words (for the errno codes a user meets). */
function readReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return err.message;
  }
}

/**
 * Reads and decodes image files (see {@link decodeImageRgb32}), one after the other, going on
 * past the ones that cannot be read or decoded: each such file is reported to `onFailure` at
 * once and listed in `failures`.
 */
export async function readImages(
  files: readonly string[],
  hooks: { onFailure?: (failure: ImageFailure) => void; onWarning?: ImageWarning } = {},
): Promise<ImagesRead> {
  const parts: Uint8Array[] = [];
  const decoded: number[] = [];
  const failures: ImageFailure[] = [];
  for (const [index, file] of files.entries()) {
    try {
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (err) {
        throw new CliError('E_CLI_IMAGE', `cannot read image ${file}: ${readReason(err as NodeJS.ErrnoException)}`, { cause: err });
      }
      parts.push(await decodeImageRgb32(bytes, file, hooks.onWarning));
      decoded.push(index);
    } catch (err) {
      const error = err instanceof CliError ? err : new CliError('E_CLI_IMAGE', `${file}: ${(err as Error).message}`, { cause: err });
      const failure = { index, file, error };
      failures.push(failure);
      hooks.onFailure?.(failure);
    }
  }
  const images = new Uint8Array(parts.length * IMAGE_BYTES);
  parts.forEach((p, i) => images.set(p, i * IMAGE_BYTES));
  return { images, decoded, failures };
}

/**
 * Reads and decodes image files (see {@link decodeImageRgb32}) into one uint8 NHWC batch
 * [files.length, 32, 32, 3], in the order given.
 *
 * @throws CliError E_CLI_IMAGE naming the first file that cannot be read or decoded
 */
export async function readImagesRgb32(files: readonly string[], onWarning?: ImageWarning): Promise<Uint8Array> {
  const { images, failures } = await readImages(files, { onWarning });
  if (failures[0]) throw failures[0].error;
  return images;
}
