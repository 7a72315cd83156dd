import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { PROTOCOL_VERSION } from '@cifar-dist/protocol';
import { WorkerPool } from '../worker-pool.js';
import { LogLimiter } from './log-limiter.js';
import { SocketCoordinatorServer } from './socket-server.js';

describe('LogLimiter', () => {
  it('logs at most perWindow lines per kind and window, then the count of the rest once', () => {
    let t = 0;
    const lines: string[] = [];
    const limiter = new LogLimiter((m) => lines.push(m), 3, 60_000, () => t);
    for (let i = 0; i < 50; i++) limiter.say('refused connections', `refused #${i}`);
    limiter.say('bad hellos', 'bad hello #0');
    expect(lines).toEqual([
      'refused #0', 'refused #1', 'refused #2',
      'refused connections: 3 in 0 s; more are counted, not logged, until 60 s have passed',
      'bad hello #0',
    ]);
    t = 60_000;
    limiter.say('refused connections', 'refused #50');
    expect(lines.slice(5)).toEqual(['refused connections: 47 more not logged in the last 60 s', 'refused #50']);
  });
});

describe('a peer that floods the coordinator with connections', () => {
  it('costs a bounded number of log lines: 60 connections with a wrong token, 11 lines', async () => {
    const lines: string[] = [];
    const server = new SocketCoordinatorServer({
      host: '127.0.0.1', port: 0, token: 'right', maxMessageBytes: 1 << 20, requestTimeoutMs: 5_000,
      pool: new WorkerPool(), runId: 'flood', shm: false, log: (m) => lines.push(m),
    });
    const port = await server.start();
    try {
      const codes = await Promise.all(
        Array.from({ length: 60 }, () =>
          new Promise<string>((resolve) => {
            const s = io(`http://127.0.0.1:${port}`, { auth: { protocolVersion: PROTOCOL_VERSION, token: 'wrong' }, transports: ['websocket'], reconnection: false, forceNew: true });
            s.on('connect_error', (err) => {
              s.disconnect();
              resolve(String((err as Error & { data?: { code?: string } }).data?.code));
            });
          }),
        ),
      );
      expect(new Set(codes)).toEqual(new Set(['E_PROTO_TOKEN']));
      const refusals = lines.filter((l) => l.startsWith('refused') || l.startsWith('refused connections'));
      expect(refusals).toHaveLength(11);
      expect(refusals.at(-1)).toMatch(/^refused connections: 10 in \d+ s; more are counted, not logged/);
    } finally {
      await server.close('test over', 200);
    }
  });
});
