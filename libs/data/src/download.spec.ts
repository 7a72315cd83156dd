import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCifar10 } from './cifar10';
import { CIFAR_DOWNLOADS, ensureDataset } from './download';
import { createDownloadProgress } from './download-progress';
import { expectDataError } from './spec-helpers';
import { cifar10Files, makeTempDir, removeDir, tarGz } from './test-fixtures';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

/** A fetch stand-in that serves `body` in `chunks` pieces and records the URLs asked for. */
function serve(body: Uint8Array, init: { status?: number; chunks?: number; contentLength?: number } = {}) {
  const urls: string[] = [];
  const impl = async (input: string | URL | Request): Promise<Response> => {
    urls.push(String(input));
    const pieces = init.chunks ?? 4;
    const size = Math.ceil(body.length / pieces);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.length; i += size) controller.enqueue(body.slice(i, i + size));
        controller.close();
      },
    });
    return new Response(stream, {
      status: init.status ?? 200,
      headers: { 'content-length': String(init.contentLength ?? body.length) },
    });
  };
  return { impl: impl as typeof fetch, urls };
}

describe('ensureDataset', () => {
  let dir: string;
  let archiveBytes: Buffer;
  beforeEach(async () => {
    dir = path.join(await makeTempDir(), 'nested', 'data');
    archiveBytes = await tarGz(cifar10Files(2), 'cifar-10-batches-bin');
  });
  afterEach(() => removeDir(path.dirname(path.dirname(dir))));

  it('downloads to a temp file, checks the md5, renames, and the loader reads the result', async () => {
    const { impl, urls } = serve(archiveBytes);
    const lines: string[] = [];
    const result = await ensureDataset(dir, 'cifar10', { fetchImpl: impl, md5: md5(archiveBytes), log: (m) => lines.push(m) });
    const target = path.join(dir, 'cifar-10-binary.tar.gz');
    expect(result).toEqual({ source: 'downloaded', path: target });
    expect(urls).toEqual(['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz']);
    expect(Buffer.compare(await readFile(target), archiveBytes)).toBe(0);
    expect(await readdir(dir)).toEqual(['cifar-10-binary.tar.gz']);
    // stderr is not a TTY under vitest: plain progress lines, ending at 100 %
    expect(lines.some((l) => l.includes('(100%)'))).toBe(true);
    expect(lines.at(-1)).toContain('md5 ok');
    const set = await loadCifar10(dir, 'test', { recordsPerBatch: 2 });
    expect(set.count).toBe(2);
    // a second call finds the archive and fetches nothing
    expect(await ensureDataset(dir, 'cifar10', { fetchImpl: impl })).toEqual({ source: 'archive', path: target });
    expect(urls).toHaveLength(1);
  });

  it('a wrong md5 is E_DATA_CHECKSUM and leaves no file behind', async () => {
    const { impl } = serve(archiveBytes);
    const err = await expectDataError(
      ensureDataset(dir, 'cifar10', { fetchImpl: impl, md5: '0123456789abcdef0123456789abcdef', log: () => {} }),
      'E_DATA_CHECKSUM',
    );
    expect(err.message).toContain(md5(archiveBytes));
    expect(err.message).toContain('0123456789abcdef0123456789abcdef');
    expect(await readdir(dir)).toEqual([]);
  });

  it('checks against the official md5 by default, and uses the official CIFAR-100 URL', async () => {
    const { impl, urls } = serve(archiveBytes);
    const err = await expectDataError(ensureDataset(dir, 'cifar100', { fetchImpl: impl, log: () => {} }), 'E_DATA_CHECKSUM');
    expect(err.message).toContain('03b5dce01913d631647c71ecec9e9cb8');
    expect(urls).toEqual(['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz']);
    expect(CIFAR_DOWNLOADS.cifar10.md5).toBe('c32a1d4ab5d03f1284b67883e8d87530');
    expect(await readdir(dir)).toEqual([]);
  });

  it('an HTTP error is E_DATA_DOWNLOAD naming the status', async () => {
    const { impl } = serve(new TextEncoder().encode('not found'), { status: 404 });
    const err = await expectDataError(ensureDataset(dir, 'cifar10', { fetchImpl: impl, log: () => {} }), 'E_DATA_DOWNLOAD');
    expect(err.message).toContain('HTTP 404');
    expect(await readdir(dir)).toEqual([]);
  });

  it('a network failure is E_DATA_DOWNLOAD telling where to put the file by hand', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND www.cs.toronto.edu') });
    }) as typeof fetch;
    const err = await expectDataError(ensureDataset(dir, 'cifar10', { fetchImpl: failing, log: () => {} }), 'E_DATA_DOWNLOAD');
    expect(err.message).toContain('ENOTFOUND');
    expect(err.message).toContain(dir);
  });

  it('a body shorter than Content-Length is E_DATA_DOWNLOAD with no file left', async () => {
    const { impl } = serve(archiveBytes.subarray(0, 100), { contentLength: archiveBytes.length });
    await expectDataError(ensureDataset(dir, 'cifar10', { fetchImpl: impl, md5: md5(archiveBytes), log: () => {} }), 'E_DATA_DOWNLOAD');
    expect(await readdir(dir)).toEqual([]);
  });

  it('an existing folder wins and nothing is fetched', async () => {
    await mkdir(path.join(dir, 'cifar-100-binary'), { recursive: true });
    const { impl, urls } = serve(archiveBytes);
    expect(await ensureDataset(dir, 'cifar100', { fetchImpl: impl })).toEqual({
      source: 'folder',
      path: path.join(dir, 'cifar-100-binary'),
    });
    await writeFile(path.join(dir, 'cifar-10-binary.tar.gz'), archiveBytes);
    expect((await ensureDataset(dir, 'cifar10', { fetchImpl: impl })).source).toBe('archive');
    expect(urls).toEqual([]);
  });
});

describe('ensureDataset against a server that goes silent (real HTTP on loopback)', () => {
  let dir: string;
  let server: Server | null = null;
  beforeEach(async () => {
    dir = path.join(await makeTempDir(), 'data');
  });
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = null;
    await removeDir(path.dirname(dir));
  });

  /** Serves every request with `handle`; resolves with the archive URL on it. */
  async function serveWith(handle: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handle);
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/cifar-10-binary.tar.gz`;
  }

  it('no answer at all: E_DATA_DOWNLOAD after the connect timeout, naming the URL, nothing left in the folder', async () => {
    const url = await serveWith(() => undefined); // takes the request, never answers
    const started = performance.now();
    const err = await expectDataError(ensureDataset(dir, 'cifar10', { url, connectTimeoutMs: 300, log: () => {} }), 'E_DATA_DOWNLOAD');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(err.message).toBe(`cannot download ${url}: no answer within 0.3 s (connect timeout); download ${url} into ${dir} by hand (or unpack it there)`);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a transfer that stalls: E_DATA_DOWNLOAD after the idle timeout, naming the URL and the bytes received, no partial file left', async () => {
    const url = await serveWith((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100, 7)); // then silence
    });
    const err = await expectDataError(ensureDataset(dir, 'cifar10', { url, idleTimeoutMs: 300, log: () => {}, progress: false }), 'E_DATA_DOWNLOAD');
    expect(err.message).toBe(`download of ${url} stalled: no data for 0.3 s after 100 of 1000 bytes (idle timeout); download ${url} into ${dir} by hand (or unpack it there)`);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a slow but steady transfer is not cut: the idle timeout restarts with every piece', async () => {
    const body = archiveFor();
    const url = await serveWith((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length) });
      let at = 0;
      const timer = setInterval(() => {
        res.write(body.subarray(at, at + Math.ceil(body.length / 6)));
        at += Math.ceil(body.length / 6);
        if (at >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, 150);
    });
    // 6 pieces 150 ms apart: 900 ms in all, longer than the 400 ms idle timeout
    const result = await ensureDataset(dir, 'cifar10', { url, idleTimeoutMs: 400, md5: md5(body), log: () => {}, progress: false });
    expect(result.source).toBe('downloaded');
    expect(Buffer.compare(await readFile(result.path), body)).toBe(0);
  });
});

/** Some bytes to serve as an archive (the md5 is given to match). */
function archiveFor(): Buffer {
  return Buffer.from(Array.from({ length: 6_000 }, (_, i) => (i * 31) % 256));
}

describe('createDownloadProgress', () => {
  it('draws a cli-progress bar on a TTY stream', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const tty = Object.assign(out, { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream;
    const lines: string[] = [];
    const p = createDownloadProgress('cifar-10-binary.tar.gz', 2 * 1024 * 1024, (m) => lines.push(m), true, tty);
    p.update(1024 * 1024);
    p.update(2 * 1024 * 1024);
    p.stop();
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text).toContain('cifar-10-binary.tar.gz [');
    expect(text).toContain('100%');
    expect(text).toContain('2.0/2.0 MB');
    expect(lines).toEqual([]);
  });

  it('logs at most one line per 10 % without a TTY', () => {
    const lines: string[] = [];
    const notTty = new PassThrough() as unknown as NodeJS.WriteStream;
    const p = createDownloadProgress('x.tar.gz', 1000, (m) => lines.push(m), true, notTty);
    for (let b = 0; b <= 1000; b += 25) p.update(b);
    p.stop();
    expect(lines).toHaveLength(11);
    expect(lines[5]).toContain('(50%)');
  });
});
