import { hostname } from 'node:os';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  type ClientToServerEvents,
  type Message,
  type ServerToClientEvents,
} from '@cifar-dist/protocol';
import { WorkerRuntime } from '../worker-runtime.js';

export interface SocketWorkerOptions {
  url: string;
  token?: string;
  workerId: string;
  backend: string;
  device: string;
  log?: (msg: string) => void;
  /** Largest frame accepted, bytes. */
  maxMessageBytes?: number;
  /** Give up after this long without a connection to the coordinator, ms. */
  connectTimeoutMs?: number;
  /** Stop (reject) after this long disconnected, ms (default 300 000: a coordinator restart with --resume fits in it). */
  reconnectTimeoutMs?: number;
  /** Called with the coordinator's welcome (rank, run id) after each (re)join. */
  onWelcome?: (welcome: { rank: number; runId: string }) => void;
}

/**
 * Connects to the coordinator, says hello, and serves set-model / compute / evaluate requests
 * with a WorkerRuntime until the coordinator says shutdown (resolves) or refuses us (rejects).
 */
export function runSocketWorker(opts: SocketWorkerOptions): Promise<string> {
  const log = opts.log ?? (() => undefined);
  const runtime = new WorkerRuntime();
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
    // Disconnected since when: past reconnectTimeoutMs the worker gives up (its coordinator is gone).
    let giveUp: NodeJS.Timeout | undefined;
    const armGiveUp = (): void => {
      if (giveUp) return;
      const ms = opts.reconnectTimeoutMs ?? 300_000;
      giveUp = setTimeout(() => finish(new Error(`no connection to the coordinator at ${opts.url} for ${ms} ms: giving up`)), ms);
    };
    const finish = (err: Error | null, reason = ''): void => {
      clearTimeout(giveUp);
      socket.removeAllListeners();
      socket.disconnect();
      runtime.dispose();
      if (err) reject(err);
      else resolve(reason);
    };
    armGiveUp();
    socket.on('connect', async () => {
      everConnected = true;
      clearTimeout(giveUp);
      giveUp = undefined;
      try {
        const welcome = decodeMessage(
          await socket.timeout(30_000).emitWithAck(
            'msg',
            encodeMessage({
              type: 'hello',
              protocolVersion: PROTOCOL_VERSION,
              workerId: opts.workerId,
              backend: opts.backend,
              device: opts.device,
              hostname: hostname(),
              pid: process.pid,
            }),
          ),
          'welcome',
        );
        opts.onWelcome?.(welcome);
        log(`joined run ${welcome.runId} as rank ${welcome.rank}`);
      } catch (err) {
        log(`hello failed: ${(err as Error).message}`);
        socket.disconnect();
      }
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
      if (everConnected) log(`disconnected (${reason}); reconnecting`);
      // socket.io-client does not retry after the server closed the connection itself.
      if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 500);
    });
    socket.on('msg', (payload, ack) => {
      let reply: Message;
      try {
        const msg = decodeMessage(payload, undefined, maxBytes);
        switch (msg.type) {
          case 'set-model':
            reply = runtime.setModel(msg);
            log(`model ${msg.modelId}: ${msg.numClasses} classes, ${msg.frozenLayers} frozen layers`);
            break;
          case 'compute':
            reply = runtime.compute(msg);
            break;
          case 'evaluate':
            reply = runtime.evaluate(msg);
            break;
          case 'shutdown':
            log(`coordinator says shutdown: ${msg.reason}`);
            if (typeof ack === 'function') ack(encodeMessage({ type: 'ready', modelId: 0, weightsCrc: 0 }));
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
      if (typeof ack === 'function') ack(encodeMessage(reply));
    });
  });
}
