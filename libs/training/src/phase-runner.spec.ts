import { beforeAll, describe, expect, it } from 'vitest';
import { gatherBatch, normalizeImages, type ImageSet } from '@cifar-dist/data';
import { computeGradients, createModel, getWeightsFlat, selectBackend, tf } from '@cifar-dist/model';
import type { ComputeMessage, GradientMessage } from '@cifar-dist/protocol';
import { averageGradients } from './average.js';
import { defaultConfig, type TrainConfig } from './config.js';
import { InProcessLink } from './in-process-link.js';
import { PhaseRunner, type EpochRecord } from './phase-runner.js';
import { relativeError, smallCifar } from './test-support.js';
import type { WorkerLink } from './worker-link.js';
import { WorkerPool } from './worker-pool.js';

let train: ImageSet;
let test: ImageSet;

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
  ({ train, test } = await smallCifar());
});

function config(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return defaultConfig({
    batchSize: 8,
    epochs: 1,
    augment: false,
    dropout: false,
    evaluateTrain: false,
    evalChunk: 16,
    // Shard sums reassociate float32 additions (~1e-9 relative per step), and XNNPACK's conv
    // rounding depends on the batch size; with a large learning rate a near-tie in a max-pool window
    // then routes one gradient elsewhere (a jump of ~1e-4), so the equivalence tests use a small one.
    schedule: { lr: 0.001, warmupEpochs: 0, decay: 'constant', minFactor: 1 },
    ...overrides,
  });
}

async function trainWith(
  workers: number | WorkerLink[],
  cfg: TrainConfig,
  data = train,
): Promise<{ weights: Float32Array; history: EpochRecord[]; steps: number; samples: number }> {
  const pool = new WorkerPool();
  const links = typeof workers === 'number' ? Array.from({ length: workers }, (_, i) => new InProcessLink(`w${i}`)) : workers;
  for (const link of links) pool.add(link);
  const model = createModel({ numClasses: 10, dropout: cfg.dropout, seed: cfg.seed });
  const runner = new PhaseRunner({
    name: 'cifar10',
    model,
    modelId: 1,
    numClasses: 10,
    classNames: data.classNames,
    frozenLayers: 0,
    train: data,
    test,
    epochs: cfg.epochs,
    schedule: cfg.schedule,
    config: cfg,
    pool,
  });
  const progress = await runner.run();
  const weights = getWeightsFlat(model, 'all');
  model.dispose();
  pool.closeAll('test over');
  return { weights, history: progress.history, steps: progress.step, samples: progress.samplesSeen };
}

/** One cifar10 phase over an existing pool, collecting the log lines. */
async function runPool(pool: WorkerPool, cfg: TrainConfig) {
  const model = createModel({ numClasses: 10, dropout: false, seed: cfg.seed });
  const logs: string[] = [];
  const runner = new PhaseRunner({
    name: 'cifar10', model, modelId: 1, numClasses: 10, classNames: train.classNames, frozenLayers: 0,
    train, test, epochs: cfg.epochs, schedule: cfg.schedule, config: cfg, pool, hooks: { log: (m) => logs.push(m) },
  });
  return { model, logs, progress: await runner.run() };
}


describe('synchronous data-parallel SGD', () => {
  it('the weighted average of shard gradients equals the full-batch gradient (dropout off)', async () => {
    const model = createModel({ numClasses: 10, dropout: false, seed: 3 });
    const batch = gatherBatch(train, Array.from({ length: 20 }, (_, i) => i));
    const full = await computeGradients(model, normalizeImages(batch.images, 20), batch.labels, 20);
    const cuts = [0, 7, 14, 20];
    const parts = [];
    for (const [k, start] of cuts.slice(0, -1).entries()) {
      const end = cuts[k + 1] as number;
      const images = batch.images.subarray(start * 3072, end * 3072);
      parts.push(await computeGradients(model, normalizeImages(images, end - start), batch.labels.subarray(start, end), end - start));
    }
    const avg = averageGradients(parts, full.gradients.length);
    expect(relativeError(full.gradients, avg)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('1 and 2 workers reach the same weights after 20 steps (no augmentation, no dropout, same seed)', async () => {
    const cfg = config();
    const one = await trainWith(1, cfg);
    const two = await trainWith(2, cfg);
    expect(one.steps).toBe(20);
    expect(two.steps).toBe(20);
    expect(relativeError(one.weights, two.weights)).toBeLessThan(1e-4);
    // and training moved the weights at all
    const initial = createModel({ numClasses: 10, dropout: false, seed: cfg.seed });
    expect(relativeError(getWeightsFlat(initial, 'all'), one.weights)).toBeGreaterThan(1e-4);
    initial.dispose();
  });

  it('3 workers on a global batch of 100 (shards 34/33/33) complete and see every sample once', async () => {
    const cfg = config({ batchSize: 100, epochs: 1 });
    const r = await trainWith(3, cfg);
    // 160 samples: one batch of 100 and a last batch of 60 (20/20/20)
    expect(r.steps).toBe(2);
    expect(r.samples).toBe(160);
    expect(r.history).toHaveLength(1);
    expect(r.history[0]?.testAccuracy).toBeGreaterThanOrEqual(0);
  });

  it('drops a failing worker, re-shards the same global batch, and applies each step exactly once', async () => {
    const cfg = config({ epochs: 1 });
    const reference = await trainWith(1, cfg);
    const pool = new WorkerPool();
    const good = new InProcessLink('good');
    const flaky = new InProcessLink('flaky');
    let calls = 0;
    const compute = flaky.compute.bind(flaky);
    flaky.compute = async (msg) => {
      calls += 1;
      if (calls === 5) throw new Error('simulated crash');
      return compute(msg);
    };
    pool.add(good);
    pool.add(flaky);
    const { model, logs, progress } = await runPool(pool, cfg);
    expect(progress.step).toBe(20);
    expect(progress.samplesSeen).toBe(160);
    expect(pool.size).toBe(1);
    expect(logs.some((l) => l.includes('dropping worker flaky: simulated crash'))).toBe(true);
    expect(relativeError(reference.weights, getWeightsFlat(model, 'all'))).toBeLessThan(1e-4);
    model.dispose();
    pool.closeAll('test over');
  });

  it('rejects a NaN gradient and a wrong-length gradient: the sender is dropped, the weights stay finite', async () => {
    const cfg = config({ epochs: 1 });
    const pool = new WorkerPool();
    const good = new InProcessLink('good');
    const liar = new InProcessLink('liar');
    const compute = liar.compute.bind(liar);
    let n = 0;
    liar.compute = async (msg) => {
      const reply = await compute(msg);
      n += 1;
      if (n === 2) reply.gradients[10] = Number.NaN;
      return reply;
    };
    pool.add(good);
    pool.add(liar);
    const { model, logs, progress } = await runPool(pool, cfg);
    expect(progress.step).toBe(20);
    expect(logs.some((l) => /dropping worker liar: .*non-finite/.test(l))).toBe(true);
    const w = getWeightsFlat(model, 'all');
    expect(w.every((x) => Number.isFinite(x))).toBe(true);
    model.dispose();
    pool.closeAll('test over');
  });

  it('leaks no tensors over a phase', async () => {
    const before = tf.memory().numTensors;
    await trainWith(2, config({ epochs: 1 }));
    expect(tf.memory().numTensors).toBe(before);
  });
});


describe('deterministic mode', () => {
  /** An in-process worker that records its shard sizes and reports `slowdown` x its compute time. */
  class TimedLink extends InProcessLink {
    readonly counts: number[] = [];
    constructor(id: string, private readonly slowdown: number) {
      super(id);
    }
    override async compute(msg: ComputeMessage): Promise<GradientMessage> {
      this.counts.push(msg.count);
      const reply = await super.compute(msg);
      return { ...reply, computeMs: reply.computeMs * this.slowdown };
    }
  }
  const det = (overrides: Partial<TrainConfig> = {}): TrainConfig =>
    config({
      batchSize: 40,
      microBatch: 8,
      deterministic: true,
      augment: true,
      dropout: true,
      // A large rate: bit-identity must not depend on a gentle schedule.
      schedule: { lr: 0.05, warmupEpochs: 0, decay: 'constant', minFactor: 1 },
      ...overrides,
    });

  it('gives bit-identical weights on 1, 2 and 3 workers with augmentation and dropout on', async () => {
    const one = await trainWith(1, det());
    const two = await trainWith(2, det());
    const three = await trainWith(3, det());
    expect(one.steps).toBe(4);
    expect(Buffer.from(two.weights.buffer).equals(Buffer.from(one.weights.buffer))).toBe(true);
    expect(Buffer.from(three.weights.buffer).equals(Buffer.from(one.weights.buffer))).toBe(true);
    // and the dropout masks are really in play: the same run without dropout ends elsewhere
    const noDropout = await trainWith(1, det({ dropout: false }));
    expect(Buffer.from(noDropout.weights.buffer).equals(Buffer.from(one.weights.buffer))).toBe(false);
  });

  it('stays bit-exact with 16-bit gradients: float16 and bfloat16 give the same weights on 1 and 3 workers, close to float32 and not equal to it', async () => {
    const f32 = await trainWith(1, det());
    const initial = createModel({ numClasses: 10, dropout: true, seed: det().seed });
    const moved = relativeError(getWeightsFlat(initial, 'all'), f32.weights);
    initial.dispose();
    for (const gradDtype of ['float16', 'bfloat16'] as const) {
      const one = await trainWith(1, det({ gradDtype }));
      const three = await trainWith(3, det({ gradDtype }));
      expect(Buffer.from(three.weights.buffer).equals(Buffer.from(one.weights.buffer)), gradDtype).toBe(true);
      expect(Buffer.from(one.weights.buffer).equals(Buffer.from(f32.weights.buffer)), gradDtype).toBe(false);
      // 4 steps at lr 0.05: the 16-bit rounding (2^-11, 2^-8 relative) moves the weights by far less than training did
      const off = relativeError(f32.weights, one.weights);
      expect(off, gradDtype).toBeLessThan(0.1 * moved); // measured: 2.3 % (float16), 6 % (bfloat16)
    }
  }, 120_000);

  it('sizes shards by measured speed: a worker 4x slower gets 1 of 5 micro-batches, and the weights stay bit-identical to 1 worker', async () => {
    const fast = new TimedLink('fast', 1);
    const slow = new TimedLink('slow', 4);
    const one = await trainWith(1, det({ epochs: 2 }));
    const balanced = await trainWith([fast, slow], det({ epochs: 2 }));
    expect(Buffer.from(balanced.weights.buffer).equals(Buffer.from(one.weights.buffer))).toBe(true);
    // First step: equal shards (nothing measured yet), 3 + 2 micro-batches of 8; then 4 + 1.
    expect(fast.counts[0]).toBe(24);
    expect(slow.counts[0]).toBe(16);
    expect(fast.counts.slice(-3)).toEqual([32, 32, 32]);
    expect(slow.counts.slice(-3)).toEqual([8, 8, 8]);
    // --no-balance: equal shards throughout.
    const evenFast = new TimedLink('fast', 1);
    const evenSlow = new TimedLink('slow', 4);
    await trainWith([evenFast, evenSlow], det({ epochs: 2, balanceShards: false }));
    expect(new Set(evenFast.counts)).toEqual(new Set([24]));
    expect(new Set(evenSlow.counts)).toEqual(new Set([16]));
  });

  it('stays bit-identical when a worker in the middle gets an empty shard (3 workers, 2 micro-batches, the middle one slow)', async () => {
    const links = [new TimedLink('a', 1), new TimedLink('slow', 20), new TimedLink('c', 1)];
    const one = await trainWith(1, det({ batchSize: 16, microBatch: 8 }));
    const three = await trainWith(links, det({ batchSize: 16, microBatch: 8 }));
    expect(links[1]!.counts.length).toBeLessThan(three.steps);
    expect(Buffer.from(three.weights.buffer).equals(Buffer.from(one.weights.buffer))).toBe(true);
  });

  it('more workers than micro-batches in a short last batch (48 = 32 + 16 over 4 workers): idle workers get empty shards, weights bit-identical to 1 worker', async () => {
    const one = await trainWith(1, det({ batchSize: 48, microBatch: 32 }));
    const links = Array.from({ length: 4 }, (_, i) => new TimedLink(`w${i}`, 1));
    const four = await trainWith(links, det({ batchSize: 48, microBatch: 32 }));
    expect(four.samples).toBe(one.samples);
    // every shard asked for was a real one, and none was asked for twice (no worker was dropped)
    const asked = links.flatMap((l) => l.counts);
    expect(Math.min(...asked)).toBeGreaterThan(0);
    expect(asked.reduce((a, b) => a + b, 0)).toBe(four.samples);
    expect(Buffer.from(four.weights.buffer).equals(Buffer.from(one.weights.buffer))).toBe(true);
  });

  it('handles a global batch that is not a multiple of the micro-batch or the worker count', async () => {
    const a = await trainWith(1, det({ batchSize: 30, microBatch: 7 }));
    const b = await trainWith(3, det({ batchSize: 30, microBatch: 7 }));
    expect(a.steps).toBe(Math.ceil(160 / 30));
    expect(a.samples).toBe(160);
    expect(Buffer.from(b.weights.buffer).equals(Buffer.from(a.weights.buffer))).toBe(true);
  });
});

describe('workers that come late', () => {
  it('below --min-workers the runner waits with a message; workers joining before or mid-run get the current weights and shards from then on', async () => {
    const cfg = config({ epochs: 1, minWorkers: 2 });
    const pool = new WorkerPool();
    pool.add(new InProcessLink('early'));
    const late = new InProcessLink('late');
    const seen: number[] = [];
    const compute = late.compute.bind(late);
    late.compute = async (msg) => {
      seen.push(msg.step);
      return compute(msg);
    };
    let setModelCalls = 0;
    const setModel = late.setModel.bind(late);
    late.setModel = async (msg) => {
      setModelCalls += 1;
      return setModel(msg);
    };
    // a third worker joins mid-run, after step 10 has been applied
    const latest = new InProcessLink('latest');
    const latestSeen: number[] = [];
    const computeLatest = latest.compute.bind(latest);
    latest.compute = async (msg) => {
      latestSeen.push(msg.step);
      return computeLatest(msg);
    };
    // the late worker arrives once the runner has said it is waiting
    const logs: string[] = [];
    const model = createModel({ numClasses: 10, dropout: false, seed: cfg.seed });
    const runner = new PhaseRunner({
      name: 'cifar10', model, modelId: 1, numClasses: 10, classNames: train.classNames, frozenLayers: 0,
      train, test, epochs: 1, schedule: cfg.schedule, config: cfg, pool,
      hooks: {
        log: (m) => {
          logs.push(m);
          if (m.startsWith('step 0: waiting for workers')) setTimeout(() => pool.add(late), 50);
        },
        onStep: (info) => {
          if (info.step === 10) pool.add(latest);
        },
      },
    });
    const progress = await runner.run();
    expect(logs).toContain('step 0: waiting for workers: 1 live, need 2');
    expect(progress.step).toBe(20);
    expect(progress.samplesSeen).toBe(160);
    expect(setModelCalls).toBe(1);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // it computed at the current weights (a stale copy fails the CRC check and is dropped)
    expect(latestSeen).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    expect(pool.live().map((l) => l.info.workerId)).toEqual(['early', 'late', 'latest']);
    model.dispose();
    pool.closeAll('test over');
  });
});
