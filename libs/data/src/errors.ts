/**
 * Stable error codes of the data library. Apps map them to exit codes / messages at the edge;
 * never match on message text.
 *
 * - E_DATA_MISSING       a required file, folder or archive entry does not exist
 * - E_DATA_TRUNCATED     a file holds fewer records than its format requires (or none)
 * - E_DATA_SIZE          a file's size is not a whole number of records
 * - E_DATA_LABEL         a label byte is out of range, or CIFAR-100 fine/coarse labels disagree
 * - E_DATA_NAMES         a class-name file has the wrong number of names, or duplicates
 * - E_DATA_ARCHIVE       a .tar.gz cannot be decompressed / parsed, or is ambiguous
 * - E_DATA_CHECKSUM      a downloaded archive's md5 differs from the expected one
 * - E_DATA_EMPTY_CLASS   a chosen class / superclass has no records in the file
 * - E_DATA_UNKNOWN_CLASS a class or superclass name / index that does not exist
 * - E_DATA_SPEC          a fine-tune class spec that is contradictory or empty
 * - E_DATA_DOWNLOAD      the download failed (network, HTTP status, disk)
 * - E_DATA_ARGUMENT      a caller passed an invalid argument (length, count, index, seed ...)
 */
export type CifarDataErrorCode =
  | 'E_DATA_MISSING'
  | 'E_DATA_TRUNCATED'
  | 'E_DATA_SIZE'
  | 'E_DATA_LABEL'
  | 'E_DATA_NAMES'
  | 'E_DATA_ARCHIVE'
  | 'E_DATA_CHECKSUM'
  | 'E_DATA_EMPTY_CLASS'
  | 'E_DATA_UNKNOWN_CLASS'
  | 'E_DATA_SPEC'
  | 'E_DATA_DOWNLOAD'
  | 'E_DATA_ARGUMENT';

/** Where in the data an error was found; every field optional because not every error has one. */
export interface CifarDataErrorDetails {
  /** The file (or `archive.tar.gz!/entry/name`) the error is about. */
  file?: string;
  /** Byte offset inside that file (for an archive entry: inside the entry). */
  offset?: number;
  /** Zero-based record index inside that file. */
  record?: number;
  /** The underlying error, if any (fs, zlib, tar, fetch). */
  cause?: unknown;
}

/**
 * The one error class of the data library: a stable `code` plus the file / byte offset / record
 * index where the problem is. The message already names file, record and offset, so it can be
 * shown to a user as-is.
 */
export class CifarDataError extends Error {
  readonly code: CifarDataErrorCode;
  readonly file?: string;
  readonly offset?: number;
  readonly record?: number;

  constructor(code: CifarDataErrorCode, message: string, details: CifarDataErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CifarDataError';
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.offset !== undefined) this.offset = details.offset;
    if (details.record !== undefined) this.record = details.record;
  }
}

/** Narrowing helper for callers that catch `unknown`. */
export function isCifarDataError(err: unknown, code?: CifarDataErrorCode): err is CifarDataError {
  return err instanceof CifarDataError && (code === undefined || err.code === code);
}

/** Shorthand for argument validation failures (programming errors, not data errors). */
export function argumentError(message: string): CifarDataError {
  return new CifarDataError('E_DATA_ARGUMENT', message);
}
