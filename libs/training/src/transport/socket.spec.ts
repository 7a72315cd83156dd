import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import { createModel, getWeightsFlat, selectBackend } from '@cifar-dist/model';
import {
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  weightsCrc,
  type ComputeMessage,
  type EvaluateMessage,
  type SetModelMessage,
} from '@cifar-dist/protocol';
import { TrainingError } from '../errors.js';
import { WorkerPool } from '../worker-pool.js';
import { WorkerRuntime } from '../worker-runtime.js';
import { SocketCoordinatorServer } from './socket-server.js';
import { runSocketWorker } from './socket-worker.js';

let server: SocketCoordinatorServer | null = null;

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
});

afterEach(async () => {
  await server?.close();
  server = null;
});

async function start(pool: WorkerPool, token?: string, shm?: { root: string } | false): Promise<string> {
  server = new SocketCoordinatorServer({
    host: '127.0.0.1', port: 0, maxMessageBytes: 16e6, requestTimeoutMs: 30_000, helloTimeoutMs: 1_000,
    pool, runId: 'test', ...(token ? { token } : {}),
    ...(shm === false ? { shm: false } : shm ? { shmRoot: shm.root } : {}),
  });
  return `http://127.0.0.1:${await server.start()}`;
}

/** Resolves once `cond()` holds (polled every 10 ms; rejects after 10 s). */
async function waitUntil(cond: () => boolean): Promise<void> {
  for (let waited = 0; !cond(); waited += 10) {
    if (waited > 10_000) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Tries a raw handshake; resolves with the refusal code or 'connected'. */
function handshake(url: string, auth: Record<string, unknown>): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(url, { auth, transports: ['websocket'], reconnection: false });
    s.on('connect', () => {
      s.disconnect();
      resolve('connected');
    });
    s.on('connect_error', (err) => {
      s.disconnect();
      resolve((err as Error & { data?: { code?: string } }).data?.code ?? err.message);
    });
  });
}

describe('socket transport', () => {
  it('refuses to listen beyond loopback without a token', () => {
    expect(() => new SocketCoordinatorServer({ host: '0.0.0.0', port: 0, maxMessageBytes: 1e6, requestTimeoutMs: 1000, pool: new WorkerPool(), runId: 'x' }))
      .toThrow(TrainingError);
  });

  it('refuses a peer with another protocol version or a wrong token before anything is sent', async () => {
    const pool = new WorkerPool();
    const url = await start(pool, 's3cret');
    expect(await handshake(url, { protocolVersion: PROTOCOL_VERSION + 1, token: 's3cret' })).toBe('E_PROTO_VERSION');
    expect(await handshake(url, { protocolVersion: PROTOCOL_VERSION, token: 'guess' })).toBe('E_PROTO_TOKEN');
    expect(await handshake(url, { protocolVersion: PROTOCOL_VERSION })).toBe('E_PROTO_TOKEN');
    expect(await handshake(url, { protocolVersion: PROTOCOL_VERSION, token: 's3cret' })).toBe('connected');
    expect(pool.size).toBe(0);
    // runSocketWorker's refusal carries the code, so that the apps map it to exit code 4
    await expect(runSocketWorker({ url, token: 'guess', workerId: 'w', backend: 'wasm', device: 'cpu', shm: false })).rejects.toMatchObject({
      code: 'E_PROTO_TOKEN',
      message: 'coordinator refused this worker (E_PROTO_TOKEN): token refused',
    });
  });

  it('disconnects a peer that sends a malformed hello, and one that says nothing', async () => {
    const pool = new WorkerPool();
    const url = await start(pool);
    const reply = await new Promise<Uint8Array>((resolve) => {
      const s = connect(url, { auth: { protocolVersion: PROTOCOL_VERSION }, transports: ['websocket'], reconnection: false });
      s.on('connect', () => {
        s.emit('msg', new Uint8Array([0xc1, 0x00]), (r: Uint8Array) => resolve(r));
      });
    });
    expect(Buffer.from(reply).toString('latin1')).toContain('E_PROTO_HELLO');
    const silent = await new Promise<string>((resolve) => {
      const s = connect(url, { auth: { protocolVersion: PROTOCOL_VERSION }, transports: ['websocket'], reconnection: false });
      s.on('disconnect', (reason) => resolve(reason));
    });
    expect(silent).toBe('io server disconnect');
    expect(pool.size).toBe(0);
  });

  it('a worker joins, loads the model, computes a gradient, and exits on shutdown', async () => {
    const pool = new WorkerPool();
    const url = await start(pool);
    const done = runSocketWorker({ url, workerId: 'sock-w', backend: 'wasm', device: 'cpu' });
    await pool.waitFor(1, 20_000);
    const [link] = pool.live();
    expect(link?.info.workerId).toBe('sock-w');
    const model = createModel({ numClasses: 10, dropout: false, seed: 1 });
    await link!.setModel({ type: 'set-model', weightsVersion: 0, modelId: 7, numClasses: 10, frozenLayers: 0, dropout: false, weights: getWeightsFlat(model, 'all') });
    const images = new Uint8Array(4 * 3072).map((_, i) => (i * 31) % 256);
    const reply = await link!.compute({ type: 'compute', weightsVersion: 0, modelId: 7, step: 0, images, labels: new Uint8Array([0, 1, 2, 3]), count: 4 });
    expect(reply.gradients.length).toBe(1_250_858);
    expect(reply.count).toBe(4);
    expect(Math.abs(reply.loss - Math.log(10))).toBeLessThan(1);
    // a request for another model is answered with an error, not a wrong gradient
    await expect(link!.compute({ type: 'compute', weightsVersion: 0, modelId: 8, step: 1, images, labels: new Uint8Array([0, 1, 2, 3]), count: 4 }))
      .rejects.toThrow(/E_PROTO_STALE/);
    model.dispose();
    await server!.close();
    server = null;
    await expect(done).resolves.toBe('run finished');
  });

  it('a worker busy with a slow (GPU-like, awaiting) request obeys a shutdown at once and does not rejoin', async () => {
    const pool = new WorkerPool();
    const url = await start(pool);
    let release: () => void = () => undefined;
    let computing = false;
    const real = new WorkerRuntime();
    const runtime = {
      setModel: (m: SetModelMessage) => real.setModel(m),
      evaluate: (m: EvaluateMessage) => real.evaluate(m),
      dispose: () => real.dispose(),
      // A request whose read-back is still pending: the event loop is free meanwhile, as on webgpu.
      compute: async (m: ComputeMessage) => {
        computing = true;
        await new Promise<void>((resolve) => (release = resolve));
        return real.compute(m);
      },
    };
    const logs: string[] = [];
    const done = runSocketWorker({ url, workerId: 'busy-w', backend: 'test', device: 'cpu', runtime, log: (m) => logs.push(m) });
    await pool.waitFor(1, 20_000);
    const [link] = pool.live();
    const model = createModel({ numClasses: 10, dropout: false, seed: 1 });
    await link!.setModel({ type: 'set-model', weightsVersion: 0, modelId: 7, numClasses: 10, frozenLayers: 0, dropout: false, weights: getWeightsFlat(model, 'all') });
    model.dispose();
    const pending = link!.compute({ type: 'compute', weightsVersion: 0, modelId: 7, step: 0, images: new Uint8Array(2 * 3072), labels: new Uint8Array([0, 1]), count: 2 });
    pending.catch(() => undefined);
    await waitUntil(() => computing);
    pool.drop(link!, 'too slow'); // sends shutdown, disconnects 200 ms later
    // dropped while the run goes on: not a clean end (the worker process exits non-zero)
    await expect(done).rejects.toThrow('the coordinator dropped this worker: too slow');
    await new Promise((r) => setTimeout(r, 1_500)); // a rejoin would come within 500 ms of the disconnect
    expect(pool.size).toBe(0);
    expect(logs.filter((l) => l.startsWith('joined run'))).toHaveLength(1);
    release();
    await expect(pending).rejects.toThrow(/too slow/);
  });

  it('moves frames through shared memory with a worker on this machine: the same gradient bit for bit as over the socket', async () => {
    const root = mkdtempSync(join(tmpdir(), 'shm-socket-'));
    const model = createModel({ numClasses: 10, dropout: false, seed: 3 });
    const weights = getWeightsFlat(model, 'all');
    const trainable = weights.map((v, i) => v + (i % 7) * 1e-4);
    // 3 images: the labels blob ends unaligned, the frame with padding.
    const images = new Uint8Array(3 * 3072).map((_, i) => (i * 13) % 256);
    const labels = new Uint8Array([4, 1, 9]);
    const gradientVia = async (shm: boolean): Promise<{ bytes: Buffer; shared: boolean | undefined }> => {
      const pool = new WorkerPool();
      const url = await start(pool, undefined, shm ? { root } : false);
      const done = runSocketWorker({ url, workerId: `w-${shm}`, backend: 'wasm', device: 'cpu', shmRoot: root });
      await pool.waitFor(1, 20_000);
      const link = pool.live()[0]!;
      await link.setModel({ type: 'set-model', weightsVersion: 0, modelId: 1, numClasses: 10, frozenLayers: 0, dropout: false, weights });
      // New weights: over shared memory they travel through the run's weights file.
      const reply = await link.compute({ type: 'compute', weightsVersion: 1, modelId: 1, step: 0, weights: trainable, images, labels, count: 3 });
      expect(reply.weightsVersion).toBe(1);
      const out = { bytes: Buffer.from(reply.gradients.slice().buffer), shared: link.info.sharedMemory };
      await server!.close();
      server = null;
      await expect(done).resolves.toBe('run finished');
      return out;
    };
    try {
      const viaShm = await gradientVia(true);
      const viaSocket = await gradientVia(false);
      expect(viaShm.shared).toBe(true);
      expect(viaSocket.shared).toBe(false);
      expect(viaShm.bytes.length).toBe(1_250_858 * 4);
      expect(viaShm.bytes.equals(viaSocket.bytes)).toBe(true);
      // The run folder and the worker's probe are gone once the coordinator closed.
      expect(readdirSync(root)).toEqual([]);
    } finally {
      model.dispose();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps frames on the socket for a peer whose probe is not in our folder, and drops one that answers with a shared-memory reference anyway', async () => {
    const root = mkdtempSync(join(tmpdir(), 'shm-socket-'));
    try {
      const pool = new WorkerPool();
      const url = await start(pool, undefined, { root });
      const s = connect(url, { auth: { protocolVersion: PROTOCOL_VERSION }, transports: ['websocket'], reconnection: false });
      await new Promise<void>((resolve) => s.on('connect', () => resolve()));
      // The probe names a path outside the folder: no shared memory offered back.
      const welcome = decodeMessage(
        await s.emitWithAck('msg', encodeMessage({ type: 'hello', protocolVersion: PROTOCOL_VERSION, workerId: 'liar', backend: 'x', device: 'x', hostname: hostname(), pid: 1, shmProbe: { probe: '../../etc/hostname', nonce: 'x' } })),
        'welcome',
      );
      expect(welcome.shm).toBeUndefined();
      s.on('msg', (_payload: unknown, ack: (r: unknown) => void) => ack({ shm: 5_000_000 }));
      await pool.waitFor(1, 5_000);
      const link = pool.live()[0]!;
      expect(link.info.sharedMemory).toBe(false);
      await expect(link.compute({ type: 'compute', weightsVersion: 0, modelId: 1, step: 0, images: new Uint8Array(3072), labels: new Uint8Array(1), count: 1 }))
        .rejects.toThrow(/E_PROTO_DECODE|shared-memory frame reference on a link without shared memory/);
      s.disconnect();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('drops a worker that sends unsolicited messages', async () => {
    const pool = new WorkerPool();
    const url = await start(pool);
    const s = connect(url, { auth: { protocolVersion: PROTOCOL_VERSION }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve) => s.on('connect', () => resolve()));
    await s.emitWithAck('msg', encodeMessage({ type: 'hello', protocolVersion: PROTOCOL_VERSION, workerId: 'rogue', backend: 'x', device: 'x', hostname: 'h', pid: 1 }));
    await pool.waitFor(1, 5_000);
    const left = new Promise<string>((resolve) => pool.once('leave', (_l, reason) => resolve(reason)));
    s.emit('msg', encodeMessage({ type: 'gradient', step: 0, loss: 0, correct: 0, count: 1, gradients: new Float32Array(3), weightsVersion: 0, computeMs: 0 }), () => undefined);
    expect(await left).toBe('unsolicited message');
    s.disconnect();
  });
});

describe('heartbeat versus a worker whose compute blocks its event loop', () => {
  /** A peer process that blocks 3 s per request; resolves with how its request ended. */
  async function blockedRequest(pingTimeoutMs: number): Promise<string> {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const pool = new WorkerPool();
    server = new SocketCoordinatorServer({
      host: '127.0.0.1', port: 0, maxMessageBytes: 16e6, requestTimeoutMs: 20_000, pool, runId: 'test',
      pingIntervalMs: 200, pingTimeoutMs,
    });
    const url = `http://127.0.0.1:${await server.start()}`;
    const peer = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./fixtures/blocking-peer.mjs', import.meta.url)), url, '3000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await pool.waitFor(1, 30_000);
      const link = pool.live()[0];
      if (!link) throw new Error('no peer');
      return await link.compute({ type: 'compute', weightsVersion: 0, modelId: 1, step: 0, images: new Uint8Array(3072), labels: new Uint8Array(1), count: 1 }).then(
        () => 'answered',
        (err: Error) => err.message,
      );
    } finally {
      peer.kill('SIGKILL');
    }
  }

  it('keeps a worker that is busy for 15 ping intervals (its answer arrives), with the default-style long ping timeout', async () => {
    expect(await blockedRequest(10_000)).toMatch(/failed 'compute': E_TEST_BLOCKED: blocked 3000 ms/);
  }, 60_000);

  it('(control) a ping timeout shorter than the block does drop it as disconnected', async () => {
    expect(await blockedRequest(1_000)).toMatch(/disconnected/);
  }, 60_000);
});
