/** Stable codes of the CLI's own failures (bad arguments, unreadable images or models). */
export type CliErrorCode = 'E_CLI_USAGE' | 'E_CLI_IMAGE' | 'E_CLI_MODEL' | 'E_CLI_DATA';

/** A failure the user can fix; its message names the file or option at fault. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
}

/**
 * Exit status for an error that reached the command's edge: 2 for usage errors (bad option
 * values), 3 for data-set errors (the data lib's E_DATA_* codes and E_CLI_DATA), 4 for model
 * errors (missing/malformed model folder, E_TRAIN_CHECKPOINT, E_MODEL_*), 5 for image errors,
 * 1 for anything else.
 */
export function exitCodeFor(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 1;
  if (code === 'E_CLI_USAGE') return 2;
  if (code === 'E_CLI_DATA' || code.startsWith('E_DATA')) return 3;
  if (code === 'E_CLI_MODEL' || code === 'E_TRAIN_CHECKPOINT' || code.startsWith('E_MODEL')) return 4;
  if (code === 'E_CLI_IMAGE') return 5;
  return 1;
}

/**
 * Runs a command's `main`, exiting 0 when it resolves; on failure prints `<name>: <message>` on
 * stderr and exits with {@link exitCodeFor}.
 */
export function runMain(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(exitCodeFor(err));
    },
  );
}
