import { pino, type Level, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** Least severe level written (default 'info'). */
  level?: LogLevel;
  /** Human-readable lines (pino-pretty) instead of JSON lines; default: when stderr is a TTY. */
  pretty?: boolean;
  /** Where lines go (default: stderr, written synchronously so nothing is lost on exit). */
  destination?: NodeJS.WritableStream;
}

/**
 * The structured logger of a process: pino, one JSON object per line on stderr (fields `level`,
 * `time`, `role`, `msg`, plus bindings such as `rank`), or pino-pretty lines on a terminal.
 * @param role 'coordinator', 'train', 'worker' or 'bench'; also bound as a field
 */
export function createLogger(role: string, opts: LoggerOptions = {}): Logger {
  const level: Level = opts.level ?? 'info';
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const stream = pretty
    ? pinoPretty({
        sync: true,
        colorize: Boolean(process.stderr.isTTY),
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        ...(opts.destination ? { destination: opts.destination } : { destination: 2 }),
      })
    : (opts.destination ?? pino.destination({ fd: 2, sync: true }));
  return pino({ level, base: { role } }, stream);
}

/** The `(msg) => void` callback the libraries take, writing at `level` on `logger`. */
export function logAt(logger: Logger, level: LogLevel = 'info'): (msg: string) => void {
  return (msg) => logger[level](msg);
}
