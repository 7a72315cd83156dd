import { Packr } from 'msgpackr';
import { ProtocolError } from './errors.js';
import { assertMessage } from './guards.js';
import type { Message, MessageType } from './messages.js';

/**
 * Wire frame of one message:
 *
 *   [u32 LE header length H] [H bytes: msgpack header] [pad to 4] [blob 0] [pad to 4] [blob 1] ...
 *
 * The header is the message with every typed-array field replaced by a descriptor
 * `{ $blob: index, kind: 'u8' | 'u16' | 'f32', length }`; the blobs are the arrays' raw little-endian
 * bytes. Large arrays (5 MB of gradients) thus cost one memcpy each way instead of msgpackr's
 * per-extension handling (measured here: ~25 ms encode + ~40 ms decode per 5 MB with msgpackr's
 * typed-array extension, ~2 ms as raw blobs). Every blob starts 4-byte aligned within the frame.
 *
 * The header uses the project's one msgpackr configuration; records are off so that every frame
 * is self-describing and a restarted peer never depends on a shared structure table.
 */
const packr = new Packr({ useRecords: false, structuredClone: false, moreTypes: false });

type BlobKind = 'u8' | 'u16' | 'f32';
interface BlobRef {
  $blob: number;
  kind: BlobKind;
  length: number;
}

const align4 = (n: number): number => (n + 3) & ~3;

/** A frame as pieces to place at byte offsets (the gaps between them are alignment padding). */
export interface FrameParts {
  byteLength: number;
  parts: Array<{ offset: number; bytes: Uint8Array }>;
}

/**
 * One message as the pieces of its frame, without assembling them: the header, then each typed
 * array's own bytes (views, not copies). A writer that can place bytes at offsets (a file) writes
 * the 5 MB of weights or gradients straight from the caller's array; encodeMessage assembles them.
 */
export function encodeFrameParts(message: Message): FrameParts {
  const header: Record<string, unknown> = {};
  const blobs: Uint8Array[] = [];
  for (const [key, value] of Object.entries(message)) {
    if (value instanceof Float32Array || value instanceof Uint8Array || value instanceof Uint16Array) {
      const kind: BlobKind = value instanceof Float32Array ? 'f32' : value instanceof Uint16Array ? 'u16' : 'u8';
      const ref: BlobRef = { $blob: blobs.length, kind, length: value.length };
      header[key] = ref;
      blobs.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    } else {
      header[key] = value;
    }
  }
  const head = packr.pack(header);
  const prefix = new Uint8Array(4 + head.length);
  new DataView(prefix.buffer).setUint32(0, head.length, true);
  prefix.set(head, 4);
  const parts: FrameParts['parts'] = [{ offset: 0, bytes: prefix }];
  let offset = align4(prefix.length);
  for (const b of blobs) {
    parts.push({ offset, bytes: b });
    offset = align4(offset + b.byteLength);
  }
  return { byteLength: offset, parts };
}

/** The pieces of a frame put together (alignment padding zeroed). */
export function assembleFrame({ byteLength, parts }: FrameParts): Uint8Array {
  const frame = new Uint8Array(byteLength);
  for (const p of parts) frame.set(p.bytes, p.offset);
  return frame;
}

/** Encodes one message into a frame; the caller built it from typed values, so no guard runs here. */
export function encodeMessage(message: Message): Uint8Array {
  return assembleFrame(encodeFrameParts(message));
}

function isBlobRef(v: unknown): v is BlobRef {
  return typeof v === 'object' && v !== null && typeof (v as BlobRef).$blob === 'number';
}

/**
 * Frames whose memory is at least this large own their ArrayBuffer (a Node Buffer below
 * Buffer.poolSize / 2 may be a slice of a shared 8 KiB pool): their blobs are viewed in place.
 */
const ZERO_COPY_MIN_BYTES = 64 * 1024;

/**
 * One blob of a frame as a typed array: a view into the frame when it is 4-byte aligned in a
 * buffer of its own (no copy of the 5 MB weights or gradients), else a copy into a fresh aligned
 * array (a small frame may sit in Node's shared Buffer pool, and Float32Array needs alignment).
 */
function blobView(bytes: Uint8Array, offset: number, byteLength: number, kind: BlobKind): Float32Array | Uint16Array | Uint8Array {
  const start = bytes.byteOffset + offset;
  const typed = (buffer: ArrayBufferLike, at: number): Float32Array | Uint16Array | Uint8Array =>
    kind === 'f32' ? new Float32Array(buffer, at, byteLength / 4) : kind === 'u16' ? new Uint16Array(buffer, at, byteLength / 2) : new Uint8Array(buffer, at, byteLength);
  if (bytes.buffer.byteLength >= ZERO_COPY_MIN_BYTES && start % 4 === 0) return typed(bytes.buffer, start);
  // Not bytes.slice: on a Node Buffer that is a view into a shared pool, not a copy.
  const copy = new Uint8Array(byteLength);
  copy.set(bytes.subarray(offset, offset + byteLength));
  return typed(copy.buffer, 0);
}

/** Parses a frame into a plain object; each blob becomes an aligned typed array (see blobView). */
function parseFrame(bytes: Uint8Array): unknown {
  if (bytes.byteLength < 4) throw new ProtocolError('E_PROTO_DECODE', `frame of ${bytes.byteLength} bytes has no header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLength = view.getUint32(0, true);
  if (4 + headLength > bytes.byteLength) {
    throw new ProtocolError('E_PROTO_DECODE', `header length ${headLength} runs past the frame (${bytes.byteLength} bytes)`);
  }
  let header: unknown;
  try {
    header = packr.unpack(bytes.subarray(4, 4 + headLength));
  } catch (err) {
    throw new ProtocolError('E_PROTO_DECODE', `malformed msgpack header: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return header;
  const fields = header as Record<string, unknown>;
  const refs = Object.entries(fields)
    .filter((e): e is [string, BlobRef] => isBlobRef(e[1]))
    .sort((a, b) => a[1].$blob - b[1].$blob);
  let offset = align4(4 + headLength);
  refs.forEach(([key, ref], i) => {
    const width = ref.kind === 'f32' ? 4 : ref.kind === 'u16' ? 2 : ref.kind === 'u8' ? 1 : 0;
    if (ref.$blob !== i || width === 0 || !Number.isSafeInteger(ref.length) || ref.length < 0) {
      throw new ProtocolError('E_PROTO_DECODE', `field ${key}: bad blob descriptor`);
    }
    const byteLength = ref.length * width;
    if (offset + byteLength > bytes.byteLength) {
      throw new ProtocolError('E_PROTO_DECODE', `field ${key}: ${byteLength} bytes at offset ${offset} run past the frame (${bytes.byteLength} bytes)`);
    }
    fields[key] = blobView(bytes, offset, byteLength, ref.kind);
    offset = align4(offset + byteLength);
  });
  return fields;
}

/**
 * Decodes and validates one frame.
 * @param bytes the received payload
 * @param expected the message type the receiver waits for (any type when omitted)
 * @param maxBytes frames larger than this are refused before decoding (E_PROTO_SIZE)
 * @throws ProtocolError E_PROTO_SIZE, E_PROTO_DECODE (malformed frame), E_PROTO_TYPE, E_PROTO_FIELD
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
    throw new ProtocolError('E_PROTO_SIZE', `payload of ${bytes.byteLength} bytes exceeds the bound of ${maxBytes} bytes`);
  }
  const value = parseFrame(bytes);
  assertMessage(value, expected);
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
