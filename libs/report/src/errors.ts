/**
 * Stable error codes of the report library. Callers match on `code`, never on message text.
 *
 * - E_REPORT_INPUT  a report.json that is not a version-1 RunReport (missing or mistyped fields)
 * - E_REPORT_NAME   a phase name that cannot be used in a file name (anything but [A-Za-z0-9_.-])
 */
export type ReportErrorCode = 'E_REPORT_INPUT' | 'E_REPORT_NAME';

/** The one error class of the report library: a stable `code` plus a message naming the culprit. */
export class ReportError extends Error {
  readonly code: ReportErrorCode;

  constructor(code: ReportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReportError';
    this.code = code;
  }
}
