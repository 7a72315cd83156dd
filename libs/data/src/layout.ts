/** Side of a CIFAR image in pixels (images are IMAGE_SIZE x IMAGE_SIZE). */
export const IMAGE_SIZE = 32;
/** Colour channels per pixel (R, G, B). */
export const CHANNELS = 3;
/** Bytes per image: 32 * 32 * 3 = 3072, in both the planar file layout and our NHWC layout. */
export const IMAGE_BYTES = 3072;
/** Pixels per image plane (one channel): 1024. */
export const PLANE_BYTES = IMAGE_SIZE * IMAGE_SIZE;

/**
 * Converts one image from the CIFAR file layout (planar: 1024 R bytes, 1024 G, 1024 B, each
 * plane row-major) to NHWC (pixel (y,x) channel c at (y*32+x)*3+c).
 *
 * @param src planar bytes; the image starts at `srcOffset`
 * @param dst NHWC destination; the image is written at `dstOffset`
 */
export function planarToNhwc(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
  const g = srcOffset + PLANE_BYTES;
  const b = srcOffset + 2 * PLANE_BYTES;
  // One pass over the three planes; plain indexed loops are what V8 optimises best here
  // (measured: 50,000 images in ~0.25-0.35 s on the 2-core dev machine, page faults aside).
  for (let p = 0, o = dstOffset; p < PLANE_BYTES; p++, o += 3) {
    dst[o] = src[srcOffset + p];
    dst[o + 1] = src[g + p];
    dst[o + 2] = src[b + p];
  }
}

/**
 * Inverse of {@link planarToNhwc}: one NHWC image to the planar CIFAR file layout.
 * Used to write fixture files and to re-export data.
 */
export function nhwcToPlanar(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
  const g = dstOffset + PLANE_BYTES;
  const b = dstOffset + 2 * PLANE_BYTES;
  for (let p = 0, i = srcOffset; p < PLANE_BYTES; p++, i += 3) {
    dst[dstOffset + p] = src[i];
    dst[g + p] = src[i + 1];
    dst[b + p] = src[i + 2];
  }
}
