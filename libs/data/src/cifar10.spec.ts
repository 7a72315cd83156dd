import { truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar10';
import { expectDataError } from './spec-helpers';
import { IMAGE_BYTES } from './layout';
import {
  CIFAR10_NAMES,
  cifar10Files,
  makeTempDir,
  patternImage,
  removeDir,
  tarGz,
  tinyTrainLabel,
  writeFolder,
} from './test-fixtures';

const PER_BATCH = 3;
const RECORD = 3073;

describe('loadCifar10 from a folder', () => {
  let dir: string;
  let folder: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    folder = path.join(dir, 'cifar-10-batches-bin');
    await writeFolder(folder, cifar10Files(PER_BATCH));
  });
  afterEach(() => removeDir(dir));

  it('reads the train split in canonical order with exact NHWC bytes', async () => {
    const set = await loadCifar10(dir, 'train', { recordsPerBatch: PER_BATCH });
    expect(set.count).toBe(15);
    expect(set.images.length).toBe(15 * IMAGE_BYTES);
    expect(set.classNames).toEqual(CIFAR10_NAMES);
    expect(Array.from(set.labels)).toEqual(Array.from({ length: 15 }, (_, i) => tinyTrainLabel(i, PER_BATCH)));
    // record 4 = batch 2 (b = 1), record 1 -> pattern image 1001
    expect(set.images.subarray(4 * IMAGE_BYTES, 5 * IMAGE_BYTES)).toEqual(patternImage(1001));
    expect(set.images.subarray(14 * IMAGE_BYTES)).toEqual(patternImage(4002));
    // pixel (0,1) of image 0: R = 1, G = 255 - 1, B = 7
    expect(Array.from(set.images.subarray(3, 6))).toEqual([1, 254, 7]);
  });

  it('reads the test split', async () => {
    const set = await loadCifar10(dir, 'test', { recordsPerBatch: PER_BATCH });
    expect(set.count).toBe(3);
    expect(Array.from(set.labels)).toEqual([5, 6, 7]); // (5*7 + i) % 10
    expect(set.images.subarray(2 * IMAGE_BYTES)).toEqual(patternImage(5002));
  });

  it('limit keeps the first N records and does not read later batches', async () => {
    await unlink(path.join(folder, 'data_batch_3.bin'));
    const set = await loadCifar10(dir, 'train', { limit: 5, recordsPerBatch: PER_BATCH });
    expect(set.count).toBe(5);
    expect(set.images.length).toBe(5 * IMAGE_BYTES);
    expect(Array.from(set.labels)).toEqual([0, 1, 2, 7, 8]);
    expect(set.images.subarray(4 * IMAGE_BYTES)).toEqual(patternImage(1001));
    // without a limit the missing batch is an error, never a partial set
    const err = await expectDataError(loadCifar10(dir, 'train', { recordsPerBatch: PER_BATCH }), 'E_DATA_MISSING');
    expect(err.file).toBe(path.join(folder, 'data_batch_3.bin'));
    expect(err.message).toContain('data_batch_3.bin');
  });

  it('limit with recordsPerBatch null stops after enough records', async () => {
    const set = await loadCifar10(dir, 'train', { limit: 4, recordsPerBatch: null });
    expect(set.count).toBe(4);
    expect(Array.from(set.labels)).toEqual([0, 1, 2, 7]);
    expect(set.images.length).toBe(4 * IMAGE_BYTES);
  });

  it('rejects a batch that is not exactly 10000 records by default', async () => {
    const err = await expectDataError(loadCifar10(dir, 'train'), 'E_DATA_TRUNCATED');
    expect(err.file).toBe(path.join(folder, 'data_batch_1.bin'));
    expect(err.message).toContain('data_batch_1.bin');
    expect(err.message).toContain('10000');
    expect(err.offset).toBe(3 * RECORD);
  });

  it('rejects a size that is not a whole number of records', async () => {
    await truncate(path.join(folder, 'data_batch_2.bin'), 2 * RECORD + 100);
    const err = await expectDataError(loadCifar10(dir, 'train', { recordsPerBatch: PER_BATCH }), 'E_DATA_SIZE');
    expect(err.file).toBe(path.join(folder, 'data_batch_2.bin'));
    expect(err.message).toContain(`size ${2 * RECORD + 100} bytes`);
    expect(err.offset).toBe(2 * RECORD);
  });

  it('rejects a truncated batch (whole records, too few)', async () => {
    await truncate(path.join(folder, 'test_batch.bin'), 2 * RECORD);
    const err = await expectDataError(loadCifar10(dir, 'test', { recordsPerBatch: PER_BATCH }), 'E_DATA_TRUNCATED');
    expect(err.message).toContain('test_batch.bin');
    expect(err.record).toBe(2);
  });

  it('rejects an empty batch even without a record count', async () => {
    await truncate(path.join(folder, 'test_batch.bin'), 0);
    await expectDataError(loadCifar10(dir, 'test', { recordsPerBatch: null }), 'E_DATA_TRUNCATED');
  });

  it('rejects a label > 9 naming file, record and byte offset, even past the limit', async () => {
    const files = cifar10Files(PER_BATCH);
    const batch = files.get('data_batch_1.bin') as Uint8Array;
    batch[2 * RECORD] = 10;
    await writeFile(path.join(folder, 'data_batch_1.bin'), batch);
    const err = await expectDataError(loadCifar10(dir, 'train', { limit: 1, recordsPerBatch: PER_BATCH }), 'E_DATA_LABEL');
    expect(err.file).toBe(path.join(folder, 'data_batch_1.bin'));
    expect(err.record).toBe(2);
    expect(err.offset).toBe(2 * RECORD);
    expect(err.message).toContain('record 2');
    expect(err.message).toContain(`byte offset ${2 * RECORD}`);
    expect(err.message).toContain('label 10');
  });

  it('rejects a meta file without 10 names', async () => {
    await writeFile(path.join(folder, 'batches.meta.txt'), 'a\nb\n');
    const err = await expectDataError(loadCifar10(dir, 'test', { recordsPerBatch: PER_BATCH }), 'E_DATA_NAMES');
    expect(err.message).toContain('batches.meta.txt');
  });

  it('rejects bad options', async () => {
    await expectDataError(loadCifar10(dir, 'test', { limit: 0 }), 'E_DATA_ARGUMENT');
    await expectDataError(loadCifar10(dir, 'test', { limit: 1.5 }), 'E_DATA_ARGUMENT');
    await expectDataError(loadCifar10(dir, 'test', { recordsPerBatch: 0 }), 'E_DATA_ARGUMENT');
  });
});

describe('loadCifar10 without data', () => {
  it('names both the folder and the archive it looked for', async () => {
    const dir = await makeTempDir();
    try {
      const err = await expectDataError(loadCifar10(dir, 'train'), 'E_DATA_MISSING');
      expect(err.message).toContain(path.join(dir, 'cifar-10-batches-bin'));
      expect(err.message).toContain(path.join(dir, 'cifar-10-binary.tar.gz'));
    } finally {
      await removeDir(dir);
    }
  });
});

describe('loadCifar10 from the .tar.gz', () => {
  let dir: string;
  let archive: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    archive = path.join(dir, 'cifar-10-binary.tar.gz');
  });
  afterEach(() => removeDir(dir));

  it('gives exactly what the folder gives, without unpacking', async () => {
    const files = cifar10Files(PER_BATCH);
    await writeFile(archive, await tarGz(files, 'cifar-10-batches-bin'));
    const fromArchive = await loadCifar10(dir, 'train', { recordsPerBatch: PER_BATCH });
    const folderDir = path.join(dir, 'as-folder');
    await writeFolder(path.join(folderDir, 'cifar-10-batches-bin'), files);
    const fromFolder = await loadCifar10(folderDir, 'train', { recordsPerBatch: PER_BATCH });
    expect(fromArchive.count).toBe(15);
    expect(fromArchive.images).toEqual(fromFolder.images);
    expect(fromArchive.labels).toEqual(fromFolder.labels);
    expect(fromArchive.classNames).toEqual(CIFAR10_NAMES);
    const test = await loadCifar10(dir, 'test', { recordsPerBatch: PER_BATCH, limit: 2 });
    expect(Array.from(test.labels)).toEqual([5, 6]);
    expect(test.images.subarray(IMAGE_BYTES)).toEqual(patternImage(5001));
  });

  it('checks archive entries like files, naming the entry', async () => {
    const files = cifar10Files(PER_BATCH);
    const bad = files.get('data_batch_4.bin') as Uint8Array;
    bad[RECORD + 0] = 200;
    await writeFile(archive, await tarGz(files, 'cifar-10-batches-bin'));
    const err = await expectDataError(loadCifar10(dir, 'train', { recordsPerBatch: PER_BATCH }), 'E_DATA_LABEL');
    expect(err.file).toBe(`${archive}!/cifar-10-batches-bin/data_batch_4.bin`);
    expect(err.record).toBe(1);
    expect(err.offset).toBe(RECORD);
    // and the default record count applies to archives too
    await expectDataError(loadCifar10(dir, 'test'), 'E_DATA_TRUNCATED');
  });

  it('reports a missing entry', async () => {
    const files = cifar10Files(PER_BATCH);
    files.delete('data_batch_5.bin');
    await writeFile(archive, await tarGz(files, 'cifar-10-batches-bin'));
    const err = await expectDataError(loadCifar10(dir, 'train', { recordsPerBatch: PER_BATCH }), 'E_DATA_MISSING');
    expect(err.message).toContain('data_batch_5.bin');
    expect(err.message).toContain(archive);
  });

  it('reports a corrupt archive as E_DATA_ARCHIVE naming the file', async () => {
    const gz = await tarGz(cifar10Files(PER_BATCH), 'cifar-10-batches-bin');
    const corrupt = Buffer.from(gz);
    for (let i = 20; i < 220; i++) corrupt[i] ^= 0x5a;
    await writeFile(archive, corrupt);
    const err = await expectDataError(loadCifar10(dir, 'train', { recordsPerBatch: PER_BATCH }), 'E_DATA_ARCHIVE');
    expect(err.file).toBe(archive);
    expect(err.message).toContain(archive);
  });

  it('reports a truncated archive as E_DATA_ARCHIVE', async () => {
    const gz = await tarGz(cifar10Files(PER_BATCH), 'cifar-10-batches-bin');
    await writeFile(archive, gz.subarray(0, Math.floor(gz.length / 2)));
    await expectDataError(loadCifar10(dir, 'train', { recordsPerBatch: PER_BATCH }), 'E_DATA_ARCHIVE');
  });

  it('reads to the end: a bad gzip CRC after the last entry is still an error', async () => {
    const gz = Buffer.from(await tarGz(cifar10Files(PER_BATCH), 'cifar-10-batches-bin'));
    gz[gz.length - 8] ^= 0xff; // first byte of the CRC-32 trailer
    await writeFile(archive, gz);
    const err = await expectDataError(loadCifar10(dir, 'test', { recordsPerBatch: PER_BATCH }), 'E_DATA_ARCHIVE');
    expect(err.message).toMatch(/check|crc/i);
  });

  it('reports a file that is not gzip at all', async () => {
    await writeFile(archive, 'this is not a tarball');
    await expectDataError(loadCifar10(dir, 'test', { recordsPerBatch: PER_BATCH }), 'E_DATA_ARCHIVE');
  });

  it('prefers the extracted folder when both exist', async () => {
    await writeFile(archive, 'broken archive that must not be read');
    await writeFolder(path.join(dir, 'cifar-10-batches-bin'), cifar10Files(PER_BATCH));
    const set = await loadCifar10(dir, 'test', { recordsPerBatch: PER_BATCH });
    expect(set.count).toBe(3);
  });
});
