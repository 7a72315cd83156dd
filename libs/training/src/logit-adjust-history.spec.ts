import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getWeightsFlat, selectBackend } from '@cifar-dist/model';
import { loadCheckpoint } from './checkpoint.js';
import { defaultConfig } from './config.js';
import { InProcessLink } from './in-process-link.js';
import { loadLayersModel } from './model-files.js';
import type { RunReport } from './report.js';
import { runTraining } from './run.js';
import { SHARED_DATA } from './test-support.js';
import { WorkerPool } from './worker-pool.js';

/** The output bias: the last `n` trainable values of a model. */
const lastValues = (w: Float32Array, n: number): number[] => Array.from(w.subarray(w.length - n));

describe('fine-tune per-epoch test figures with the logit adjustment', () => {
  let out = '';
  let report: RunReport;
  const logs: string[] = [];

  beforeAll(async () => {
    await selectBackend({ force: 'wasm' });
    out = await mkdtemp(path.join(tmpdir(), 'cifar-dist-adjust-'));
    const pool = new WorkerPool();
    for (let i = 0; i < 2; i++) pool.add(new InProcessLink(`w${i}`));
    report = await runTraining({
      config: defaultConfig({
        dataDir: SHARED_DATA,
        epochs: 1,
        finetuneEpochs: 2,
        batchSize: 32,
        trainLimit: 128,
        testLimit: 200,
        evaluateTrain: false,
        evalChunk: 50,
        balanceShards: false,
        // --finetune-oversample 4 with the logit adjustment back to the natural prior (tau 0),
        // then snail (label 11) raised by a class bias of 0.5 nats
        finetuneOversample: 4,
        finetuneLogitAdjust: true,
        finetuneLogitTau: 0,
        finetuneClassBias: { snail: 0.5 },
      }),
      pool,
      out,
      hooks: { log: (m) => logs.push(m) },
    });
  }, 300_000);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('takes each epoch\'s testLoss/testAccuracy as the final figures are: the last epoch\'s equal the report\'s', () => {
    const finetune = report.phases[1]!;
    const last = finetune.history.at(-1)!;
    expect(finetune.history).toHaveLength(2);
    expect(last.testAccuracy).toBe(finetune.test.accuracy);
    expect(last.testLoss).toBe(finetune.test.loss);
  });

  it('records the figures with the bias as trained beside them, labelled, in the fine-tune only', () => {
    const [cifar10, finetune] = report.phases;
    for (const h of cifar10!.history) expect(Object.keys(h)).not.toContain('testAccuracyUnadjusted');
    for (const h of finetune!.history) {
      expect(h.testAccuracyUnadjusted).toBeGreaterThanOrEqual(0);
      expect(h.testAccuracyUnadjusted).toBeLessThanOrEqual(1);
      expect(Number.isFinite(h.testLossUnadjusted)).toBe(true);
      // lowering the added classes' bias by ln 4 moves every loss that involves them
      expect(h.testLossUnadjusted).not.toBe(h.testLoss);
    }
    const line = logs.find((l) => l.startsWith('finetune epoch 2/2:'))!;
    const h = finetune!.history[1]!;
    expect(line).toContain(
      `test loss ${h.testLoss.toFixed(4)} test acc ${h.testAccuracy.toFixed(4)} after the logit adjustment ` +
        `(before: test loss ${h.testLossUnadjusted!.toFixed(4)} test acc ${h.testAccuracyUnadjusted!.toFixed(4)})`,
    );
  });

  it('trains on with the bias as trained: the checkpoint holds it, the final model holds it lowered by ln 4 (snail: less its class bias)', async () => {
    const ckpt = await loadCheckpoint(path.join(out, 'checkpoints', 'ckpt-p2-e0002'));
    const final = await loadLayersModel(path.join(out, 'model-finetune'));
    try {
      const trained = lastValues(getWeightsFlat(ckpt.model, 'all'), 14);
      const adjusted = lastValues(getWeightsFlat(final, 'all'), 14);
      expect(adjusted).toEqual(trained.map((b, c) => (c === 11 ? Math.fround(b - (Math.log(4) - 0.5)) : c >= 10 ? Math.fround(b - Math.log(4)) : b)));
      expect(logs).toContain(`logit adjustment (tau 0, class bias snail +0.5): output bias lowered by ${[...new Array(10).fill('0.0000'), '1.3863', '0.8863', '1.3863', '1.3863'].join(' ')}`);
    } finally {
      ckpt.model.dispose();
      final.dispose();
    }
  });
});
