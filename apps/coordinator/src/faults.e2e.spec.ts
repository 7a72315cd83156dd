import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '@cifar-dist/training';
import { DATA, startTrain, train, type TrainProcess } from './e2e-support.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cifar-dist-faults-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Pid of local worker `id`, from the coordinator's join line. */
async function workerPid(run: TrainProcess, id: string): Promise<number> {
  const m = await run.waitFor(new RegExp(`worker ${id} joined [^\\n]*?pid (\\d+)`));
  return Number(m[1]);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const readReport = async (out: string): Promise<RunReport> => JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as RunReport;

describe('workers that die or hang mid-run (real processes)', () => {
  it('SIGKILL of one worker and SIGSTOP of another: the run finishes on the third, no step lost or applied twice', async () => {
    const args = (out: string, workers: number): string[] => [
      '--workers', String(workers), '--data-dir', DATA, '--out', out, '--epochs', '2', '--finetune-epochs', '0',
      '--train-limit', '960', '--test-limit', '100', '--batch-size', '96', '--micro-batch', '32', '--backend', 'wasm',
      '--no-eval-train', '--request-timeout', '30000', '--deterministic',
    ];
    const undisturbed = await tempDir();
    const u = await train(args(undisturbed, 1));
    expect(u.code).toBe(0);
    const out = await tempDir();
    const run = startTrain(args(out, 3));
    const stopped: number[] = [];
    try {
      const w1 = await workerPid(run, 'w1');
      const w2 = await workerPid(run, 'w2');
      // Every worker holds the model (three such lines): training is under way. A fixed delay from
      // the first line instead let epoch 1 (~5 s of 10 steps here) end before the kill at times.
      await run.waitFor(/(model 1: 10 classes[\s\S]*){3}/);
      // a step or so in, w1 dies without a word
      await new Promise((r) => setTimeout(r, 500));
      killQuietly(w1, 'SIGKILL');
      await run.waitFor(/worker w1 left/);
      // then w2 hangs: alive, connected, silent
      killQuietly(w2, 'SIGSTOP');
      stopped.push(w2);
      await run.waitFor(/dropping worker w2: worker w2 did not answer/, 120_000);
      const code = await run.exited;
      if (code !== 0) console.error(run.output().slice(-4000));
      expect(code).toBe(0);
      const report = await readReport(out);
      const phase = report.phases[0];
      expect(phase?.steps).toBe(2 * 10);
      expect(phase?.samplesSeen).toBe(2 * 960);
      expect(phase?.history.map((h) => h.workers)).toEqual([1, 1]);
      expect(phase?.test.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(100);
      // every step applied exactly once, on the same micro-batches: the weights of the undisturbed run, bit for bit
      const [x, y] = await Promise.all([undisturbed, out].map((d) => readFile(path.join(d, 'model-cifar10', 'weights.bin'))));
      expect(y?.equals(x as Buffer)).toBe(true);
      expect(phase?.test.accuracy).toBe((await readReport(undisturbed)).phases[0]?.test.accuracy);
    } finally {
      for (const pid of stopped) killQuietly(pid, 'SIGKILL');
      run.child.kill('SIGKILL');
    }
  }, 600_000);
});

describe('the coordinator dies (SIGKILL) and --resume continues, --deterministic', () => {
  const common = (out: string, workers: number): string[] => [
    '--workers', String(workers), '--data-dir', DATA, '--out', out, '--epochs', '2', '--finetune-epochs', '1',
    '--train-limit', '320', '--test-limit', '100', '--batch-size', '64', '--micro-batch', '32', '--backend', 'wasm',
    '--no-eval-train', '--deterministic', '--seed', '7',
  ];

  /** Starts a run, SIGKILLs the launcher (and its workers) once `mark` shows in its output. */
  async function killAfter(args: string[], mark: RegExp): Promise<void> {
    const run = startTrain(args);
    const pids: number[] = [];
    for (const m of ['w0', 'w1', 'w2'].slice(0, Number(args[1]))) pids.push(await workerPid(run, m));
    await run.waitFor(mark);
    run.child.kill('SIGKILL');
    await run.exited;
    for (const pid of pids) killQuietly(pid, 'SIGKILL');
  }

  it('ends bit-identical to an uninterrupted 1-worker run after kills in both phases and resumes on 3, then 2 workers', async () => {
    const straight = await tempDir();
    const a = await train(common(straight, 1));
    if (a.code !== 0) console.error(a.output.slice(-4000));
    expect(a.code).toBe(0);

    const broken = await tempDir();
    // during phase 1's second epoch, then as soon as the fine-tune model is on a worker
    await killAfter(common(broken, 2), /checkpoint [^\n]*ckpt-p1-e0001/);
    await killAfter([...common(broken, 3), '--resume'], /model 2: 14 classes/);
    const b = await train([...common(broken, 2), '--resume']);
    if (b.code !== 0) console.error(b.output.slice(-4000));
    expect(b.code).toBe(0);
    expect(b.output).toMatch(/resuming from [^\n]*ckpt-p1-e0002/);

    for (const model of ['model-cifar10', 'model-finetune']) {
      const x = await readFile(path.join(straight, model, 'weights.bin'));
      const y = await readFile(path.join(broken, model, 'weights.bin'));
      expect(y.equals(x), `${model}/weights.bin differs`).toBe(true);
    }
    const [ra, rb] = [await readReport(straight), await readReport(broken)];
    expect(rb.phases.map((p) => [p.steps, p.samplesSeen])).toEqual(ra.phases.map((p) => [p.steps, p.samplesSeen]));
    expect(rb.phases[1]?.test.accuracy).toBe(ra.phases[1]?.test.accuracy);
  }, 900_000);
});

describe('broken data files (real launcher)', () => {
  it('a truncated CIFAR-10 batch: exit 3, an error naming the file and offset, nothing that claims success in --out', async () => {
    const data = await tempDir();
    for (const set of ['cifar-10-batches-bin', 'cifar-100-binary']) {
      await mkdir(path.join(data, set));
      for (const f of await readdir(path.join(DATA, set))) {
        if (set === 'cifar-10-batches-bin' && f === 'data_batch_3.bin') continue;
        await symlink(path.join(DATA, set, f), path.join(data, set, f));
      }
    }
    const bad = path.join(data, 'cifar-10-batches-bin', 'data_batch_3.bin');
    await copyFile(path.join(DATA, 'cifar-10-batches-bin', 'data_batch_3.bin'), bad);
    await truncate(bad, 3073 * 1000 + 17);
    const out = await tempDir();
    const r = await train(['--workers', '1', '--data-dir', data, '--out', out, '--epochs', '1', '--finetune-epochs', '0', '--backend', 'wasm']);
    expect(r.code).toBe(3);
    expect(r.output).toMatch(/data_batch_3\.bin/);
    expect(r.output).toMatch(/offset|bytes/);
    const left = await readdir(out).catch(() => [] as string[]);
    expect(left.filter((f) => f === 'report.json' || f.startsWith('model-'))).toEqual([]);
  }, 300_000);
});
