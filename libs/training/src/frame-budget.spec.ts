import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { countParams, createModel, freezeLayers } from '@cifar-dist/model';
import { encodeHalf, encodeMessage, type ComputeMessage, type GradDtype, type GradientMessage, type Message } from '@cifar-dist/protocol';
import { defaultConfig, type TrainConfig } from './config.js';
import {
  checkFrameBudget,
  computeRequestBytes,
  evaluateRequestBytes,
  evaluationReplyBytes,
  finetuneClassCount,
  framesFit,
  gradientReplyBytes,
  largestFrames,
  MAX_MESSAGE_BYTES,
  modelLength,
  setModelBytes,
  trainableLength,
  WIDEST_FLOAT,
  WIDEST_INT,
} from './frame-budget.js';
import { gradientReply } from './gradient-reply.js';
import { runSocketWorker } from './transport/socket-worker.js';
import { SocketCoordinatorServer } from './transport/socket-server.js';
import { WorkerPool } from './worker-pool.js';
import type { WorkerRuntime } from './worker-runtime.js';

const I = WIDEST_INT;
const L10 = 1_250_858;

/** A gradient reply as a worker sends it, every number at its widest: its frame is the bound. */
function widestReply(parts: number, length: number, dtype: GradDtype): GradientMessage {
  const values = new Float32Array(parts * length).fill(1e-3);
  for (let i = 0; i < values.length; i += 997) values[i] = -Math.sin(i);
  const base = { type: 'gradient' as const, step: I, loss: WIDEST_FLOAT, correct: I, count: I, weightsVersion: I, weightsCrc: I, computeMs: WIDEST_FLOAT };
  if (dtype === 'float32') return { ...base, gradients: values };
  const half = encodeHalf(values, dtype, undefined, length);
  return { ...base, gradients: half.values, gradDtype: dtype, ...(half.scales ? { gradScales: half.scales } : {}) };
}

describe('frame sizes follow from the options and the model', () => {
  it('the weight counts are the model\'s, for any class count and frozen layers', () => {
    for (const [classes, frozen] of [[10, 0], [14, 5], [15, 3], [14, 18]] as const) {
      const model = createModel({ numClasses: classes, dropout: false, seed: 1 });
      freezeLayers(model, frozen);
      const counts = countParams(model);
      expect([modelLength(classes), trainableLength(classes, frozen)]).toEqual([counts.total, counts.trainable]);
      model.dispose();
    }
    expect([modelLength(10), modelLength(14), trainableLength(14, 5)]).toEqual([1_250_858, 1_252_910, 1_242_766]);
    expect(finetuneClassCount(defaultConfig())).toBe(14);
    expect(finetuneClassCount(defaultConfig({ finetune: { superclass: 'insects' } }))).toBe(15);
    expect(finetuneClassCount(defaultConfig({ finetune: { classes: ['crab', 'worm'] } }))).toBe(12);
  });

  it('computes each frame byte for byte as the codec lays it out (every number at its widest)', () => {
    const L = 5_000;
    const cases: Array<[Message, number]> = [];
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      for (const parts of [1, 3]) cases.push([widestReply(parts, L, dtype), gradientReplyBytes(parts, L, dtype)]);
    }
    for (const count of [1, 2, 3, 7]) {
      const compute: ComputeMessage = {
        type: 'compute', modelId: I, step: I, weights: new Float32Array(L), weightsVersion: I, gradDtype: 'float16',
        images: new Uint8Array(count * 3072), labels: new Uint8Array(count), count: I, microBatch: I, dropoutSeed: I, sampleOffset: I,
      };
      cases.push([compute, computeRequestBytes(count, L, 'float16', 1)]);
      const { gradDtype: _g, microBatch: _m, dropoutSeed: _d, sampleOffset: _s, ...plain } = compute;
      cases.push([{ ...plain, gradDtype: undefined } as unknown as Message, computeRequestBytes(count, L, 'float32')]);
      cases.push([{ type: 'evaluate', modelId: I, requestId: I, weights: new Float32Array(L), weightsVersion: I, images: new Uint8Array(count * 3072), labels: new Uint8Array(count), count: I }, evaluateRequestBytes(count, L)]);
      cases.push([{ type: 'evaluation', requestId: I, predictions: new Uint8Array(count), losses: new Float32Array(count) }, evaluationReplyBytes(count)]);
    }
    cases.push([{ type: 'set-model', modelId: I, numClasses: I, frozenLayers: I, dropout: true, labelSmoothing: 0.1, weights: new Float32Array(L), weightsVersion: I }, setModelBytes(L)]);
    for (const [message, computed] of cases) {
      const clean = Object.fromEntries(Object.entries(message).filter(([, v]) => v !== undefined)) as unknown as Message;
      expect(computed, message.type).toBe(encodeMessage(clean).byteLength);
    }
    // A worker's real reply has no field the bound leaves out, and is never larger.
    const msg = { type: 'compute', modelId: 3, step: 17, weightsVersion: 17, images: new Uint8Array(0), labels: new Uint8Array(0), count: 2, microBatch: 1, gradDtype: 'float16' } as ComputeMessage;
    const real = gradientReply(msg, { loss: 2.3, correct: 1, count: 2, gradients: new Float32Array(2 * L) }, { weightsVersion: 17, weightsCrc: 0xffffffff, computeMs: 12.5 });
    expect(Object.keys(real).sort()).toEqual(Object.keys(widestReply(2, L, 'float16')).sort());
    expect(encodeMessage(real).byteLength).toBeLessThanOrEqual(gradientReplyBytes(2, L, 'float16'));
  });
});

describe('settings whose largest frame cannot fit are refused at start', () => {
  const det = (o: Partial<TrainConfig>): TrainConfig => defaultConfig({ deterministic: true, ...o });

  it('the issue\'s example: --deterministic --micro-batch 1 --batch-size 16 (16 gradients, ~80 MB, against 64 MiB)', () => {
    expect(MAX_MESSAGE_BYTES).toBe(67_108_864);
    expect(() => checkFrameBudget(det({ microBatch: 1, batchSize: 16 }))).toThrow(
      '--deterministic --micro-batch 1 --batch-size 16 --grad-dtype float32: a worker that is given the whole global batch (the only one left, or the fastest) ' +
        'answers with 16 micro-batch gradients of 1,250,858 float32 values (cifar10, 10 classes), a frame of 80,055,100 bytes, ' +
        'above the message limit of 67,108,864 bytes (64 MiB); such a run would never finish a step. ' +
        'What fits: --batch-size 13 or less; or --micro-batch 2 or more; or --grad-dtype float16 or bfloat16 (half the gradient bytes).',
    );
    try {
      checkFrameBudget(det({ microBatch: 1, batchSize: 16 }));
    } catch (err) {
      expect((err as { code?: string }).code).toBe('E_TRAIN_CONFIG');
    }
  });

  it('boundaries: the largest accepted and the smallest refused setting, per gradient dtype and without --deterministic', () => {
    const boundary = (o: Partial<TrainConfig>, ok: number): void => {
      expect(framesFit(defaultConfig({ ...o, batchSize: ok })), `${JSON.stringify(o)} batch ${ok}`).toBe(true);
      expect(() => checkFrameBudget(defaultConfig({ ...o, batchSize: ok }))).not.toThrow();
      expect(() => checkFrameBudget(defaultConfig({ ...o, batchSize: ok + 1 }))).toThrow(/above the message limit of 67,108,864 bytes/);
    };
    boundary({ deterministic: true, microBatch: 1 }, 13);
    boundary({ deterministic: true, microBatch: 1, gradDtype: 'float16' }, 26);
    boundary({ deterministic: true, microBatch: 1, gradDtype: 'bfloat16' }, 26);
    // micro-batches of 4: ceil(52/4) = 13 gradients fit, ceil(53/4) = 14 do not
    boundary({ deterministic: true, microBatch: 4 }, 52);
    // the fine-tune with nothing frozen trains more weights than phase 1 (14 classes): still 13
    boundary({ deterministic: true, microBatch: 1, frozenLayers: 0, epochs: 0 }, 13);
    // without --deterministic one gradient comes back; the request's images are the limit
    boundary({}, 20_209);
    expect(() => checkFrameBudget(defaultConfig({ batchSize: 20_210 }))).toThrow(
      '--batch-size 20210: a worker that is given the whole global batch (the only one left, or the fastest) is sent 20,210 images of 3,072 bytes and ' +
        '1,250,858 float32 weights (cifar10, 10 classes), a frame of 67,108,968 bytes, above the message limit of 67,108,864 bytes (64 MiB); ' +
        'such a run would never finish a step. What fits: --batch-size 20209 or less.',
    );
    // phases without epochs send no compute requests
    expect(() => checkFrameBudget(det({ microBatch: 1, batchSize: 64, epochs: 0, finetuneEpochs: 0 }))).not.toThrow();
    // the defaults are far inside
    expect(largestFrames(defaultConfig())[0]).toMatchObject({ frame: 'evaluate request', bytes: 6_540_140 });
  });
});

describe('the boundary holds on the wire: socket and shared-memory paths', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  /**
   * A coordinator limited to `maxBytes` and one worker that answers every compute with `reply`;
   * resolves with what the coordinator made of the reply.
   */
  async function exchange(maxBytes: number, reply: GradientMessage, path: 'socket' | 'shm'): Promise<{ ok: true; values: number } | { ok: false; error: string }> {
    const root = mkdtempSync(join(tmpdir(), 'frame-budget-shm-'));
    roots.push(root);
    const pool = new WorkerPool();
    const server = new SocketCoordinatorServer({
      host: '127.0.0.1', port: 0, maxMessageBytes: maxBytes, requestTimeoutMs: 30_000, pool, runId: 'frames',
      ...(path === 'shm' ? { shmRoot: root } : { shm: false }),
    });
    const url = `http://127.0.0.1:${await server.start()}`;
    const runtime = {
      setModel: async () => ({ type: 'ready', modelId: 0, weightsCrc: 0 }),
      compute: async () => reply,
      evaluate: async () => ({ type: 'evaluation', requestId: 0, predictions: new Uint8Array(0), losses: new Float32Array(0) }),
      dispose: () => undefined,
    } as unknown as Pick<WorkerRuntime, 'setModel' | 'compute' | 'evaluate' | 'dispose'>;
    const worker = runSocketWorker({
      url, workerId: 'w', backend: 'test', device: 'cpu', runtime, maxMessageBytes: MAX_MESSAGE_BYTES * 2, reconnectTimeoutMs: 2_000,
      ...(path === 'shm' ? { shmRoot: root } : { shm: false }),
    }).catch(() => 'gave up');
    try {
      await pool.waitFor(1, 20_000);
      const link = pool.live()[0];
      if (path === 'shm') expect(link?.info.sharedMemory).toBe(true);
      // 32 images: a request over SHM_MIN_BYTES goes through shared memory, and the reply then too
      // (a worker answers the way the request came).
      const got = await link!.compute({ type: 'compute', modelId: 0, step: 0, weightsVersion: 0, images: new Uint8Array(32 * 3072), labels: new Uint8Array(32), count: 32 });
      return { ok: true, values: got.gradients.length };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    } finally {
      await server.close();
      await worker;
    }
  }

  for (const path of ['socket', 'shm'] as const) {
    it(`${path}: a reply of exactly the computed bound passes a limit of that many bytes and is refused one byte below`, async () => {
      // Three micro-batch gradients of the 10-class model: the largest frame of
      // --deterministic --micro-batch 1 --batch-size 3 (every other frame is smaller).
      const config = defaultConfig({ deterministic: true, microBatch: 1, batchSize: 3, finetuneEpochs: 0 });
      const bound = gradientReplyBytes(3, L10, 'float32');
      expect(largestFrames(config)[0]?.bytes).toBe(bound);
      const reply = widestReply(3, L10, 'float32');
      expect(encodeMessage(reply).byteLength).toBe(bound);
      expect(() => checkFrameBudget(config, bound)).not.toThrow();
      expect(() => checkFrameBudget(config, bound - 1)).toThrow(/a frame of 15,010,[0-9]{3} bytes, above the message limit of 15,010,[0-9]{3} bytes/);
      expect(await exchange(bound, reply, path)).toEqual({ ok: true, values: 3 * L10 });
      const refused = await exchange(bound - 1, reply, path);
      expect(refused.ok).toBe(false);
      expect((refused as { error: string }).error).toMatch(
        path === 'shm' ? new RegExp(`shared-memory frame of ${bound} bytes exceeds the bound of ${bound - 1} bytes`) : /worker w disconnected \(transport (error|close)\) before answering 'compute'/,
      );
    }, 60_000);
  }

  for (const path of ['socket', 'shm'] as const) {
    it(`64 MiB, ${path}: 13 micro-batch gradients (--batch-size 13 --micro-batch 1) arrive, 14 are refused, as the start check says`, async () => {
      expect(framesFit(defaultConfig({ deterministic: true, microBatch: 1, batchSize: 13 }))).toBe(true);
      expect(framesFit(defaultConfig({ deterministic: true, microBatch: 1, batchSize: 14 }))).toBe(false);
      expect(await exchange(MAX_MESSAGE_BYTES, widestReply(13, L10, 'float32'), path)).toEqual({ ok: true, values: 13 * L10 });
      const refused = await exchange(MAX_MESSAGE_BYTES, widestReply(14, L10, 'float32'), path);
      expect(refused.ok).toBe(false);
      expect((refused as { error: string }).error).toMatch(
        path === 'shm' ? 'shared-memory frame of 70048236 bytes exceeds the bound of 67108864 bytes' : /worker w disconnected \(transport (error|close)\) before answering 'compute'/,
      );
    }, 60_000);
  }
});
