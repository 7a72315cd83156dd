import { randomBytes } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS, type LogLevel } from '@cifar-dist/log';
import { BACKEND_NAMES, launchGpus, nodeGpuIds, tf, type BackendName } from '@cifar-dist/model';
import { NodeRuntime, runSocketWorker, SocketCoordinatorServer, WorkerPool } from '@cifar-dist/training';
import { exitCodeFor } from './exit-codes.js';
import { createLog } from './log.js';
import { positiveInt } from './options.js';
import { spawnLocalWorker } from './spawn-worker.js';

interface NodeOptions {
  connect: string;
  token?: string;
  workers?: number;
  gpus?: string;
  backend?: BackendName;
  nodeId?: string;
  joinTimeout: number;
  requestTimeout: number;
  reconnectTimeout?: number;
  shm: boolean;
  logLevel: LogLevel;
  zeroCompute: boolean;
}

/** Largest frame between the node and its workers (as the coordinator's). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * `npm run node -- --connect <coordinator url> [--workers N]`: the per-node stage of a
 * hierarchical all-reduce, one per host (torchrun's per-node agent, Horovod's local reduction).
 * Starts one worker process per GPU of this host (the --gpus list, else CUDA_VISIBLE_DEVICES as
 * a scheduler set it, else every GPU found), else one per core, on a loopback server of its own
 * (shared memory, a fresh token); averages their gradients here and exchanges one gradient and
 * one weights copy per step with the coordinator, which sees one worker per node.
 */
async function main(argv: string[]): Promise<void> {
  const program = new Command('node')
    .description('Per-node stage: runs this host\'s workers, averages their gradients locally, and is one worker to the coordinator at --connect')
    .requiredOption('--connect <url>', 'coordinator URL, e.g. http://10.0.0.1:29500')
    .option('--token <secret>', 'shared secret the coordinator requires (else env CIFAR_DIST_TOKEN)')
    .option('--workers <n>', 'worker processes on this host (default: one per GPU given or found, else one per core)', positiveInt('--workers'))
    .option('--gpus <list>', 'GPU indices for the workers, one worker each, e.g. 0,1 (default: CUDA_VISIBLE_DEVICES when set, else every GPU found)')
    .addOption(new Option('--backend <name>', "force the workers' backend").choices([...BACKEND_NAMES]))
    .option('--node-id <id>', "this node's name in the coordinator's logs (default: <hostname>-<random>)")
    .option('--join-timeout <s>', 'seconds to wait for the local workers to start before joining with those that did', positiveInt('--join-timeout'), 180)
    .option('--request-timeout <ms>', 'a local worker that does not answer a request within this is dropped', positiveInt('--request-timeout'), 120_000)
    .option('--reconnect-timeout <s>', 'give up after this many seconds without the coordinator (default 300)', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('--reconnect-timeout must be a positive number of seconds');
      return n;
    })
    .option('--no-shm', 'no shared memory with a coordinator on this host (the local workers use it regardless)')
    .addOption(new Option('--log-level <level>', 'log verbosity').choices(LOG_LEVELS).default('info'))
    // A measuring tool (npm run bench -- --two-hosts): workers that skip the compute.
    .addOption(new Option('--zero-compute', 'benchmarks only: workers that answer at once with noise').default(false).hideHelp());
  program.parse(argv);
  const o = program.opts<NodeOptions>();
  const nodeId = o.nodeId ?? `${hostname()}-${randomBytes(2).toString('hex')}`;
  const log = createLog(`node ${nodeId}`, o.logLevel);
  // The node only builds the network to know its weight layout, and averages: the cpu backend will do.
  tf.enableProdMode();
  await tf.setBackend('cpu');
  const found = await launchGpus(o.backend);
  const gpus = o.gpus !== undefined || found.gpus > 0 ? nodeGpuIds(o.gpus, process.env, found.gpus) : [];
  const backend = o.backend ?? found.backend;
  const workers = o.workers ?? (gpus.length > 0 ? gpus.length : availableParallelism());

  const pool = new WorkerPool();
  const localToken = randomBytes(24).toString('base64url');
  const server = new SocketCoordinatorServer({
    host: '127.0.0.1',
    port: 0,
    token: localToken,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    requestTimeoutMs: o.requestTimeout,
    pool,
    runId: nodeId,
    log,
  });
  pool.on('join', (link) => log(`local worker ${link.info.workerId} joined (${link.info.backend}, pid ${link.info.pid}); ${pool.size} live`));
  pool.on('leave', (link, reason) => log(`local worker ${link.info.workerId} left: ${reason}; ${pool.size} live`));
  const port = await server.start();
  log(`starting ${workers} local worker(s)${gpus.length > 0 ? ` on GPU(s) ${gpus.slice(0, workers).join(',')}` : ''} -> 127.0.0.1:${port}`);
  const children = Array.from({ length: workers }, (_, i) =>
    spawnLocalWorker({
      url: `http://127.0.0.1:${port}`,
      workerId: `${nodeId}/w${i}`,
      token: localToken,
      ...(backend ? { backend } : {}),
      ...(gpus.length > 0 ? { gpu: gpus[i % gpus.length] as number } : {}),
      ...(o.zeroCompute ? { zeroCompute: { seed: i + 1 } } : {}),
    }),
  );
  let finished = false;
  let alive = children.length;
  for (const [i, child] of children.entries()) {
    child.on('exit', (code, signal) => {
      alive -= 1;
      if (!finished && code !== 0) log(`local worker w${i} exited with ${signal ?? code}; ${alive} left`);
      if (alive === 0 && !finished) {
        // Nothing left to compute with: leave, so that the coordinator re-shards over the other nodes.
        log('every local worker has exited: leaving the run');
        process.exit(5);
      }
    });
  }
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the local workers`);
      finished = true;
      stop();
      process.exit(code);
    });
  }

  // Join once every local worker is up (or the join timeout passed with at least one).
  try {
    await pool.waitFor(workers, o.joinTimeout * 1000);
  } catch {
    if (pool.size === 0) throw new Error(`no local worker started within ${o.joinTimeout} s`);
    log(`only ${pool.size} of ${workers} local workers started within ${o.joinTimeout} s: joining with them`);
  }
  const live = pool.live();
  const backends = [...new Set(live.map((l) => l.info.backend))].join('+');
  const devices = [...new Set(live.map((l) => l.info.device))].join(', ');
  const token = o.token ?? process.env['CIFAR_DIST_TOKEN'];
  const runtime = new NodeRuntime({ pool, log });
  try {
    const reason = await runSocketWorker({
      url: o.connect,
      ...(token ? { token } : {}),
      workerId: nodeId,
      backend: backends,
      device: `node of ${live.length} worker${live.length === 1 ? "" : "s"} (${devices})`,
      runtime,
      log,
      shm: o.shm,
      ...(o.reconnectTimeout !== undefined ? { reconnectTimeoutMs: o.reconnectTimeout * 1000 } : {}),
    });
    log(`done: ${reason}`);
  } finally {
    finished = true;
    await server.close('run finished');
    stop();
  }
}

main(process.argv).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`node: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(exitCodeFor(err));
  },
);
