import { statSync } from 'node:fs';
import path from 'node:path';
import { CifarDataError } from './errors';

/** The data dir used when neither --data-dir nor CIFAR_DATA_DIR is given (relative to the cwd). */
export const DEFAULT_DATA_DIR = './data';

/**
 * Where the CIFAR data lives: the --data-dir value, else env CIFAR_DATA_DIR, else './data';
 * resolved against the current working directory. Empty strings count as not given.
 *
 * @param opts.mustExist a folder given explicitly (--data-dir or CIFAR_DATA_DIR) must exist: a
 *   typo must not become a new folder that the trainer then downloads 170 MB into. The default
 *   ./data is created (and downloaded into) when absent, and so is anything in an existing empty folder.
 * @returns an absolute path
 * @throws CifarDataError E_DATA_MISSING (with mustExist) when the given folder does not exist or is a file
 */
export function resolveDataDir(cliValue?: string, env: NodeJS.ProcessEnv = process.env, opts: { mustExist?: boolean } = {}): string {
  const fromCli = cliValue?.trim();
  const fromEnv = env.CIFAR_DATA_DIR?.trim();
  const given = fromCli ? { what: '--data-dir', value: fromCli } : fromEnv ? { what: 'CIFAR_DATA_DIR', value: fromEnv } : null;
  if (given === null) return path.resolve(DEFAULT_DATA_DIR);
  const dir = path.resolve(given.value);
  if (opts.mustExist) requireFolder(dir, given.what === '--data-dir' ? `--data-dir ${given.value}` : `CIFAR_DATA_DIR=${given.value}`);
  return dir;
}

function requireFolder(dir: string, named: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new CifarDataError(
      'E_DATA_MISSING',
      `${named}: ${dir} does not exist. Give the folder that holds cifar-10-batches-bin/ and cifar-100-binary/ ` +
        `(or cifar-10-binary.tar.gz and cifar-100-binary.tar.gz), or create it empty to have the archives downloaded ` +
        `into it (without --data-dir and CIFAR_DATA_DIR, ./data is used and created)`,
      { file: dir },
    );
  }
  if (!isDir) {
    throw new CifarDataError('E_DATA_MISSING', `${named}: ${dir} is a file, not a folder: give the folder that holds the CIFAR data`, { file: dir });
  }
}
