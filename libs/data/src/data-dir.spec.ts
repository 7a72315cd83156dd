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

describe('resolveDataDir({ mustExist: true }): an explicit data dir must exist', () => {
  it('refuses a --data-dir or CIFAR_DATA_DIR that does not exist or is a file, and lets the default ./data be created', async () => {
    const { mkdtempSync, writeFileSync, rmSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const base = mkdtempSync(path.join(tmpdir(), 'data-dir-'));
    try {
      const missing = path.join(base, 'typo');
      expect(() => resolveDataDir(missing, {}, { mustExist: true })).toThrow(
        `--data-dir ${missing}: ${missing} does not exist. Give the folder that holds cifar-10-batches-bin/ and cifar-100-binary/ ` +
          '(or cifar-10-binary.tar.gz and cifar-100-binary.tar.gz), or create it empty to have the archives downloaded into it ' +
          '(without --data-dir and CIFAR_DATA_DIR, ./data is used and created)',
      );
      expect(() => resolveDataDir(undefined, { CIFAR_DATA_DIR: missing }, { mustExist: true })).toThrow(`CIFAR_DATA_DIR=${missing}: ${missing} does not exist.`);
      const file = path.join(base, 'file');
      writeFileSync(file, '');
      expect(() => resolveDataDir(file, {}, { mustExist: true })).toThrow(`--data-dir ${file}: ${file} is a file, not a folder: give the folder that holds the CIFAR data`);
      expect(resolveDataDir(base, {}, { mustExist: true })).toBe(base);
      // the default is not checked (it is created and downloaded into); nor is anything without mustExist
      expect(resolveDataDir(undefined, {}, { mustExist: true })).toBe(path.resolve('data'));
      expect(resolveDataDir(missing, {})).toBe(missing);
      expect(existsSync(missing)).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
