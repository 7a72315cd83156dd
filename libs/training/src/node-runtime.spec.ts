/**
 * The per-node stage (NodeRuntime) between the coordinator's PhaseRunner and in-process workers:
 * two levels of the all-reduce give the same training as one level (bit for bit in deterministic
 * mode, within float32 reassociation otherwise), the coordinator receives one gradient per node,
 * and faults at either level (a worker inside a node, a whole node) cost nothing but time.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageSet } from '@cifar-dist/data';
import { createModel, getWeightsFlat, selectBackend } from '@cifar-dist/model';
import type { ComputeMessage, GradientMessage } from '@cifar-dist/protocol';
import { defaultConfig, type TrainConfig } from './config.js';
import { InProcessLink } from './in-process-link.js';
import { NodeRuntime } from './node-runtime.js';
import { PhaseRunner, type StepInfo } from './phase-runner.js';
import { relativeError, smallCifar } from './test-support.js';
import type { WorkerLink } from './worker-link.js';
import { WorkerPool } from './worker-pool.js';

let train: ImageSet;
let test: ImageSet;

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
  ({ train, test } = await smallCifar());
});

/** An in-process worker that fails every compute from its `failAt`-th on (0-based), like a process that died. */
class DyingLink extends InProcessLink {
  private computes = 0;
  constructor(id: string, private readonly failAt: number) {
    super(id);
  }
  override async compute(msg: ComputeMessage): Promise<GradientMessage> {
    if (this.computes++ >= this.failAt) {
      this.alive = false;
      throw new Error(`worker ${this.info.workerId} died`);
    }
    return super.compute(msg);
  }
}

/** An in-process worker that takes `delayMs` longer per request (a slower host: the wait costs no CPU). */
class SlowLink extends InProcessLink {
  constructor(id: string, private readonly delayMs: number) {
    super(id);
  }
  override async compute(msg: ComputeMessage): Promise<GradientMessage> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    return super.compute(msg);
  }
}

/** An in-process worker whose every loss is NaN (as a diverged model gives on every worker). */
class NanLink extends InProcessLink {
  override async compute(msg: ComputeMessage): Promise<GradientMessage> {
    return { ...(await super.compute(msg)), loss: Number.NaN };
  }
}

/** A per-node stage over `workers`, seen by the coordinator as one in-process link. */
function node(id: string, workers: WorkerLink[], logs: string[] = []): InProcessLink & { local: WorkerPool } {
  const local = new WorkerPool();
  for (const w of workers) local.add(w);
  const link = new InProcessLink(id, new NodeRuntime({ pool: local, log: (m) => logs.push(`${id}: ${m}`) })) as InProcessLink & { local: WorkerPool };
  link.local = local;
  return link;
}

const workers = (prefix: string, n: number): InProcessLink[] => Array.from({ length: n }, (_, i) => new InProcessLink(`${prefix}${i}`));

function config(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return defaultConfig({
    batchSize: 40,
    epochs: 1,
    augment: true,
    dropout: true,
    evaluateTrain: false,
    evalChunk: 16,
    deterministic: true,
    microBatch: 8,
    // A large rate: bit-identity must not depend on a gentle schedule.
    schedule: { lr: 0.05, warmupEpochs: 0, decay: 'constant', minFactor: 1 },
    ...overrides,
  });
}

async function trainOver(links: WorkerLink[], cfg: TrainConfig): Promise<{ weights: Float32Array; steps: StepInfo[]; logs: string[]; testAccuracy: number }> {
  const pool = new WorkerPool();
  for (const link of links) pool.add(link);
  const model = createModel({ numClasses: 10, dropout: cfg.dropout, seed: cfg.seed });
  const steps: StepInfo[] = [];
  const logs: string[] = [];
  const runner = new PhaseRunner({
    name: 'cifar10', model, modelId: 1, numClasses: 10, classNames: train.classNames, frozenLayers: 0,
    train, test, epochs: cfg.epochs, schedule: cfg.schedule, config: cfg, pool,
    hooks: { onStep: (s) => steps.push(s), log: (m) => logs.push(m) },
  });
  const progress = await runner.run();
  const weights = getWeightsFlat(model, 'all');
  model.dispose();
  pool.closeAll('test over');
  return { weights, steps, logs, testAccuracy: progress.history.at(-1)?.testAccuracy ?? Number.NaN };
}

const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));


describe('per-node stage, deterministic mode (micro-batch gradients passed through in order)', () => {
  let flat: Awaited<ReturnType<typeof trainOver>>;
  beforeAll(async () => {
    flat = await trainOver(workers('w', 1), config({ epochs: 2 }));
  }, 120_000);

  it('2 nodes x 2 workers and 1 node x 3 workers give weights bit-identical to 1 worker, and the same test accuracy', async () => {
    const twoByTwo = await trainOver([node('n0', workers('a', 2)), node('n1', workers('b', 2))], config({ epochs: 2 }));
    const oneByThree = await trainOver([node('n0', workers('c', 3))], config({ epochs: 2 }));
    expect(flat.steps).toHaveLength(8);
    expect(same(twoByTwo.weights, flat.weights)).toBe(true);
    expect(same(oneByThree.weights, flat.weights)).toBe(true);
    expect(twoByTwo.testAccuracy).toBe(flat.testAccuracy);
  });

  it('a worker that dies inside a node is re-sharded within the node: the coordinator keeps both nodes and the weights stay bit-identical', async () => {
    const nodeLogs: string[] = [];
    const dying = new DyingLink('a1', 2);
    const n0 = node('n0', [new InProcessLink('a0'), dying], nodeLogs);
    const run = await trainOver([n0, node('n1', workers('b', 2), nodeLogs)], config({ epochs: 2 }));
    expect(same(run.weights, flat.weights)).toBe(true);
    expect(nodeLogs.some((l) => /^n0: step 2: dropping worker a1: worker a1 died/.test(l))).toBe(true);
    expect(n0.local.size).toBe(1);
    expect(run.logs.filter((l) => l.includes('dropping worker'))).toEqual([]);
    expect(run.steps.every((s) => s.workers === 2)).toBe(true);
  });

  it('the loss of a whole node re-shards the global batch over the other node, bit-identically', async () => {
    const lost = node('n1', workers('b', 2));
    const dies = Object.assign(lost, {
      compute: (() => {
        let calls = 0;
        const real = lost.compute.bind(lost);
        return async (msg: ComputeMessage): Promise<GradientMessage> => {
          if (calls++ >= 3) {
            lost.alive = false;
            throw new Error('node n1 is gone');
          }
          return real(msg);
        };
      })(),
    });
    const run = await trainOver([node('n0', workers('a', 2)), dies], config({ epochs: 2 }));
    expect(same(run.weights, flat.weights)).toBe(true);
    expect(run.logs.some((l) => /step 3: dropping worker n1: node n1 is gone/.test(l))).toBe(true);
    expect(run.steps.slice(4).every((s) => s.workers === 1)).toBe(true);
  });

  it('a node whose every worker has died answers with an error at once, and the coordinator drops that node', async () => {
    const n1 = node('n1', [new DyingLink('b0', 1), new DyingLink('b1', 1)]);
    const run = await trainOver([node('n0', workers('a', 2)), n1], config({ epochs: 2 }));
    expect(same(run.weights, flat.weights)).toBe(true);
    expect(run.logs.some((l) => /dropping worker n1: .*only 0 of 1 workers/.test(l))).toBe(true);
  });

  it('the coordinator sizes each node\'s shard by the node\'s measured speed: a node of slow workers gets fewer micro-batches, bit-identically', async () => {
    const counted = (link: InProcessLink): { link: InProcessLink; counts: number[] } => {
      const counts: number[] = [];
      const real = link.compute.bind(link);
      link.compute = async (msg: ComputeMessage): Promise<GradientMessage> => {
        counts.push(msg.count);
        return real(msg);
      };
      return { link, counts };
    };
    const fast = counted(node('fast', [new SlowLink('a0', 0), new SlowLink('a1', 0)]));
    const slow = counted(node('slow', [new SlowLink('b0', 1500), new SlowLink('b1', 1500)]));
    const run = await trainOver([fast.link, slow.link], config({ epochs: 2 }));
    expect(same(run.weights, flat.weights)).toBe(true);
    // Step 0: nothing measured, equal halves (3 + 2 micro-batches of 8). From then on the slow
    // node's wall time (1.5 s more per request, many times the fast node's, whatever else runs on
    // the machine) moves micro-batches to the fast one: most of the 7 × 40 samples left go there.
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    expect(fast.counts[0]).toBe(24);
    expect(slow.counts[0]).toBe(16);
    expect(fast.counts).toHaveLength(8);
    expect(sum(fast.counts.slice(1)) + sum(slow.counts.slice(1))).toBe(7 * 40);
    expect(sum(fast.counts.slice(1))).toBeGreaterThanOrEqual(7 * 32);
  });

  it('every worker of every node non-finite: the run stops with E_TRAIN_NONFINITE, as with flat workers', async () => {
    const nan = (p: string): NanLink[] => [new NanLink(`${p}0`), new NanLink(`${p}1`)];
    await expect(trainOver([node('n0', nan('a')), node('n1', nan('b'))], config())).rejects.toMatchObject({
      code: 'E_TRAIN_NONFINITE',
      message: expect.stringMatching(/on every worker/),
    });
  });
});

describe('per-node stage, default mode (the node averages, weighted by shard size)', () => {
  const cfg = config({ deterministic: false, augment: false, dropout: false, balanceShards: false, schedule: { lr: 0.001, warmupEpochs: 0, decay: 'constant', minFactor: 1 } });

  it('2 nodes x 2 workers train as 4 flat workers (float32 reassociation only), and the coordinator receives 2 gradients per step instead of 4', async () => {
    const flat4 = await trainOver(workers('w', 4), cfg);
    const nodes = await trainOver([node('n0', workers('a', 2)), node('n1', workers('b', 2))], cfg);
    const length = flat4.steps[0] ? flat4.steps[0].gradientBytes / 4 / 4 : 0;
    expect(length).toBe(1_250_858);
    expect(flat4.steps.map((s) => s.gradientBytes)).toEqual(flat4.steps.map(() => 4 * 4 * length));
    expect(nodes.steps.map((s) => s.gradientBytes)).toEqual(nodes.steps.map(() => 2 * 4 * length));
    expect(nodes.steps.map((s) => s.loss)).toEqual(flat4.steps.map((s) => expect.closeTo(s.loss, 5)));
    const initial = createModel({ numClasses: 10, dropout: false, seed: cfg.seed });
    const moved = relativeError(getWeightsFlat(initial, 'all'), flat4.weights);
    initial.dispose();
    // Measured: ~1e-7 of the weights' norm, against ~2e-3 that the 4 steps moved them.
    expect(relativeError(flat4.weights, nodes.weights)).toBeLessThan(1e-3 * moved);
  });

  it('16-bit gradients from a node: float16 the coordinator asks for is encoded by the node from its float32 average', async () => {
    const f16 = { ...cfg, gradDtype: 'float16' as const };
    const flat2 = await trainOver(workers('w', 2), f16);
    const nodes = await trainOver([node('n0', workers('a', 2)), node('n1', workers('b', 2))], f16);
    expect(nodes.steps.map((s) => s.gradientBytes)).toEqual(nodes.steps.map(() => 2 * 2 * 1_250_858));
    expect(relativeError(flat2.weights, nodes.weights)).toBeLessThan(1e-4);
  });
});
