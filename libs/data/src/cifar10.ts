import { openDatasetFiles } from './dataset-files';
import { CifarDataError } from './errors';
import { IMAGE_BYTES, planarToNhwc } from './layout';
import { checkLimit, countRecords, parseClassNames } from './record-file';
import type { ImageSet, LoadOptions, Split } from './types';

/** Bytes per CIFAR-10 record: 1 label byte + 3072 planar pixel bytes. */
export const CIFAR10_RECORD_BYTES = 1 + IMAGE_BYTES;
/** Records in each official CIFAR-10 batch file. */
export const CIFAR10_RECORDS_PER_BATCH = 10000;
export const CIFAR10_CLASSES = 10;
/** Batch files of each split, in canonical order. */
export const CIFAR10_BATCH_FILES: Readonly<Record<Split, readonly string[]>> = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
};
export const CIFAR10_META_FILE = 'batches.meta.txt';

/**
 * Checks the label bytes of a whole CIFAR-10 batch (all records, not only those kept under a
 * limit: a damaged file must never load silently) and converts `take` records to NHWC at
 * `dstRecord` of the destination arrays.
 *
 * @throws CifarDataError E_DATA_LABEL naming file, record and byte offset of the first label > 9
 */
export function decodeCifar10Batch(
  data: Uint8Array,
  file: string,
  recordCount: number,
  take: number,
  images: Uint8Array,
  labels: Uint8Array,
  dstRecord: number,
): void {
  for (let r = 0; r < recordCount; r++) {
    const offset = r * CIFAR10_RECORD_BYTES;
    const label = data[offset];
    if (label >= CIFAR10_CLASSES) {
      throw new CifarDataError(
        'E_DATA_LABEL',
        `${file}: record ${r} (byte offset ${offset}): label ${label} is out of range 0..${CIFAR10_CLASSES - 1}`,
        { file, record: r, offset },
      );
    }
  }
  for (let r = 0; r < take; r++) {
    const offset = r * CIFAR10_RECORD_BYTES;
    labels[dstRecord + r] = data[offset];
    planarToNhwc(data, offset + 1, images, (dstRecord + r) * IMAGE_BYTES);
  }
}

function grow(arr: Uint8Array, length: number): Uint8Array {
  if (arr.length >= length) return arr;
  const next = new Uint8Array(length);
  next.set(arr);
  return next;
}

/**
 * Loads a CIFAR-10 split from `dataDir`: the folder `<dataDir>/cifar-10-batches-bin/`
 * (`data_batch_1..5.bin` or `test_batch.bin`, plus `batches.meta.txt` for the class names), or,
 * when that folder is absent, `<dataDir>/cifar-10-binary.tar.gz` read straight from the archive.
 * Each batch file is read whole and decoded in one pass (planar -> NHWC).
 *
 * @param opts.limit keep only the first N records in canonical order (batch 1 first); batch
 *   files past the limit are not read
 * @param opts.recordsPerBatch records each batch must hold (default 10000; null = any whole number)
 * @returns images NHWC uint8 [count, 32, 32, 3], labels 0..9, the 10 class names
 * @throws CifarDataError E_DATA_MISSING (folder/archive/file/entry absent), E_DATA_SIZE (not a
 *   whole number of 3073-byte records), E_DATA_TRUNCATED (not exactly recordsPerBatch records),
 *   E_DATA_LABEL (label > 9), E_DATA_NAMES (meta file not 10 names), E_DATA_ARCHIVE,
 *   E_DATA_ARGUMENT (bad limit / recordsPerBatch)
 */
export async function loadCifar10(dataDir: string, split: Split, opts: LoadOptions = {}): Promise<ImageSet> {
  return readCifar10(dataDir, split, opts, 0);
}

/**
 * {@link loadCifar10} whose `images` / `labels` arrays have room for `reserve` more records after
 * the `count` loaded ones (zero-filled), so a caller can append without a second 150 MB copy.
 * With reserve 0 the arrays are exactly `count` records long.
 */
export async function readCifar10(dataDir: string, split: Split, opts: LoadOptions, reserve: number): Promise<ImageSet> {
  const { limit } = opts;
  checkLimit(limit);
  const perBatch = opts.recordsPerBatch === undefined ? CIFAR10_RECORDS_PER_BATCH : opts.recordsPerBatch;
  if (perBatch !== null && !(Number.isSafeInteger(perBatch) && perBatch >= 1)) {
    throw new CifarDataError('E_DATA_ARGUMENT', `recordsPerBatch must be a positive integer or null, got ${String(perBatch)}`);
  }
  const allBatches = CIFAR10_BATCH_FILES[split];
  if (allBatches === undefined) {
    throw new CifarDataError('E_DATA_ARGUMENT', `split must be 'train' or 'test', got ${String(split)}`);
  }
  const batches =
    limit !== undefined && perBatch !== null ? allBatches.slice(0, Math.ceil(limit / perBatch)) : allBatches;
  const wanted = limit ?? Infinity;

  const files = await openDatasetFiles(dataDir, 'cifar10');
  // With a known batch size the output is allocated once; otherwise it grows per file.
  const capacity = perBatch === null ? 0 : Math.min(wanted, batches.length * perBatch) + reserve;
  let images: Uint8Array = new Uint8Array(capacity * IMAGE_BYTES);
  let labels: Uint8Array = new Uint8Array(capacity);
  let count = 0;
  let classNames: string[] = [];

  // The meta file is asked for first, so the names are known before any batch is decoded.
  let first = true;
  for await (const { file, data } of files.read([CIFAR10_META_FILE, ...batches])) {
    if (first) {
      first = false;
      classNames = parseClassNames(new TextDecoder().decode(data), CIFAR10_CLASSES, file);
      continue;
    }
    if (count >= wanted) break;
    const records = countRecords(data.byteLength, CIFAR10_RECORD_BYTES, file, perBatch);
    const take = Math.min(records, wanted - count);
    images = grow(images, (count + take) * IMAGE_BYTES);
    labels = grow(labels, count + take);
    decodeCifar10Batch(data, file, records, take, images, labels, count);
    count += take;
  }
  images = grow(images, (count + reserve) * IMAGE_BYTES);
  labels = grow(labels, count + reserve);
  return { images, labels, count, classNames };
}
