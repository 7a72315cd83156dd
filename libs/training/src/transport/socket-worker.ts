import { hostname } from 'node:os';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  decodeMessage,
  encodeMessage,
  type AdapterInfo,
  type ClientToServerEvents,
  type Message,
  type Payload,
  type ServerToClientEvents,
} from '@cifar-dist/protocol';
import { WorkerRuntime } from '../worker-runtime.js';
import { createShmProbe, inlineOnly, isShmChannelPaths, isShmRef, SharedWeightsReader, shmRoot, ShmChannel } from './shm.js';

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
  onWelcome?: (welcome: { rank: number; runId: string; shm?: { down: string; up: string; weights?: string }; requestTimeoutMs?: number }) => void;
  /** Offer shared memory (/dev/shm) for large frames when the coordinator is on this machine (default true). */
  shm?: boolean;
  /** The shared-memory folder (default /dev/shm; tests use a temporary folder). */
  shmRoot?: string;
  /** What serves the requests (default: a WorkerRuntime reusing its buffers; tests pass a stand-in). */
  runtime?: Pick<WorkerRuntime, 'setModel' | 'compute' | 'evaluate' | 'dispose'>;
}

/** One request from the coordinator, as it arrived. */
interface Request {
  payload: Payload;
  ack: ((reply: Payload) => void) | undefined;
  /** The connection (count of disconnections before it) it came on. */
  connection: number;
  /** The shared-memory channel it came through, when it came as a reference. */
  channel: ShmChannel | null;
  /** An inline frame, decoded on arrival. */
  msg?: Message;
}

/**
 * Connects to the coordinator, says hello, and serves set-model / compute / evaluate requests
 * with a WorkerRuntime until the coordinator says the run is over (resolves with its reason), or
 * refuses or drops us (rejects).
 */
export function runSocketWorker(opts: SocketWorkerOptions): Promise<string> {
  const log = opts.log ?? (() => undefined);
  // Each reply is encoded and sent before the next request is handled: one gradient array will do.
  const runtime = opts.runtime ?? new WorkerRuntime({ reuseBuffers: true });
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
    // Counts disconnections: a request remembers the connection it came on.
    let connection = 0;
    // Shared memory with the coordinator, when it accepted our offer in this connection's welcome.
    let shm: ShmChannel | null = null;
    // The run's weights file, read when a request names it instead of carrying the weights.
    let sharedWeights: SharedWeightsReader | null = null;
    const dropShm = (): void => {
      shm?.close();
      shm = null;
      sharedWeights?.close();
      sharedWeights = null;
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
            if (isShmChannelPaths(root, welcome.shm)) {
              shm = new ShmChannel(welcome.shm.up, welcome.shm.down, 1);
              if (welcome.shm.weights) sharedWeights = new SharedWeightsReader(welcome.shm.weights);
            } else log(`ignoring shared-memory files outside ${root}: ${welcome.shm.down}, ${welcome.shm.up}`);
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
        finish(new ProtocolError(code, `coordinator refused this worker (${code}): ${err.message}`));
        return;
      }
      log(`cannot reach ${opts.url}: ${err.message}; retrying`);
    });
    socket.on('disconnect', (reason) => {
      connection += 1;
      armGiveUp();
      dropShm();
      if (everConnected) log(`disconnected (${reason}); reconnecting`);
      // socket.io-client does not retry after the server closed the connection itself.
      if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 500);
    });
    // Requests are handled one at a time, in arrival order: the runtime holds one model, and a GPU
    // backend's computation awaits its read-back (the event loop serves pings meanwhile). A
    // shutdown is obeyed at once, even behind a running request (the coordinator disconnects
    // 200 ms after it: a queued shutdown would come too late, and the worker would rejoin).
    // Requests of a connection that has closed since are dropped unanswered: the coordinator
    // failed them when the connection went.
    let queue: Promise<void> = Promise.resolve();
    socket.on('msg', (payload, ack) => {
      const request: Request = { payload, ack, connection, channel: isShmRef(payload) ? shm : null };
      if (!isShmRef(payload)) {
        // Inline frames are decoded on arrival (large blobs are viewed in place, not copied).
        try {
          request.msg = decodeMessage(inlineOnly(payload), undefined, maxBytes);
        } catch (err) {
          reply(request, failure(err));
          return;
        }
        if (request.msg.type === 'shutdown') {
          const { reason, dropped } = request.msg;
          log(`coordinator says shutdown: ${reason}${dropped === true ? ' (this worker was dropped)' : ''}`);
          reply(request, { type: 'ready', modelId: 0, weightsCrc: 0 });
          // Dropped for a fault while the run goes on: not a clean end (a scheduler may restart us).
          finish(dropped === true ? new Error(`the coordinator dropped this worker: ${reason}`) : null, reason);
          return;
        }
      }
      queue = queue.then(() => handle(request)).catch((err: unknown) => log(`request not answered: ${(err as Error).message}`));
    });
    const failure = (err: unknown): Message => {
      const e = err as Error & { code?: string };
      log(`request failed: ${e.message}`);
      return { type: 'error', code: e.code ?? 'E_WORKER', message: e.message };
    };
    // A request that came through shared memory is answered the same way (the coordinator reads
    // the answer from our file only then).
    const reply = (request: Request, message: Message): void => {
      if (typeof request.ack !== 'function') return;
      const channel = request.channel;
      const hadError = channel?.sendError ?? null;
      request.ack(channel ? channel.send(message) : encodeMessage(message));
      if (channel?.sendError && hadError === null) log(`shared memory unusable (${channel.sendError.message}); answering over the socket`);
    };
    // A request that names the weights file gets the weights read from it (checked against its model and version).
    const withSharedWeights = (msg: Message): Message => {
      if ((msg.type !== 'compute' && msg.type !== 'evaluate') || msg.sharedWeights === undefined || msg.sharedWeights === null) return msg;
      if (sharedWeights === null) throw new ProtocolError('E_PROTO_FIELD', `'${msg.type}' names the shared weights file, but this worker was given none`);
      return { ...msg, weights: sharedWeights.read(msg.sharedWeights, msg.modelId, msg.weightsVersion, maxBytes) };
    };
    const handle = async (request: Request): Promise<void> => {
      if (request.connection !== connection) return;
      let answer: Message;
      try {
        const msg = withSharedWeights(
          request.msg ?? decodeMessage(request.channel ? request.channel.receive(request.payload, maxBytes) : inlineOnly(request.payload), undefined, maxBytes),
        );
        switch (msg.type) {
          case 'set-model':
            answer = await runtime.setModel(msg);
            log(`model ${msg.modelId}: ${msg.numClasses} classes, ${msg.frozenLayers} frozen layers`);
            break;
          case 'compute':
            answer = await runtime.compute(msg);
            break;
          case 'evaluate':
            answer = await runtime.evaluate(msg);
            break;
          default:
            throw new Error(`unexpected '${msg.type}' message from the coordinator`);
        }
      } catch (err) {
        answer = failure(err);
      }
      if (request.connection === connection) reply(request, answer);
    };
  });
}
