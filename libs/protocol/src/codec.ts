import { Packr } from 'msgpackr';
import { ProtocolError } from './errors.js';
import { assertMessage } from './guards.js';
import type { Message, MessageType } from './messages.js';

/**
 * The one msgpackr configuration of the project. `moreTypes` encodes typed arrays as msgpack
 * extensions (without it Float32Array does not round-trip); records are off so that every frame is
 * self-describing and a restarted peer never depends on a shared structure table.
 */
const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false });

/** Encodes one message; the caller has built it from typed values, so no guard runs here. */
export function encodeMessage(message: Message): Uint8Array {
  return packr.pack(message);
}

/**
 * Copies typed arrays that msgpackr may hand back as views into the receive buffer: a socket.io
 * Buffer can sit at an offset that is not a multiple of 4, and a view would also pin that buffer.
 */
function ownTypedArrays(value: Record<string, unknown>): void {
  for (const [key, field] of Object.entries(value)) {
    if (field instanceof Float32Array) value[key] = new Float32Array(field);
    else if (field instanceof Uint8Array && !(field.constructor === Uint8Array)) value[key] = new Uint8Array(field);
  }
}

/**
 * Decodes and validates one frame.
 * @param bytes the received payload
 * @param expected the message type the receiver waits for (any type when omitted)
 * @param maxBytes frames larger than this are refused before decoding (E_PROTO_SIZE)
 * @throws ProtocolError E_PROTO_SIZE, E_PROTO_DECODE (malformed msgpack), E_PROTO_TYPE, E_PROTO_FIELD
 */
export function decodeMessage<T extends MessageType>(
  bytes: unknown,
  expected?: T,
  maxBytes = Number.POSITIVE_INFINITY,
): Extract<Message, { type: T }> {
  if (!(bytes instanceof Uint8Array)) {
    throw new ProtocolError('E_PROTO_DECODE', `payload is not binary (${typeof bytes})`);
  }
  if (bytes.byteLength > maxBytes) {
    throw new ProtocolError(
      'E_PROTO_SIZE',
      `payload of ${bytes.byteLength} bytes exceeds the bound of ${maxBytes} bytes`,
    );
  }
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw new ProtocolError('E_PROTO_DECODE', `malformed msgpack frame: ${(err as Error).message}`);
  }
  assertMessage(value, expected);
  ownTypedArrays(value as unknown as Record<string, unknown>);
  return value;
}

/** True when every element is finite (no NaN, no ±Infinity). */
export function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    // v - v is NaN for NaN and ±Infinity, 0 otherwise: one branch per element.
    if (v - v !== 0) return false;
  }
  return true;
}
