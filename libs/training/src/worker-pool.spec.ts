import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, selectBackend } from '@cifar-dist/model';
import { InProcessLink } from './in-process-link.js';
import { PhaseRunner } from './phase-runner.js';
import { CLASS_NAMES, comparableConfig, syntheticSet } from './test-support.js';
import { WorkerPool } from './worker-pool.js';

describe('WorkerPool.waitFor', () => {
  it('says at once that it waits, then again every remindMs while it still does', async () => {
    const pool = new WorkerPool();
    const said: Array<[number, number]> = [];
    const waiting = pool.waitFor(1, Number.POSITIVE_INFINITY, (have, ms) => said.push([have, ms]), 40);
    await new Promise((r) => setTimeout(r, 130));
    pool.add(new InProcessLink('late'));
    await waiting;
    expect(said[0]).toEqual([0, 0]);
    expect(said.length).toBeGreaterThanOrEqual(3);
    expect(said.slice(1).every(([have, ms]) => have === 0 && ms >= 40)).toBe(true);
    const count = said.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(said.length).toBe(count); // no reminder after the wait ended
  });
});

describe('--wait-timeout (TrainConfig.workerWaitMs)', () => {
  beforeAll(async () => {
    await selectBackend({ force: 'wasm' });
  });

  it('a phase short of --min-workers for that long stops with E_TRAIN_NO_WORKERS, having said what it waits for', async () => {
    const pool = new WorkerPool();
    pool.add(new InProcessLink('only'));
    const cfg = comparableConfig({ batchSize: 8, epochs: 1, evalChunk: 8, minWorkers: 2, workerWaitMs: 200 });
    const model = createModel({ numClasses: 10, dropout: false, seed: cfg.seed });
    const logs: string[] = [];
    const runner = new PhaseRunner({
      name: 'cifar10', model, modelId: 1, numClasses: 10, classNames: CLASS_NAMES, frozenLayers: 0,
      train: syntheticSet(16, 1), test: syntheticSet(8, 2), epochs: 1, schedule: cfg.schedule, config: cfg, pool, hooks: { log: (m) => logs.push(m) },
    });
    const started = Date.now();
    await expect(runner.run()).rejects.toMatchObject({ code: 'E_TRAIN_NO_WORKERS', message: 'only 1 of 2 workers live after waiting 200 ms' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(logs).toEqual(['step 0: waiting for workers: 1 live, need 2']);
    model.dispose();
  });
});
