import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { DATASET_LAYOUT, locateDataset, type DatasetName } from './dataset-files';
import { createDownloadProgress } from './download-progress';
import { CifarDataError } from './errors';

/** The official archives (Krizhevsky's site) and the md5s published there. */
export const CIFAR_DOWNLOADS: Readonly<Record<DatasetName, { url: string; md5: string }>> = {
  cifar10: { url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' },
  cifar100: { url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' },
};

export interface EnsureDatasetOptions {
  /** Replaces the global fetch (tests serve bytes without a network). */
  fetchImpl?: typeof fetch;
  /** Where plain progress lines and notices go; default: a line on stderr. */
  log?: (msg: string) => void;
  /** Show download progress (a bar on a TTY stderr, else log lines); default true. */
  progress?: boolean;
  /** Override the archive URL (mirrors, tests). */
  url?: string;
  /** Override the expected md5 (hex; tests, mirrors of a repacked archive). */
  md5?: string;
  /** Give up when the server has not answered (status and headers) within this, ms (default 30 000). */
  connectTimeoutMs?: number;
  /** Give up when no byte of the body arrived for this long, ms (default 60 000). */
  idleTimeoutMs?: number;
}

/** Default connect timeout of a download: the server's answer (status and headers), ms. */
export const DOWNLOAD_CONNECT_TIMEOUT_MS = 30_000;
/** Default idle timeout of a download: the longest wait for the next bytes of the body, ms. */
export const DOWNLOAD_IDLE_TIMEOUT_MS = 60_000;

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`;

/**
 * `promise`, or the error `onTimeout()` makes when it has not settled within `ms`; `cancel` then
 * runs (after the timeout has won, so that the cancelled promise's own error is not the answer).
 */
function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error, cancel: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(onTimeout());
      cancel();
    }, ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

/**
 * Makes sure a dataset is present in `dataDir`: returns at once when the extracted folder
 * (`cifar-10-batches-bin` / `cifar-100-binary`) or the official archive is there; otherwise
 * downloads the official archive into `dataDir`. The download goes to a temporary file in
 * `dataDir` that is renamed to `cifar-10-binary.tar.gz` / `cifar-100-binary.tar.gz` only after its
 * md5 matches, so an interrupted or corrupt download never looks like data. The loaders read the
 * archive directly; nothing is unpacked.
 *
 * @returns source 'folder' | 'archive' (found) or 'downloaded', and the folder / archive path
 * @throws CifarDataError E_DATA_DOWNLOAD (network, HTTP status, short body, disk),
 *   E_DATA_CHECKSUM (md5 mismatch; the temporary file is removed)
 */
export async function ensureDataset(
  dataDir: string,
  which: DatasetName,
  opts: EnsureDatasetOptions = {},
): Promise<{ source: 'folder' | 'archive' | 'downloaded'; path: string }> {
  const layout = DATASET_LAYOUT[which];
  if (layout === undefined) {
    throw new CifarDataError('E_DATA_ARGUMENT', `dataset must be 'cifar10' or 'cifar100', got ${String(which)}`);
  }
  const found = await locateDataset(dataDir, which);
  if (found !== null) return { source: found.kind, path: found.path };

  const url = opts.url ?? CIFAR_DOWNLOADS[which].url;
  const expectedMd5 = (opts.md5 ?? CIFAR_DOWNLOADS[which].md5).toLowerCase();
  const fetchImpl = opts.fetchImpl ?? fetch;
  const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
  const target = path.join(dataDir, layout.archive);
  const manual = `download ${url} into ${dataDir} by hand (or unpack it there)`;

  try {
    await mkdir(dataDir, { recursive: true });
  } catch (err) {
    throw new CifarDataError('E_DATA_DOWNLOAD', `cannot create data dir ${dataDir}: ${errorText(err)}`, {
      file: dataDir,
      cause: err,
    });
  }

  log(`${layout.title} not found in ${dataDir}; downloading ${url}`);
  // Neither fetch nor the server bounds a wait: a silent server or a stalled transfer would hang
  // the run's start forever. Past either timeout the request is aborted and the error names the URL.
  const connectMs = opts.connectTimeoutMs ?? DOWNLOAD_CONNECT_TIMEOUT_MS;
  const idleMs = opts.idleTimeoutMs ?? DOWNLOAD_IDLE_TIMEOUT_MS;
  const abort = new AbortController();
  let response: Response;
  try {
    response = await within(
      fetchImpl(url, { signal: abort.signal }),
      connectMs,
      () => new CifarDataError('E_DATA_DOWNLOAD', `cannot download ${url}: no answer within ${seconds(connectMs)} (connect timeout); ${manual}`, { file: target }),
      () => abort.abort(),
    );
  } catch (err) {
    if (err instanceof CifarDataError) throw err;
    throw new CifarDataError('E_DATA_DOWNLOAD', `cannot download ${url}: ${errorText(err)}; ${manual}`, {
      file: target,
      cause: err,
    });
  }
  if (!response.ok || response.body === null) {
    throw new CifarDataError(
      'E_DATA_DOWNLOAD',
      `cannot download ${url}: HTTP ${response.status} ${response.statusText}${response.body === null ? ' (no body)' : ''}; ${manual}`,
      { file: target },
    );
  }
  const lengthHeader = response.headers.get('content-length');
  // A compressed transfer makes Content-Length the wire size, not the file size.
  const total =
    lengthHeader !== null && response.headers.get('content-encoding') === null ? Number(lengthHeader) : undefined;

  const temp = path.join(dataDir, `.${layout.archive}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  const hash = createHash('md5');
  const progress = createDownloadProgress(layout.archive, total, log, opts.progress ?? true);
  let received = 0;
  try {
    const handle = await open(temp, 'wx');
    try {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await within(
          reader.read(),
          idleMs,
          () =>
            new CifarDataError(
              'E_DATA_DOWNLOAD',
              `download of ${url} stalled: no data for ${seconds(idleMs)} after ${received}${total !== undefined && Number.isFinite(total) ? ` of ${total}` : ''} bytes (idle timeout); ${manual}`,
              { file: target, offset: received },
            ),
          () => {
            abort.abort();
            reader.cancel().catch(() => undefined);
          },
        );
        if (done) break;
        hash.update(value);
        await handle.write(value);
        received += value.byteLength;
        progress.update(received);
      }
    } finally {
      progress.stop();
      await handle.close();
    }
    if (total !== undefined && Number.isFinite(total) && received !== total) {
      throw new CifarDataError(
        'E_DATA_DOWNLOAD',
        `download of ${url} ended after ${received} of ${total} bytes; ${manual}`,
        { file: target, offset: received },
      );
    }
    const actualMd5 = hash.digest('hex');
    if (actualMd5 !== expectedMd5) {
      throw new CifarDataError(
        'E_DATA_CHECKSUM',
        `downloaded ${url} (${received} bytes) has md5 ${actualMd5}, expected ${expectedMd5}; file discarded`,
        { file: target },
      );
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    if (err instanceof CifarDataError) throw err;
    throw new CifarDataError('E_DATA_DOWNLOAD', `download of ${url} failed: ${errorText(err)}; ${manual}`, {
      file: target,
      cause: err,
    });
  }
  log(`${layout.archive}: ${received} bytes, md5 ok, saved as ${target}`);
  return { source: 'downloaded', path: target };
}
