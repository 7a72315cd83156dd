import { ProtocolError } from './errors.js';
import type { Message, MessageType } from './messages.js';

type Fields = Record<string, unknown>;
type Check = (value: unknown) => boolean;

const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
const isNonNegInt = (v: unknown): boolean => isInt(v) && (v as number) >= 0;
const isNumber = (v: unknown): boolean => typeof v === 'number';
const isString = (v: unknown): boolean => typeof v === 'string';
const isBool = (v: unknown): boolean => typeof v === 'boolean';
/** A probability mass to spread: a finite number in [0, 1). */
const isSmoothing = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v < 1;
const isU8 = (v: unknown): boolean => v instanceof Uint8Array;
const isF32 = (v: unknown): boolean => v instanceof Float32Array;
const isU16 = (v: unknown): boolean => v instanceof Uint16Array;
const oneOf =
  (...values: unknown[]): Check =>
  (v) =>
    values.includes(v);
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || v === null || check(v);

const isRecordOf =
  (fields: Record<string, Check>): Check =>
  (v) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.entries(fields).every(([k, check]) => check((v as Fields)[k]));

/** Field table per message type: every field is checked, not only the tag. */
const SCHEMAS: { [T in MessageType]: Record<string, Check> } = {
  hello: {
    protocolVersion: isInt,
    workerId: isString,
    backend: isString,
    device: isString,
    hostname: isString,
    pid: isNonNegInt,
    adapter: optional(
      isRecordOf({ vendor: isString, architecture: isString, device: isString, driver: isString, emulated: isBool, index: isNonNegInt }),
    ),
    shmProbe: optional(isRecordOf({ probe: isString, nonce: isString })),
  },
  welcome: {
    rank: isNonNegInt,
    runId: isString,
    shm: optional(isRecordOf({ down: isString, up: isString, weights: optional(isString) })),
    requestTimeoutMs: optional(isNonNegInt),
  },
  'set-model': {
    modelId: isNonNegInt,
    numClasses: isNonNegInt,
    frozenLayers: isNonNegInt,
    dropout: isBool,
    labelSmoothing: optional(isSmoothing),
    weights: isF32,
    weightsVersion: isNonNegInt,
  },
  ready: { modelId: isNonNegInt, weightsCrc: isNonNegInt },
  compute: {
    modelId: isNonNegInt,
    step: isNonNegInt,
    weights: optional(isF32),
    weightsVersion: isNonNegInt,
    sharedWeights: optional(isNonNegInt),
    gradDtype: optional(oneOf('float16', 'bfloat16')),
    images: isU8,
    labels: isU8,
    count: isNonNegInt,
    microBatch: optional(isNonNegInt),
    dropoutSeed: optional(isNonNegInt),
    sampleOffset: optional(isNonNegInt),
  },
  gradient: {
    step: isNonNegInt,
    loss: isNumber,
    correct: isNonNegInt,
    count: isNonNegInt,
    gradients: (v) => isF32(v) || isU16(v),
    gradDtype: optional(oneOf('float16', 'bfloat16')),
    gradScales: optional(isF32),
    weightsVersion: isNonNegInt,
    weightsCrc: optional(isNonNegInt),
    computeMs: isNumber,
  },
  evaluate: {
    modelId: isNonNegInt,
    requestId: isNonNegInt,
    weights: optional(isF32),
    weightsVersion: isNonNegInt,
    sharedWeights: optional(isNonNegInt),
    images: isU8,
    labels: isU8,
    count: isNonNegInt,
  },
  evaluation: { requestId: isNonNegInt, predictions: isU8, losses: isF32 },
  error: { code: isString, message: isString },
  shutdown: { reason: isString, dropped: optional(isBool) },
};

/** Cross-field facts (lengths that must agree). Image payloads are count * 3072 bytes. */
function checkLengths(msg: Message): void {
  const bad = (field: string, expected: number, got: number): never => {
    throw new ProtocolError(
      'E_PROTO_FIELD',
      `${msg.type}.${field}: expected length ${expected}, got ${got}`,
    );
  };
  if (msg.type === 'compute' || msg.type === 'evaluate') {
    if (msg.images.length !== msg.count * 3072) bad('images', msg.count * 3072, msg.images.length);
    if (msg.labels.length !== msg.count) bad('labels', msg.count, msg.labels.length);
  } else if (msg.type === 'gradient') {
    // 16-bit values exactly when a 16-bit dtype is named; float16 carries one scale per block.
    const sixteen = msg.gradients instanceof Uint16Array;
    if (sixteen !== (msg.gradDtype !== undefined && msg.gradDtype !== null)) {
      throw new ProtocolError('E_PROTO_FIELD', `gradient.gradients: ${sixteen ? '16-bit values without gradDtype' : `float32 values, but gradDtype ${String(msg.gradDtype)}`}`);
    }
    // The scales' count depends on the parts (the receiver checks it); here only their presence.
    const scaled = msg.gradScales !== undefined && msg.gradScales !== null;
    if (scaled !== (msg.gradDtype === 'float16')) {
      throw new ProtocolError('E_PROTO_FIELD', `gradient.gradScales: ${scaled ? `present with ${msg.gradDtype ?? 'float32'}` : 'missing with float16'}`);
    }
  } else if (msg.type === 'evaluation') {
    if (msg.losses.length !== msg.predictions.length)
      bad('losses', msg.predictions.length, msg.losses.length);
  }
}

/**
 * Runtime guard: asserts `value` is a well-formed message (of type `expected`, when given).
 * @throws ProtocolError E_PROTO_TYPE for a missing/unknown/unexpected type, E_PROTO_FIELD naming
 *   the first bad field.
 */
export function assertMessage<T extends MessageType>(
  value: unknown,
  expected?: T,
): asserts value is Extract<Message, { type: T }> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('E_PROTO_TYPE', `message is not an object (${typeof value})`);
  }
  const fields = value as Fields;
  const type = fields['type'];
  if (typeof type !== 'string' || !(type in SCHEMAS)) {
    throw new ProtocolError('E_PROTO_TYPE', `unknown message type ${JSON.stringify(type)}`);
  }
  if (expected !== undefined && type !== expected) {
    throw new ProtocolError('E_PROTO_TYPE', `expected a '${expected}' message, got '${type}'`);
  }
  const schema = SCHEMAS[type as MessageType];
  for (const [field, check] of Object.entries(schema)) {
    if (!check(fields[field])) {
      const got = fields[field];
      const shown = got === undefined ? 'missing' : got?.constructor?.name ?? typeof got;
      throw new ProtocolError('E_PROTO_FIELD', `${type}.${field} is invalid (${shown})`);
    }
  }
  checkLengths(value as Message);
}
