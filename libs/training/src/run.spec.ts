import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@cifar-dist/model';
import type { EvaluateMessage, EvaluationMessage } from '@cifar-dist/protocol';
import { findLatestCheckpoint } from './checkpoint.js';
import { defaultConfig, type TrainConfig } from './config.js';
import { InProcessLink } from './in-process-link.js';
import { runTraining } from './run.js';
import { SHARED_DATA } from './test-support.js';
import { WorkerPool } from './worker-pool.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cifar-dist-run-'));
  dirs.push(d);
  return d;
}

function pool(n: number): WorkerPool {
  const p = new WorkerPool();
  for (let i = 0; i < n; i++) p.add(new InProcessLink(`w${i}`));
  return p;
}

const config: TrainConfig = defaultConfig({
  dataDir: SHARED_DATA,
  epochs: 2,
  finetuneEpochs: 2,
  batchSize: 32,
  trainLimit: 96,
  testLimit: 40,
  evaluateTrain: false,
  evalChunk: 32,
  dropout: false,
  // Equal shards: comparing runs bit for bit without --deterministic needs shard sizes that
  // do not follow measured (timing-dependent) worker speeds.
  balanceShards: false,
  schedule: { lr: 0.01, warmupEpochs: 0.5, decay: 'cosine', minFactor: 0.1 },
  finetuneSchedule: { lr: 0.01, warmupEpochs: 0, decay: 'cosine', minFactor: 0.1 },
});

class Crash extends Error {}

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
});

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('runTraining: both phases, checkpoints, resume', () => {
  let straight: string;

  beforeAll(async () => {
    straight = await tempDir();
    await runTraining({ config, pool: pool(2), out: straight });
  }, 300_000);

  it('writes one checkpoint per epoch of each phase, both models and report.json', async () => {
    expect((await readdir(path.join(straight, 'checkpoints'))).sort()).toEqual([
      'ckpt-p1-e0001', 'ckpt-p1-e0002', 'ckpt-p2-e0001', 'ckpt-p2-e0002',
    ]);
    const report = JSON.parse(await readFile(path.join(straight, 'report.json'), 'utf8'));
    expect(report.phases.map((p: { name: string }) => p.name)).toEqual(['cifar10', 'finetune']);
    expect(report.phases[1].frozenWeightsUnchanged).toBe(true);
    expect(report.phases[0].history).toHaveLength(2);
    expect(report.phases[0].steps).toBe(6);
  });

  // The finetune case runs both times with resume 'auto' (a scheduler restarting a job into its
  // folder): a new run in the empty folder first, then the continuation of its checkpoints.
  for (const crashAt of [{ phase: 'cifar10', epoch: 1, resume: true }, { phase: 'finetune', epoch: 1, resume: 'auto' }] as const) {
    it(`resumed (resume: ${crashAt.resume}) after a crash in ${crashAt.phase} epoch ${crashAt.epoch + 1}, ends with bit-identical weights`, async () => {
      const out = await tempDir();
      const firstLogs: string[] = [];
      await expect(
        runTraining({
          config,
          pool: pool(2),
          out,
          ...(crashAt.resume === 'auto' ? { resume: 'auto' as const } : {}),
          hooks: {
            log: (m) => firstLogs.push(m),
            onEpochEnd: async (runner, record) => {
              if (runner.opts.name === crashAt.phase && record.epoch === crashAt.epoch) throw new Crash('simulated crash');
            },
          },
        }),
      ).rejects.toBeInstanceOf(Crash);
      if (crashAt.resume === 'auto') expect(firstLogs).toContain(`--resume auto: no checkpoint under ${path.join(out, 'checkpoints')}; starting a new run`);
      const logs: string[] = [];
      await runTraining({ config, pool: pool(2), out, resume: crashAt.resume, hooks: { log: (m) => logs.push(m) } });
      expect(logs.some((l) => l.startsWith('resuming from'))).toBe(true);
      for (const model of ['model-cifar10', 'model-finetune']) {
        if (crashAt.phase === 'finetune' && model === 'model-cifar10') continue;
        const a = await readFile(path.join(straight, model, 'weights.bin'));
        const b = await readFile(path.join(out, model, 'weights.bin'));
        expect(b.equals(a)).toBe(true);
      }
      const ra = JSON.parse(await readFile(path.join(straight, 'report.json'), 'utf8'));
      const rb = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8'));
      expect(rb.phases[1].test.confusionMatrix).toEqual(ra.phases[1].test.confusionMatrix);
      expect(rb.phases[1].steps).toBe(ra.phases[1].steps);
    }, 300_000);
  }

  it('skips a corrupted newest checkpoint for the previous good one, naming it', async () => {
    const out = await tempDir();
    const ck = path.join(out, 'checkpoints');
    await runTraining({ config: { ...config, finetuneEpochs: 1 }, pool: pool(1), out });
    const weights = path.join(ck, 'ckpt-p2-e0001', 'weights.bin');
    const bytes = await readFile(weights);
    bytes[100] = (bytes[100] as number) ^ 0xff;
    await writeFile(weights, bytes);
    const logs: string[] = [];
    const found = await findLatestCheckpoint(ck, (m) => logs.push(m));
    expect(found?.dir).toBe(path.join(ck, 'ckpt-p1-e0002'));
    expect(logs[0]).toMatch(/skipping ckpt-p2-e0001: .*weights\.bin does not match its sha256/);
    await writeFile(path.join(ck, 'ckpt-p1-e0002', 'manifest.json'), '{"format":1,');
    const older = await findLatestCheckpoint(ck, (m) => logs.push(m));
    expect(older?.dir).toBe(path.join(ck, 'ckpt-p1-e0001'));
    expect(logs.at(-1)).toMatch(/skipping ckpt-p1-e0002: .*manifest\.json is missing or unreadable/);
    older?.model.dispose();
    found?.model.dispose();
  }, 300_000);
});

/** A worker whose model "diverges" from global step `from` on: every gradient and loss NaN. */
class DivergingLink extends InProcessLink {
  constructor(id: string, private readonly from: number) {
    super(id);
  }
  override async compute(msg: Parameters<InProcessLink['compute']>[0]): ReturnType<InProcessLink['compute']> {
    const reply = await super.compute(msg);
    if (msg.step >= this.from) return { ...reply, loss: Number.NaN, gradients: reply.gradients.fill(Number.NaN) };
    return reply;
  }
}

describe('a loss that becomes NaN', () => {
  it('stops the run with E_TRAIN_NONFINITE, writes no report, and keeps the last good checkpoint', async () => {
    const out = await tempDir();
    const p = new WorkerPool();
    // 96 samples / batch 32 = 3 steps per epoch: epoch 1 is clean, step 4 (epoch 2) diverges
    for (let i = 0; i < 2; i++) p.add(new DivergingLink(`w${i}`, 4));
    await expect(runTraining({ config, pool: p, out })).rejects.toMatchObject({ code: 'E_TRAIN_NONFINITE', message: expect.stringMatching(/non-finite at cifar10 step 4 \(epoch 2/) });
    expect(await readdir(path.join(out, 'checkpoints'))).toEqual(['ckpt-p1-e0001']);
    const latest = await findLatestCheckpoint(path.join(out, 'checkpoints'));
    expect(latest?.state.phase).toMatchObject({ name: 'cifar10', epoch: 1, step: 3 });
    expect(p.size).toBe(2); // nobody was blamed for the divergence
    await expect(readFile(path.join(out, 'report.json'))).rejects.toThrow();
    latest?.model.dispose();
  }, 300_000);

  it('outputs that overflow in evaluation on every worker (finite weights): E_TRAIN_NONFINITE, nobody blamed, the last good checkpoint kept', async () => {
    const out = await tempDir();
    const p = new WorkerPool();
    // The issue's example: the epoch's steps are fine, but after epoch 2's last step the outputs
    // overflow; every worker returns non-finite losses for the test set.
    class OverflowingLink extends InProcessLink {
      override async evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
        const reply = await super.evaluate(msg);
        // 3 steps per epoch: epoch 1 is evaluated at weights version 3 (clean), epoch 2 at 6
        return msg.weightsVersion >= 6 ? { ...reply, losses: reply.losses.map(() => Number.POSITIVE_INFINITY) } : reply;
      }
    }
    for (let i = 0; i < 2; i++) p.add(new OverflowingLink(`w${i}`));
    await expect(runTraining({ config, pool: p, out })).rejects.toMatchObject({
      code: 'E_TRAIN_NONFINITE',
      message: expect.stringMatching(/^evaluation: every worker \(2\) finds the loss non-finite for samples \d+\.\.\d+ at the same weights: the model diverged, not a worker/),
    });
    expect(p.size).toBe(2);
    expect(await readdir(path.join(out, 'checkpoints'))).toEqual(['ckpt-p1-e0001']);
    const latest = await findLatestCheckpoint(path.join(out, 'checkpoints'));
    expect(latest?.state.phase).toMatchObject({ name: 'cifar10', epoch: 1, step: 3 });
    latest?.model.dispose();
  }, 300_000);

  it('drops only the worker that sends NaN when the others are finite, and the step completes', async () => {
    const out = await tempDir();
    const p = new WorkerPool();
    p.add(new InProcessLink('good'));
    p.add(new DivergingLink('bad', 1));
    const report = await runTraining({ config: { ...config, finetuneEpochs: 0 }, pool: p, out });
    expect(report.phases[0]).toMatchObject({ steps: 6, samplesSeen: 192 });
    expect(p.live().map((l) => l.info.workerId)).toEqual(['good']);
  }, 300_000);
});

describe('resume settings', () => {
  it('--resume without a checkpoint is an error, not a fresh run', async () => {
    const out = await tempDir();
    await expect(runTraining({ config, pool: pool(1), out, resume: true })).rejects.toMatchObject({ code: 'E_TRAIN_CONFIG', message: expect.stringMatching(/no good checkpoint/) });
  });

  it('takes the checkpoint config except what was given explicitly, and logs each difference', async () => {
    const { resumedConfig } = await import('./run.js');
    const saved = { ...config, finetuneEpochs: 1, trainLimit: 5000 };
    const given = defaultConfig({ dataDir: '/elsewhere', epochs: 9 });
    const logs: string[] = [];
    const merged = resumedConfig(saved, given, new Set(['epochs'] as const), (m) => logs.push(m));
    expect(merged).toMatchObject({ epochs: 9, finetuneEpochs: 1, trainLimit: 5000, dataDir: SHARED_DATA });
    expect(logs).toEqual([`resume: epochs ${config.epochs} -> 9 (given explicitly)`]);
    // a checkpoint from before tau existed resumes with what its run did (tau 0), not today's
    // default, and no class bias, not today's default one
    const { finetuneLogitTau: _tau, labelSmoothing: _ls, finetuneClassBias: _bias, ...older } = saved;
    const logs2: string[] = [];
    const resumed = resumedConfig(older as typeof saved, given, new Set(), (m) => logs2.push(m));
    expect([resumed.finetuneLogitTau, resumed.labelSmoothing, resumed.finetuneClassBias]).toEqual([0, 0, {}]);
    expect(logs2).toEqual([
      'resume: finetuneLogitTau unset -> 0 (not in the checkpoint: what its run did)',
      'resume: finetuneClassBias unset -> {} (not in the checkpoint: what its run did)',
      "resume: labelSmoothing unset -> 0 (not in the checkpoint: today's default)",
    ]);
    // new fine-tune classes take the class bias given with them, not the checkpoint's (chosen for its classes)
    const logs3: string[] = [];
    const withBias = { ...saved, finetuneClassBias: { snail: 0.55 } };
    const crab = defaultConfig({ finetune: { classes: ['crab', 'worm'] } });
    expect(resumedConfig(withBias, crab, new Set(['finetune'] as const), (m) => logs3.push(m)).finetuneClassBias).toEqual({});
    expect(logs3).toContain('resume: finetuneClassBias {"snail":0.55} -> {} (follows the fine-tune classes given)');
    expect(resumedConfig(withBias, { ...crab, finetuneClassBias: { crab: 1 } }, new Set(['finetune', 'finetuneClassBias'] as const), () => undefined).finetuneClassBias).toEqual({ crab: 1 });
    expect(resumedConfig(withBias, crab, new Set(), () => undefined).finetuneClassBias).toEqual({ snail: 0.55 });
    // --no-logit-adjust on a resume takes the bias off with the adjustment it rides on (one given with it is then refused by checkClassBias)
    const logs4: string[] = [];
    const noAdjust = defaultConfig({ finetuneLogitAdjust: false });
    const off = resumedConfig(withBias, noAdjust, new Set(['finetuneLogitAdjust'] as const), (m) => logs4.push(m));
    expect([off.finetuneLogitAdjust, off.finetuneClassBias]).toEqual([false, {}]);
    expect(logs4).toContain('resume: finetuneClassBias {"snail":0.55} -> {} (follows --no-logit-adjust)');
    expect(resumedConfig(withBias, { ...noAdjust, finetuneClassBias: { snail: 1 } }, new Set(['finetuneLogitAdjust', 'finetuneClassBias'] as const), () => undefined).finetuneClassBias).toEqual({ snail: 1 });
    expect(resumedConfig(withBias, defaultConfig(), new Set(['finetuneLogitAdjust'] as const), () => undefined).finetuneClassBias).toEqual({ snail: 0.55 });
    // a run keeps its data split: an explicit --holdout that differs is refused
    expect(() => resumedConfig(saved, { ...given, holdout: 0.2 }, new Set(['holdout'] as const), () => undefined)).toThrow(/--holdout 0.2 differs from the checkpoint's \(none\)/);
    expect(resumedConfig({ ...saved, holdout: 0.2 }, { ...given, holdout: 0.2 }, new Set(['holdout'] as const), () => undefined).holdout).toBe(0.2);
  });
});
