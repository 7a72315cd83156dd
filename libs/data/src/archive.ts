import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { CifarDataError } from './errors';

function unreadable(archivePath: string, cause: unknown): CifarDataError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new CifarDataError('E_DATA_ARCHIVE', `${archivePath}: cannot read archive (corrupt or truncated .tar.gz?): ${why}`, {
    file: archivePath,
    cause,
  });
}

/** One file taken out of a tar.gz. */
export interface ArchiveEntry {
  /** The entry's full path inside the archive, e.g. `cifar-10-batches-bin/data_batch_1.bin`. */
  name: string;
  /** `<archive>!/<entry name>`: how errors about this entry name it. */
  file: string;
  data: Buffer;
}

/**
 * Reads the regular-file entries whose basename is in `basenames` out of a .tar.gz, in one
 * streaming pass (zlib gunzip -> tar-stream), without unpacking anything to disk. Other entries
 * are skipped. The whole stream is always read to its end, even once every wanted entry is in
 * hand: gzip's CRC-32 and length trailer are only checked there, and a corrupt deflate stream can
 * decode to wrong bytes without any earlier error.
 *
 * Entries are picked by basename because the official archives put them under a folder
 * (`cifar-10-batches-bin/`, `cifar-100-binary/`) and repacked ones may not.
 *
 * @returns a map from basename to entry, holding every wanted basename
 * @throws CifarDataError E_DATA_MISSING when the archive does not exist or lacks a wanted entry;
 *   E_DATA_ARCHIVE when it cannot be read, decompressed or parsed (corrupt, truncated, not gzip/tar),
 *   or when two entries share a wanted basename.
 */
export async function readArchiveEntries(
  archivePath: string,
  basenames: readonly string[],
): Promise<Map<string, ArchiveEntry>> {
  try {
    const st = await stat(archivePath);
    if (!st.isFile()) {
      throw new CifarDataError('E_DATA_ARCHIVE', `${archivePath}: not a regular file`, { file: archivePath });
    }
  } catch (err) {
    if (err instanceof CifarDataError) throw err;
    throw new CifarDataError('E_DATA_MISSING', `${archivePath}: archive not found`, { file: archivePath, cause: err });
  }

  const wanted = new Set(basenames);
  const found = new Map<string, ArchiveEntry>();
  const extract = tar.extract();
  // pipeline destroys every stage on the first error, which makes the for-await below throw it;
  // its own rejection is kept to report the root cause (the iterator may see a secondary one)
  // and to catch an error that arrives after the last entry (e.g. a bad gzip trailer).
  let pipelineError: unknown;
  const piped = pipeline(createReadStream(archivePath), createGunzip(), extract).catch((err: unknown) => {
    pipelineError = err;
  });

  try {
    for await (const entry of extract) {
      const name = entry.header.name;
      const base = path.posix.basename(name);
      const isFile = entry.header.type === 'file' || entry.header.type === 'contiguous-file';
      if (!isFile || !wanted.has(base)) {
        entry.resume();
        continue;
      }
      if (found.has(base)) {
        throw new CifarDataError(
          'E_DATA_ARCHIVE',
          `${archivePath}: two entries named '${base}' (${found.get(base)?.name} and ${name}); cannot tell which to use`,
          { file: archivePath },
        );
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
      found.set(base, { name, file: `${archivePath}!/${name}`, data: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) });
    }
  } catch (err) {
    extract.destroy();
    await piped;
    if (err instanceof CifarDataError) throw err;
    throw unreadable(archivePath, pipelineError ?? err);
  }
  await piped;
  if (pipelineError !== undefined) throw unreadable(archivePath, pipelineError);
  const missing = [...wanted].filter((b) => !found.has(b));
  if (missing.length > 0) {
    throw new CifarDataError('E_DATA_MISSING', `${archivePath}: archive has no entry named ${missing.join(', ')}`, {
      file: archivePath,
    });
  }
  return found;
}
