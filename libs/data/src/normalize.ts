import { argumentError } from './errors';
import { CHANNELS, IMAGE_BYTES } from './layout';

/**
 * CIFAR-10 training-set per-channel mean (R, G, B) on the 0..255 scale. Source: the shared data
 * README's verification figures (/work/shared/data/README.txt), = 0.49140, 0.48216, 0.44653 x 255;
 * the data spec checks them against the loaded files to 1e-3.
 */
export const CIFAR10_MEAN: readonly [number, number, number] = Object.freeze([125.3069, 122.9504, 113.8654] as const);
/** CIFAR-10 training-set per-channel population std (R, G, B), 0..255 scale; same source. */
export const CIFAR10_STD: readonly [number, number, number] = Object.freeze([62.9932, 62.0887, 66.7049] as const);

// 256 possible bytes x 3 channels: a table turns the per-element divide into one load, and each
// entry is computed in float64 then rounded once, i.e. exactly fround((x - mean[c]) / std[c]).
const TABLE = (() => {
  const t = new Float32Array(256 * CHANNELS);
  for (let c = 0; c < CHANNELS; c++) {
    for (let x = 0; x < 256; x++) t[c * 256 + x] = (x - CIFAR10_MEAN[c]) / CIFAR10_STD[c];
  }
  return t;
})();

/**
 * The model's one input normalisation (training, evaluation, predict):
 * out[i] = (x[i] - CIFAR10_MEAN[c]) / CIFAR10_STD[c], c = i % 3.
 *
 * @param images uint8 NHWC [count, 32, 32, 3], length count * 3072
 * @param out where to write (at least count * 3072 values; its first count * 3072 are returned as
 *   a view): a worker reuses one, as fresh arrays cost page faults every step
 * @returns float32 NHWC [count, 32, 32, 3], same element order
 * @throws CifarDataError E_DATA_ARGUMENT when `images.length !== count * 3072`, count is not a
 *   non-negative integer, or `out` is too short
 */
export function normalizeImages(images: Uint8Array, count: number, out?: Float32Array): Float32Array {
  if (!Number.isSafeInteger(count) || count < 0) throw argumentError(`count must be a non-negative integer, got ${count}`);
  if (images.length !== count * IMAGE_BYTES) {
    throw argumentError(`normalizeImages: ${images.length} bytes is not ${count} images x ${IMAGE_BYTES}`);
  }
  if (out !== undefined && out.length < images.length) {
    throw argumentError(`normalizeImages: output of ${out.length} values is shorter than ${images.length}`);
  }
  const xs = out === undefined ? new Float32Array(images.length) : out.subarray(0, images.length);
  for (let i = 0; i < images.length; i += 3) {
    xs[i] = TABLE[images[i]];
    xs[i + 1] = TABLE[256 + images[i + 1]];
    xs[i + 2] = TABLE[512 + images[i + 2]];
  }
  return xs;
}
