import { createLogger, logAt, type LogLevel } from '@cifar-dist/log';

/**
 * The process's log callback (the `(msg) => void` the libraries take), backed by a pino logger
 * with `role` bound: JSON lines on stderr, pretty on a terminal. `.warn`/`.error` reach the same
 * logger at those levels.
 */
export function createLog(role: string, level: LogLevel = 'info'): ((msg: string) => void) & { warn: (msg: string) => void; error: (msg: string) => void } {
  const logger = createLogger(role, { level });
  return Object.assign(logAt(logger, 'info'), { warn: logAt(logger, 'warn'), error: logAt(logger, 'error') });
}
