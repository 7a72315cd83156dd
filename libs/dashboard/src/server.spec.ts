import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from './server.js';
import { staticAssetPaths } from './static.js';
import { START, SseReader, rawRequest, step } from './test-support.js';
import type { DashboardSnapshot } from './types.js';

let dash: Dashboard | null = null;
afterEach(async () => {
  await dash?.close();
  dash = null;
});

async function started(maxSteps?: number): Promise<Dashboard> {
  dash = await startDashboard({ port: 0, maxSteps });
  return dash;
}

describe('dashboard HTTP server', () => {
  it('binds loopback and serves /state as the snapshot so far', async () => {
    const d = await started(3);
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    for (const e of START) d.publish(e);
    for (let i = 1; i <= 4; i++) d.publish(step(i));
    const res = await fetch(new URL('/state', d.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const snap = (await res.json()) as DashboardSnapshot;
    expect(snap).toEqual({
      run: START[0], workers: (START[1] as { workers: unknown }).workers, phase: START[2], status: START[3],
      steps: [step(1), step(3)], lastStep: step(4), stepsSeen: 4, stepStride: 2, maxSteps: 3, epochs: [],
    });
  });

  it('streams the snapshot, then each published event', async () => {
    const d = await started();
    for (const e of START) d.publish(e);
    d.publish(step(1));
    const res = await fetch(new URL('/events', d.url));
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const sse = new SseReader(res.body!);
    const first = await sse.next();
    const state = await (await fetch(new URL('/state', d.url))).json();
    expect(first).toEqual({ type: 'snapshot', state });
    expect((first as { state: DashboardSnapshot }).state.steps).toEqual([step(1)]);
    d.publish(step(2));
    d.publish({ type: 'status', state: 'evaluating', message: 'epoch 1' });
    expect(await sse.next()).toEqual(step(2));
    expect(await sse.next()).toEqual({ type: 'status', state: 'evaluating', message: 'epoch 1' });
    await sse.cancel();
  });

  it('close() ends open event streams and stops listening', async () => {
    const d = await started();
    const sse = new SseReader((await fetch(new URL('/events', d.url))).body!);
    expect((await sse.next())?.type).toBe('snapshot');
    await d.close();
    expect(await sse.next()).toBeNull();
    await expect(fetch(new URL('/state', d.url))).rejects.toThrow();
    d.publish(step(1)); // no-op, no throw
    await d.close(); // idempotent
  });

  it('refuses methods other than GET', async () => {
    const d = await started();
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
      const res = await rawRequest(new URL('/state', d.url).href, method);
      expect([method, res.status, res.headers.allow]).toEqual([method, 405, 'GET']);
    }
  });

  it('answers 404 for unknown paths and 403 for a foreign Host header', async () => {
    const d = await started();
    for (const p of ['/nope', '/static/', '/static/nope.js', '/static/vega.js', '/state/x']) {
      expect([p, (await fetch(new URL(p, d.url))).status]).toEqual([p, 404]);
    }
    expect((await rawRequest(new URL('/static/..%2Fpage.ts', d.url).href, 'GET')).status).toBe(404);
    expect((await rawRequest(new URL('/state', d.url).href, 'GET', { Host: 'attacker.example:80' })).status).toBe(403);
    expect((await rawRequest(new URL('/state', d.url).href, 'GET', { Host: `localhost:${new URL(d.url).port}` })).status).toBe(200);
  });

  it('serves the page and the local vega builds byte for byte', async () => {
    const d = await started();
    const page = await fetch(d.url);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<script src="/static/vega.min.js"></script>');
    expect(html).toContain('<script src="/static/vega-lite.min.js"></script>');
    const paths = staticAssetPaths();
    for (const name of ['vega.min.js', 'vega-lite.min.js']) {
      const res = await fetch(new URL(`/static/${name}`, d.url));
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(paths[name]!))).toBe(true);
    }
  });

  it('rejects a bad maxSteps and a port in use', async () => {
    await expect(startDashboard({ port: 0, maxSteps: 1 })).rejects.toThrow(RangeError);
    const d = await started();
    await expect(startDashboard({ port: Number(new URL(d.url).port) })).rejects.toThrow(/EADDRINUSE/);
  });
});
