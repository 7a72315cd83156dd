/**
 * Two hosts for real: the coordinator in one network namespace, two workers in another, joined by
 * a veth pair (netns.ts). The workers' namespace has its own /dev/shm, so every frame crosses the
 * link as it would between two machines. Then the same run with the two workers behind a per-node
 * stage (`npm run node`) on that host: they reach it through that host's shared memory, and only
 * one gradient per step crosses the link. Needs root and `ip netns`; skipped with the reason where
 * either is missing, and failed instead under CI.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '@cifar-dist/training';
import { DATA, REPO, watchProcess, type TrainProcess } from './e2e-support.js';
import { createLab, netnsSupport, type NetnsLab } from './netns.js';

const COORDINATOR = path.join(REPO, 'apps/coordinator/src/main.ts');
const WORKER = path.join(REPO, 'apps/worker/src/main.ts');
const NODE_STAGE = path.join(REPO, 'apps/coordinator/src/node.ts');
/** The 10-class model's weights as float32: what must cross the link for every worker. */
const WEIGHTS_BYTES = 1_250_858 * 4;

const support = await netnsSupport();
if (!support.ok) {
  const msg = `two-hosts e2e: ${support.reason}`;
  const ci = process.env['CI'];
  if (ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false') throw new Error(`${msg} (CI is set: not skipping)`);
  console.warn(`${msg}: skipped`);
}

/** Node with tsx, as `npm run coordinator` / `npm run worker` start it. */
function tsxArgv(script: string, tsconfig: string, args: string[]): { argv: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO, tsconfig) };
  delete env['CIFAR_DIST_TOKEN'];
  return { argv: [process.execPath, '--import', import.meta.resolve('tsx'), script, ...args], env };
}

let lab: NetnsLab | null = null;
/** What the flat run moved over the link (the per-node run is compared with it). */
let flatRun: { rx: number; tx: number; steps: number[] } | null = null;
const dirs: string[] = [];
afterAll(async () => {
  await lab?.teardown();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe.skipIf(!support.ok)('two hosts: coordinator and workers in separate network namespaces', () => {
  it('refuses workers without the right token, then trains with two workers whose every frame crosses the veth', async () => {
    const t0 = Date.now();
    lab = await createLab({ hub: 'coord', hosts: ['host1'] });
    const out = await mkdtemp(path.join(tmpdir(), 'cifar-dist-two-hosts-'));
    dirs.push(out);
    const token = randomBytes(16).toString('hex');
    const host = lab.address('coord');
    const procs: TrainProcess[] = [];
    const start = (role: string, name: string, script: string, tsconfig: string, args: string[]): TrainProcess => {
      const { argv, env } = tsxArgv(script, tsconfig, args);
      const w = watchProcess((lab as NetnsLab).spawn(role, argv, { cwd: REPO, env }), name);
      procs.push(w);
      return w;
    };
    try {
      const coordinator = start('coord', 'coordinator', COORDINATOR, 'apps/coordinator/tsconfig.json', [
        '--host', host, '--port', '0', '--token', token, '--out', out, '--data-dir', DATA,
        '--epochs', '1', '--finetune-epochs', '1', '--train-limit', '600', '--test-limit', '300',
        '--no-eval-train', '--min-workers', '2',
      ]);
      const url = (await coordinator.waitFor(/--connect (http:\/\/[0-9.]+:\d+)/))[1] as string;
      expect(url.startsWith(`http://${host}:`)).toBe(true);
      const worker = (id: string, extra: string[]): TrainProcess =>
        start('host1', id, WORKER, 'apps/worker/tsconfig.json', ['--connect', url, '--worker-id', id, '--backend', 'wasm', '--reconnect-timeout', '60', ...extra]);

      // Refused before anything of the run leaves: no token, and a wrong one.
      const before = await lab.counters('host1');
      const refused = [worker('refused-none', []), worker('refused-wrong', ['--token', `${token}x`])];
      const codes = await Promise.all(refused.map((w) => w.exited));
      for (const [i, w] of refused.entries()) {
        expect(codes[i], w.output()).not.toBe(0);
        expect(w.output()).toMatch(/E_PROTO_TOKEN/);
        expect(w.output()).toMatch(/token refused/);
      }
      await coordinator.waitFor(/(refused [^\n]*: bad token[\s\S]*){2}/, 10_000);
      expect(coordinator.output()).not.toMatch(/worker refused-\w+ joined/);
      const afterRefusals = await lab.counters('host1');
      // a websocket handshake each, far from the 5 MB of weights a joined worker is sent
      const refusedRx = afterRefusals.host.rxBytes - before.host.rxBytes;
      expect(refusedRx).toBeLessThan(256 * 1024);

      // Two workers with the token, in the other namespace, each with that namespace's /dev/shm.
      const workers = [worker('netns-w0', ['--token', token]), worker('netns-w1', ['--token', token])];
      const code = await coordinator.exited;
      if (code !== 0) console.error(coordinator.output().slice(-4000));
      expect(code).toBe(0);
      for (const w of workers) expect(await w.exited, w.output().slice(-2000)).toBe(0);

      const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as RunReport;
      expect(report.phases.map((p) => p.name)).toEqual(['cifar10', 'finetune']);
      for (const phase of report.phases) {
        expect(phase.steps).toBeGreaterThan(0);
        expect(phase.history.every((h) => h.workers === 2)).toBe(true);
      }
      expect(report.workers.map((w) => w.workerId).sort()).toEqual(['netns-w0', 'netns-w1']);

      // No shared-memory shortcut: the coordinator accepted none, the workers joined without one.
      const log = coordinator.output();
      expect(log).toMatch(/worker netns-w0 joined/);
      expect(log).toMatch(/worker netns-w1 joined/);
      expect(log).not.toMatch(/large frames through shared memory/);
      for (const w of workers) {
        expect(w.output()).toMatch(/joined run \S+ as rank \d+/);
        expect(w.output()).not.toMatch(/large frames through shared memory/);
      }
      // ...so the weights and gradients went through the veth, both ways.
      const after = await lab.counters('host1');
      const rx = after.host.rxBytes - afterRefusals.host.rxBytes;
      const tx = after.host.txBytes - afterRefusals.host.txBytes;
      console.log(`two-hosts e2e: ${refusedRx} bytes reached the host namespace while the two workers were refused; then it received ${(rx / 1e6).toFixed(1)} MB, sent ${(tx / 1e6).toFixed(1)} MB; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      expect(rx).toBeGreaterThan(2 * WEIGHTS_BYTES);
      expect(tx).toBeGreaterThan(2 * WEIGHTS_BYTES);
      flatRun = { rx, tx, steps: report.phases.map((p) => p.steps) };
    } finally {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await lab.teardown();
    }
  }, 240_000);

  it('the same run with the two workers behind a per-node stage: they use the host\'s shared memory, and half the bytes cross the link', async () => {
    if (flatRun === null) throw new Error('the flat run (previous test) did not complete');
    lab = await createLab({ hub: 'coord', hosts: ['host1'] });
    const out = await mkdtemp(path.join(tmpdir(), 'cifar-dist-two-hosts-node-'));
    dirs.push(out);
    const token = randomBytes(16).toString('hex');
    const host = lab.address('coord');
    const procs: TrainProcess[] = [];
    const start = (role: string, name: string, script: string, args: string[]): TrainProcess => {
      const { argv, env } = tsxArgv(script, 'apps/coordinator/tsconfig.json', args);
      const w = watchProcess((lab as NetnsLab).spawn(role, argv, { cwd: REPO, env }), name);
      procs.push(w);
      return w;
    };
    try {
      const coordinator = start('coord', 'coordinator', COORDINATOR, [
        '--host', host, '--port', '0', '--token', token, '--out', out, '--data-dir', DATA,
        '--epochs', '1', '--finetune-epochs', '1', '--train-limit', '600', '--test-limit', '300', '--no-eval-train',
      ]);
      const url = (await coordinator.waitFor(/--connect (http:\/\/[0-9.]+:\d+)/))[1] as string;
      const before = await lab.counters('host1');
      const stage = start('host1', 'node', NODE_STAGE, ['--connect', url, '--token', token, '--workers', '2', '--backend', 'wasm', '--node-id', 'host1-node']);
      expect(await coordinator.exited, coordinator.output().slice(-3000)).toBe(0);
      expect(await stage.exited, stage.output().slice(-3000)).toBe(0);

      const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as RunReport;
      expect(report.workers.map((w) => w.workerId)).toEqual(['host1-node']);
      expect(report.phases.map((p) => p.steps)).toEqual(flatRun.steps);
      expect(report.phases.every((p) => p.history.every((h) => h.workers === 1))).toBe(true);
      // The coordinator sees one member over the socket; the node's own workers use its host's /dev/shm.
      expect(coordinator.output()).toMatch(/worker host1-node joined \(wasm, node of 2 workers/);
      expect(coordinator.output()).not.toMatch(/large frames through shared memory/);
      expect(stage.output()).toMatch(/worker host1-node\/w0 is on this machine: large frames through shared memory/);
      expect(stage.output()).toMatch(/worker host1-node\/w1 is on this machine: large frames through shared memory/);
      const after = await lab.counters('host1');
      const rx = after.host.rxBytes - before.host.rxBytes;
      const tx = after.host.txBytes - before.host.txBytes;
      console.log(
        `two-hosts e2e, per-node: the host received ${(rx / 1e6).toFixed(1)} MB and sent ${(tx / 1e6).toFixed(1)} MB ` +
          `(flat: ${(flatRun.rx / 1e6).toFixed(1)} and ${(flatRun.tx / 1e6).toFixed(1)} MB) for the same ${flatRun.steps.join(' + ')} steps`,
      );
      // One weights copy down and one gradient up per step instead of two (+ the same images).
      expect(tx).toBeLessThan(0.6 * flatRun.tx);
      expect(rx).toBeLessThan(0.6 * flatRun.rx);
      expect(tx).toBeGreaterThan(0.4 * flatRun.tx);
    } finally {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await lab.teardown();
    }
  }, 240_000);
});
