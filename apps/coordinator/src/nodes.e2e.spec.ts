/**
 * Per-node stages as a user starts them (`npm run coordinator`, then `npm run node` per host; here
 * both "hosts" are this machine): the coordinator sees nodes, not workers; a worker killed inside
 * a node is re-sharded within it, unseen by the coordinator; a node killed whole is dropped and
 * its share of the global batch goes to the other node; its workers do not outlive it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATA, startApp, type TrainProcess } from './e2e-support.js';

const started: TrainProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('per-node stages: 2 nodes x 2 workers', () => {
  it('a worker death inside node A stays inside it; the loss of node B re-shards over A; the run completes', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'cifar-nodes-'));
    dirs.push(out);
    const token = 'nodes-e2e-token';
    const coordinator = startApp('main', [
      '--port', '0', '--token', token, '--out', out, '--data-dir', DATA, '--epochs', '2', '--finetune-epochs', '1',
      '--train-limit', '800', '--test-limit', '200', '--no-eval-train',
    ]);
    started.push(coordinator);
    const port = (await coordinator.waitFor(/coordinator listening on 127\.0\.0\.1:(\d+)/, 60_000))[1] as string;
    const url = `http://127.0.0.1:${port}`;
    const nodeA = startApp('node', ['--connect', url, '--workers', '2', '--node-id', 'nA'], { CIFAR_DIST_TOKEN: token });
    const nodeB = startApp('node', ['--connect', url, '--workers', '2', '--node-id', 'nB'], { CIFAR_DIST_TOKEN: token });
    started.push(nodeA, nodeB);
    await coordinator.waitFor(/worker nA joined \(wasm, node of 2 workers/, 120_000);
    await coordinator.waitFor(/worker nB joined \(wasm, node of 2 workers/, 120_000);
    const pidOf = async (p: TrainProcess, id: string): Promise<number> => Number((await p.waitFor(new RegExp(`local worker ${id} joined \\(wasm, pid (\\d+)\\)`)))[1]);
    const a1 = await pidOf(nodeA, 'nA/w1');
    const bWorkers = [await pidOf(nodeB, 'nB/w0'), await pidOf(nodeB, 'nB/w1')];

    await coordinator.waitFor(/cifar10 epoch 1\/2/, 240_000);
    process.kill(a1, 'SIGKILL');
    await nodeA.waitFor(/local worker nA\/w1 left: disconnected/, 30_000);
    nodeB.child.kill('SIGKILL');
    await coordinator.waitFor(/worker nB left: disconnected/, 30_000);
    // The node's workers notice their parent is gone (--exit-with-parent, checked every second).
    await new Promise((r) => setTimeout(r, 4_000));
    expect(bWorkers.filter(alive)).toEqual([]);

    expect(await coordinator.exited).toBe(0);
    expect(await nodeA.exited).toBe(0);
    const log = coordinator.output();
    // The coordinator never saw node A's worker: only node B left, and node A served to the end
    // (at the end it may leave as the run closes, told or by its own disconnect: either is fine).
    const end = log.indexOf('report pages written');
    expect(end).toBeGreaterThan(0);
    expect(log.slice(0, end)).not.toMatch(/worker nA left/);
    expect(log).not.toMatch(/nA\/w/);
    expect(log).toMatch(/finetune epoch 1\/1: .*\(.*, 1 workers\)/);
    const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as { phases: Array<{ name: string; steps: number; test: { accuracy: number } }> };
    expect(report.phases.map((p) => p.name)).toEqual(['cifar10', 'finetune']);
    // Every step applied once: 800 images per epoch at 128 per global batch is 7 steps.
    expect(report.phases[0]?.steps).toBe(14);
    expect(report.phases[0]?.test.accuracy).toBeGreaterThan(0.12);
  }, 420_000);
});
