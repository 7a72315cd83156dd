import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES, launchGpus, type BackendName } from '@cifar-dist/model';
import { addTrainOptions, configFromOptions, explicitConfigKeys, runFolder, type CoordinatorOptions } from './options.js';
import { startCoordinator } from './coordinator.js';
import { exitCodeFor } from './exit-codes.js';
import { spawnLocalWorker } from './spawn-worker.js';
import { createLog } from './log.js';

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
  // One worker per GPU the chosen backend can use (worker i gets --gpu i and that rung), else one per core.
  const { gpus, backend: gpuBackend } = await launchGpus(o.backend);
  const backend = o.backend ?? gpuBackend;
  const workers = o.workers ?? (gpus > 0 ? gpus : availableParallelism());
  const { out, resume } = runFolder(o);
  const token = o.token ?? process.env['CIFAR_DIST_TOKEN'];
  const run = await startCoordinator({
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
  const url = `http://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${run.port}`;
  log(`starting ${workers} worker process(es)${gpus > 0 ? ` on ${gpus} GPU(s)` : ''} -> ${url}`);
  const children = Array.from({ length: workers }, (_, i) =>
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
          if (code !== 0) log(`worker w${i} exited with ${signal ?? code}`);
          // A local launch has no one else to wait for: with every worker gone, the run has failed.
          if (alive === 0 && !finished && !run.finishing) {
            log('every local worker has exited before the run finished; resume later with --resume');
            process.exit(5);
          }
          resolve();
        });
      }),
  );
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    log('interrupted: stopping workers (resume later with --resume)');
    stop();
    process.exit(130);
  });
  try {
    await run.done;
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

main(process.argv).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`train: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(exitCodeFor(err));
  },
);
