import { readFile } from 'node:fs/promises';
import { IMAGE_BYTES, IMAGE_SIZE } from '@cifar-dist/data';
import { Jimp } from 'jimp';
import { CliError } from './errors.js';

/**
 * Decodes one image file's bytes (PNG, JPEG, or anything else jimp reads: BMP, GIF, TIFF), resizes
 * it to 32x32 and returns its pixels as one CIFAR-style record: uint8 NHWC [32, 32, 3], RGB, row-major
 * (pixel (y,x) channel c at (y*32+x)*3+c), the layout `normalizeImages` takes.
 *
 * Resizing uses jimp's default `resize` (its "2-pass bilinear" resizer: bilinear interpolation where
 * a side grows, area averaging where it shrinks, so large photos do not alias). An image that is
 * already 32x32 is not resampled: its pixels pass through unchanged. Alpha is dropped (the stored
 * RGB values are used as they are).
 *
 * @param label the file name, for error messages
 * @throws CliError E_CLI_IMAGE naming `label` when the bytes are not a decodable image
 */
export async function decodeImageRgb32(bytes: Buffer, label: string): Promise<Uint8Array> {
  let image: Awaited<ReturnType<typeof Jimp.fromBuffer>>;
  try {
    image = await Jimp.fromBuffer(bytes);
  } catch (err) {
    throw new CliError('E_CLI_IMAGE', `${label} is not a decodable image (PNG or JPEG expected): ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (image.bitmap.width !== IMAGE_SIZE || image.bitmap.height !== IMAGE_SIZE) {
    image.resize({ w: IMAGE_SIZE, h: IMAGE_SIZE });
  }
  const rgba = image.bitmap.data;
  const out = new Uint8Array(IMAGE_BYTES);
  for (let p = 0; p < IMAGE_SIZE * IMAGE_SIZE; p++) {
    out[p * 3] = rgba[p * 4];
    out[p * 3 + 1] = rgba[p * 4 + 1];
    out[p * 3 + 2] = rgba[p * 4 + 2];
  }
  return out;
}

/**
 * Reads and decodes image files (see {@link decodeImageRgb32}) into one uint8 NHWC batch
 * [files.length, 32, 32, 3], in the order given.
 *
 * @throws CliError E_CLI_IMAGE naming the first file that cannot be read or decoded
 */
export async function readImagesRgb32(files: readonly string[]): Promise<Uint8Array> {
  const batch = new Uint8Array(files.length * IMAGE_BYTES);
  for (const [i, file] of files.entries()) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new CliError('E_CLI_IMAGE', `cannot read image ${file}: ${reason}`, { cause: err });
    }
    batch.set(await decodeImageRgb32(bytes, file), i * IMAGE_BYTES);
  }
  return batch;
}
