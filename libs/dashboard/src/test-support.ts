/**
 * Test helpers (not exported from index.ts): a Server-Sent Events reader over fetch, sample
 * events, and a raw HTTP request for what fetch will not send.
 */
import http from 'node:http';
import type { DashboardEvent, DashboardMessage, DashboardWorker, StepEvent } from './types.js';

/** Reads `data:` messages from an open SSE response, one JSON message at a time. */
export class SseReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader();
  }

  /** The next message, or null when the stream ended. Comment and `retry:` lines are skipped. */
  async next(): Promise<DashboardMessage | null> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
        if (data.length > 0) return JSON.parse(data.join('\n')) as DashboardMessage;
        continue;
      }
      const { done, value } = await this.reader.read();
      if (done) return null;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }
}

/** Status code and headers of one request sent with node:http (any method, any Host header). */
export function rawRequest(url: string, method: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export const WORKERS: DashboardWorker[] = [
  { workerId: 'w-a', rank: 0, backend: 'wasm', device: 'cpu', hostname: 'node-1', pid: 4101 },
  {
    workerId: 'w-b', rank: 1, backend: 'webgpu', device: 'NVIDIA H200', hostname: 'node-2', pid: 4202,
    adapter: { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', driver: 'NVIDIA 570.86.15', emulated: false, index: 1 },
  },
];

/**
 * Step event number `i` (1-based global step) of a made-up cifar10 phase with 50 steps/epoch; its
 * moving averages are made-up numbers too (a smoother curve), distinct from the batch figures.
 */
export function step(i: number): StepEvent {
  return {
    type: 'step',
    phase: 'cifar10',
    epoch: Math.floor((i - 1) / 50) + 1,
    step: i,
    stepInEpoch: ((i - 1) % 50) + 1,
    stepsPerEpoch: 50,
    loss: 2.3 * Math.exp(-i / 40) + 0.3 + 0.05 * Math.sin(i),
    accuracy: Math.min(0.95, 0.1 + i / 150),
    avgLoss: 2.3 * Math.exp(-i / 40) + 0.35,
    avgAccuracy: Math.min(0.9, 0.1 + i / 160),
    avgSteps: Math.min(i, 50),
    imagesPerSecond: 800 + (i % 7),
    workers: 2,
    lr: 0.05,
  };
}

/** run, workers, phase, status in the order a coordinator sends them. */
export const START: DashboardEvent[] = [
  { type: 'run', runId: 'run-1', startedAt: '2026-11-30T10:00:00.000Z', config: { epochs: 3, batchSize: 128 } },
  { type: 'workers', workers: WORKERS },
  { type: 'phase', phase: 'cifar10', epochs: 3, stepsPerEpoch: 50, numClasses: 10 },
  { type: 'status', state: 'training' },
];
