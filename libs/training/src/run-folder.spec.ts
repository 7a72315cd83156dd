import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@cifar-dist/model';
import { sha256 } from './atomic-files.js';
import { findLatestCheckpoint } from './checkpoint.js';
import { defaultConfig, type TrainConfig } from './config.js';
import { InProcessLink } from './in-process-link.js';
import { checkRunFolder, inspectRunFolder, moveRunFolderAside } from './run-folder.js';
import { runTraining } from './run.js';
import { fileTree as tree, SHARED_DATA } from './test-support.js';
import { WorkerPool } from './worker-pool.js';

const work = mkdtempSync(path.join(tmpdir(), 'cifar-dist-run-folder-'));
let n = 0;
const fresh = (): string => path.join(work, `run-${++n}`);

function pool(): WorkerPool {
  const p = new WorkerPool();
  p.add(new InProcessLink('w0'));
  return p;
}

// 2 steps an epoch, 2 epochs, no fine-tune epochs: a few seconds.
const config: TrainConfig = defaultConfig({
  dataDir: SHARED_DATA, epochs: 2, finetuneEpochs: 0, batchSize: 32, trainLimit: 64, testLimit: 20, evalChunk: 20,
  evaluateTrain: false, dropout: false, augment: false, seed: 5, balanceShards: false,
});


const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const stateOf = (out: string, ckpt: string): { runId?: string } => JSON.parse(readFileSync(path.join(out, 'checkpoints', ckpt, 'state.json'), 'utf8'));
const reportOf = (out: string): { runId?: string; config: { seed: number } } => JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));

class Crash extends Error {}

/** A finished run (both epochs) written through a crash after epoch 1 and a --resume auto. */
let finished = '';
let runId = '';
const firstLogs: string[] = [];
const resumeLogs: string[] = [];

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
  finished = fresh();
  await expect(
    runTraining({
      config, pool: pool(), out: finished, resume: 'auto',
      hooks: {
        log: (m) => firstLogs.push(m),
        onEpochEnd: async (_r, record) => {
          if (record.epoch === 1) throw new Crash('simulated crash');
        },
      },
    }),
  ).rejects.toBeInstanceOf(Crash);
  runId = stateOf(finished, 'ckpt-p1-e0001').runId ?? '';
  await runTraining({ config, pool: pool(), out: finished, resume: 'auto', hooks: { log: (m) => resumeLogs.push(m) } });
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a checkpoint names the run that wrote it', () => {
  it('a new run (here under --resume auto in an empty folder) stamps a fresh id; its resume keeps it, in every checkpoint and report.json', () => {
    expect(runId).toMatch(UUID);
    expect(firstLogs).toContain(`run ${runId} starts in ${finished}`);
    expect(resumeLogs).toContain(`resuming from ${path.join(finished, 'checkpoints', 'ckpt-p1-e0001')} (run ${runId})`);
    expect(stateOf(finished, 'ckpt-p1-e0002').runId).toBe(runId);
    expect(reportOf(finished).runId).toBe(runId);
  });

  it('another new run gets another id; a checkpoint written before run ids still resumes, and the run continues under a new id', async () => {
    // The first epoch's checkpoint of the finished run, as an old version wrote it: no runId.
    const old = fresh();
    mkdirSync(path.join(old, 'checkpoints'), { recursive: true });
    const ckpt = path.join(old, 'checkpoints', 'ckpt-p1-e0001');
    cpSync(path.join(finished, 'checkpoints', 'ckpt-p1-e0001'), ckpt, { recursive: true });
    const { runId: _dropped, ...state } = JSON.parse(readFileSync(path.join(ckpt, 'state.json'), 'utf8'));
    const stateJson = JSON.stringify(state, null, 1);
    writeFileSync(path.join(ckpt, 'state.json'), stateJson);
    const manifest = JSON.parse(readFileSync(path.join(ckpt, 'manifest.json'), 'utf8'));
    manifest.files['state.json'] = sha256(stateJson);
    writeFileSync(path.join(ckpt, 'manifest.json'), JSON.stringify(manifest));
    const loaded = await findLatestCheckpoint(path.join(old, 'checkpoints'));
    expect(loaded?.state.runId).toBeUndefined();
    loaded?.model.dispose();
    expect(inspectRunFolder(old).newestGood).toMatchObject({ name: 'ckpt-p1-e0001', good: true, phase: 'cifar10', epoch: 1, epochs: 2, seed: 5 });
    const logs: string[] = [];
    await runTraining({ config, pool: pool(), out: old, resume: true, hooks: { log: (m) => logs.push(m) } });
    const id = stateOf(old, 'ckpt-p1-e0002').runId;
    expect(id).toMatch(UUID);
    expect(id).not.toBe(runId);
    expect(logs).toContain(`${ckpt} has no run id (written before run ids): the run continues as run ${id}`);
    expect(reportOf(old).runId).toBe(id);
  }, 60_000);
});

describe('a new run refuses a folder that holds another run', () => {
  it("the issue's example: --out naming a finished run's folder without --resume is refused at start, naming what it holds and the three ways out; nothing there changes", async () => {
    const before = tree(finished);
    const expected =
      `--out ${finished} already holds another run: a checkpoint of run ${runId} at cifar10 epoch 2 of 2, seed 5 (checkpoints/ckpt-p1-e0002); ` +
      `the report.json of a finished run (run ${runId}, seed 5); also model-cifar10, model-finetune. ` +
      `A new run there would mix with it. Either continue that run with --resume ${finished} (or --resume --out ${finished}), ` +
      `or start a new run there with --overwrite (the old run's files are moved into ${finished}/previous-<timestamp>/, nothing is deleted), or give another --out`;
    expect(() => checkRunFolder(finished, 'new')).toThrow(expected);
    // runTraining refuses it too, before it loads anything (every caller, not only the command line)
    const logs: string[] = [];
    await expect(runTraining({ config: { ...config, seed: 99 }, pool: pool(), out: finished, hooks: { log: (m) => logs.push(m) } })).rejects.toMatchObject({ code: 'E_TRAIN_CONFIG', message: expected });
    expect(logs).toEqual([]);
    expect(tree(finished)).toEqual(before);
    // --resume and --resume auto continue it
    expect(checkRunFolder(finished, 'resume').start).toBe('resume');
    expect(checkRunFolder(finished, 'auto').start).toBe('resume');
  });

  it('a folder with only torn checkpoints: refused for a new run, for --resume and for --resume auto', () => {
    const torn = fresh();
    cpSync(path.join(finished, 'checkpoints'), path.join(torn, 'checkpoints'), { recursive: true });
    for (const name of ['ckpt-p1-e0001', 'ckpt-p1-e0002']) {
      const weights = path.join(torn, 'checkpoints', name, 'weights.bin');
      writeFileSync(weights, readFileSync(weights).subarray(0, 1000));
    }
    const holds = '2 checkpoints that do not verify (ckpt-p1-e0002: weights.bin does not match its sha256 (torn or corrupted); ckpt-p1-e0001: weights.bin does not match its sha256 (torn or corrupted))';
    expect(() => checkRunFolder(torn, 'new')).toThrow(`--out ${torn} already holds another run: ${holds}. A new run there would mix with it.`);
    expect(() => checkRunFolder(torn, 'auto')).toThrow(
      `--resume auto: ${torn} holds ${holds}, but no checkpoint that verifies: there is nothing to continue, and a new run would mix with what is there. ` +
        `Start a new run there with --overwrite (the old run's files are moved into ${torn}/previous-<timestamp>/, nothing is deleted), or give another --out`,
    );
    expect(() => checkRunFolder(torn, 'resume')).toThrow(`--resume: ${torn} holds ${holds}, but no checkpoint that verifies: nothing to resume.`);
  });

  it('a folder with a finished run\'s report.json and models but no checkpoints: refused for a new run and for --resume auto', () => {
    const report = fresh();
    mkdirSync(report);
    for (const name of ['report.json', 'model-finetune']) cpSync(path.join(finished, name), path.join(report, name), { recursive: true });
    const holds = `the report.json of a finished run (run ${runId}, seed 5); also model-finetune`;
    expect(() => checkRunFolder(report, 'new')).toThrow(`--out ${report} already holds another run: ${holds}. A new run there would mix with it.`);
    expect(() => checkRunFolder(report, 'auto')).toThrow(`--resume auto: ${report} holds ${holds}, but no checkpoint that verifies`);
    expect(() => checkRunFolder(report, 'resume')).toThrow(`--resume: ${report} holds ${holds}, but no checkpoint that verifies: nothing to resume.`);
  });

  it('missing, empty and unrelated-files folders take a new run (the files are left alone); --resume there has nothing to continue', () => {
    const missing = fresh();
    expect(checkRunFolder(missing, 'new').start).toBe('new');
    expect(checkRunFolder(missing, 'auto').start).toBe('new');
    expect(() => checkRunFolder(missing, 'resume')).toThrow(`--resume: ${missing} does not exist: nothing to resume. Leave out --resume to start a new run there`);
    const empty = fresh();
    mkdirSync(empty);
    expect(checkRunFolder(empty, 'new')).toMatchObject({ start: 'new', state: { kind: 'empty' } });
    const foreign = fresh();
    mkdirSync(path.join(foreign, 'notes'), { recursive: true });
    writeFileSync(path.join(foreign, 'slurm-42.out'), 'job log\n');
    expect(checkRunFolder(foreign, 'new')).toMatchObject({ start: 'new', state: { kind: 'foreign', otherEntries: ['notes', 'slurm-42.out'] } });
    expect(checkRunFolder(foreign, 'auto').start).toBe('new');
    expect(() => checkRunFolder(foreign, 'resume')).toThrow(`--resume: ${foreign} holds no checkpoint: nothing to resume. Leave out --resume to start a new run there`);
    // a run stopped while writing its first checkpoint: only a temporary folder under checkpoints/
    const stopped = fresh();
    mkdirSync(path.join(stopped, 'checkpoints', 'ckpt-p1-e0001.tmp-123-456'), { recursive: true });
    expect(checkRunFolder(stopped, 'auto')).toMatchObject({ start: 'new', state: { kind: 'foreign', runEntries: [] } });
    expect(checkRunFolder(stopped, 'new').start).toBe('new');
  });

  it('a file in place of the folder is refused, whatever the mode but --overwrite', () => {
    const file = fresh();
    writeFileSync(file, 'not a folder');
    for (const mode of ['new', 'auto', 'resume'] as const) {
      expect(() => checkRunFolder(file, mode)).toThrow(`--out ${file} is a file, not a folder: give another --out (or --overwrite to move the file aside to ${file}.old-<timestamp>)`);
    }
    expect(checkRunFolder(file, 'overwrite').start).toBe('new');
  });
});

describe('--overwrite moves the old contents aside, never deletes them', () => {
  const now = new Date('2026-12-01T05:06:07.089Z');

  it('moves the run\'s own entries into <out>/previous-<timestamp>/, byte-identical; the user\'s files stay; a second move the same millisecond gets its own name', () => {
    const out = fresh();
    cpSync(finished, out, { recursive: true });
    const runTree = tree(out);
    writeFileSync(path.join(out, 'my-notes.txt'), 'keep me\n');
    const aside = moveRunFolderAside(out, now);
    expect(aside).toBe(path.join(out, 'previous-2026-12-01T05-06-07-089Z'));
    expect(tree(aside as string)).toEqual(runTree);
    expect(readdirSync(out).sort()).toEqual(['my-notes.txt', 'previous-2026-12-01T05-06-07-089Z']);
    expect(readFileSync(path.join(out, 'my-notes.txt'), 'utf8')).toBe('keep me\n');
    expect(inspectRunFolder(out).kind).toBe('foreign');
    expect(checkRunFolder(out, 'new').start).toBe('new');
    writeFileSync(path.join(out, 'report.json'), '{}');
    expect(moveRunFolderAside(out, now)).toBe(path.join(out, 'previous-2026-12-01T05-06-07-089Z-1'));
    expect(moveRunFolderAside(out, now)).toBeNull(); // only the user's files and earlier runs: nothing to move
    expect(moveRunFolderAside(fresh(), now)).toBeNull(); // missing
  });

  it('never renames the folder itself: an --out that is a symlink stays the link, its target keeps the moved run', () => {
    const target = fresh();
    cpSync(finished, target, { recursive: true });
    const link = `${fresh()}-link`;
    symlinkSync(target, link);
    const aside = moveRunFolderAside(link, now);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readdirSync(target)).toEqual(['previous-2026-12-01T05-06-07-089Z']);
    expect(aside).toBe(path.join(link, 'previous-2026-12-01T05-06-07-089Z'));
  });

  it('a file in place of the folder moves aside too, and a folder takes its place', () => {
    const file = fresh();
    writeFileSync(file, 'not a folder');
    const aside = moveRunFolderAside(file, now);
    expect(readFileSync(aside as string, 'utf8')).toBe('not a folder');
    expect(statSync(file).isDirectory()).toBe(true);
    expect(existsSync(`${file}.old-2026-12-01T05-06-07-089Z`)).toBe(true);
  });
});
