// Structured logging shared by the apps: pino JSON lines, pretty on a terminal.
export { createLogger, logAt, LOG_LEVELS, type LogLevel, type LoggerOptions } from './logger.js';
export type { Logger } from 'pino';
