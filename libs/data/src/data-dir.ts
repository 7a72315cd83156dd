import path from 'node:path';

/** The data dir used when neither --data-dir nor CIFAR_DATA_DIR is given (relative to the cwd). */
export const DEFAULT_DATA_DIR = './data';

/**
 * Where the CIFAR data lives: the --data-dir value, else env CIFAR_DATA_DIR, else './data';
 * resolved against the current working directory. Empty strings count as not given.
 *
 * @returns an absolute path
 */
export function resolveDataDir(cliValue?: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromCli = cliValue?.trim();
  if (fromCli) return path.resolve(fromCli);
  const fromEnv = env.CIFAR_DATA_DIR?.trim();
  if (fromEnv) return path.resolve(fromEnv);
  return path.resolve(DEFAULT_DATA_DIR);
}
