/**
 * Slurm: `sbatch deploy/slurm/train.sbatch` on a one-node cluster brought up for the test
 * (slurm-cluster.ts): the coordinator and one per-node stage as two job steps, real CIFAR, both
 * phases; a failing coordinator's exit code as the job's; then, on a cluster with fake GPUs, that
 * each stage is handed the GPUs Slurm assigned and that scancel ends every step.
 * Needs root, munged, slurmctld and slurmd (`apt-get install slurm-wlm munge`); skipped with the
 * reason where they are missing, and failed instead under CI.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '@cifar-dist/training';
import { DATA, REPO } from './e2e-support.js';
import { freePort, slurmUnavailable, startSlurmCluster, type JobResult, type SlurmCluster } from './slurm-cluster.js';

const SCRIPT = path.join(REPO, 'deploy/slurm/train.sbatch');

const unavailable = slurmUnavailable();
if (unavailable !== null) {
  const msg = `slurm e2e: ${unavailable}`;
  if (process.env['CI']) throw new Error(`${msg} (CI is set: not skipping)`);
  console.warn(`${msg}: skipped`);
}

/**
 * The submitter's environment: no token of its own (the script makes one per job), a port free
 * now, and, where this host's name does not resolve (the script's stages connect to the first
 * node by name), the coordinator's address.
 */
async function submitEnv(cluster: SlurmCluster): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...cluster.env, CIFAR_DIST_PORT: String(await freePort()) };
  delete env['CIFAR_DIST_TOKEN'];
  delete env['CIFAR_DIST_COORDINATOR'];
  if (!(await lookup(cluster.node).then(() => true, () => false))) {
    console.warn(`slurm e2e: ${cluster.node} does not resolve: the stages connect to 127.0.0.1`);
    env['CIFAR_DIST_COORDINATOR'] = '127.0.0.1';
  }
  return env;
}

const readOutput = (file: string): Promise<string> => readFile(file, 'utf8').catch(() => '');

describe.skipIf(unavailable !== null)('sbatch deploy/slurm/train.sbatch (one-node Slurm cluster, real CIFAR, both phases)', () => {
  let cluster: SlurmCluster | null = null;
  let work = '';

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'cifar-dist-slurm-'));
    cluster = await startSlurmCluster();
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('runs the coordinator and one per-node stage with a worker per CPU; the job ends with the coordinator\'s exit code 0', async () => {
    const c = cluster as SlurmCluster;
    const cpus = Number((await c.run('sinfo', ['-h', '-N', '-n', c.node, '-o', '%c'])).stdout.trim());
    expect(cpus).toBeGreaterThan(0);
    const run = path.join(work, 'run');
    const outFile = path.join(work, 'job.out');
    const id = await c.submit(
      [
        '--nodes=1', `--output=${outFile}`, '--time=10',
        SCRIPT,
        '--out', run, '--data-dir', DATA,
        // 62 steps of 64 images: enough to be clear of chance (1 epoch of 31 steps, still in its
        // warm-up, sometimes ends at exactly 0.1).
        '--epochs', '2', '--finetune-epochs', '1', '--train-limit', '2000', '--test-limit', '300',
        '--batch-size', '64', '--no-eval-train',
      ],
      // Submitted from the repository root, as the script asks; a port that is free now.
      { cwd: REPO, env: await submitEnv(c) },
    );
    const job = await c.waitForJob(id, 240_000);
    const output = await readOutput(outFile);
    if (job.state !== 'COMPLETED') console.error(`${output.slice(-6000)}\n${await c.logs()}`);
    expect(job).toMatchObject({ state: 'COMPLETED', exitCode: 0 });

    // The job's output names the stage, what it was given, and the coordinator's view of it.
    const stage = new RegExp(
      `^0: per-node stage on ${c.node} \\(node 1 of 1, ${cpus} CPUs, no GPU\\): npm run node -- --connect http://(${c.node}|127\\.0\\.0\\.1):\\d+ --node-id ${c.node} --workers ${cpus}$`,
      'm',
    );
    expect(output).toMatch(stage);
    expect(output).toMatch(new RegExp(`worker ${c.node} joined \\((wasm|tensorflow)`));
    expect(output).toMatch(/cifar-dist: coordinator exited with 0/);
    expect(output).not.toMatch(/stopping the (per-node stages|coordinator)/);

    const report = JSON.parse(await readFile(path.join(run, 'report.json'), 'utf8')) as RunReport;
    // The coordinator saw one worker: the node, which averaged its own workers' gradients.
    expect(report.workers).toHaveLength(1);
    expect(report.workers[0]?.workerId).toBe(c.node);
    expect(report.workers[0]?.device).toMatch(new RegExp(`^node of ${cpus} workers`));
    const [p1, p2] = report.phases;
    console.log(`slurm e2e: test accuracy ${p1?.test.accuracy.toFixed(3)} (cifar10), ${p2?.test.accuracy.toFixed(3)} (finetune)`);
    expect(p1?.name).toBe('cifar10');
    expect(p1?.history).toHaveLength(2);
    expect(p1?.samplesSeen).toBe(4000);
    expect(p1?.test.samples).toBe(300);
    expect(p1?.test.accuracy).toBeGreaterThan(0.1);
    expect(p2?.name).toBe('finetune');
    expect(p2?.numClasses).toBe(14);
    expect(p2?.test.accuracy).toBeGreaterThan(0.1);

    // Nothing of the job is left on the node.
    const pids = await c.run('scontrol', ['listpids']);
    expect(pids.stdout.split('\n').filter((l) => /^\d+/.test(l.trim()))).toEqual([]);
  }, 300_000);

  it('ends with the coordinator\'s exit code when it fails, and stops the per-node stage', async () => {
    const c = cluster as SlurmCluster;
    const outFile = path.join(work, 'failed.out');
    const t0 = Date.now();
    const id = await c.submit(
      ['--nodes=1', `--output=${outFile}`, '--time=5', SCRIPT, '--out', path.join(work, 'failed'), '--data-dir', path.join(work, 'no-such-dir')],
      { cwd: REPO, env: await submitEnv(c) },
    );
    const job = await c.waitForJob(id, 90_000);
    const output = await readOutput(outFile);
    if (job.exitCode !== 3) console.error(`${output.slice(-6000)}\n${await c.logs()}`);
    // E_DATA: exit code 3 (exit-codes.ts), passed through as the job's.
    expect(job).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(output).toMatch(/no-such-dir does not exist/);
    expect(output).toMatch(/cifar-dist: stopping the per-node stages/);
    expect(output).toMatch(/cifar-dist: coordinator exited with 3/);
    // Without waiting out the stage's reconnect timeout.
    expect(Date.now() - t0).toBeLessThan(60_000);
    const pids = await c.run('scontrol', ['listpids']);
    expect(pids.stdout.split('\n').filter((l) => /^\d+/.test(l.trim()))).toEqual([]);
  }, 120_000);
});

describe.skipIf(unavailable !== null)('sbatch deploy/slurm/train.sbatch on a node with (fake) GPUs', () => {
  let cluster: SlurmCluster | null = null;
  let work = '';

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'cifar-dist-slurm-gpu-'));
    cluster = await startSlurmCluster({ gpus: 2 });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /**
   * Submits the script with `sbatchArgs`, waits for the per-node stage's line in the job's output,
   * then cancels the job while its processes are still starting (which also shows that scancel
   * ends every step: nothing of the job is left). Returns the output.
   */
  async function stageOutput(name: string, sbatchArgs: string[]): Promise<string> {
    const c = cluster as SlurmCluster;
    const outFile = path.join(work, `${name}.out`);
    const id = await c.submit(
      [...sbatchArgs, '--nodes=1', `--output=${outFile}`, '--time=5', SCRIPT, '--out', path.join(work, name), '--data-dir', DATA],
      { cwd: REPO, env: await submitEnv(c) },
    );
    const deadline = Date.now() + 60_000;
    while (!/^0: per-node stage on /m.test(await readOutput(outFile))) {
      if (Date.now() > deadline) throw new Error(`no per-node stage line within 60 s:\n${await readOutput(outFile)}\n${await c.logs()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // scancel once more should the first one get lost on a busy machine (the controller answers late).
    let job: JobResult | null = null;
    for (let attempt = 1; job === null; attempt++) {
      const cancel = await c.run('scancel', [id]);
      try {
        job = await c.waitForJob(id, 30_000);
      } catch (err) {
        if (attempt === 3) throw new Error(`scancel ${id} (${cancel.code} ${cancel.stderr.trim()}): ${(err as Error).message}`);
      }
    }
    expect(job.state).toBe('CANCELLED');
    const pids = await c.run('scontrol', ['listpids']);
    expect(pids.stdout.split('\n').filter((l) => /^\d+/.test(l.trim()))).toEqual([]);
    return readOutput(outFile);
  }

  it('gives the stage the GPUs Slurm gave its step: those asked for, or every GPU of a whole node', async () => {
    const node = (cluster as SlurmCluster).node;
    // A GPU request (on the script's default whole node): the step gets what was asked for.
    expect(await stageOutput('step-gpus', ['--gpus-per-node=1'])).toMatch(
      new RegExp(
        `^0: per-node stage on ${node} \\(node 1 of 1, GPUs 0 from CUDA_VISIBLE_DEVICES\\): npm run node -- --connect http://\\S+ --node-id ${node} --gpus 0$`,
        'm',
      ),
    );
    // No GPU request: Slurm gives a step none of a whole node's GPUs unless it asks; the script asks for all.
    expect(await stageOutput('job-gpus', [])).toMatch(
      /^0: per-node stage on .* \(node 1 of 1, GPUs 0,1 from CUDA_VISIBLE_DEVICES\): npm run node -- .* --gpus 0,1$/m,
    );
  }, 150_000);
});
