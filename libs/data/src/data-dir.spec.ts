import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveDataDir } from './data-dir';

describe('resolveDataDir', () => {
  it('prefers --data-dir, then CIFAR_DATA_DIR, then ./data, always absolute', () => {
    expect(resolveDataDir('/x/cifar', { CIFAR_DATA_DIR: '/env/dir' })).toBe('/x/cifar');
    expect(resolveDataDir('rel/dir', {})).toBe(path.resolve(process.cwd(), 'rel/dir'));
    expect(resolveDataDir(undefined, { CIFAR_DATA_DIR: '/env/dir' })).toBe('/env/dir');
    expect(resolveDataDir(undefined, {})).toBe(path.resolve(process.cwd(), 'data'));
  });

  it('treats empty strings as not given', () => {
    expect(resolveDataDir('', { CIFAR_DATA_DIR: '/env/dir' })).toBe('/env/dir');
    expect(resolveDataDir('  ', { CIFAR_DATA_DIR: '' })).toBe(path.resolve('data'));
  });
});
