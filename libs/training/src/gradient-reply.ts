import { encodeHalf, type ComputeMessage, type GradientMessage } from '@cifar-dist/protocol';

/**
 * A worker's answer to `msg`: the gradient as float32, or encoded in the request's `gradDtype`
 * (half.ts), with the identity of the weights it was computed at.
 * @param result loss, correct predictions, count and the float32 gradient
 * @param reuse 16-bit output arrays to overwrite (a transport that sends before the next request)
 */
export function gradientReply(
  msg: ComputeMessage,
  result: { loss: number; correct: number; count: number; gradients: Float32Array },
  identity: { weightsVersion: number; weightsCrc: number | undefined; computeMs: number },
  reuse?: { values?: Uint16Array; scales?: Float32Array },
): GradientMessage {
  const base = {
    type: 'gradient' as const,
    step: msg.step,
    loss: result.loss,
    correct: result.correct,
    count: result.count,
    weightsVersion: identity.weightsVersion,
    ...(identity.weightsCrc !== undefined ? { weightsCrc: identity.weightsCrc } : {}),
    computeMs: identity.computeMs,
  };
  if (msg.gradDtype === undefined || msg.gradDtype === null) return { ...base, gradients: result.gradients };
  const parts = msg.microBatch ? Math.ceil(msg.count / msg.microBatch) : 1;
  const encoded = encodeHalf(result.gradients, msg.gradDtype, reuse, result.gradients.length / Math.max(1, parts));
  // Keep whole arrays for reuse: encodeHalf hands out views of shorter length into them.
  if (reuse && reuse.values?.buffer !== encoded.values.buffer) reuse.values = encoded.values;
  if (reuse && encoded.scales && reuse.scales?.buffer !== encoded.scales.buffer) reuse.scales = encoded.scales;
  return { ...base, gradients: encoded.values, gradDtype: msg.gradDtype, ...(encoded.scales ? { gradScales: encoded.scales } : {}) };
}
