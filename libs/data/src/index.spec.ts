// The public door exports the agreed names (other libs code against them).
import { describe, expect, it } from 'vitest';
import * as data from './index';

describe('@cifar-dist/data public API', () => {
  it('exports the agreed values with the agreed constants', () => {
    expect([data.IMAGE_SIZE, data.CHANNELS, data.IMAGE_BYTES]).toEqual([32, 3, 3072]);
    for (const name of [
      'CifarDataError',
      'resolveDataDir',
      'loadCifar10',
      'loadCifar100',
      'selectFinetuneClasses',
      'loadFinetuneDataset',
      'ensureDataset',
      'normalizeImages',
      'createRng',
      'epochPermutation',
      'shardRanges',
      'weightedShardRanges',
      'gatherBatch',
      'augmentBatch',
    ] as const) {
      expect(typeof data[name]).toBe('function');
    }
    expect(data.CIFAR10_MEAN).toHaveLength(3);
    expect(data.CIFAR10_STD).toHaveLength(3);
  });

  it('CifarDataError carries code, file, offset, record and is an Error', () => {
    const e = new data.CifarDataError('E_DATA_LABEL', 'f: record 2 (byte offset 6146): label 10', {
      file: 'f',
      offset: 6146,
      record: 2,
    });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('CifarDataError');
    expect([e.code, e.file, e.offset, e.record]).toEqual(['E_DATA_LABEL', 'f', 6146, 2]);
    expect(data.isCifarDataError(e, 'E_DATA_LABEL')).toBe(true);
    expect(data.isCifarDataError(e, 'E_DATA_SIZE')).toBe(false);
    expect(data.isCifarDataError(new Error('x'))).toBe(false);
  });
});
