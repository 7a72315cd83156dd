import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findLatestCheckpoint } from '@cifar-dist/training';
import { DATA, REPO, watchProcess, type TrainProcess } from './e2e-support.js';

/*
 * Stopping a run as users and schedulers do: `npm run train -- …` started from the repo root
 * exactly as a user types it (npm -> sh -c -> tsx -> node -> 2 workers), then SIGINT, SIGTERM,
 * SIGHUP or SIGKILL sent to npm, to the tsx wrapper or to the node process (launcher and
 * coordinator). Each time, within a few seconds: no process of the tree is left, the
 * coordinator's /dev/shm folder is gone, the newest checkpoint verifies, and npm's exit status is
 * 128 + the signal's number (its `$?` in a shell). Runs are short (800 images, wasm): a signal
 * ends a run, so each case is one run.
 */

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cifar-dist-signals-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const runArgs = (out: string, extra: string[] = []): string[] => [
  '--workers', '2', '--backend', 'wasm', '--data-dir', DATA, '--epochs', '3', '--finetune-epochs', '1',
  '--train-limit', '800', '--test-limit', '200', '--no-eval-train', '--out', out, ...extra,
];

/** `npm run train -- <args>` from the repo root, as a user starts it. */
function npmTrain(args: string[], env: NodeJS.ProcessEnv = {}): TrainProcess {
  const child = spawn('npm', ['run', 'train', '--', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  return watchProcess(child, 'npm run train');
}

/** Exit status as a shell reports it: the code, or 128 + the signal's number. */
function exitStatus(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const done = (): void => resolve(child.exitCode ?? 128 + (constants.signals[child.signalCode as NodeJS.Signals] ?? 0));
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', done);
  });
}

interface Proc {
  pid: number;
  /** Start time (/proc/<pid>/stat field 22): tells a reused pid apart. */
  start: string;
  argv: string[];
}

function stat(pid: number): { state: string; start: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] as string, start: f[19] as string };
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSyncSafe(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function proc(pid: number): Proc | null {
  const s = stat(pid);
  if (s === null) return null;
  let argv: string[] = [];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    // gone meanwhile
  }
  return { pid, start: s.start, argv };
}

/** npm and every process below it. */
function tree(root: number): Proc[] {
  const out: Proc[] = [];
  const walk = (pid: number): void => {
    const p = proc(pid);
    if (p === null) return;
    out.push(p);
    for (const c of childrenOf(pid)) walk(c);
  };
  walk(root);
  return out;
}

const alive = (p: Proc): boolean => {
  const s = stat(p.pid);
  return s !== null && s.start === p.start && s.state !== 'Z';
};

/** The run's processes by role, from npm's tree: npm, sh -c, tsx, node (launch.ts), the workers. */
function roles(procs: Proc[]): { npm: Proc; sh?: Proc; tsx: Proc; node: Proc; workers: Proc[] } {
  const find = (test: (a: string[]) => boolean): Proc | undefined => procs.find((p) => test(p.argv));
  const npm = procs[0] as Proc;
  const sh = find((a) => /(^|\/)(sh|dash|bash)$/.test(a[0] ?? '') && a[1] === '-c');
  const tsx = find((a) => a.some((x) => x.endsWith('/.bin/tsx') || /tsx\/dist\/cli\.m?js$/.test(x)));
  const node = find((a) => a.some((x) => x.endsWith('apps/coordinator/src/launch.ts')) && !a.some((x) => x.endsWith('/.bin/tsx')));
  const workers = procs.filter((p) => p.argv.some((x) => x.endsWith('apps/worker/src/main.ts')));
  if (tsx === undefined || node === undefined) throw new Error(`no tsx/node in the tree:\n${procs.map((p) => `${p.pid} ${p.argv.join(' ')}`).join('\n')}`);
  return { npm, ...(sh ? { sh } : {}), tsx, node, workers };
}

async function until(test: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!test()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

const shmFolders = (pid: number): string[] => readdirSyncSafe('/dev/shm').filter((n) => n.startsWith(`cifar-dist-${pid}-`));

type Target = 'npm' | 'tsx' | 'node';
type Signal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGKILL';
/** When to signal: once the first checkpoint exists (mid-run), or as soon as the workers are started (nothing written yet). */
type When = 'after-checkpoint' | 'at-start';

/** The longest a stop may take, from the signal to the last process of the tree gone. */
const STOP_BOUND_MS = 8_000;

interface Stopped {
  out: string;
  output: string;
  status: number;
  stopMs: number;
  roles: ReturnType<typeof roles>;
}

/** Starts a run, signals `target` at `when`, and checks the common outcome. */
async function stopRun(target: Target, signal: Signal, when: When, out: string, extra: string[] = []): Promise<Stopped> {
  const run = npmTrain(runArgs(out, extra));
  const status = exitStatus(run.child);
  try {
    if (when === 'after-checkpoint') {
      // The first checkpoint this run writes (a resumed run's folder holds older ones).
      await run.waitFor(/checkpoint \S*\/checkpoints\/ckpt-p\d+-e\d+/, 120_000);
    } else {
      await run.waitFor(/starting 2 worker process/, 60_000);
    }
    expect(run.child.exitCode, run.output().slice(-2000)).toBeNull();
    // Both workers are spawned right after the line above: wait until they are in the tree.
    let procs: Proc[] = [];
    await until(() => {
      procs = tree(run.child.pid as number);
      return procs.filter((p) => p.argv.some((x) => x.endsWith('apps/worker/src/main.ts'))).length === 2;
    }, 10_000, 'two workers in the tree');
    const r = roles(procs);
    const t0 = Date.now();
    process.kill(r[target].pid, signal);
    const code = await Promise.race([status, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`npm still running ${STOP_BOUND_MS} ms after ${signal} to ${target}:\n${run.output().slice(-3000)}`)), STOP_BOUND_MS))]);
    await until(() => procs.every((p) => !alive(p)), Math.max(0, STOP_BOUND_MS - (Date.now() - t0)), `every process gone after ${signal} to ${target} (left: ${procs.filter(alive).map((p) => `${p.pid} ${p.argv.slice(0, 3).join(' ')}`).join('; ')})`);
    const stopMs = Date.now() - t0;
    expect(shmFolders(r.node.pid), `shared memory of coordinator ${r.node.pid}`).toEqual([]);
    return { out, output: run.output(), status: code, stopMs, roles: r };
  } finally {
    // Never leave a run behind when an assertion failed.
    for (const p of tree(run.child.pid as number)) if (alive(p)) process.kill(p.pid, 'SIGKILL');
  }
}

/** The newest checkpoint folder present verifies (none torn), and is the one --resume takes. */
async function expectNewestCheckpointGood(out: string): Promise<string> {
  const root = path.join(out, 'checkpoints');
  const names = (await readdir(root)).filter((n) => /^ckpt-p\d+-e\d+$/.test(n)).sort();
  expect(names.length).toBeGreaterThan(0);
  const skipped: string[] = [];
  const latest = await findLatestCheckpoint(root, (msg) => skipped.push(msg));
  expect(skipped).toEqual([]);
  expect(path.basename(latest?.dir ?? '')).toBe(names.at(-1));
  latest?.model.dispose();
  return names.at(-1) as string;
}

const CODE: Record<Signal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129, SIGKILL: 137 };

/*
 * Each signal to each process (SIGKILL to node is the resume case below). at-start runs are
 * stopped before anything is written, the others once the first checkpoint exists (mid-epoch 2).
 */
const cases: Array<[Signal, Target, When]> = [
  ['SIGINT', 'npm', 'after-checkpoint'],
  ['SIGTERM', 'npm', 'after-checkpoint'],
  ['SIGHUP', 'npm', 'at-start'],
  ['SIGKILL', 'npm', 'after-checkpoint'],
  ['SIGINT', 'tsx', 'after-checkpoint'],
  ['SIGTERM', 'tsx', 'after-checkpoint'],
  ['SIGHUP', 'tsx', 'at-start'],
  ['SIGKILL', 'tsx', 'after-checkpoint'],
  ['SIGINT', 'node', 'after-checkpoint'],
  ['SIGTERM', 'node', 'after-checkpoint'],
  ['SIGHUP', 'node', 'at-start'],
];

/**
 * Whether the node process is sure to stop by itself (log, let a save finish, delete what it made).
 * SIGINT and SIGTERM that reach it through tsx's relay (sent to npm or to tsx) are not: tsx
 * SIGKILLs a child that has not acknowledged a relayed signal within 30 ms (its event loop busy),
 * and then the workers and shared memory are cleaned up without it (see shutdown.ts).
 */
const surelyGraceful = (signal: Signal, target: Target): boolean =>
  target === 'node' ? signal !== 'SIGKILL' : signal === 'SIGHUP' || signal === 'SIGKILL';

describe('stopping `npm run train` (real processes)', () => {
  it.each(cases)('%s to %s (%s): the whole tree ends, shared memory and checkpoints are clean, the status is 128 + signal', async (signal, target, when) => {
    const parent = await tempDir();
    // A folder the run creates: at-start runs write nothing, and the folder goes with them.
    const out = path.join(parent, 'run');
    const r = await stopRun(target, signal, when, out);
    expect(r.status, r.output.slice(-3000)).toBe(CODE[signal]);
    expect(r.stopMs).toBeLessThan(STOP_BOUND_MS);
    if (when === 'after-checkpoint') await expectNewestCheckpointGood(out);
    else expect(existsSync(out), 'a run folder the run created and wrote nothing into').toBe(false);
    const graceful = /: stopping the workers and the coordinator/.test(r.output);
    if (surelyGraceful(signal, target)) expect(graceful, r.output.slice(-3000)).toBe(true);
    process.stderr.write(`${signal} to ${target} (${when}): status ${r.status}, tree gone in ${r.stopMs} ms, ${graceful ? 'stopped by itself' : 'killed by tsx'}\n`);
  });

  it('SIGKILL to node after a resume: the temp folders of interrupted saves are removed when a run starts there, nothing else', async () => {
    // A run stopped mid-epoch, then the leftovers of saves killed half-way planted in its folder.
    const out = await tempDir();
    const first = await stopRun('node', 'SIGTERM', 'after-checkpoint', out);
    expect(first.status).toBe(143);
    const newest = await expectNewestCheckpointGood(out);
    const dead = spawnSync('true').pid as number; // a pid that no longer runs
    const ms = Date.now();
    const ckpt = path.join(out, 'checkpoints');
    const stale = [
      path.join(ckpt, `ckpt-p1-e0007.tmp-${dead}-${ms}`),
      path.join(ckpt, `${newest}.old-${dead}-${ms}`),
      path.join(out, `model-cifar10.tmp-${dead}-${ms}`),
    ];
    const staleFile = path.join(out, `report.json.tmp-${dead}-${ms}`);
    const kept = [
      path.join(ckpt, `ckpt-p1-e0008.tmp-${process.pid}-${ms}`), // a live process's save in progress
      path.join(ckpt, `backup.old-${dead}-${ms}`), // not a name a run writes
      path.join(out, `notes.tmp-${dead}-${ms}`),
      path.join(out, 'my-data.tmp'),
    ];
    for (const d of [...stale, ...kept]) {
      await mkdir(d, { recursive: true });
      await writeFile(path.join(d, 'manifest.json'), '{"torn":');
    }
    await writeFile(staleFile, '{"torn":');
    const second = await stopRun('node', 'SIGKILL', 'after-checkpoint', out, ['--resume', out]);
    expect(second.status, second.output.slice(-3000)).toBe(137);
    process.stderr.write(`SIGKILL to node (after a resume): status ${second.status}, tree gone in ${second.stopMs} ms\n`);
    for (const f of [...stale, staleFile]) expect(existsSync(f), f).toBe(false);
    for (const d of kept) expect(existsSync(d), d).toBe(true);
    expect(second.output).toMatch(/removed .*ckpt-p1-e0007\.tmp-.*interrupted save/);
    // Killed outright, it may have left a temp folder of its own: the newest good checkpoint stands.
    await expectNewestCheckpointGood(out);
  });
});

describe('run folders of failed runs', () => {
  it('a run that fails before writing anything leaves no runs/<timestamp>/ folder; an --out that existed is kept', async () => {
    // A data dir whose folders are there but hold no batch files: the run fails once it reads them.
    const data = await tempDir();
    await mkdir(path.join(data, 'cifar-10-batches-bin'));
    await mkdir(path.join(data, 'cifar-100-binary'));
    const parent = await tempDir();
    const fresh = path.join(parent, 'new-run');
    const existing = await tempDir();
    const fail = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; output: string }> => {
      const run = npmTrain(['--workers', '1', '--backend', 'wasm', '--epochs', '1', '--finetune-epochs', '0', ...args], env);
      return exitStatus(run.child).then((status) => ({ status, output: run.output() }));
    };
    // Workers that cannot start (no such worker program): every worker exits, the run fails (exit 5).
    const noWorkers = { CIFAR_DIST_WORKER_BUNDLE: path.join(parent, 'no-such-worker.js') };
    const [badData, created, named] = await Promise.all([
      fail(['--data-dir', data]),
      fail(['--data-dir', DATA, '--out', fresh], noWorkers),
      fail(['--data-dir', DATA, '--out', existing], noWorkers),
    ]);
    // The default folder, runs/<timestamp> in the repo: created for the run, removed with it.
    expect(badData.status, badData.output.slice(-2000)).toBe(3);
    const folder = /run directory (\S+)/.exec(badData.output)?.[1];
    expect(folder, badData.output.slice(-2000)).toMatch(/\/runs\/[^/]+$/);
    expect(existsSync(folder as string)).toBe(false);
    expect(badData.output).toMatch(/the run wrote nothing: removed its empty folder/);
    // A folder named with --out that the run created: removed likewise.
    expect(created.status, created.output.slice(-2000)).toBe(5);
    expect(existsSync(fresh)).toBe(false);
    // A folder the user named, there before the run: kept, even empty.
    expect(named.status, named.output.slice(-2000)).toBe(5);
    expect(existsSync(existing)).toBe(true);
  });
});
