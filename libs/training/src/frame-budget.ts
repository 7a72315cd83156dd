import { Packr } from 'msgpackr';
import { DEFAULT_FINETUNE_CLASSES } from '@cifar-dist/data';
import { HALF_BLOCK, type GradDtype } from '@cifar-dist/protocol';
import type { TrainConfig } from './config.js';
import { TrainingError } from './errors.js';

/*
 * Every frame a run sends follows from its options and the model, so a setting whose largest
 * frame cannot cross the wire is refused before the run starts (a frame over the limit makes the
 * worker's connection drop; it reconnects, is given the same shard, and the run loops forever).
 *
 * The worst case: one worker is given the whole global batch (it is the only one left, or the
 * fastest by far). In --deterministic mode it answers with one gradient per micro-batch,
 * ceil(batch / micro-batch) of them, each as long as the phase's trainable weights (float32, or
 * 16-bit with --grad-dtype, plus float16's block scales); its request carries the batch's images
 * (3,072 bytes each) and labels, and the weights when they changed.
 */

/**
 * Largest frame, bytes, in either direction between the coordinator (or a per-node stage) and a
 * worker: socket.io's maxHttpBufferSize and the bound every receiver checks, the shared-memory
 * path included.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Parameters of each layer of the reference network, Keras order (see createModel's table). */
function layerParams(numClasses: number): number[] {
  // conv2d_1, act, conv2d_2, act, pool, dropout, conv2d_3, act, conv2d_4, act, pool, dropout,
  // flatten, dense_1, act, dropout, dense_2, softmax
  return [896, 0, 9248, 0, 0, 0, 18496, 0, 36928, 0, 0, 0, 0, 1_180_160, 0, 0, 513 * numClasses, 0];
}

/** Every weight of the reference network with `numClasses` outputs (1,250,858 for 10 classes). */
export function modelLength(numClasses: number): number {
  return layerParams(numClasses).reduce((a, b) => a + b, 0);
}

/** The trainable weights with the first `frozenLayers` layers frozen: what a gradient holds. */
export function trainableLength(numClasses: number, frozenLayers: number): number {
  return layerParams(numClasses).slice(Math.max(0, frozenLayers)).reduce((a, b) => a + b, 0);
}

/** Classes of the fine-tune's model: CIFAR-10's ten plus the added CIFAR-100 classes. */
export function finetuneClassCount(config: Pick<TrainConfig, 'finetune'>): number {
  const spec = config.finetune;
  // Every CIFAR-100 superclass holds five fine classes.
  if (spec.superclass !== undefined && spec.classes === undefined) return 15;
  return 10 + (spec.classes ?? DEFAULT_FINETUNE_CLASSES).length;
}

/*
 * Frame sizes, computed as codec.ts lays a frame out: [u32 header length] [msgpack header, typed
 * arrays replaced by { $blob, kind, length }] then each array's bytes, every one 4-byte aligned.
 * The header is packed with the codec's msgpackr options; every number in it is given a value
 * that msgpack stores in its widest form (9 bytes), so the size is an upper bound for any step,
 * version or loss, exact for a message whose numbers are that wide (frame-budget.spec.ts checks
 * it against encodeMessage).
 */
const packr = new Packr({ useRecords: false, structuredClone: false, moreTypes: false });
/** An integer field at its widest msgpack form (uint64). */
export const WIDEST_INT = 2 ** 40;
/** A float field (float64). */
export const WIDEST_FLOAT = 0.1;

type BlobKind = 'u8' | 'u16' | 'f32';
interface Blob {
  blob: BlobKind;
  length: number;
}
const WIDTH: Record<BlobKind, number> = { u8: 1, u16: 2, f32: 4 };
const align4 = (n: number): number => (n + 3) & ~3;
const blob = (kind: BlobKind, length: number): Blob => ({ blob: kind, length });

/** Bytes of the frame of a message whose typed arrays are given as `blob(kind, length)`. */
export function frameBytes(fields: Record<string, unknown>): number {
  const header: Record<string, unknown> = {};
  const blobs: number[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === 'object' && value !== null && 'blob' in value) {
      const b = value as Blob;
      header[key] = { $blob: blobs.length, kind: b.blob, length: b.length };
      blobs.push(b.length * WIDTH[b.blob]);
    } else {
      header[key] = value;
    }
  }
  let offset = align4(4 + packr.pack(header).length);
  for (const bytes of blobs) offset = align4(offset + bytes);
  return offset;
}

const I = WIDEST_INT;

/** The largest compute request: `count` images, labels, the trainable weights, every optional field. */
export function computeRequestBytes(count: number, trainable: number, gradDtype: GradDtype, microBatch?: number): number {
  return frameBytes({
    type: 'compute', modelId: I, step: I, weights: blob('f32', trainable), weightsVersion: I,
    ...(gradDtype !== 'float32' ? { gradDtype } : {}),
    images: blob('u8', count * 3072), labels: blob('u8', count), count: I,
    ...(microBatch !== undefined ? { microBatch: I, dropoutSeed: I, sampleOffset: I } : {}),
  });
}

/** A gradient reply of `parts` gradients (one, or one per micro-batch) of `trainable` values. */
export function gradientReplyBytes(parts: number, trainable: number, gradDtype: GradDtype): number {
  const values = parts * trainable;
  return frameBytes({
    type: 'gradient', step: I, loss: WIDEST_FLOAT, correct: I, count: I,
    gradients: blob(gradDtype === 'float32' ? 'f32' : 'u16', values),
    ...(gradDtype !== 'float32' ? { gradDtype } : {}),
    ...(gradDtype === 'float16' ? { gradScales: blob('f32', parts * Math.ceil(trainable / HALF_BLOCK)) } : {}),
    weightsVersion: I, weightsCrc: I, computeMs: WIDEST_FLOAT,
  });
}

/** The set-model request: every weight of the model. */
export function setModelBytes(total: number): number {
  return frameBytes({ type: 'set-model', modelId: I, numClasses: I, frozenLayers: I, dropout: true, labelSmoothing: 0.1, weights: blob('f32', total), weightsVersion: I });
}

/** An evaluation request of `count` images with the trainable weights. */
export function evaluateRequestBytes(count: number, trainable: number): number {
  return frameBytes({
    type: 'evaluate', modelId: I, requestId: I, weights: blob('f32', trainable), weightsVersion: I,
    images: blob('u8', count * 3072), labels: blob('u8', count), count: I,
  });
}

/** An evaluation reply for `count` images. */
export function evaluationReplyBytes(count: number): number {
  return frameBytes({ type: 'evaluation', requestId: I, predictions: blob('u8', count), losses: blob('f32', count) });
}

/** One kind of frame of a run at its largest. */
export interface FrameEstimate {
  phase: 'cifar10' | 'finetune';
  frame: 'gradient reply' | 'compute request' | 'set-model' | 'evaluate request' | 'evaluation reply';
  bytes: number;
  /** What makes it that large, in words. */
  detail: string;
}

type BudgetConfig = Pick<
  TrainConfig,
  'epochs' | 'finetuneEpochs' | 'batchSize' | 'deterministic' | 'microBatch' | 'gradDtype' | 'frozenLayers' | 'finetune' | 'evalChunk'
>;

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Every frame kind of both phases at its largest, largest first. */
export function largestFrames(config: BudgetConfig): FrameEstimate[] {
  const phases = [
    { phase: 'cifar10' as const, classes: 10, frozen: 0, epochs: config.epochs },
    { phase: 'finetune' as const, classes: finetuneClassCount(config), frozen: config.frozenLayers, epochs: config.finetuneEpochs },
  ];
  const frames: FrameEstimate[] = [];
  for (const p of phases) {
    const trainable = trainableLength(p.classes, p.frozen);
    const model = `${p.phase}, ${p.classes} classes`;
    const batch = config.batchSize;
    if (p.epochs > 0) {
      const parts = config.deterministic ? Math.ceil(batch / config.microBatch) : 1;
      frames.push({
        phase: p.phase,
        frame: 'gradient reply',
        bytes: gradientReplyBytes(parts, trainable, config.gradDtype),
        detail: config.deterministic
          ? `${parts} micro-batch gradient${parts === 1 ? '' : 's'} of ${fmt(trainable)} ${config.gradDtype} values (${model})`
          : `one gradient of ${fmt(trainable)} ${config.gradDtype} values (${model})`,
      });
      frames.push({
        phase: p.phase,
        frame: 'compute request',
        bytes: computeRequestBytes(batch, trainable, config.gradDtype, config.deterministic ? config.microBatch : undefined),
        detail: `${fmt(batch)} images of 3,072 bytes and ${fmt(trainable)} float32 weights (${model})`,
      });
    }
    frames.push({ phase: p.phase, frame: 'set-model', bytes: setModelBytes(modelLength(p.classes)), detail: `${fmt(modelLength(p.classes))} float32 weights (${model})` });
    frames.push({
      phase: p.phase,
      frame: 'evaluate request',
      bytes: evaluateRequestBytes(config.evalChunk, trainable),
      detail: `${fmt(config.evalChunk)} images and ${fmt(trainable)} float32 weights (${model})`,
    });
    frames.push({ phase: p.phase, frame: 'evaluation reply', bytes: evaluationReplyBytes(config.evalChunk), detail: `${fmt(config.evalChunk)} predictions and losses` });
  }
  return frames.sort((a, b) => b.bytes - a.bytes);
}

/** True when every frame of `config` fits in `maxBytes`. */
export function framesFit(config: BudgetConfig, maxBytes = MAX_MESSAGE_BYTES): boolean {
  return (largestFrames(config)[0]?.bytes ?? 0) <= maxBytes;
}

/** The largest n in [lo, hi] with ok(n) (ok must hold at lo and be monotone), else null. */
function largestWhere(lo: number, hi: number, ok: (n: number) => boolean): number | null {
  if (!ok(lo)) return null;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The smallest n in [lo, hi] with ok(n) (monotone), else null. */
function smallestWhere(lo: number, hi: number, ok: (n: number) => boolean): number | null {
  if (!ok(hi)) return null;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (ok(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const mib = (bytes: number): string => {
  const m = bytes / (1024 * 1024);
  return Number.isInteger(m) ? `${m} MiB` : `${m.toFixed(1)} MiB`;
};

/**
 * Refuses a setting whose largest frame cannot fit in a message, naming the options, the frame,
 * the limit and settings that fit.
 * @throws TrainingError E_TRAIN_CONFIG
 */
export function checkFrameBudget(config: BudgetConfig, maxBytes = MAX_MESSAGE_BYTES): void {
  const largest = largestFrames(config)[0];
  if (largest === undefined || largest.bytes <= maxBytes) return;
  const limit = `the message limit of ${fmt(maxBytes)} bytes (${mib(maxBytes)})`;
  const fits = (c: Partial<BudgetConfig>): boolean => framesFit({ ...config, ...c }, maxBytes);
  const ways: string[] = [];
  let options: string;
  if (largest.frame === 'gradient reply' || largest.frame === 'compute request') {
    options = config.deterministic
      ? `--deterministic --micro-batch ${config.microBatch} --batch-size ${config.batchSize} --grad-dtype ${config.gradDtype}`
      : `--batch-size ${config.batchSize}${config.gradDtype !== 'float32' ? ` --grad-dtype ${config.gradDtype}` : ''}`;
    const batch = largestWhere(1, config.batchSize, (b) => fits({ batchSize: b }));
    if (batch !== null) ways.push(`--batch-size ${batch} or less`);
    if (config.deterministic) {
      const micro = smallestWhere(config.microBatch, Math.max(config.microBatch, config.batchSize), (m) => fits({ microBatch: m }));
      if (micro !== null) ways.push(`--micro-batch ${micro} or more`);
      const halves = config.gradDtype === 'float32' ? (['float16', 'bfloat16'] as const).filter((dtype) => fits({ gradDtype: dtype })) : [];
      if (halves.length > 0) ways.push(`--grad-dtype ${halves.join(' or ')} (half the gradient bytes)`);
    }
  } else {
    options = largest.frame === 'set-model' ? '--finetune-classes / --superclass' : 'the evaluation chunk';
  }
  const who =
    largest.frame === 'gradient reply'
      ? 'a worker that is given the whole global batch (the only one left, or the fastest) answers with'
      : largest.frame === 'compute request'
        ? 'a worker that is given the whole global batch (the only one left, or the fastest) is sent'
        : `the ${largest.frame} carries`;
  throw new TrainingError(
    'E_TRAIN_CONFIG',
    `${options}: ${who} ${largest.detail}, a frame of ${fmt(largest.bytes)} bytes, above ${limit}; ` +
      `such a run would never finish a step.${ways.length > 0 ? ` What fits: ${ways.join('; or ')}.` : ''}`,
  );
}
