import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CliError } from './errors.js';

/**
 * Parses `argv` (node, script, ...args) with `program`, without letting commander exit the process:
 * usage errors become CliError E_CLI_USAGE carrying commander's message. Returns false when commander
 * only printed help or the version (nothing left to do).
 *
 * @throws CliError E_CLI_USAGE for unknown options, missing required options or arguments, bad values
 */
export function parseArgs(program: Command, argv: readonly string[]): boolean {
  program.exitOverride().configureOutput({ writeErr: () => undefined });
  try {
    program.parse([...argv]);
    return true;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return false;
      throw new CliError('E_CLI_USAGE', err.message.replace(/^error: /, ''), { cause: err });
    }
    throw err;
  }
}

/** commander argParser for a positive integer option value. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  }
  return n;
}

/** commander argParser for a recall, precision or fraction: a number in [0, 1]. */
export function unitInterval(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`expected a number from 0 to 1, got '${value}'`);
  return n;
}
