import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeBackend } from './backend-probe.js';
import { DATA, REPO, startApp, train, watchProcess } from './e2e-support.js';
import { FINISHED_RUN_ID, finishedRun, tree } from './run-folder-fixtures.js';

/*
 * The real entry points (npm run train / coordinator / worker / node, as tsx processes) refuse
 * what the options alone say cannot work, before anything starts: no data is read or downloaded,
 * no socket is opened, no worker is spawned, the run folder is left as it was.
 */

const work = mkdtempSync(path.join(tmpdir(), 'cifar-dist-start-checks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(work, `out-${++n}`);

/** Lines that show something started: none may appear on a refusal. */
const STARTED = /starting \d+ worker|coordinator listening|not found in .*; downloading|worker w\d joined/;

/** The training options of a short run, besides the one under test. */
const SHORT = ['--workers', '1', '--backend', 'wasm', '--epochs', '1', '--finetune-epochs', '0', '--train-limit', '64', '--test-limit', '20'];

describe('npm run train / coordinator refuse at start', () => {
  it("the issue's example: --out naming a finished run's folder, without --resume: exit 2, the folder, what it holds and the three ways out; nothing started, nothing changed", async () => {
    const out = fresh();
    await finishedRun(out);
    const before = tree(out);
    const holds =
      `--out ${out} already holds another run: a checkpoint of run ${FINISHED_RUN_ID} at finetune epoch 1 of 1, seed 42 (checkpoints/ckpt-p2-e0001); ` +
      `the report.json of a finished run (run ${FINISHED_RUN_ID}, seed 42). A new run there would mix with it. ` +
      `Either continue that run with --resume ${out} (or --resume --out ${out}), ` +
      `or start a new run there with --overwrite (the old run's files are moved into ${out}/previous-<timestamp>/, nothing is deleted), or give another --out`;
    const launched = await train(['--out', out, '--data-dir', DATA, '--seed', '7', ...SHORT]);
    expect(launched.code).toBe(2);
    expect(launched.output).toContain(`train: ${holds}`);
    expect(launched.output).not.toMatch(STARTED);
    const coordinator = startApp('main', ['--out', out, '--data-dir', DATA, '--seed', '7']);
    expect(await coordinator.exited).toBe(2);
    expect(coordinator.output()).toContain(`coordinator: ${holds}`);
    expect(coordinator.output()).not.toMatch(STARTED);
    expect(tree(out)).toEqual(before);
  });

  it("the issue's example: --deterministic --micro-batch 1 --batch-size 16 --workers 1: exit 2 naming the options, the frame and the 64 MiB limit; --out not even created", async () => {
    const out = fresh();
    const r = await train(['--out', out, '--data-dir', DATA, '--deterministic', '--micro-batch', '1', '--batch-size', '16', ...SHORT]);
    expect(r.code).toBe(2);
    expect(r.output).toContain(
      'train: --deterministic --micro-batch 1 --batch-size 16 --grad-dtype float32: a worker that is given the whole global batch (the only one left, or the fastest) ' +
        'answers with 16 micro-batch gradients of 1,250,858 float32 values (cifar10, 10 classes), a frame of 80,055,100 bytes, above the message limit of 67,108,864 bytes (64 MiB); ' +
        'such a run would never finish a step. What fits: --batch-size 13 or less; or --micro-batch 2 or more; or --grad-dtype float16 or bfloat16 (half the gradient bytes).',
    );
    expect(r.output).not.toMatch(STARTED);
    expect(existsSync(out)).toBe(false);
  });

  it('a --data-dir that does not exist: exit 3, no folder created, nothing downloaded', async () => {
    const out = fresh();
    const missing = path.join(work, 'data-typo');
    const r = await train(['--out', out, '--data-dir', missing, ...SHORT]);
    expect(r.code).toBe(3);
    expect(r.output).toContain(`train: --data-dir ${missing}: ${missing} does not exist.`);
    expect(r.output).not.toMatch(STARTED);
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(out)).toBe(false);
  });

  it('--backend names a rung the workers cannot start here: exit 2 with the reason, before any worker or socket', async () => {
    expect(await probeBackend('cpu')).toEqual({ ok: true, device: 'CPU (tfjs cpu backend, JavaScript)' });
    const probe = await probeBackend('tensorflow');
    expect(probe).not.toBeNull();
    if (probe?.ok === false) {
      // tfjs-node's native binding is absent (the usual case on a machine without libtensorflow)
      expect(probe.reason).toContain("import('@tensorflow/tfjs-node') failed");
      const out = fresh();
      const r = await train(['--out', out, '--data-dir', DATA, ...SHORT, '--backend', 'tensorflow']);
      expect(r.code).toBe(2);
      expect(r.output).toContain(`train: --backend tensorflow: a worker cannot start it on this machine (${probe.reason}); leave out --backend to let each worker take the fastest backend it has`);
      expect(r.output).not.toMatch(STARTED);
      expect(existsSync(out)).toBe(false);
    } else {
      expect(probe?.device).toBe('CPU (libtensorflow)');
    }
  });
});

/** Runs apps/worker/src/main.ts with `args` to its exit. */
async function worker(args: string[]): Promise<{ code: number | null; output: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(REPO, 'apps/worker/src/main.ts'), ...args], {
    cwd: REPO,
    env: { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO, 'apps/worker/tsconfig.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = watchProcess(child, 'worker');
  const code = await p.exited;
  return { code, output: p.output(), ms: performance.now() - started };
}

describe('one unit rule for every duration option, stated in each help', () => {
  const rule = 'a duration: 500ms, 30s, 2m, 1h or 1m30s';
  const flat = (s: string): string => s.replace(/\s+/g, ' ');

  it('worker: --reconnect-timeout takes 1500ms (and a bare 1.5, in seconds as before); a bad one is refused naming the rule', async () => {
    const help = await worker(['--help']);
    expect(flat(help.output)).toContain(`--reconnect-timeout <duration> give up after this long without the coordinator (${rule}; a bare number is seconds) (default: 5m)`);
    const bad = await worker(['--connect', 'http://127.0.0.1:1', '--reconnect-timeout', '30x']);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain(`error: option '--reconnect-timeout <duration>' argument '30x' is invalid. --reconnect-timeout: '30x' is not a duration (${rule}; a bare number is seconds)`);
    // Nothing listens on port 1: the worker gives up after exactly the duration given.
    for (const value of ['1500ms', '1.5']) {
      const r = await worker(['--connect', 'http://127.0.0.1:1', '--backend', 'cpu', '--reconnect-timeout', value]);
      expect(r.code).toBe(1);
      expect(r.output).toContain('worker: no connection to the coordinator at http://127.0.0.1:1 for 1500 ms: giving up');
    }
  });

  it('node: --join-timeout, --request-timeout and --reconnect-timeout; train: --request-timeout', async () => {
    const node = startApp('node', ['--help']);
    await node.exited;
    const help = flat(node.output());
    expect(help).toContain(`--join-timeout <duration> how long to wait for the local workers to start before joining with those that did (${rule}; a bare number is seconds) (default: 3m)`);
    expect(help).toMatch(new RegExp(`--request-timeout <duration> a local worker that does not answer a request within this is dropped .*\\(${rule}; a bare number is milliseconds\\)`));
    expect(help).toContain(`--reconnect-timeout <duration> give up after this long without the coordinator (${rule}; a bare number is seconds) (default: 5m)`);
    const bad = startApp('node', ['--connect', 'http://127.0.0.1:1', '--join-timeout', '0s']);
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toContain(`error: option '--join-timeout <duration>' argument '0s' is invalid. --join-timeout: '0s' is shorter than 1 ms: give a positive duration (${rule}; a bare number is seconds)`);
    const trainHelp = startApp('launch', ['--help']);
    await trainHelp.exited;
    expect(flat(trainHelp.output())).toContain(`--request-timeout <duration> a worker that does not answer a request within this is dropped (${rule}; a bare number is milliseconds) (default: 2m)`);
  });
});
