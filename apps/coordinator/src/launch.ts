import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES, launchGpus, type BackendName } from '@cifar-dist/model';
import { settleSaves, TrainingError } from '@cifar-dist/training';
import { addTrainOptions, checkStart, configFromOptions, explicitConfigKeys, runFolder, type CoordinatorOptions } from './options.js';
import { probeBackend } from './backend-probe.js';
import { startCoordinator, type CoordinatorRun } from './coordinator.js';
import { exitCodeFor } from './exit-codes.js';
import { spawnLocalWorker } from './spawn-worker.js';
import { createLog } from './log.js';
import { onStop, removeIfLeftEmpty, stopChildren, type StopHandling } from './shutdown.js';

/** Set once SIGINT/SIGTERM/SIGHUP or the loss of npm/tsx asked the run to stop (see shutdown.ts). */
let stopping: StopHandling | null = null;

interface LaunchOptions extends CoordinatorOptions {
  workers?: number;
  backend?: BackendName;
}

/**
 * `npm run train -- [options]`: like `torchrun --nproc_per_node`, runs the coordinator in this
 * process and `--workers N` local worker processes, waits for the run, exits non-zero on failure.
 */
async function main(argv: string[]): Promise<void> {
  const program = addTrainOptions(new Command('train').description('Train the reference CNN on CIFAR-10, then fine-tune it, with N local data-parallel workers'))
    .option('--workers <n>', 'local worker processes (default: GPUs when a GPU backend is usable, else CPU cores)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--workers must be a positive integer');
      return n;
    })
    .addOption(
      new Option('--backend <name>', "force the workers' backend (webgpu: also a GPU emulated on the CPU, e.g. SwiftShader)").choices([...BACKEND_NAMES]),
    );
  program.parse(argv);
  const o = program.opts<LaunchOptions>();
  const log = createLog('train', o.logLevel);
  // Stopping, from the first moment: a signal, or npm/tsx gone, ends the workers, lets a checkpoint
  // save in flight finish, deletes the shared memory, exits 128 + signal (see shutdown.ts).
  let run: CoordinatorRun | null = null;
  let children: ChildProcess[] = [];
  let out: string | null = null;
  stopping = onStop({
    log,
    stop: async ({ cause }) => {
      const resumable = out !== null && hasCheckpoint(out);
      log(`${cause}: stopping the workers and the coordinator${out === null ? '' : resumable ? `; continue later with --resume ${out}` : '; no checkpoint written yet'}`);
      await Promise.all([stopChildren(children), settleSaves(3_000)]);
      // Workers on other hosts (--host) are told to shut down; the local ones are gone already.
      await Promise.race([run?.close(`the coordinator was stopped (${cause})`), new Promise((r) => setTimeout(r, 2_000))]);
    },
  });
  // Every option is checked before anything starts: the run folder, data dir and frame sizes first
  // (fast), then the backend the workers are told to use.
  checkStart(o);
  // One worker per GPU the chosen backend can use (worker i gets --gpu i and that rung), else one per core.
  const { gpus, backend: gpuBackend } = await launchGpus(o.backend);
  const backend = o.backend ?? gpuBackend;
  const workers = o.workers ?? (gpus > 0 ? gpus : availableParallelism());
  // wasm and cpu ship with the install; the native and GPU rungs may not start on this machine.
  if (o.backend !== undefined && o.backend !== 'wasm' && o.backend !== 'cpu') {
    const probe = await probeBackend(o.backend, gpus > 0 ? { gpu: 0 } : {});
    if (probe !== null && !probe.ok) {
      throw new TrainingError('E_TRAIN_CONFIG', `--backend ${o.backend}: a worker cannot start it on this machine (${probe.reason}); leave out --backend to let each worker take the fastest backend it has`);
    }
  }
  const folder = runFolder(o, new Date(), process.env, log);
  const { resume } = folder;
  out = folder.out;
  // A run folder created for this run and left empty (it failed or was stopped before writing
  // anything) is removed at exit; one that existed before is never touched.
  removeIfLeftEmpty(out, log);
  // A token for every run, even on loopback (as Jupyter does): no other process on this machine
  // can join it, receive the weights or send gradients. The launcher hands it to its own workers.
  const token = o.token ?? process.env['CIFAR_DIST_TOKEN'] ?? randomBytes(24).toString('base64url');
  const started = await startCoordinator({
    config: configFromOptions(o),
    out,
    host: o.host,
    port: o.port,
    ...(token ? { token } : {}),
    resume,
    explicit: explicitConfigKeys(program),
    requestTimeoutMs: o.requestTimeout,
    shm: o.shm,
    ...(o.dashboardPort !== undefined ? { dashboardPort: o.dashboardPort } : {}),
    log: createLog('coordinator', o.logLevel),
  });
  run = started;
  if (stopping.requested) return; // stopped while the coordinator started: no workers to start
  const url = `http://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${started.port}`;
  log(`starting ${workers} worker process(es)${gpus > 0 ? ` on ${gpus} GPU(s)` : ''} -> ${url}`);
  // Workers started with --exit-with-parent exit once this process is gone, even when it dies
  // before they could look up their parent.
  process.env['CIFAR_DIST_LAUNCHER_PID'] = String(process.pid);
  children = Array.from({ length: workers }, (_, i) =>
    spawnLocalWorker({
      url,
      workerId: `w${i}`,
      ...(backend ? { backend } : {}),
      ...(gpus > 0 ? { gpu: i % gpus } : {}),
      ...(token ? { token } : {}),
    }),
  );
  let failed = false;
  let finished = false;
  let alive = children.length;
  const exits = children.map(
    (child, i) =>
      new Promise<void>((resolve) => {
        child.on('exit', (code, signal) => {
          alive -= 1;
          if (stopping?.requested) return resolve();
          if (code !== 0) log(`worker w${i} exited with ${signal ?? code}`);
          // A local launch has no one else to wait for: with every worker gone, the run has failed.
          if (alive === 0 && !finished && !started.finishing) {
            log(`every local worker has exited before the run finished${out !== null && hasCheckpoint(out) ? `; resume later with --resume ${out}` : ''}`);
            process.exit(5);
          }
          resolve();
        });
      }),
  );
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  try {
    await started.done;
    finished = true;
  } catch (err) {
    finished = true;
    failed = true;
    throw err;
  } finally {
    if (failed) stop();
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 10_000).unref())]);
    stop();
  }
}

/** True when the run folder holds a checkpoint folder (what --resume continues). */
function hasCheckpoint(out: string): boolean {
  try {
    return readdirSync(path.join(out, 'checkpoints')).some((n) => /^ckpt-p\d+-e\d+$/.test(n));
  } catch {
    return false;
  }
}

main(process.argv).then(
  () => {
    // A stop under way exits with its own code when it is done.
    if (!stopping?.requested) process.exit(0);
  },
  (err: unknown) => {
    if (stopping?.requested) return;
    process.stderr.write(`train: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(exitCodeFor(err));
  },
);
