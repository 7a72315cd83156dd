import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS, createLogger, type LogLevel } from '@cifar-dist/log';
import { BACKEND_NAMES, selectBackend, type BackendName } from '@cifar-dist/model';
import { durationHelp, formatDuration, parseDuration, runSocketWorker } from '@cifar-dist/training';
import { watchLifeline } from '../../coordinator/src/shutdown.js';

interface WorkerOptions {
  connect: string;
  token?: string;
  backend?: BackendName;
  gpu?: number;
  workerId?: string;
  logLevel: LogLevel;
  /** ms (parsed from a duration). */
  reconnectTimeout?: number;
  exitWithParent: boolean;
  shm: boolean;
}

/** `npm run worker -- --connect <url>`: one worker process; picks the fastest backend it has. */
async function main(argv: string[]): Promise<void> {
  const program = new Command('worker')
    .description('A data-parallel worker: computes gradients for the coordinator at --connect')
    .requiredOption('--connect <url>', 'coordinator URL, e.g. http://127.0.0.1:8080')
    .option('--token <secret>', 'shared secret the coordinator requires (else env CIFAR_DIST_TOKEN)')
    .addOption(
      new Option('--backend <name>', 'force one backend instead of the fastest available (webgpu: also a GPU emulated on the CPU)').choices([...BACKEND_NAMES]),
    )
    .option('--gpu <index>', 'pin this worker to GPU <index>: CUDA_VISIBLE_DEVICES for tensorflow-gpu; for webgpu the index-th GPU adapter Dawn lists (emulated ones only count where there is no GPU)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--gpu must be a non-negative integer');
      return n;
    })
    .option('--worker-id <id>', 'name in the coordinator\'s logs (default: random)')
    .addOption(new Option('--log-level <level>', 'log verbosity').choices(LOG_LEVELS).default('info'))
    .addOption(
      new Option('--reconnect-timeout <duration>', `give up after this long without the coordinator (${durationHelp('s')})`)
        .argParser((v: string) => {
          try {
            return parseDuration(v, 's');
          } catch (err) {
            throw new InvalidArgumentError(`--reconnect-timeout: ${(err as Error).message}`);
          }
        })
        .default(300_000, formatDuration(300_000)),
    )
    .option('--no-shm', 'do not offer shared memory (/dev/shm) to a coordinator on this machine: every frame over the socket')
    .option('--exit-with-parent', 'exit when the process that started this one dies (set by npm run train)', false);
  program.parse(argv);
  const o = program.opts<WorkerOptions>();
  if (o.exitWithParent) {
    // A local launch: if the launcher is gone, do not linger as an orphan (exit 6; the 'exit' hooks
    // delete the dead coordinator's shared memory). The launcher names itself in
    // CIFAR_DIST_LAUNCHER_PID: it may die while this process is still loading, before
    // process.ppid could be read here.
    const named = Number(process.env['CIFAR_DIST_LAUNCHER_PID']);
    const parent = Number.isSafeInteger(named) && named > 1 ? named : process.ppid;
    const check = (): void => {
      if (process.ppid !== parent) process.exit(6);
    };
    check();
    setInterval(check, 1000).unref();
  } else {
    // Started as `npm run worker`: when npm or tsx is gone (SIGTERM to npm kills only its sh,
    // SIGHUP kills npm or tsx outright), do not go on as an orphan (see shutdown.ts). SIGINT,
    // SIGTERM and SIGHUP to this process end it by their default action.
    watchLifeline((why) => {
      process.stderr.write(`worker: ${why}: exiting\n`);
      process.exit(129);
    });
  }
  const workerId = o.workerId ?? `w-${randomBytes(3).toString('hex')}`;
  // One logger per process; its rank is bound once the coordinator has assigned one.
  let logger = createLogger('worker', { level: o.logLevel }).child({ workerId });
  const base = logger;
  const log = (msg: string): void => logger.info(msg);
  const choice = await selectBackend({
    ...(o.backend ? { force: o.backend } : {}),
    ...(o.gpu !== undefined ? { gpuIndex: o.gpu } : {}),
    log,
  });
  const token = o.token ?? process.env['CIFAR_DIST_TOKEN'];
  const reason = await runSocketWorker({
    url: o.connect,
    ...(token ? { token } : {}),
    workerId,
    backend: choice.name,
    device: choice.device,
    ...(choice.adapter ? { adapter: choice.adapter } : {}),
    log,
    onWelcome: ({ rank }) => {
      logger = base.child({ rank });
    },
    ...(o.reconnectTimeout !== undefined ? { reconnectTimeoutMs: o.reconnectTimeout } : {}),
    shm: o.shm,
  });
  log(`done: ${reason}`);
}

main(process.argv).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`worker: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
