/**
 * Faults of the per-node stage found by attacking it (NodeRuntime + ShardedCompute between two
 * levels of timeouts, versions and caches); each test failed before its fix.
 *
 * Stub runtimes stand in for the TensorFlow.js compute (they answer zeros of the right length at
 * once, or never), so the tests exercise only the transport, the versions and the caches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createModel, getWeightsFlat, selectBackend } from '@cifar-dist/model';
import {
  weightsCrc,
  type ComputeMessage,
  type EvaluateMessage,
  type EvaluationMessage,
  type GradientMessage,
  type ReadyMessage,
  type SetModelMessage,
} from '@cifar-dist/protocol';
import { TrainingError } from './errors.js';
import { NodeRuntime, nodeRequestTimeout } from './node-runtime.js';
import { ShardedCompute, type ModelSource } from './sharded-compute.js';
import { StreamingAverage } from './streaming-average.js';
import { SocketCoordinatorServer } from './transport/socket-server.js';
import { runSocketWorker } from './transport/socket-worker.js';
import type { WorkerInfo, WorkerLink } from './worker-link.js';
import { WorkerPool } from './worker-pool.js';

let ALL: Float32Array;
let LEN = 0;

beforeAll(async () => {
  await selectBackend({ force: 'cpu' });
  const model = createModel({ numClasses: 10, dropout: false, seed: 1 });
  ALL = getWeightsFlat(model, 'all');
  LEN = getWeightsFlat(model, 'trainable').length;
  model.dispose();
});

const setModel = (weightsVersion: number, fill: number): SetModelMessage => ({
  type: 'set-model',
  modelId: 1,
  numClasses: 10,
  frozenLayers: 0,
  dropout: false,
  weights: ALL.map((v) => v * fill),
  weightsVersion,
});

const compute = (step: number, weightsVersion: number, weights?: Float32Array): ComputeMessage => ({
  type: 'compute',
  modelId: 1,
  step,
  ...(weights ? { weights } : {}),
  weightsVersion,
  images: new Uint8Array(8 * 3072),
  labels: new Uint8Array(8),
  count: 8,
});

const constantReply = (msg: ComputeMessage, version: number, crc?: number): GradientMessage => ({
  type: 'gradient',
  step: msg.step,
  loss: 1,
  correct: 0,
  count: msg.count,
  weightsVersion: version,
  ...(crc !== undefined ? { weightsCrc: crc } : {}),
  computeMs: 1,
  // a small constant, not zeros (the gradient guard rejects an all-zero gradient)
  gradients: new Float32Array(LEN * (msg.microBatch ? Math.ceil(msg.count / msg.microBatch) : 1)).fill(1e-3),
});

const evaluation = (msg: EvaluateMessage): EvaluationMessage => ({
  type: 'evaluation',
  requestId: msg.requestId,
  predictions: new Uint8Array(msg.count),
  losses: new Float32Array(msg.count),
});

/**
 * A healthy worker, in process, that (like WorkerRuntime after a verified load) reports the CRC
 * of the weights it holds.
 */
class CrcLink implements WorkerLink {
  readonly info: WorkerInfo;
  alive = true;
  private version = -1;
  private crc: number | undefined;
  constructor(id: string) {
    this.info = { workerId: id, backend: 'stub', device: 'cpu', hostname: 'localhost', pid: process.pid };
  }
  async setModel(msg: SetModelMessage): Promise<void> {
    this.version = msg.weightsVersion;
    this.crc = undefined;
  }
  async compute(msg: ComputeMessage): Promise<GradientMessage> {
    if (msg.weights) {
      this.version = msg.weightsVersion;
      this.crc = weightsCrc(msg.weights);
    }
    return constantReply(msg, this.version, this.crc);
  }
  async evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
    return evaluation(msg);
  }
  close(): void {
    this.alive = false;
  }
}

/** A worker process's runtime behind runSocketWorker: records the CRC of every weights vector it is handed; `hang` never answers a compute. */
class StubRuntime {
  version = -1;
  received: number[] = [];
  constructor(private readonly hang = false) {}
  async setModel(msg: SetModelMessage): Promise<ReadyMessage> {
    this.version = msg.weightsVersion;
    return { type: 'ready', modelId: msg.modelId, weightsCrc: 0 };
  }
  async compute(msg: ComputeMessage): Promise<GradientMessage> {
    if (this.hang) await new Promise(() => undefined);
    if (msg.weights) {
      this.version = msg.weightsVersion;
      this.received.push(weightsCrc(msg.weights));
    }
    return constantReply(msg, this.version);
  }
  async evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
    return evaluation(msg);
  }
  dispose(): void {}
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A node's loopback server with `runtimes` joined as its local workers (shared memory in a temp folder, as npm run node uses /dev/shm). */
async function localWorkers(runtimes: StubRuntime[], requestTimeoutMs: number, logs: string[]): Promise<WorkerPool & { server: SocketCoordinatorServer }> {
  const shmRoot = mkdtempSync(path.join(tmpdir(), 'attack-shm-'));
  cleanups.push(() => rmSync(shmRoot, { recursive: true, force: true }));
  const pool = new WorkerPool();
  const server = new SocketCoordinatorServer({
    host: '127.0.0.1', port: 0, maxMessageBytes: 64 * 1024 * 1024, requestTimeoutMs, pool, runId: 'node', shmRoot,
    log: (m) => logs.push(`local server: ${m}`),
  });
  const port = await server.start();
  cleanups.push(() => server.close('test over', 200));
  runtimes.forEach((runtime, i) => {
    void runSocketWorker({ url: `http://127.0.0.1:${port}`, workerId: `w${i}`, backend: 'stub', device: 'cpu', runtime, shmRoot, log: (m) => logs.push(`w${i}: ${m}`) }).catch(() => undefined);
  });
  await pool.waitFor(runtimes.length, 10_000);
  return Object.assign(pool, { server });
}

describe('a coordinator restarted with --resume reuses model ids and versions: the node keeps its own', () => {
  // A node outlives a coordinator restart (runSocketWorker reconnects for 300 s, "a coordinator
  // restart with --resume fits in it"); the resumed coordinator numbers models from 1 and
  // weights versions from 0 again (run.ts `++modelId`, PhaseRunner `weightsVersion = 0`), so the
  // node sees (model 1, version v) again for different weights. set-model resets the local pool's
  // versions, but two caches keyed by (model, version) survive it.

  it('ShardedCompute\'s CRC cache: a healthy local worker that reports the CRC of the new weights is kept', async () => {
    const logs: string[] = [];
    const pool = new WorkerPool();
    pool.add(new CrcLink('w0'));
    const node = new NodeRuntime({ pool, log: (m) => logs.push(m) });
    // Coordinator run 1: set-model, then a step at version 1 (weights A).
    await node.setModel(setModel(0, 1));
    await node.compute(compute(0, 1, new Float32Array(LEN).fill(0.5)));
    // Coordinator restarted (resume): set-model again, then a step at version 1 with weights B.
    await node.setModel(setModel(0, 1));
    const reply = node.compute(compute(0, 1, new Float32Array(LEN).fill(0.25)));
    await expect(reply).resolves.toMatchObject({ type: 'gradient', weightsVersion: 1 });
    expect(logs.filter((l) => l.includes('dropping worker'))).toEqual([]);
  });

  it('the local server\'s shared weights file: a local worker is handed the new weights, not the previous coordinator\'s', async () => {
    const logs: string[] = [];
    const stub = new StubRuntime();
    const pool = await localWorkers([stub], 10_000, logs);
    const node = new NodeRuntime({ pool, log: (m) => logs.push(m) });
    const a = new Float32Array(LEN).fill(0.5);
    const b = new Float32Array(LEN).fill(0.25);
    await node.setModel(setModel(0, 1));
    await node.compute(compute(0, 1, a));
    await node.setModel(setModel(0, 1));
    await node.compute(compute(0, 1, b));
    // What the worker computed its second gradient at: B (the node's weights), not A (it was A before the fix).
    expect(stub.received.map((c) => c.toString(16))).toEqual([weightsCrc(a), weightsCrc(b)].map((c) => c.toString(16)));
  });
});

describe('timeouts of the two levels', () => {
  it('a hung worker inside a node is dropped by the node and re-sharded there, not the whole node dropped (equal --request-timeout on both levels)', async () => {
    const T = 2_000; // stands for the two equal defaults (coordinator and node: 120 000 ms)
    const logs: string[] = [];
    // The node: two local workers, one of which hangs in compute.
    const local = await localWorkers([new StubRuntime(), new StubRuntime(true)], T, logs);
    const nodeRuntime = new NodeRuntime({ pool: local, log: (m) => logs.push(`node: ${m}`) });
    // The coordinator: its server, the node joined to it as one worker.
    const pool = new WorkerPool();
    const server = new SocketCoordinatorServer({ host: '127.0.0.1', port: 0, maxMessageBytes: 64 * 1024 * 1024, requestTimeoutMs: T, pool, runId: 'run', shm: false, log: (m) => logs.push(`coordinator: ${m}`) });
    const port = await server.start();
    cleanups.push(() => server.close('test over', 200));
    let nodeLeft: string | null = null;
    // As npm run node: the local timeout fitted inside the coordinator's once its welcome tells it.
    void runSocketWorker({
      url: `http://127.0.0.1:${port}`, workerId: 'n0', backend: 'stub', device: 'node', runtime: nodeRuntime, shm: false, log: (m) => logs.push(`node link: ${m}`),
      onWelcome: (welcome) => local.server.setRequestTimeout(nodeRequestTimeout(welcome.requestTimeoutMs, T)),
    }).then(
      (reason) => (nodeLeft = `exited: ${reason}`),
      (err: Error) => (nodeLeft = `failed: ${err.message}`),
    );
    await pool.waitFor(1, 10_000);
    const source: ModelSource = {
      modelId: 1,
      numClasses: 10,
      weights: new Float32Array(LEN),
      version: 0,
      setModelMessage: () => setModel(0, 1),
    };
    const sharded = new ShardedCompute({ pool, source, balance: false, minWorkers: 1, waitTimeoutMs: 1_000, log: (m) => logs.push(`coordinator: ${m}`) });
    const step = sharded.step(
      { step: 0, images: new Uint8Array(8 * 3072), labels: new Uint8Array(8), count: 8 },
      new StreamingAverage(LEN),
      () => new TrainingError('E_TRAIN_NONFINITE', 'diverged'),
    );
    const outcome = await step.then(
      () => 'step done',
      (err: Error) => `step failed: ${err.message}`,
    );
    await new Promise((r) => setTimeout(r, 500));
    if (outcome !== 'step done') console.log(logs.join('\n'));
    expect(outcome).toBe('step done');
    expect(pool.size).toBe(1);
    expect(nodeLeft).toBeNull();
  }, 30_000);
});

describe('nodeRequestTimeout', () => {
  it('keeps the node\'s workers within 40% of the coordinator\'s timeout', () => {
    expect(nodeRequestTimeout(120_000, undefined)).toBe(48_000);
    expect(nodeRequestTimeout(120_000, 120_000)).toBe(48_000);
    expect(nodeRequestTimeout(120_000, 10_000)).toBe(10_000);
    expect(nodeRequestTimeout(undefined, undefined)).toBe(48_000);
  });
});
