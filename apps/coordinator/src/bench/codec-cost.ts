import { decodeMessage, encodeMessage, type GradientMessage } from '@cifar-dist/protocol';
import { median } from './stats.js';

/**
 * Median cost of encoding and of decoding one gradient frame of `length` float32 values with the
 * project's codec, in ms, measured in this process (the wire's CPU share on each side).
 */
export function codecCost(length: number, repeats = 15): { encodeMs: number; decodeMs: number; frameBytes: number } {
  const gradients = new Float32Array(length);
  for (let i = 0; i < length; i++) gradients[i] = Math.sin(i) * 1e-3;
  const msg: GradientMessage = { type: 'gradient', step: 1, loss: 1, correct: 1, count: 64, gradients, weightsVersion: 0, computeMs: 1 };
  const enc: number[] = [];
  const dec: number[] = [];
  let frameBytes = 0;
  for (let i = 0; i < repeats + 2; i++) {
    const t0 = performance.now();
    const frame = encodeMessage(msg);
    const t1 = performance.now();
    decodeMessage(frame, 'gradient', frame.byteLength + 1);
    const t2 = performance.now();
    frameBytes = frame.byteLength;
    if (i >= 2) {
      enc.push(t1 - t0);
      dec.push(t2 - t1);
    }
  }
  return { encodeMs: median(enc), decodeMs: median(dec), frameBytes };
}
