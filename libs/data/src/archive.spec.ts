import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readArchiveEntries } from './archive';
import { expectDataError } from './spec-helpers';
import { makeTempDir, removeDir } from './test-fixtures';

async function gzTar(entries: Array<{ name: string; body?: string; type?: 'file' | 'directory' | 'symlink'; linkname?: string }>) {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else pack.entry({ name: e.name, size: Buffer.byteLength(e.body ?? '') }, Buffer.from(e.body ?? ''));
  }
  pack.finalize();
  return buffer(pack.pipe(createGzip()));
}

describe('readArchiveEntries', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    file = path.join(dir, 'a.tar.gz');
  });
  afterEach(() => removeDir(dir));

  it('picks regular files by basename, whatever folder they sit in, skipping the rest', async () => {
    await writeFile(
      file,
      await gzTar([
        { name: 'top/', type: 'directory' },
        { name: 'top/readme.html', body: 'skip me' },
        { name: 'top/sub/train.bin', body: 'TRAIN' },
        { name: 'test.bin', body: 'TEST' },
        { name: 'top/link.bin', type: 'symlink', linkname: 'train.bin' },
      ]),
    );
    const got = await readArchiveEntries(file, ['train.bin', 'test.bin']);
    expect([...got.keys()].sort()).toEqual(['test.bin', 'train.bin']);
    expect(got.get('train.bin')?.data.toString()).toBe('TRAIN');
    expect(got.get('train.bin')?.name).toBe('top/sub/train.bin');
    expect(got.get('train.bin')?.file).toBe(`${file}!/top/sub/train.bin`);
    expect(got.get('test.bin')?.data.toString()).toBe('TEST');
  });

  it('refuses two entries with one wanted basename', async () => {
    await writeFile(file, await gzTar([{ name: 'a/train.bin', body: '1' }, { name: 'b/train.bin', body: '2' }]));
    const err = await expectDataError(readArchiveEntries(file, ['train.bin']), 'E_DATA_ARCHIVE');
    expect(err.message).toContain('a/train.bin');
    expect(err.message).toContain('b/train.bin');
  });

  it('reports a missing archive and a missing entry as E_DATA_MISSING', async () => {
    await expectDataError(readArchiveEntries(path.join(dir, 'none.tar.gz'), ['x']), 'E_DATA_MISSING');
    await writeFile(file, await gzTar([{ name: 'x', body: 'x' }]));
    const err = await expectDataError(readArchiveEntries(file, ['x', 'y']), 'E_DATA_MISSING');
    expect(err.message).toContain('y');
  });

  it('reports gzip that holds no tar as E_DATA_ARCHIVE', async () => {
    const notTar = await buffer(
      (() => {
        const gz = createGzip();
        gz.end(Buffer.alloc(1024, 0x41));
        return gz;
      })(),
    );
    await writeFile(file, notTar);
    await expectDataError(readArchiveEntries(file, ['x']), 'E_DATA_ARCHIVE');
  });
});
