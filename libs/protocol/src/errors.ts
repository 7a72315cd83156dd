/** Stable codes for everything that can be wrong with a message or a peer. */
export type ProtocolErrorCode =
  | 'E_PROTO_DECODE'
  | 'E_PROTO_TYPE'
  | 'E_PROTO_FIELD'
  | 'E_PROTO_VERSION'
  | 'E_PROTO_TOKEN'
  | 'E_PROTO_SIZE'
  | 'E_PROTO_NONFINITE'
  | 'E_PROTO_STALE';

/** A message or peer that breaks the wire protocol; `code` is stable, the message names the field. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
