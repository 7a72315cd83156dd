import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Server, type Socket } from 'socket.io';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  decodeMessage,
  encodeMessage,
  tokensEqual,
  type ClientToServerEvents,
  type ComputeMessage,
  type EvaluateMessage,
  type EvaluationMessage,
  type GradientMessage,
  type Message,
  type MessageOf,
  type MessageType,
  type ServerToClientEvents,
  type SetModelMessage,
} from '@cifar-dist/protocol';
import { TrainingError } from '../errors.js';
import { LogLimiter } from './log-limiter.js';
import { inlineOnly, shmRoot, ShmRun, type SharedWeightsFile, type ShmChannel } from './shm.js';
import type { WorkerInfo, WorkerLink } from '../worker-link.js';
import type { WorkerPool } from '../worker-pool.js';

export interface SocketServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Required when `host` is not a loopback address. */
  token?: string;
  /** Largest frame accepted in either direction, bytes (socket.io's maxHttpBufferSize). */
  maxMessageBytes: number;
  /** A request not answered within this is a failed worker, ms. */
  requestTimeoutMs: number;
  /** Time a connected peer has to say hello, ms. */
  helloTimeoutMs?: number;
  /** socket.io heartbeat: a ping every this many ms (default 10 000). */
  pingIntervalMs?: number;
  /**
   * A peer that does not answer a ping within this is disconnected (default: the larger of 60 s and
   * requestTimeoutMs). Long, on purpose: a worker's synchronous compute blocks its event loop, and a
   * busy worker must not be taken for a dead one; requestTimeoutMs bounds a real hang.
   */
  pingTimeoutMs?: number;
  pool: WorkerPool;
  runId: string;
  log?: (msg: string) => void;
  /**
   * Move large frames through shared memory (/dev/shm) with workers that prove they share it
   * (default true; see shm.ts). Others, and every worker when false, get frames over the socket.
   */
  shm?: boolean;
  /** The shared-memory folder (default /dev/shm; tests use a temporary folder). */
  shmRoot?: string;
}

type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** A worker on the other end of a socket.io connection. */
class SocketLink implements WorkerLink {
  alive = true;
  constructor(
    readonly info: WorkerInfo,
    private readonly socket: IoSocket,
    private readonly opts: SocketServerOptions,
    /** Shared-memory channel to this worker, when it is on this machine. */
    readonly shm: ShmChannel | null = null,
    /** The run's weights file, which this worker reads instead of being sent the weights. */
    private sharedWeights: SharedWeightsFile | null = null,
    /** True once the server is closing: a close then ends the run for the worker, not a drop. */
    private readonly serverClosing: () => boolean = () => false,
  ) {}

  /**
   * Requests still waiting for their answer, each with how to fail it. socket.io keeps an
   * acknowledgement (and its timeout timer, which holds the whole socket) pending after the
   * connection is gone, so the link fails them itself: at once when the worker disconnects or
   * is dropped, else after the request timeout. Without this a worker that vanishes mid-request
   * stalls the step for the whole timeout, and each one keeps its socket alive as long.
   */
  private readonly pending = new Set<(why: string) => void>();
  private shmSuspended = false;

  private async request<T extends MessageType>(msg: Message, expected: T): Promise<Extract<Message, { type: T }>> {
    if (!this.alive) throw new TrainingError('E_TRAIN_WORKER', `worker ${this.info.workerId} is gone`);
    const reply = await new Promise<{ answer: unknown; viaShm: boolean }>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.pending.delete(gone);
      };
      // Shared memory only with no other request in flight (each direction has one file), and
      // never again on this link once a request failed (its worker may still read or write).
      const viaShm = this.shm !== null && this.pending.size === 0 && !this.shmSuspended;
      const fail = (why: string): void => {
        settle();
        this.shmSuspended = true;
        reject(new TrainingError('E_TRAIN_WORKER', `worker ${this.info.workerId} ${why}`));
      };
      const gone = (why: string): void => fail(`${why} before answering '${msg.type}'`);
      const timer = setTimeout(() => fail(`did not answer '${msg.type}' within ${this.opts.requestTimeoutMs} ms`), this.opts.requestTimeoutMs);
      this.pending.add(gone);
      const payload = viaShm && this.shm ? this.shm.send(this.viaWeightsFile(msg)) : encodeMessage(msg);
      if (this.shm?.sendError && !this.shmSuspended) {
        this.shmSuspended = true;
        this.opts.log?.(`worker ${this.info.workerId}: shared memory unusable (${this.shm.sendError.message}); frames go over the socket`);
      }
      this.socket.emit('msg', payload, (answer: unknown) => {
        settle();
        resolve({ answer, viaShm });
      });
    });
    const max = this.opts.maxMessageBytes;
    // The worker answers through shared memory only a request that came that way.
    const frame = reply.viaShm && this.shm ? this.shm.receive(reply.answer, max) : inlineOnly(reply.answer);
    const decoded = decodeMessage(frame, undefined, max);
    if (decoded.type === 'error') {
      throw new TrainingError('E_TRAIN_WORKER', `worker ${this.info.workerId} failed '${msg.type}': ${decoded.code}: ${decoded.message}`);
    }
    if (decoded.type !== expected) {
      throw new ProtocolError('E_PROTO_TYPE', `worker ${this.info.workerId} answered '${msg.type}' with '${decoded.type}'`);
    }
    return decoded as Extract<Message, { type: T }>;
  }

  /**
   * The request with its weights replaced by a reference to the run's weights file (written there
   * once per version for every local worker), when it carries weights and the file is in use.
   */
  private viaWeightsFile(msg: Message): Message {
    if (this.sharedWeights === null || (msg.type !== 'compute' && msg.type !== 'evaluate') || !msg.weights) return msg;
    let sharedWeights: number;
    try {
      sharedWeights = this.sharedWeights.publish(msg.modelId, msg.weightsVersion, msg.weights);
    } catch (err) {
      // A full /dev/shm: this link sends the weights in its own frames from now on.
      this.opts.log?.(`worker ${this.info.workerId}: the shared weights file is unusable (${(err as Error).message}); weights go in each request`);
      this.sharedWeights = null;
      return msg;
    }
    const { weights: _sent, ...rest } = msg;
    return { ...rest, sharedWeights };
  }

  /** Fails every request still waiting for an answer: the link is gone (`why`, e.g. "disconnected (transport close)"). */
  failPending(why: string): void {
    for (const gone of [...this.pending]) gone(why);
  }

  async setModel(msg: SetModelMessage): Promise<void> {
    await this.request(msg, 'ready');
  }

  compute(msg: ComputeMessage): Promise<GradientMessage> {
    return this.request(msg, 'gradient');
  }

  evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
    return this.request(msg, 'evaluation');
  }

  close(reason: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.failPending(`was dropped (${reason})`);
    if (this.socket.connected) {
      this.socket.emit('msg', encodeMessage({ type: 'shutdown', reason, ...(this.serverClosing() ? {} : { dropped: true }) }), () => undefined);
      // Give the shutdown frame a moment to leave before cutting the connection.
      setTimeout(() => this.socket.disconnect(true), 200).unref();
    }
  }
}

/**
 * The coordinator's socket.io endpoint. Refuses, before any data or weights leave, a peer with
 * another protocol version or without the right token; a peer that then says a valid hello joins
 * the worker pool, and leaves it when its connection drops.
 */
export class SocketCoordinatorServer {
  private http: HttpServer | null = null;
  private io: Server<ClientToServerEvents, ServerToClientEvents> | null = null;
  private nextRank = 0;
  private shmRun: ShmRun | null = null;
  private closing = false;
  /** Lines about misbehaving peers, bounded per kind (a flood costs a few lines a minute). */
  private readonly peers: LogLimiter;

  constructor(private readonly opts: SocketServerOptions) {
    this.peers = new LogLimiter((msg) => opts.log?.(msg));
    if (!isLoopback(opts.host) && !opts.token) {
      throw new TrainingError(
        'E_TRAIN_CONFIG',
        `listening on ${opts.host} (not loopback) requires a token: pass --token or set CIFAR_DIST_TOKEN`,
      );
    }
  }

  /**
   * Changes the timeout of every request from now on, ms (a per-node stage fits its workers'
   * timeout inside the coordinator's once it learns it).
   */
  setRequestTimeout(ms: number): void {
    this.opts.requestTimeoutMs = ms;
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    const http = createServer();
    const io = new Server<ClientToServerEvents, ServerToClientEvents>(http, {
      maxHttpBufferSize: this.opts.maxMessageBytes,
      transports: ['websocket'],
      serveClient: false,
      perMessageDeflate: false,
      // A worker's synchronous compute can block its event loop for seconds: be patient before
      // declaring it dead (the request timeout catches real hangs).
      pingInterval: this.opts.pingIntervalMs ?? 10_000,
      pingTimeout: this.opts.pingTimeoutMs ?? Math.max(60_000, this.opts.requestTimeoutMs),
    });
    io.use((socket, next) => {
      const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
      if (auth['protocolVersion'] !== PROTOCOL_VERSION) {
        const err = new Error(`protocol version ${String(auth['protocolVersion'])} refused, coordinator speaks ${PROTOCOL_VERSION}`) as Error & { data?: unknown };
        err.data = { code: 'E_PROTO_VERSION' };
        this.peers.say('refused connections', `refused ${socket.handshake.address}: ${err.message}`);
        return next(err);
      }
      if (this.opts.token !== undefined && !tokensEqual(auth['token'], this.opts.token)) {
        const err = new Error('token refused') as Error & { data?: unknown };
        err.data = { code: 'E_PROTO_TOKEN' };
        this.peers.say('refused connections', `refused ${socket.handshake.address}: bad token`);
        return next(err);
      }
      next();
    });
    const root = this.opts.shm === false ? null : (this.opts.shmRoot ?? shmRoot());
    if (root !== null) {
      try {
        this.shmRun = new ShmRun(root);
      } catch (err) {
        this.opts.log?.(`no shared memory in ${root} (${(err as Error).message}): frames go over the socket`);
      }
    }
    io.on('connection', (socket) => this.onConnection(socket));
    this.http = http;
    this.io = io;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.opts.port, this.opts.host, () => resolve());
    });
    return (http.address() as AddressInfo).port;
  }

  private onConnection(socket: IoSocket): void {
    const timer = setTimeout(() => {
      this.peers.say('peers without a hello', `peer ${socket.id} said no hello within ${this.opts.helloTimeoutMs ?? 30_000} ms: disconnecting`);
      socket.disconnect(true);
    }, this.opts.helloTimeoutMs ?? 30_000);
    socket.once('msg', (payload, ack) => {
      clearTimeout(timer);
      let hello;
      try {
        hello = decodeMessage(payload, 'hello', 64 * 1024);
      } catch (err) {
        this.peers.say('bad hellos', `peer ${socket.id} sent a bad hello: ${(err as Error).message}`);
        if (typeof ack === 'function') ack(encodeMessage({ type: 'error', code: 'E_PROTO_HELLO', message: (err as Error).message }));
        socket.disconnect(true);
        return;
      }
      const rank = this.nextRank++;
      const info: WorkerInfo = {
        workerId: hello.workerId,
        backend: hello.backend,
        device: hello.device,
        hostname: hello.hostname,
        pid: hello.pid,
        ...(hello.adapter ? { adapter: hello.adapter } : {}),
      };
      const shm = this.acceptShm(hello, rank);
      info.sharedMemory = shm !== null;
      const link = new SocketLink(info, socket, this.opts, shm?.channel ?? null, shm ? (this.shmRun?.weights ?? null) : null, () => this.closing);
      socket.on('disconnect', (reason, description) => {
        const detail = description instanceof Error ? `: ${description.message}` : '';
        this.opts.log?.(`worker ${info.workerId} disconnected (${reason}${detail})`);
        link.alive = false;
        link.failPending(`disconnected (${reason})`);
        this.opts.pool.drop(link, `disconnected (${reason})`);
        if (shm) this.shmRun?.release(shm.channel);
      });
      // Anything a worker sends unasked after its hello is not part of the protocol.
      socket.on('msg', (_payload, reply) => {
        this.peers.say('unsolicited messages', `worker ${info.workerId} sent an unsolicited message: disconnecting it`);
        if (typeof reply === 'function') reply(encodeMessage({ type: 'error', code: 'E_PROTO_TYPE', message: 'unsolicited message' }));
        this.opts.pool.drop(link, 'unsolicited message');
      });
      const weightsPath = this.shmRun?.weights.path;
      const welcome = {
        type: 'welcome' as const,
        rank,
        runId: this.opts.runId,
        requestTimeoutMs: this.opts.requestTimeoutMs,
        ...(shm ? { shm: { down: shm.down, up: shm.up, ...(weightsPath ? { weights: weightsPath } : {}) } } : {}),
      };
      if (typeof ack === 'function') ack(encodeMessage(welcome));
      this.opts.pool.add(link);
    });
  }

  /** A shared-memory channel for a worker that offered one and proved it shares our folder, else null. */
  private acceptShm(hello: MessageOf<'hello'>, rank: number): ReturnType<ShmRun['channel']> | null {
    if (this.shmRun === null || hello.shmProbe === undefined || hello.shmProbe === null) return null;
    if (hello.hostname !== hostname() || !this.shmRun.verify(hello.shmProbe)) return null;
    try {
      const shm = this.shmRun.channel(rank);
      this.opts.log?.(`worker ${hello.workerId} is on this machine: large frames through shared memory (${this.shmRun.dir})`);
      return shm;
    } catch (err) {
      this.opts.log?.(`worker ${hello.workerId}: no shared-memory channel (${(err as Error).message})`);
      return null;
    }
  }

  /**
   * Tells every worker to exit (waiting up to `graceMs` for each to acknowledge), then stops
   * listening.
   */
  async close(reason = 'run finished', graceMs = 2_000): Promise<void> {
    this.closing = true;
    if (this.io) {
      await Promise.allSettled(
        [...this.io.sockets.sockets.values()].map((socket) =>
          socket.timeout(graceMs).emitWithAck('msg', encodeMessage({ type: 'shutdown', reason })),
        ),
      );
    }
    this.opts.pool.closeAll(reason);
    await new Promise<void>((resolve) => {
      if (!this.io) return resolve();
      this.io.close(() => resolve());
    });
    this.io = null;
    this.http = null;
    this.shmRun?.close();
    this.shmRun = null;
  }
}
