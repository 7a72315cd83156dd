import { hostname } from 'node:os';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  type AdapterInfo,
  type ClientToServerEvents,
  type Message,
  type Payload,
  type ServerToClientEvents,
} from '@cifar-dist/protocol';
import { WorkerRuntime } from '../worker-runtime.js';
import { createShmProbe, inlineOnly, isShmChannelPaths, isShmRef, shmRoot, ShmChannel } from './shm.js';

export interface SocketWorkerOptions {
  url: string;
  token?: string;
  workerId: string;
  backend: string;
  device: string;
  /** The GPU adapter, sent in the hello (webgpu backend). */
  adapter?: AdapterInfo;
  log?: (msg: string) => void;
  /** Largest frame accepted, bytes. */
  maxMessageBytes?: number;
  /** Give up after this long without a connection to the coordinator, ms. */
  connectTimeoutMs?: number;
  /** Stop (reject) after this long disconnected, ms (default 300 000: a coordinator restart with --resume fits in it). */
  reconnectTimeoutMs?: number;
  /** Called with the coordinator's welcome (rank, run id) after each (re)join. */
  onWelcome?: (welcome: { rank: number; runId: string; shm?: { down: string; up: string } }) => void;
  /** Offer shared memory (/dev/shm) for large frames when the coordinator is on this machine (default true). */
  shm?: boolean;
  /** The shared-memory folder (default /dev/shm; tests use a temporary folder). */
  shmRoot?: string;
}

/**
 * Connects to the coordinator, says hello, and serves set-model / compute / evaluate requests
 * with a WorkerRuntime until the coordinator says shutdown (resolves) or refuses us (rejects).
 */
export function runSocketWorker(opts: SocketWorkerOptions): Promise<string> {
  const log = opts.log ?? (() => undefined);
  // Each reply is encoded and sent before the next request is handled: one gradient array will do.
  const runtime = new WorkerRuntime({ reuseBuffers: true });
  const maxBytes = opts.maxMessageBytes ?? 64 * 1024 * 1024;
  return new Promise<string>((resolve, reject) => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(opts.url, {
      auth: { protocolVersion: PROTOCOL_VERSION, ...(opts.token ? { token: opts.token } : {}) },
      transports: ['websocket'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      timeout: opts.connectTimeoutMs ?? 20_000,
    });
    let everConnected = false;
    // Shared memory with the coordinator, when it accepted our offer in this connection's welcome.
    let shm: ShmChannel | null = null;
    const dropShm = (): void => {
      shm?.close();
      shm = null;
    };
    // Disconnected since when: past reconnectTimeoutMs the worker gives up (its coordinator is gone).
    let giveUp: NodeJS.Timeout | undefined;
    const armGiveUp = (): void => {
      if (giveUp) return;
      const ms = opts.reconnectTimeoutMs ?? 300_000;
      giveUp = setTimeout(() => finish(new Error(`no connection to the coordinator at ${opts.url} for ${ms} ms: giving up`)), ms);
    };
    const finish = (err: Error | null, reason = ''): void => {
      clearTimeout(giveUp);
      dropShm();
      socket.removeAllListeners();
      socket.disconnect();
      runtime.dispose();
      if (err) reject(err);
      else resolve(reason);
    };
    armGiveUp();
    socket.on('connect', () => {
      everConnected = true;
      clearTimeout(giveUp);
      giveUp = undefined;
      dropShm();
      const root = opts.shm === false ? null : (opts.shmRoot ?? shmRoot());
      let probe: ReturnType<typeof createShmProbe> | null = null;
      try {
        probe = root === null ? null : createShmProbe(root);
      } catch (err) {
        log(`no shared-memory offer (${(err as Error).message})`);
      }
      const hello = encodeMessage({
        type: 'hello',
        protocolVersion: PROTOCOL_VERSION,
        workerId: opts.workerId,
        backend: opts.backend,
        device: opts.device,
        hostname: hostname(),
        pid: process.pid,
        ...(opts.adapter ? { adapter: opts.adapter } : {}),
        ...(probe ? { shmProbe: { probe: probe.probe, nonce: probe.nonce } } : {}),
      });
      // A callback, not an awaited promise: the channel must exist before the next packet (the
      // coordinator's first request may arrive in the same read as this acknowledgement).
      socket.timeout(30_000).emit('msg', hello, (err: Error | null, reply: Payload) => {
        probe?.remove();
        try {
          if (err) throw err;
          const welcome = decodeMessage(reply, 'welcome');
          if (welcome.shm && probe !== null && root !== null) {
            if (isShmChannelPaths(root, welcome.shm)) shm = new ShmChannel(welcome.shm.up, welcome.shm.down, 1);
            else log(`ignoring shared-memory files outside ${root}: ${welcome.shm.down}, ${welcome.shm.up}`);
          }
          opts.onWelcome?.(welcome);
          log(`joined run ${welcome.runId} as rank ${welcome.rank}${shm ? ' (large frames through shared memory)' : ''}`);
        } catch (e) {
          log(`hello failed: ${(e as Error).message}`);
          dropShm();
          socket.disconnect();
        }
      });
    });
    socket.on('connect_error', (err) => {
      const code = (err as Error & { data?: { code?: string } }).data?.code;
      if (code === 'E_PROTO_VERSION' || code === 'E_PROTO_TOKEN') {
        finish(new Error(`coordinator refused this worker (${code}): ${err.message}`));
        return;
      }
      log(`cannot reach ${opts.url}: ${err.message}; retrying`);
    });
    socket.on('disconnect', (reason) => {
      armGiveUp();
      dropShm();
      if (everConnected) log(`disconnected (${reason}); reconnecting`);
      // socket.io-client does not retry after the server closed the connection itself.
      if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 500);
    });
    // Requests are handled one at a time, in arrival order: the runtime holds one model, and a
    // GPU backend's computation awaits its read-back (the event loop keeps serving pings meanwhile).
    let queue: Promise<void> = Promise.resolve();
    socket.on('msg', (payload, ack) => {
      queue = queue.then(() => handle(payload, ack));
    });
    const handle = async (payload: Payload, ack: ((reply: Payload) => void) | undefined): Promise<void> => {
      let reply: Message;
      // A request that came through shared memory is answered the same way (the coordinator
      // reads the answer from our file only then).
      const viaShm = isShmRef(payload) && shm !== null;
      const answer = (message: Message): void => {
        if (typeof ack !== 'function') return;
        const hadError = shm?.sendError ?? null;
        ack(viaShm && shm ? shm.send(message) : encodeMessage(message));
        if (shm?.sendError && hadError === null) log(`shared memory unusable (${shm.sendError.message}); answering over the socket`);
      };
      try {
        const msg = decodeMessage(viaShm && shm ? shm.receive(payload, maxBytes) : inlineOnly(payload), undefined, maxBytes);
        switch (msg.type) {
          case 'set-model':
            reply = await runtime.setModel(msg);
            log(`model ${msg.modelId}: ${msg.numClasses} classes, ${msg.frozenLayers} frozen layers`);
            break;
          case 'compute':
            reply = await runtime.compute(msg);
            break;
          case 'evaluate':
            reply = await runtime.evaluate(msg);
            break;
          case 'shutdown':
            log(`coordinator says shutdown: ${msg.reason}`);
            answer({ type: 'ready', modelId: 0, weightsCrc: 0 });
            finish(null, msg.reason);
            return;
          default:
            throw new Error(`unexpected '${msg.type}' message from the coordinator`);
        }
      } catch (err) {
        const e = err as Error & { code?: string };
        log(`request failed: ${e.message}`);
        reply = { type: 'error', code: e.code ?? 'E_WORKER', message: e.message };
      }
      answer(reply);
    };
  });
}
