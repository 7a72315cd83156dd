/**
 * Sharded evaluation (PhaseRunner.predict / evaluateReport): every test sample is evaluated and
 * counted exactly once, for 1, 2, 3 and 5 workers, with test sets smaller than workers × evalChunk
 * and smaller than the worker count (workers that get no chunk at all), and when a worker fails
 * mid-evaluation (its chunk goes to another worker, and nothing it did is counted).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageSet } from '@cifar-dist/data';
import { createModel, selectBackend, type tf } from '@cifar-dist/model';
import type {
  ComputeMessage,
  EvaluateMessage,
  EvaluationMessage,
  GradientMessage,
  SetModelMessage,
} from '@cifar-dist/protocol';
import { defaultConfig } from './config.js';
import { InProcessLink } from './in-process-link.js';
import { PhaseRunner } from './phase-runner.js';
import type { WorkerInfo, WorkerLink } from './worker-link.js';
import { WorkerPool } from './worker-pool.js';

const NUM_CLASSES = 10;
const CLASS_NAMES = Array.from({ length: NUM_CLASSES }, (_, c) => `class${c}`);

/** `count` images whose first two bytes hold the sample's index (little-endian); label = index % 10. */
function taggedSet(count: number): ImageSet {
  const images = new Uint8Array(count * 3072);
  for (let i = 0; i < count; i++) {
    images[i * 3072] = i & 0xff;
    images[i * 3072 + 1] = i >> 8;
    for (let j = 2; j < 3072; j++) images[i * 3072 + j] = (i * 31 + j * 7) & 0xff;
  }
  const labels = Uint8Array.from({ length: count }, (_, i) => i % NUM_CLASSES);
  return { images, labels, count, classNames: CLASS_NAMES };
}

/** The stub's answer for sample `id`: a fixed, label-independent class and an exact float32 loss. */
const predictionOf = (id: number): number => (id * 3 + 1) % NUM_CLASSES;
const lossOf = (id: number): number => id + 0.25;

/**
 * A worker that answers evaluate requests from the tags in the images (no tensors), recording
 * every sample it answered for. `failOn` (1-based request numbers) makes those requests fail
 * instead — after a delay, so that the other workers may have drained the queue meanwhile.
 */
class TaggingLink implements WorkerLink {
  readonly info: WorkerInfo;
  alive = true;
  requests = 0;
  readonly counts: number[] = [];
  constructor(
    workerId: string,
    private readonly answered: Uint32Array,
    private readonly failOn: ReadonlySet<number> = new Set(),
    private readonly failMode: 'throw' | 'short' | 'bad-class' | 'nan-loss' | 'wrong-id' = 'throw',
  ) {
    this.info = { workerId, backend: 'stub', device: 'none', hostname: 'localhost', pid: 0 };
  }
  async setModel(_msg: SetModelMessage): Promise<void> {}
  async compute(_msg: ComputeMessage): Promise<GradientMessage> {
    throw new Error('not a training test');
  }
  async evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
    this.requests += 1;
    this.counts.push(msg.count);
    const ids = Array.from({ length: msg.count }, (_, k) => (msg.images[k * 3072] as number) | ((msg.images[k * 3072 + 1] as number) << 8));
    if (this.failOn.has(this.requests)) {
      await new Promise((r) => setTimeout(r, 20));
      if (this.failMode === 'throw') throw new Error(`simulated crash on request ${this.requests}`);
      // Lying replies of the right length: the coordinator must refuse them and redo the chunk.
      if (this.failMode === 'bad-class') return { type: 'evaluation', requestId: msg.requestId, predictions: Uint8Array.from(ids, () => 200), losses: Float32Array.from(ids, lossOf) };
      if (this.failMode === 'nan-loss') return { type: 'evaluation', requestId: msg.requestId, predictions: Uint8Array.from(ids, predictionOf), losses: Float32Array.from(ids, () => Number.NaN) };
      if (this.failMode === 'wrong-id') return { type: 'evaluation', requestId: msg.requestId + 1000, predictions: Uint8Array.from(ids, predictionOf), losses: Float32Array.from(ids, lossOf) };
      // A reply one prediction short: the coordinator must refuse it and redo the chunk.
      const shortBy = ids.slice(1);
      return { type: 'evaluation', requestId: msg.requestId, predictions: Uint8Array.from(shortBy, predictionOf), losses: Float32Array.from(shortBy, lossOf) };
    }
    await Promise.resolve();
    for (const id of ids) this.answered[id] = (this.answered[id] as number) + 1;
    return { type: 'evaluation', requestId: msg.requestId, predictions: Uint8Array.from(ids, predictionOf), losses: Float32Array.from(ids, lossOf) };
  }
  close(): void {
    this.alive = false;
  }
}

let model: tf.LayersModel;

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
  model = createModel({ numClasses: NUM_CLASSES, dropout: false, seed: 5 });
});

afterAll(() => model.dispose());

function runnerOver(pool: WorkerPool, evalChunk: number, test: ImageSet, logs: string[] = []): PhaseRunner {
  const config = defaultConfig({ evalChunk, batchSize: 8, augment: false, dropout: false });
  return new PhaseRunner({
    name: 'cifar10', model, modelId: 1, numClasses: NUM_CLASSES, classNames: CLASS_NAMES, frozenLayers: 0,
    train: test, test, epochs: 1, schedule: config.schedule, config, pool, hooks: { log: (m) => logs.push(m) },
  });
}

/** The confusion matrix a correct evaluation of `taggedSet(n)` must give. */
function expectedMatrix(n: number): number[][] {
  const cm = Array.from({ length: NUM_CLASSES }, () => new Array<number>(NUM_CLASSES).fill(0));
  for (let i = 0; i < n; i++) (cm[i % NUM_CLASSES] as number[])[predictionOf(i)] += 1;
  return cm;
}

/** Runs predict then evaluateReport and checks every sample was answered once per pass. */
async function checkExactlyOnce(pool: WorkerPool, links: TaggingLink[], answered: Uint32Array, n: number, evalChunk: number): Promise<void> {
  const set = taggedSet(n);
  const runner = runnerOver(pool, evalChunk, set);
  const { predictions, losses } = await runner.predict(set);
  expect(Array.from(answered), 'answers per sample after predict').toEqual(new Array<number>(n).fill(1));
  expect(Array.from(predictions)).toEqual(Array.from({ length: n }, (_, i) => predictionOf(i)));
  expect(Array.from(losses)).toEqual(Array.from({ length: n }, (_, i) => lossOf(i)));
  // No worker was sent an empty chunk, and the chunks add up to the set.
  const sent = links.flatMap((l) => l.counts);
  expect(sent.every((c) => c > 0 && c <= evalChunk)).toBe(true);
  answered.fill(0);
  const report = await runner.evaluateReport(set);
  expect(Array.from(answered), 'answers per sample after evaluateReport').toEqual(new Array<number>(n).fill(1));
  expect(report.samples).toBe(n);
  expect(report.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(n);
  expect(report.confusionMatrix).toEqual(expectedMatrix(n));
  if (n > 0) expect(report.loss).toBe(Array.from({ length: n }, (_, i) => lossOf(i)).reduce((a, b) => a + b, 0) / n);
}

describe('sharded evaluation counts every sample exactly once', () => {
  for (const workers of [1, 2, 3, 5]) {
    // Sizes: empty, below the worker count, below workers × evalChunk, and several rounds of chunks.
    for (const [n, evalChunk] of [[0, 4], [1, 4], [2, 1], [4, 3], [7, 4], [13, 4], [20, 4], [23, 5]] as const) {
      it(`${workers} worker(s), ${n} samples, evalChunk ${evalChunk}`, async () => {
        const answered = new Uint32Array(n);
        const pool = new WorkerPool();
        const links = Array.from({ length: workers }, (_, w) => new TaggingLink(`w${w}`, answered));
        links.forEach((l) => pool.add(l));
        await checkExactlyOnce(pool, links, answered, n, evalChunk);
        // Workers beyond the number of chunks were never asked anything.
        const chunks = Math.ceil(n / evalChunk);
        expect(links.filter((l) => l.requests > 0).length).toBeLessThanOrEqual(Math.min(chunks, workers));
        expect(links.reduce((a, l) => a + l.requests, 0)).toBe(2 * chunks);
      });
    }
  }

  for (const workers of [2, 3, 5]) {
    for (const [label, failOn, mode] of [
      ['crashes on its first request', [1], 'throw'],
      ['crashes on its second request', [2], 'throw'],
      ['answers one prediction short on its first request', [1], 'short'],
      ['predicts class 200 on its first request', [1], 'bad-class'],
      ['returns NaN losses on its first request', [1], 'nan-loss'],
      ['answers with another request id on its first request', [1], 'wrong-id'],
    ] as const) {
      it(`${workers} workers, one ${label}: each sample still counted once`, async () => {
        const n = 23;
        const evalChunk = 3;
        const answered = new Uint32Array(n);
        const pool = new WorkerPool();
        const links = Array.from({ length: workers }, (_, w) =>
          new TaggingLink(`w${w}`, answered, w === 1 ? new Set<number>(failOn) : new Set(), mode));
        links.forEach((l) => pool.add(l));
        const set = taggedSet(n);
        const logs: string[] = [];
        const runner = runnerOver(pool, evalChunk, set, logs);
        const report = await runner.evaluateReport(set);
        expect(Array.from(answered)).toEqual(new Array<number>(n).fill(1));
        expect(report.samples).toBe(n);
        expect(report.confusionMatrix).toEqual(expectedMatrix(n));
        expect(pool.live().map((l) => l.info.workerId)).not.toContain('w1');
        expect(logs.filter((l) => l.startsWith('evaluation: dropping worker w1:'))).toHaveLength(1);
        expect(links[1]?.requests).toBe(failOn[0]);
      });
    }
  }

  it('the only other worker is busy when the failure comes: the chunk waits for it (2 workers, 1 chunk each)', async () => {
    // 2 chunks: w0 answers its chunk at once, w1 fails late; w0's loop has ended, so the
    // coordinator must go round again to give w1's chunk to w0.
    const n = 6;
    const answered = new Uint32Array(n);
    const pool = new WorkerPool();
    const links = [new TaggingLink('w0', answered), new TaggingLink('w1', answered, new Set([1]))];
    links.forEach((l) => pool.add(l));
    const set = taggedSet(n);
    const runner = runnerOver(pool, 3, set);
    const { predictions } = await runner.predict(set);
    expect(Array.from(answered)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(predictions)).toEqual([0, 1, 2, 3, 4, 5].map(predictionOf));
    expect(links[0]?.counts).toEqual([3, 3]);
  });

  it('real in-process workers: 3 workers give the predictions of 1, and the report counts every sample', async () => {
    const n = 7;
    const set = taggedSet(n);
    const results = [];
    for (const workers of [1, 3]) {
      const pool = new WorkerPool();
      for (let w = 0; w < workers; w++) pool.add(new InProcessLink(`real${w}`));
      const runner = runnerOver(pool, 2, set);
      const { predictions, losses } = await runner.predict(set);
      const report = await runner.evaluateReport(set);
      expect(report.samples).toBe(n);
      expect(report.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(n);
      results.push({ predictions, losses });
      pool.closeAll('test over');
    }
    const [one, three] = results as [{ predictions: Uint8Array; losses: Float32Array }, { predictions: Uint8Array; losses: Float32Array }];
    expect(Array.from(three.predictions)).toEqual(Array.from(one.predictions));
    for (let i = 0; i < n; i++) {
      expect(three.losses[i]).toBeGreaterThan(0);
      expect(Math.abs((three.losses[i] as number) - (one.losses[i] as number))).toBeLessThan(1e-5 * (one.losses[i] as number));
    }
  });
});
