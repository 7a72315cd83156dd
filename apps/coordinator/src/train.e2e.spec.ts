import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '@cifar-dist/model';
import { io } from 'socket.io-client';
import { PROTOCOL_VERSION } from '@cifar-dist/protocol';
import { loadLayersModel, type RunReport } from '@cifar-dist/training';
import { DATA, startTrain, train } from './e2e-support.js';

/** A process on this machine that tries to join the run without the token: the refusal's code, or 'joined'. */
function stranger(port: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = io(`http://127.0.0.1:${port}`, { auth: { protocolVersion: PROTOCOL_VERSION }, transports: ['websocket'], reconnection: false });
    socket.on('connect', () => {
      socket.disconnect();
      resolve('joined');
    });
    socket.on('connect_error', (err) => {
      socket.disconnect();
      resolve(String((err as Error & { data?: { code?: string } }).data?.code ?? err.message));
    });
  });
}

describe('npm run train (2 worker processes, real CIFAR, both phases)', () => {
  let out: string;
  let result: { code: number | null; output: string };
  let strangerOutcome: string;

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'cifar-dist-e2e-'));
    const run = startTrain([
      '--workers', '2', '--data-dir', DATA, '--out', out,
      '--epochs', '1', '--finetune-epochs', '1', '--train-limit', '600', '--test-limit', '300',
      '--batch-size', '64', '--backend', 'wasm',
    ]);
    const port = (await run.waitFor(/coordinator listening on 127\.0\.0\.1:(\d+)/, 120_000))[1] as string;
    strangerOutcome = await stranger(port);
    result = { code: await run.exited, output: run.output() };
  }, 600_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('exits 0 and prints the report beside the reference', () => {
    if (result.code !== 0) console.error(result.output);
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/== cifar10: 10 classes, 1,250,858 params/);
    expect(result.output).toMatch(/== finetune: 14 classes, 1,252,910 params \(1,242,766 trainable, first 5 layers frozen\)/);
    expect(result.output).toMatch(/worker w0 joined \(wasm/);
    expect(result.output).toMatch(/worker w1 joined \(wasm/);
  });

  it('generates a token for the run even on loopback: another process on this machine is refused, the launcher\'s workers join', () => {
    expect(strangerOutcome).toBe('E_PROTO_TOKEN');
    expect(result.output).toMatch(/refused 127\.0\.0\.1: bad token|refused ::ffff:127\.0\.0\.1: bad token/);
  });

  it('writes report.json with a 10x10 and a 14x14 test confusion matrix summing to the test sets', async () => {
    const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as RunReport;
    expect(report.workers).toHaveLength(2);
    // one run id: the report's is the one the workers were told when they joined
    expect(report.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.output.match(/joined run ([0-9a-f-]+) as rank/g)?.map((m) => m.split(' ')[2])).toEqual([report.runId, report.runId]);
    expect(report.backend).toBe('wasm');
    const [p1, p2] = report.phases;
    expect(p1?.name).toBe('cifar10');
    expect(p1?.test.confusionMatrix).toHaveLength(10);
    expect(p1?.test.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(300);
    expect(p1?.history).toHaveLength(1);
    expect(p1?.samplesSeen).toBe(600);
    expect(p2?.name).toBe('finetune');
    expect(p2?.numClasses).toBe(14);
    expect(p2?.classNames.slice(10)).toEqual(['lobster', 'snail', 'spider', 'worm']);
    expect(p2?.test.confusionMatrix).toHaveLength(14);
    expect(p2?.test.confusionMatrix[0]).toHaveLength(14);
    // 300 CIFAR-10 test images + the chosen classes among the first 300 CIFAR-100 test records
    expect(p2?.test.samples).toBeGreaterThan(300);
    expect(p2?.frozenWeightsUnchanged).toBe(true);
  });

  it('saves both models loadable with tf.loadLayersModel, and checkpoints per epoch', async () => {
    await tf.setBackend('cpu');
    const m1 = await loadLayersModel(path.join(out, 'model-cifar10'));
    const m2 = await loadLayersModel(path.join(out, 'model-finetune'));
    expect(m1.countParams()).toBe(1_250_858);
    expect(m2.countParams()).toBe(1_252_910);
    expect(m2.outputs[0]?.shape).toEqual([null, 14]);
    m1.dispose();
    m2.dispose();
    const ckpts = await import('node:fs/promises').then((fs) => fs.readdir(path.join(out, 'checkpoints')));
    expect(ckpts.sort()).toEqual(['ckpt-p1-e0001', 'ckpt-p2-e0001']);
  });

  it('leaves report.html and one history CSV per phase', async () => {
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg/g)?.length).toBe(6);
    expect(html).toContain('0.6789');
    for (const phase of ['cifar10', 'finetune']) {
      const csv = (await readFile(path.join(out, `history-${phase}.csv`), 'utf8')).trim().split('\n');
      // the fine-tune (logit adjustment on) also records its test figures before the adjustment
      const unadjusted = phase === 'finetune' ? ',testLossUnadjusted,testAccuracyUnadjusted' : '';
      expect(csv[0]).toBe(`epoch,loss,accuracy,testLoss,testAccuracy,lr,seconds,imagesPerSecond,workers${unadjusted}`);
      expect(csv).toHaveLength(2);
    }
  });
});

describe('npm run train: 1 and 2 worker processes reach the same weights', () => {
  const outs: string[] = [];
  afterAll(async () => {
    await Promise.all(outs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('after 20 steps with --no-augment --no-dropout and the same seed (within 1e-4 relative)', async () => {
    const weights: Float32Array[] = [];
    for (const workers of ['1', '2']) {
      const out = await mkdtemp(path.join(tmpdir(), `cifar-dist-e2e-w${workers}-`));
      outs.push(out);
      const r = await train([
        '--workers', workers, '--data-dir', DATA, '--out', out, '--backend', 'wasm',
        '--epochs', '1', '--finetune-epochs', '0', '--train-limit', '160', '--test-limit', '20', '--batch-size', '8',
        '--no-augment', '--no-dropout', '--seed', '5', '--lr', '0.001', '--no-eval-train',
      ]);
      if (r.code !== 0) console.error(r.output);
      expect(r.code).toBe(0);
      const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as RunReport;
      expect(report.phases[0]?.steps).toBe(20);
      expect(report.workers).toHaveLength(Number(workers));
      const bytes = await readFile(path.join(out, 'model-cifar10', 'weights.bin'));
      weights.push(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
    }
    const [a, b] = weights as [Float32Array, Float32Array];
    expect(a.length).toBe(1_250_858);
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < a.length; i++) {
      diff += (a[i]! - b[i]!) ** 2;
      norm += a[i]! ** 2;
    }
    expect(Math.sqrt(diff / norm)).toBeLessThan(1e-4);
  }, 600_000);
});
