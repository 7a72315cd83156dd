import { argumentError } from './errors';
import { IMAGE_BYTES, nhwcToPlanar } from './layout';

/**
 * Writes images + labels in the CIFAR-10 binary record layout (label byte, then 1024 R, 1024 G,
 * 1024 B bytes, row-major): the inverse of the loader, for fixtures and re-export.
 *
 * @param images uint8 NHWC [labels.length, 32, 32, 3]
 * @returns labels.length * 3073 bytes
 * @throws CifarDataError E_DATA_ARGUMENT on mismatched lengths or a label > 255
 */
export function encodeCifar10Records(images: Uint8Array, labels: ArrayLike<number>): Uint8Array {
  const n = labels.length;
  if (images.length !== n * IMAGE_BYTES) throw argumentError(`encode: ${images.length} bytes is not ${n} images`);
  const out = new Uint8Array(n * (1 + IMAGE_BYTES));
  for (let i = 0; i < n; i++) {
    const o = i * (1 + IMAGE_BYTES);
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label > 255) throw argumentError(`encode: label ${label} at ${i} is not a byte`);
    out[o] = label;
    nhwcToPlanar(images, i * IMAGE_BYTES, out, o + 1);
  }
  return out;
}

/**
 * Writes images + labels in the CIFAR-100 binary record layout (coarse byte, fine byte, then
 * 3072 planar pixel bytes).
 *
 * @param images uint8 NHWC [fineLabels.length, 32, 32, 3]
 * @returns fineLabels.length * 3074 bytes
 * @throws CifarDataError E_DATA_ARGUMENT on mismatched lengths or a label > 255
 */
export function encodeCifar100Records(
  images: Uint8Array,
  coarseLabels: ArrayLike<number>,
  fineLabels: ArrayLike<number>,
): Uint8Array {
  const n = fineLabels.length;
  if (coarseLabels.length !== n || images.length !== n * IMAGE_BYTES) {
    throw argumentError(`encode: ${images.length} bytes / ${coarseLabels.length} coarse / ${n} fine labels disagree`);
  }
  const out = new Uint8Array(n * (2 + IMAGE_BYTES));
  for (let i = 0; i < n; i++) {
    const o = i * (2 + IMAGE_BYTES);
    for (const [k, label] of [coarseLabels[i], fineLabels[i]].entries()) {
      if (!Number.isInteger(label) || label < 0 || label > 255) throw argumentError(`encode: label ${label} at ${i} is not a byte`);
      out[o + k] = label;
    }
    nhwcToPlanar(images, i * IMAGE_BYTES, out, o + 2);
  }
  return out;
}
