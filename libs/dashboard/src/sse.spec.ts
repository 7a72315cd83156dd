import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BACKLOG_BYTES, SseHub } from './sse.js';
import { SseReader } from './test-support.js';

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

/** An http server whose every request becomes a stream of `hub`. */
async function serve(hub: SseHub): Promise<string> {
  const server = http.createServer((_req, res) => hub.open(res, { type: 'hello' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup = async () => {
    hub.closeAll();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe('SseHub', () => {
  it('forgets clients that disconnect and keeps sending to the others', async () => {
    const hub = new SseHub();
    const url = await serve(hub);
    const a = new SseReader((await fetch(url)).body!);
    const b = new SseReader((await fetch(url)).body!);
    expect(await a.next()).toEqual({ type: 'hello' });
    expect(await b.next()).toEqual({ type: 'hello' });
    expect(hub.size).toBe(2);
    await a.cancel();
    await until(() => hub.size === 1);
    hub.broadcast({ type: 'n', n: 1 });
    expect(await b.next()).toEqual({ type: 'n', n: 1 });
  });

  it('drops a client that stops reading once its backlog passes the limit', async () => {
    const hub = new SseHub();
    const url = new URL(await serve(hub));
    const socket = net.connect(Number(url.port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    socket.pause();
    await until(() => hub.size === 1);
    const chunk = 'x'.repeat(1024 * 1024);
    let sent = 0;
    while (hub.size === 1 && sent < 4 * MAX_BACKLOG_BYTES) {
      hub.broadcast(chunk);
      sent += chunk.length;
    }
    expect(hub.size).toBe(0);
    expect(sent).toBeGreaterThan(MAX_BACKLOG_BYTES);
    socket.destroy();
  });
});
