import { CIFAR100_FINE_TO_COARSE } from './cifar100-classes';
import { openDatasetFiles } from './dataset-files';
import { CifarDataError } from './errors';
import { IMAGE_BYTES, planarToNhwc } from './layout';
import { checkLimit, countRecords, parseClassNames } from './record-file';
import type { Cifar100Set, LoadOptions, Split } from './types';

/** Bytes per CIFAR-100 record: coarse label byte, fine label byte, 3072 planar pixel bytes. */
export const CIFAR100_RECORD_BYTES = 2 + IMAGE_BYTES;
export const CIFAR100_FINE_CLASSES = 100;
export const CIFAR100_COARSE_CLASSES = 20;
export const CIFAR100_SPLIT_FILES: Readonly<Record<Split, string>> = { train: 'train.bin', test: 'test.bin' };
export const CIFAR100_FINE_NAMES_FILE = 'fine_label_names.txt';
export const CIFAR100_COARSE_NAMES_FILE = 'coarse_label_names.txt';

/**
 * Checks every record's labels (coarse <= 19, fine <= 99, and the coarse label the one CIFAR-100
 * defines for that fine class, see CIFAR100_FINE_TO_COARSE) and converts the first `take`
 * records to NHWC.
 *
 * @throws CifarDataError E_DATA_LABEL naming file, record index and byte offset
 */
export function decodeCifar100Records(
  data: Uint8Array,
  file: string,
  recordCount: number,
  take: number,
): { images: Uint8Array; fineLabels: Uint8Array; coarseLabels: Uint8Array } {
  for (let r = 0; r < recordCount; r++) {
    const offset = r * CIFAR100_RECORD_BYTES;
    const coarse = data[offset];
    const fine = data[offset + 1];
    if (coarse >= CIFAR100_COARSE_CLASSES) {
      throw new CifarDataError(
        'E_DATA_LABEL',
        `${file}: record ${r} (byte offset ${offset}): coarse label ${coarse} is out of range 0..${CIFAR100_COARSE_CLASSES - 1}`,
        { file, record: r, offset },
      );
    }
    if (fine >= CIFAR100_FINE_CLASSES) {
      throw new CifarDataError(
        'E_DATA_LABEL',
        `${file}: record ${r} (byte offset ${offset + 1}): fine label ${fine} is out of range 0..${CIFAR100_FINE_CLASSES - 1}`,
        { file, record: r, offset: offset + 1 },
      );
    }
    if (CIFAR100_FINE_TO_COARSE[fine] !== coarse) {
      throw new CifarDataError(
        'E_DATA_LABEL',
        `${file}: record ${r} (byte offset ${offset}): coarse label ${coarse} does not match fine label ${fine}, ` +
          `which CIFAR-100 files under coarse ${CIFAR100_FINE_TO_COARSE[fine]}`,
        { file, record: r, offset },
      );
    }
  }
  const images = new Uint8Array(take * IMAGE_BYTES);
  const fineLabels = new Uint8Array(take);
  const coarseLabels = new Uint8Array(take);
  for (let r = 0; r < take; r++) {
    const offset = r * CIFAR100_RECORD_BYTES;
    coarseLabels[r] = data[offset];
    fineLabels[r] = data[offset + 1];
    planarToNhwc(data, offset + 2, images, r * IMAGE_BYTES);
  }
  return { images, fineLabels, coarseLabels };
}

/**
 * Loads a CIFAR-100 split from `dataDir`: `<dataDir>/cifar-100-binary/{train,test}.bin`
 * (3074-byte records: coarse byte, fine byte, 3072 planar pixels) with `fine_label_names.txt` and
 * `coarse_label_names.txt`, or, when that folder is absent, `<dataDir>/cifar-100-binary.tar.gz`
 * read straight from the archive. No record count is imposed (the official files hold
 * 50,000 / 10,000; the shared folder holds a one-superclass subset), only whole records.
 *
 * @param opts.limit keep only the first N records in file order (all labels are still checked)
 * @returns images NHWC uint8 [count, 32, 32, 3]; fine 0..99 and coarse 0..19 labels; 100 + 20 names;
 *   `source` = the file the records came from
 * @throws CifarDataError E_DATA_MISSING, E_DATA_SIZE, E_DATA_TRUNCATED (empty file), E_DATA_LABEL,
 *   E_DATA_NAMES, E_DATA_ARCHIVE, E_DATA_ARGUMENT
 */
export async function loadCifar100(dataDir: string, split: Split, opts: LoadOptions = {}): Promise<Cifar100Set> {
  const { limit } = opts;
  checkLimit(limit);
  const dataFile = CIFAR100_SPLIT_FILES[split];
  if (dataFile === undefined) {
    throw new CifarDataError('E_DATA_ARGUMENT', `split must be 'train' or 'test', got ${String(split)}`);
  }
  const files = await openDatasetFiles(dataDir, 'cifar100');
  const decoder = new TextDecoder();
  let fineClassNames: string[] = [];
  let coarseClassNames: string[] = [];
  let result: Cifar100Set | undefined;
  let index = 0;
  for await (const { file, data } of files.read([CIFAR100_FINE_NAMES_FILE, CIFAR100_COARSE_NAMES_FILE, dataFile])) {
    if (index === 0) {
      fineClassNames = parseClassNames(decoder.decode(data), CIFAR100_FINE_CLASSES, file);
    } else if (index === 1) {
      coarseClassNames = parseClassNames(decoder.decode(data), CIFAR100_COARSE_CLASSES, file);
    } else {
      const records = countRecords(data.byteLength, CIFAR100_RECORD_BYTES, file);
      const take = Math.min(records, limit ?? Infinity);
      const decoded = decodeCifar100Records(data, file, records, take);
      result = { ...decoded, count: take, fineClassNames, coarseClassNames, source: file };
    }
    index++;
  }
  if (result === undefined) {
    throw new CifarDataError('E_DATA_MISSING', `${files.path}: no ${dataFile}`, { file: files.path });
  }
  return result;
}
