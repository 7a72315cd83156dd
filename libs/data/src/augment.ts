import { argumentError } from './errors';
import { CHANNELS, IMAGE_BYTES, IMAGE_SIZE } from './layout';
import type { Rng } from './rng';

/**
 * Standard CIFAR training augmentation on uint8 NHWC images (the "pad 4, random crop, random
 * horizontal flip" of He et al. 2016, "Deep Residual Learning", sec. 4.2): per image, a 32x32
 * crop of the image zero-padded by `pad` pixels on each side, then a left-right flip with
 * probability 0.5.
 *
 * Random draws, per image in order (so the result is fixed by the rng's state):
 *   dy = rng.nextInt(2*pad + 1), dx = rng.nextInt(2*pad + 1), then, if flip is enabled,
 *   flipped = rng.next() < 0.5.
 * Output pixel (y, x) = input (y + dy - pad, xs + dx - pad) where xs = flipped ? 31 - x : x,
 * or 0 when that lies outside the image. pad 0 and flip false is the identity.
 *
 * @param images uint8 NHWC [count, 32, 32, 3]
 * @param opts.pad padding in pixels, integer 0..32 (default 4); opts.flip default true
 * @returns a new uint8 NHWC [count, 32, 32, 3] array; the input is not modified
 * @throws CifarDataError E_DATA_ARGUMENT on a wrong length, count or pad
 */
export function augmentBatch(
  images: Uint8Array,
  count: number,
  rng: Rng,
  opts: { pad?: number; flip?: boolean } = {},
): Uint8Array {
  const pad = opts.pad ?? 4;
  const flip = opts.flip ?? true;
  if (!Number.isSafeInteger(count) || count < 0) throw argumentError(`count must be a non-negative integer, got ${count}`);
  if (images.length !== count * IMAGE_BYTES) {
    throw argumentError(`augmentBatch: ${images.length} bytes is not ${count} images x ${IMAGE_BYTES}`);
  }
  if (!Number.isInteger(pad) || pad < 0 || pad > IMAGE_SIZE) throw argumentError(`pad must be an integer in 0..32, got ${pad}`);

  const out = new Uint8Array(images.length); // zero-filled: the padding needs no writes
  const row = IMAGE_SIZE * CHANNELS;
  for (let n = 0; n < count; n++) {
    const dy = rng.nextInt(2 * pad + 1) - pad;
    const dx = rng.nextInt(2 * pad + 1) - pad;
    const flipped = flip && rng.next() < 0.5;
    const base = n * IMAGE_BYTES;
    for (let y = 0; y < IMAGE_SIZE; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= IMAGE_SIZE) continue;
      const srcRow = base + sy * row;
      const dstRow = base + y * row;
      if (!flipped) {
        // Unflipped rows are one contiguous run: copy the in-bounds part in one call.
        const x0 = Math.max(0, -dx);
        const x1 = Math.min(IMAGE_SIZE, IMAGE_SIZE - dx);
        if (x1 > x0) out.set(images.subarray(srcRow + (x0 + dx) * CHANNELS, srcRow + (x1 + dx) * CHANNELS), dstRow + x0 * CHANNELS);
        continue;
      }
      for (let x = 0; x < IMAGE_SIZE; x++) {
        const sx = IMAGE_SIZE - 1 - x + dx;
        if (sx < 0 || sx >= IMAGE_SIZE) continue;
        const s = srcRow + sx * CHANNELS;
        const d = dstRow + x * CHANNELS;
        out[d] = images[s];
        out[d + 1] = images[s + 1];
        out[d + 2] = images[s + 2];
      }
    }
  }
  return out;
}

/**
 * Cutout (DeVries & Taylor 2017, "Improved Regularization of Convolutional Neural Networks with
 * Cutout"), in place on uint8 NHWC images: for each chosen image, a `size` x `size` square centred
 * at a uniformly drawn pixel (cy, cx) — clipped at the borders, so it may cover less — is set to
 * `fill` (the per-channel value that normalises to about 0, e.g. the dataset mean).
 *
 * Random draws, per chosen image in order: cy = rng.nextInt(32), cx = rng.nextInt(32); images
 * not chosen draw nothing. The square covers rows cy - floor(size/2) .. cy - floor(size/2) + size - 1.
 *
 * @param images uint8 NHWC [count, 32, 32, 3], modified in place
 * @param chosen chosen(n) says whether image n gets a square (e.g. only the rare classes)
 * @param size side in pixels, integer 1..32
 * @param fill 3 channel values 0..255
 * @throws CifarDataError E_DATA_ARGUMENT on a wrong length, count or size
 */
export function cutoutBatch(
  images: Uint8Array,
  count: number,
  rng: Rng,
  size: number,
  fill: readonly [number, number, number],
  chosen: (n: number) => boolean = () => true,
): void {
  if (!Number.isSafeInteger(count) || count < 0) throw argumentError(`count must be a non-negative integer, got ${count}`);
  if (images.length !== count * IMAGE_BYTES) throw argumentError(`cutoutBatch: ${images.length} bytes is not ${count} images x ${IMAGE_BYTES}`);
  if (!Number.isInteger(size) || size < 1 || size > IMAGE_SIZE) throw argumentError(`cutout size must be an integer in 1..32, got ${size}`);
  const half = Math.floor(size / 2);
  for (let n = 0; n < count; n++) {
    if (!chosen(n)) continue;
    const cy = rng.nextInt(IMAGE_SIZE);
    const cx = rng.nextInt(IMAGE_SIZE);
    const y0 = Math.max(0, cy - half);
    const y1 = Math.min(IMAGE_SIZE, cy - half + size);
    const x0 = Math.max(0, cx - half);
    const x1 = Math.min(IMAGE_SIZE, cx - half + size);
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const p = n * IMAGE_BYTES + (y * IMAGE_SIZE + x) * CHANNELS;
        images[p] = fill[0];
        images[p + 1] = fill[1];
        images[p + 2] = fill[2];
      }
    }
  }
}
