/**
 * Hostile workers over a real socket: a hand-made socket.io-client peer says a valid hello, then
 * answers compute requests maliciously while an honest worker also serves a real PhaseRunner.
 * Each case checks that the bad peer is dropped with a logged reason, that every step is applied
 * exactly once, and that the weights are bit-identical to a run where only honest workers served
 * (the runner re-shards a failed step's whole global batch over the workers left, so the honest
 * worker then computes exactly what a lone worker computes).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { createModel, getWeightsFlat, selectBackend } from '@cifar-dist/model';
import {
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  type ClientToServerEvents,
  type ComputeMessage,
  type GradientMessage,
  type Message,
  type ServerToClientEvents,
} from '@cifar-dist/protocol';
import type { TrainConfig } from '../config.js';
import { InProcessLink } from '../in-process-link.js';
import { PhaseRunner } from '../phase-runner.js';
import { WorkerPool } from '../worker-pool.js';
import { WorkerRuntime } from '../worker-runtime.js';
import type { WorkerLink } from '../worker-link.js';
import { SocketCoordinatorServer } from './socket-server.js';
import { runSocketWorker } from './socket-worker.js';
import { CLASS_NAMES, comparableConfig, syntheticSet } from '../test-support.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** 2 epochs of 2 steps at batch 8: 4 optimizer steps, 32 samples. */
const TRAIN_COUNT = 16;
const EPOCHS = 2;
const BATCH = 8;
const TOTAL_STEPS = (TRAIN_COUNT / BATCH) * EPOCHS;
/** Bound on any frame from a worker: above one honest gradient frame (~5.0 MB), below a padded one. */
const MAX_MESSAGE_BYTES = 6_000_000;


const train = syntheticSet(TRAIN_COUNT, 1);
const test = syntheticSet(8, 2);

function config(): TrainConfig {
  return comparableConfig({ batchSize: BATCH, epochs: EPOCHS, evalChunk: 8 });
}

interface RunResult {
  weights: Float32Array;
  steps: number;
  samplesSeen: number;
  /** `step` of every onStep call, in order. */
  stepCalls: number[];
  logs: string[];
}

/**
 * One phase over `pool` from the seed-42 model.
 * @param onEpochEnd awaited after each epoch's evaluation (the late-join cases connect there)
 */
async function runPhase(pool: WorkerPool, logs: string[], onEpochEnd?: (epoch: number) => Promise<void>): Promise<RunResult> {
  const cfg = config();
  const model = createModel({ numClasses: 10, dropout: false, seed: cfg.seed });
  const stepCalls: number[] = [];
  const runner = new PhaseRunner({
    name: 'cifar10', model, modelId: 1, numClasses: 10, classNames: CLASS_NAMES, frozenLayers: 0,
    train, test, epochs: cfg.epochs, schedule: cfg.schedule, config: cfg, pool,
    hooks: {
      log: (m) => logs.push(m),
      onStep: (info) => stepCalls.push(info.step),
      onEpochEnd: async (_r, record) => onEpochEnd?.(record.epoch),
    },
  });
  const progress = await runner.run();
  const weights = getWeightsFlat(model, 'all');
  model.dispose();
  return { weights, steps: progress.step, samplesSeen: progress.samplesSeen, stepCalls, logs };
}

/** Elements that differ bit for bit (NaN never equals), with the largest absolute difference. */
function bitDiff(a: Float32Array, b: Float32Array): { differing: number; maxAbs: number } {
  expect(a.length).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let differing = 0;
  let maxAbs = 0;
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) {
      differing += 1;
      maxAbs = Math.max(maxAbs, Math.abs((a[i] as number) - (b[i] as number)));
    }
  }
  return { differing, maxAbs };
}

/** What a hostile peer's compute handler gets. */
interface ComputeContext {
  msg: ComputeMessage;
  /** 0-based index of this compute request at this peer. */
  n: number;
  /** The honest answer (a real gradient at the weights the coordinator sent). */
  honest: () => GradientMessage;
  ack: (frame: Uint8Array) => void;
  socket: ClientSocket;
}

interface HostilePeer {
  socket: ClientSocket;
  /** Compute requests received. */
  computes: number;
  /** Resolves with the socket.io disconnect reason. */
  disconnected: Promise<string>;
}

/**
 * A socket.io peer that speaks the protocol correctly up to compute (valid hello, a real model
 * built from set-model so that it can compute honest gradients), then lets `onCompute` answer.
 * Resolves once the coordinator welcomed it.
 */
async function hostilePeer(url: string, workerId: string, onCompute: (ctx: ComputeContext) => void): Promise<HostilePeer> {
  const socket: ClientSocket = connect(url, {
    auth: { protocolVersion: PROTOCOL_VERSION },
    transports: ['websocket'],
    reconnection: false,
  });
  const runtime = new WorkerRuntime();
  const peer: HostilePeer = {
    socket,
    computes: 0,
    disconnected: new Promise((resolve) => socket.on('disconnect', (reason) => {
      runtime.dispose();
      resolve(reason);
    })),
  };
  socket.on('msg', async (payload, ack) => {
    const msg = decodeMessage(payload);
    if (msg.type === 'set-model') {
      ack(encodeMessage(await runtime.setModel(msg)));
    } else if (msg.type === 'compute') {
      const n = peer.computes++;
      // Computed up front (the runtime is asynchronous); a variant that ignores it is dropped anyway.
      let honest: GradientMessage;
      try {
        honest = await runtime.compute(msg);
      } catch {
        return; // dropped meanwhile: the runtime is disposed, and nobody waits for an answer
      }
      onCompute({ msg, n, honest: () => honest, ack, socket });
    } else if (msg.type === 'shutdown') {
      ack(encodeMessage({ type: 'ready', modelId: 0, weightsCrc: 0 }));
    } else {
      ack(encodeMessage({ type: 'error', code: 'E_TEST', message: `hostile peer does not serve '${msg.type}'` }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.on('connect_error', reject);
    socket.on('connect', () => resolve());
  });
  const welcome = decodeMessage(
    await socket.emitWithAck('msg', encodeMessage({
      type: 'hello', protocolVersion: PROTOCOL_VERSION, workerId, backend: 'hostile', device: 'none', hostname: 'h', pid: 1,
    })),
    'welcome',
  );
  expect(welcome.runId).toBe('hostile-test');
  return peer;
}

/** Resolves with `p`, or rejects after `ms` naming `what`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms).unref())]);
}

let server: SocketCoordinatorServer | null = null;
let honestOnly: RunResult;
let honestThenDropped: RunResult;

/** A coordinator endpoint on 127.0.0.1 (free port) feeding `pool`; logs go to `logs`. */
async function startServer(pool: WorkerPool, logs: string[]): Promise<string> {
  server = new SocketCoordinatorServer({
    host: '127.0.0.1', port: 0, maxMessageBytes: MAX_MESSAGE_BYTES,
    // Long: a peer that disconnects mid-request must fail its request at once, not at this timeout.
    requestTimeoutMs: 100_000, helloTimeoutMs: 5_000,
    pool, runId: 'hostile-test', log: (m) => logs.push(`server: ${m}`),
  });
  return `http://127.0.0.1:${await server.start()}`;
}

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
  // Reference 1: one honest worker serves every step.
  const solo = new WorkerPool();
  solo.add(new InProcessLink('ref-a'));
  honestOnly = await runPhase(solo, []);
  solo.closeAll('reference over');
  // Reference 2: a second honest worker serves step 0 only, then fails (and is dropped) at step 1.
  const pair = new WorkerPool();
  const b = new InProcessLink('ref-b');
  const compute = b.compute.bind(b);
  let calls = 0;
  b.compute = async (msg) => {
    if (++calls === 2) throw new Error('reference drop');
    return compute(msg);
  };
  pair.add(new InProcessLink('ref-a'));
  pair.add(b);
  honestThenDropped = await runPhase(pair, []);
  pair.closeAll('reference over');
});

afterEach(async () => {
  await server?.close('test over', 500);
  server = null;
});

interface Case {
  name: string;
  /** The honest worker is a real socket worker (runSocketWorker) instead of an in-process one. */
  socketHonest?: boolean;
  /** The hostile peer joins after epoch 1 (steps 0 and 1 are served by the honest worker alone). */
  lateJoin?: boolean;
  /** Which reference the weights must equal bit for bit. */
  reference: () => RunResult;
  onCompute: (ctx: ComputeContext) => void;
  /** Lines of the log that say why the peer was dropped (each must match some line). */
  reasons: RegExp[];
}

/** Honest gradient message with `patch` applied, encoded (the wire form a hostile peer acks). */
const tampered = (ctx: ComputeContext, patch: (g: GradientMessage) => Record<string, unknown>): Uint8Array =>
  encodeMessage(patch(ctx.honest()) as unknown as Message);

const CASES: Case[] = [
  {
    name: '(a) a gradient of the wrong length',
    reference: () => honestOnly,
    onCompute: (ctx) => ctx.ack(tampered(ctx, (g) => ({ ...g, gradients: g.gradients.subarray(0, g.gradients.length - 1) }))),
    reasons: [/dropping worker bad: worker bad sent a gradient of 1250857 values, expected 1250858/],
  },
  {
    name: '(b) a NaN in an otherwise honest gradient (honest worker on a socket too)',
    socketHonest: true,
    reference: () => honestOnly,
    onCompute: (ctx) => ctx.ack(tampered(ctx, (g) => {
      g.gradients[12_345] = Number.NaN;
      return { ...g };
    })),
    reasons: [/dropping worker bad: worker bad sent a non-finite gradient at step 0/],
  },
  {
    name: '(c) an Infinity in an otherwise honest gradient',
    reference: () => honestOnly,
    onCompute: (ctx) => ctx.ack(tampered(ctx, (g) => {
      g.gradients[1_250_000] = Number.NEGATIVE_INFINITY;
      return { ...g };
    })),
    reasons: [/dropping worker bad: worker bad sent a non-finite gradient at step 0/],
  },
  {
    name: '(d) a reply over the size bound (an honest gradient padded past maxMessageBytes)',
    socketHonest: true,
    reference: () => honestOnly,
    onCompute: (ctx) => ctx.ack(tampered(ctx, (g) => ({ ...g, padding: new Uint8Array(MAX_MESSAGE_BYTES - 4_000_000) }))),
    reasons: [
      /server: worker bad disconnected \(transport error: RangeError: Max payload size exceeded\)/,
      /step 0: dropping worker bad: worker bad disconnected \(transport error\) before answering 'compute'/,
    ],
  },
  {
    name: '(e) a malformed msgpack frame',
    reference: () => honestOnly,
    onCompute: (ctx) => {
      // Header length 4, then 0xc1 (the one byte msgpack never uses) four times.
      ctx.ack(new Uint8Array([4, 0, 0, 0, 0xc1, 0xc1, 0xc1, 0xc1]));
    },
    reasons: [/dropping worker bad: malformed msgpack header/],
  },
  {
    name: '(f) an unknown message type',
    reference: () => honestOnly,
    onCompute: (ctx) => ctx.ack(tampered(ctx, (g) => ({ ...g, type: 'gradient-v2' }))),
    reasons: [/dropping worker bad: unknown message type "gradient-v2"/],
  },
  {
    name: '(i) a finite gradient of 1e30 everywhere (the issue\'s example: every check used to pass)',
    reference: () => honestOnly,
    onCompute: (ctx) => ctx.ack(tampered(ctx, (g) => ({ ...g, gradients: new Float32Array(g.gradients.length).fill(1e30) }))),
    reasons: [/dropping worker bad: worker bad sent a gradient of norm Infinity at step 0, its sum of squares overflows float32: rejected/],
  },
  {
    name: '(j) an honest gradient scaled by 1e4 (finite norm, 10,000x the honest worker\'s)',
    reference: () => honestOnly,
    onCompute: (ctx) => ctx.ack(tampered(ctx, (g) => ({ ...g, gradients: (g.gradients as Float32Array).map((v) => v * 1e4) }))),
    reasons: [/dropping worker bad: worker bad sent a gradient of norm \S+ at step 0, more than 1000× the median \S+ of this step's other workers: rejected/],
  },
  {
    name: '(g) an honest gradient labelled with a stale step id (peer joins after epoch 1)',
    lateJoin: true,
    reference: () => honestOnly,
    onCompute: (ctx) => ctx.ack(tampered(ctx, (g) => ({ ...g, step: g.step - 1 }))),
    reasons: [/dropping worker bad: worker bad answered for step 1, current step is 2/],
  },
  {
    name: '(h1) a second copy of its step-0 gradient, verbatim, as the answer for step 1',
    reference: () => honestThenDropped,
    onCompute: (() => {
      let first: Uint8Array | null = null;
      return (ctx: ComputeContext) => {
        if (ctx.n === 0) first = encodeMessage(ctx.honest());
        ctx.ack(first as Uint8Array);
      };
    })(),
    reasons: [/dropping worker bad: worker bad answered for step 0, current step is 1/],
  },
  {
    name: '(h2) a second copy of its step-0 gradient relabelled as step 1 (only the weights version tells)',
    reference: () => honestThenDropped,
    onCompute: (() => {
      let first: GradientMessage | null = null;
      return (ctx: ComputeContext) => {
        if (ctx.n === 0) first = ctx.honest();
        ctx.ack(encodeMessage({ ...(first as GradientMessage), step: ctx.msg.step }));
      };
    })(),
    reasons: [/dropping worker bad: worker bad computed at weights version 0, the current version is 1/],
  },
  {
    name: '(h3) its step-0 gradient acked twice and pushed a third time unsolicited',
    reference: () => honestThenDropped,
    onCompute: (ctx) => {
      if (ctx.n > 0) return; // never answers again
      const frame = encodeMessage(ctx.honest());
      ctx.ack(frame);
      ctx.ack(frame);
      ctx.socket.emit('msg', frame, () => undefined);
    },
    reasons: [/server: worker bad sent an unsolicited message: disconnecting it/],
  },
];

describe('hostile worker over a real socket, honest worker alongside', () => {
  it('the references differ (a wrongly averaged gradient would show)', () => {
    expect(bitDiff(honestOnly.weights, honestThenDropped.weights).differing).toBeGreaterThan(1000);
    expect(honestOnly.steps).toBe(TOTAL_STEPS);
    expect(honestThenDropped.steps).toBe(TOTAL_STEPS);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const pool = new WorkerPool();
      const logs: string[] = [];
      const leaves: string[] = [];
      pool.on('leave', (link, reason) => leaves.push(`${link.info.workerId}: ${reason}`));
      const url = await startServer(pool, logs);
      let honestDone: Promise<string> | null = null;
      if (c.socketHonest) {
        honestDone = runSocketWorker({ url, workerId: 'good', backend: 'wasm', device: 'cpu', maxMessageBytes: 64e6 });
        await pool.waitFor(1, 30_000);
      } else {
        pool.add(new InProcessLink('good'));
      }
      let peer: HostilePeer | null = null;
      const joinBad = async (): Promise<void> => {
        peer = await hostilePeer(url, 'bad', c.onCompute);
        await pool.waitFor(2, 10_000);
      };
      if (!c.lateJoin) await joinBad();
      const result = await runPhase(pool, logs, async (epoch) => {
        if (c.lateJoin && epoch === 1) await joinBad();
      });
      const bad = peer as HostilePeer | null;
      // The hostile behaviour was exercised, and its author was disconnected for it.
      expect(bad?.computes).toBeGreaterThanOrEqual(1);
      await within(bad!.disconnected, 10_000, 'hostile peer disconnect');
      for (const reason of c.reasons) {
        expect(logs.some((l) => reason.test(l)), `no log line matches ${reason}:\n${logs.join('\n')}`).toBe(true);
      }
      // Failed at once: no request had to run into the (long) request timeout.
      expect(logs.filter((l) => l.includes('did not answer'))).toEqual([]);
      expect(leaves.filter((l) => l.startsWith('bad:'))).toHaveLength(1);
      expect(pool.live().map((l: WorkerLink) => l.info.workerId)).toEqual(['good']);
      // Every step applied exactly once.
      expect(result.steps).toBe(TOTAL_STEPS);
      expect(result.samplesSeen).toBe(TOTAL_STEPS * BATCH);
      expect(result.stepCalls).toEqual([1, 2, 3, 4]);
      // Finite, and bit-identical to the honest run.
      expect(result.weights.every((w) => Number.isFinite(w))).toBe(true);
      expect(bitDiff(result.weights, c.reference().weights)).toEqual({ differing: 0, maxAbs: 0 });
      await server?.close('test over', 2_000);
      server = null;
      if (honestDone) await expect(within(honestDone, 10_000, 'honest socket worker exit')).resolves.toBe('test over');
    });
  }
});
