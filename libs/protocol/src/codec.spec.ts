import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';

/** A frame whose header is `value` (msgpack) and that has no blobs: lets tests forge messages. */
function forge(value: unknown): Uint8Array {
  const head = new Packr({ useRecords: false }).pack(value);
  const frame = new Uint8Array(4 + head.length);
  new DataView(frame.buffer).setUint32(0, head.length, true);
  frame.set(head, 4);
  return frame;
}
import {
  PROTOCOL_VERSION,
  ProtocolError,
  allFinite,
  decodeMessage,
  encodeMessage,
  tokensEqual,
  weightsCrc,
  type ComputeMessage,
  type GradientMessage,
} from './index.js';

function gradientMessage(n = 1000): GradientMessage {
  const gradients = new Float32Array(n);
  for (let i = 0; i < n; i++) gradients[i] = Math.sin(i) * 1e-3;
  return { type: 'gradient', step: 7, loss: 2.3, correct: 5, count: 32, gradients, weightsVersion: 0, computeMs: 12.5 };
}

describe('codec', () => {
  it('round-trips a gradient byte-exactly, even from an odd offset', () => {
    const msg = gradientMessage(1_250_858);
    const bytes = encodeMessage(msg);
    // socket.io may hand us the payload at an offset that is not a multiple of 4
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const back = decodeMessage(shifted.subarray(1), 'gradient');
    expect(back.gradients).toBeInstanceOf(Float32Array);
    expect(back.gradients.byteOffset % 4).toBe(0);
    expect(Buffer.from(back.gradients.buffer, back.gradients.byteOffset, back.gradients.byteLength).equals(
      Buffer.from(msg.gradients.buffer))).toBe(true);
    expect(back.step).toBe(7);
    expect(back.loss).toBe(2.3);
  });

  it('decodes from a Node Buffer inside a larger pooled allocation (as socket.io hands it over)', () => {
    const msg = gradientMessage(1000);
    const bytes = encodeMessage(msg);
    const pooled = Buffer.alloc(bytes.length + 13, 0x7f);
    pooled.set(bytes, 5);
    const back = decodeMessage(pooled.subarray(5, 5 + bytes.length), 'gradient');
    expect(Array.from(back.gradients)).toEqual(Array.from(msg.gradients));
    expect(back.gradients.buffer.byteLength).toBe(4000);
  });

  it('views the blobs of a large aligned frame in place, and copies those of a small or misaligned one', () => {
    const big = encodeMessage(gradientMessage(1_250_858));
    const inPlace = decodeMessage(big, 'gradient');
    expect(inPlace.gradients.buffer).toBe(big.buffer);
    const small = encodeMessage(gradientMessage(100));
    expect(decodeMessage(small, 'gradient').gradients.buffer).not.toBe(small.buffer);
    const shifted = new Uint8Array(big.length + 2);
    shifted.set(big, 2);
    const copied = decodeMessage(shifted.subarray(2), 'gradient');
    expect(copied.gradients.buffer).not.toBe(shifted.buffer);
    expect(Buffer.from(copied.gradients.buffer, copied.gradients.byteOffset, copied.gradients.byteLength).equals(
      Buffer.from(inPlace.gradients.buffer, inPlace.gradients.byteOffset, inPlace.gradients.byteLength))).toBe(true);
  });

  it('round-trips a compute message with and without weights', () => {
    const images = new Uint8Array(2 * 3072).map((_, i) => i % 251);
    const msg: ComputeMessage = { type: 'compute', weightsVersion: 0, modelId: 1, step: 3, images, labels: new Uint8Array([1, 9]), count: 2 };
    const back = decodeMessage(encodeMessage(msg), 'compute');
    expect(back.weights).toBeUndefined();
    expect(Array.from(back.images.subarray(0, 5))).toEqual([0, 1, 2, 3, 4]);
    const withW = decodeMessage(encodeMessage({ ...msg, weights: new Float32Array([1.5, -2]) }), 'compute');
    expect(Array.from(withW.weights ?? [])).toEqual([1.5, -2]);
  });

  const codeOf = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (err) {
      if (err instanceof ProtocolError) return err.code;
      throw err;
    }
    return undefined;
  };

  it('rejects malformed frames, unknown types, wrong types and bad fields with a code', () => {
    expect(codeOf(() => decodeMessage(new Uint8Array([0xc1, 0xff, 0x00])))).toBe('E_PROTO_DECODE');
    expect(codeOf(() => decodeMessage(new Uint8Array([2, 0, 0, 0, 0xc1, 0xc1])))).toBe('E_PROTO_DECODE');
    // a truncated frame: the gradient blob is cut short
    const whole = encodeMessage(gradientMessage(100));
    expect(() => decodeMessage(whole.subarray(0, whole.length - 8))).toThrow(/gradients: 400 bytes at offset \d+ run past the frame/);
    expect(codeOf(() => decodeMessage('text'))).toBe('E_PROTO_DECODE');
    expect(codeOf(() => decodeMessage(forge({ type: 'steal-weights' })))).toBe('E_PROTO_TYPE');
    expect(codeOf(() => decodeMessage(forge([1, 2])))).toBe('E_PROTO_TYPE');
    expect(codeOf(() => decodeMessage(encodeMessage(gradientMessage()), 'evaluation'))).toBe('E_PROTO_TYPE');
    const noGrad = { ...gradientMessage(), gradients: [1, 2, 3] };
    expect(codeOf(() => decodeMessage(forge(noGrad)))).toBe('E_PROTO_FIELD');
    const negStep = { ...gradientMessage(), step: -1 };
    expect(codeOf(() => decodeMessage(encodeMessage(negStep as never)))).toBe('E_PROTO_FIELD');
    const shortImages = { type: 'compute', weightsVersion: 0, modelId: 0, step: 0, images: new Uint8Array(10), labels: new Uint8Array(1), count: 1 };
    expect(() => decodeMessage(encodeMessage(shortImages as never))).toThrow(/compute.images: expected length 3072, got 10/);
    const setModel = { type: 'set-model', modelId: 1, numClasses: 14, frozenLayers: 5, dropout: true, weights: new Float32Array(2), weightsVersion: 0 } as const;
    expect(decodeMessage(encodeMessage({ ...setModel, labelSmoothing: 0.1 }), 'set-model').labelSmoothing).toBe(0.1);
    for (const bad of [1, -0.1, Number.NaN, '0.1']) {
      expect(codeOf(() => decodeMessage(encodeMessage({ ...setModel, labelSmoothing: bad } as never)))).toBe('E_PROTO_FIELD');
    }
  });

  it('refuses a frame over the size bound before decoding it', () => {
    const bytes = encodeMessage(gradientMessage(1000));
    expect(codeOf(() => decodeMessage(bytes, 'gradient', bytes.length - 1))).toBe('E_PROTO_SIZE');
    expect(decodeMessage(bytes, 'gradient', bytes.length).count).toBe(32);
  });

  it('hello carries the protocol version', () => {
    const hello = decodeMessage(
      encodeMessage({ type: 'hello', protocolVersion: PROTOCOL_VERSION, workerId: 'w', backend: 'wasm', device: 'cpu', hostname: 'h', pid: 1 }),
      'hello',
    );
    expect(hello.protocolVersion).toBe(PROTOCOL_VERSION);
  });
});

describe('allFinite', () => {
  it('finds NaN and infinities anywhere', () => {
    expect(allFinite(new Float32Array([0, 1, -3e38]))).toBe(true);
    expect(allFinite(new Float32Array([0, Number.NaN]))).toBe(false);
    expect(allFinite(new Float32Array([Number.POSITIVE_INFINITY, 0]))).toBe(false);
    expect(allFinite(new Float32Array([0, 0, Number.NEGATIVE_INFINITY]))).toBe(false);
  });
});

describe('tokensEqual', () => {
  it('accepts only the exact token', () => {
    expect(tokensEqual('s3cret', 's3cret')).toBe(true);
    expect(tokensEqual('s3cre', 's3cret')).toBe(false);
    expect(tokensEqual('s3creT', 's3cret')).toBe(false);
    expect(tokensEqual(undefined, 's3cret')).toBe(false);
    expect(tokensEqual(42, 's3cret')).toBe(false);
  });
});

describe('weightsCrc', () => {
  it('is the zlib CRC-32 of the bytes and sees a one-bit change', () => {
    const w = new Float32Array([1, 2, 3]);
    const known = weightsCrc(w);
    expect(known).toBe(weightsCrc(new Float32Array([1, 2, 3])));
    const u = new Uint32Array(w.buffer);
    u[1] = (u[1] as number) ^ 1;
    expect(weightsCrc(w)).not.toBe(known);
    // a change in the last element counts too (the whole buffer is hashed)
    const v = new Float32Array([1, 2, 3]);
    v[2] = 3.0000002;
    expect(weightsCrc(v)).not.toBe(weightsCrc(new Float32Array([1, 2, 3])));
  });
});
