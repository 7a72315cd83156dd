/**
 * A labelled image set. Images are always NHWC uint8: image i occupies bytes
 * [i*3072, (i+1)*3072), pixel (y,x) channel c at (y*32+x)*3+c; channel 0 = red.
 * `labels[i]` is the class index of image i, an index into `classNames`.
 */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  classNames: string[];
}

/**
 * CIFAR-100 records: images (NHWC uint8 as in {@link ImageSet}) with both label levels.
 * `fineLabels[i]` indexes `fineClassNames` (0..99), `coarseLabels[i]` indexes `coarseClassNames` (0..19).
 * `source`, when present, is the file the records came from (used in error messages).
 */
export interface Cifar100Set {
  images: Uint8Array;
  fineLabels: Uint8Array;
  coarseLabels: Uint8Array;
  count: number;
  fineClassNames: string[];
  coarseClassNames: string[];
  source?: string;
}

export type Split = 'train' | 'test';

/**
 * Which CIFAR-100 fine classes the fine-tune adds. Give `classes` (fine class names, in label
 * order) or `superclass` (coarse name or index: all its fine classes), not both; neither means
 * the reference's ['lobster', 'snail', 'spider', 'worm'].
 */
export interface FinetuneSpec {
  classes?: string[];
  superclass?: string | number;
}

/** Options shared by the loaders. */
export interface LoadOptions {
  /** Use only the first N records, in canonical order (a positive integer). Default: all. */
  limit?: number;
  /**
   * Records each CIFAR-10 batch file must hold. Default 10000, the official figure, for both the
   * folder and the archive. Tests that read tiny hand-made batches set their own count; `null`
   * accepts any whole, non-zero number of records. CIFAR-100 files are never held to a count
   * (the shared folder holds a one-superclass subset), only to whole records.
   */
  recordsPerBatch?: number | null;
}
