import { randomBytes } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS, type LogLevel } from '@cifar-dist/log';
import { BACKEND_NAMES, launchGpus, nodeGpuIds, tf, type BackendName } from '@cifar-dist/model';
import { formatDuration, MAX_MESSAGE_BYTES, NodeRuntime, nodeRequestTimeout, runSocketWorker, SocketCoordinatorServer, WorkerPool } from '@cifar-dist/training';
import { exitCodeFor } from './exit-codes.js';
import { createLog } from './log.js';
import { durationOption, positiveInt } from './options.js';
import { spawnLocalWorker } from './spawn-worker.js';
import { onStop, stopChildren, type StopHandling } from './shutdown.js';

/** Set once SIGINT/SIGTERM/SIGHUP or the loss of npm/tsx asked the node to stop (see shutdown.ts). */
let stopping: StopHandling | null = null;

interface NodeOptions {
  connect: string;
  token?: string;
  workers?: number;
  gpus?: string;
  backend?: BackendName;
  nodeId?: string;
  /** ms, as every duration below (parsed from a duration, see durationOption). */
  joinTimeout: number;
  requestTimeout?: number;
  balance: boolean;
  reconnectTimeout?: number;
  shm: boolean;
  logLevel: LogLevel;
  zeroCompute: boolean;
}


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
    .addOption(durationOption('--join-timeout <duration>', 'how long to wait for the local workers to start before joining with those that did', 's', 180_000))
    .addOption(durationOption('--request-timeout <duration>', "a local worker that does not answer a request within this is dropped (default, and at most: 40% of the coordinator's, so that the node drops a hung worker before the coordinator drops the node)", 'ms'))
    .option('--no-balance', "equal shards for this node's workers instead of shards sized by their measured speed")
    .addOption(durationOption('--reconnect-timeout <duration>', 'give up after this long without the coordinator', 's', 300_000))
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
    requestTimeoutMs: nodeRequestTimeout(undefined, o.requestTimeout),
    pool,
    runId: nodeId,
    log,
  });
  pool.on('join', (link) => log(`local worker ${link.info.workerId} joined (${link.info.backend}, pid ${link.info.pid}); ${pool.size} live`));
  pool.on('leave', (link, reason) => log(`local worker ${link.info.workerId} left: ${reason}; ${pool.size} live`));
  const port = await server.start();
  log(`starting ${workers} local worker(s)${gpus.length > 0 ? ` on GPU(s) ${gpus.slice(0, workers).join(',')}` : ''} -> 127.0.0.1:${port}`);
  process.env['CIFAR_DIST_LAUNCHER_PID'] = String(process.pid); // for the workers' --exit-with-parent
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
  // A signal, or npm/tsx gone (see shutdown.ts): the local workers are stopped (SIGKILL after 3 s),
  // the node's shared memory is deleted at exit, and it exits 128 + signal.
  stopping = onStop({
    log,
    stop: async ({ cause }) => {
      log(`${cause}: stopping the local workers`);
      finished = true;
      await stopChildren(children);
    },
  });

  // Join once every local worker is up (or the join timeout passed with at least one).
  try {
    await pool.waitFor(workers, o.joinTimeout);
  } catch {
    if (pool.size === 0) throw new Error(`no local worker started within ${formatDuration(o.joinTimeout)} (--join-timeout)`);
    log(`only ${pool.size} of ${workers} local workers started within ${formatDuration(o.joinTimeout)} (--join-timeout): joining with them`);
  }
  const live = pool.live();
  const backends = [...new Set(live.map((l) => l.info.backend))].join('+');
  const devices = [...new Set(live.map((l) => l.info.device))].join(', ');
  const token = o.token ?? process.env['CIFAR_DIST_TOKEN'];
  const runtime = new NodeRuntime({ pool, log, balance: o.balance });
  // What the node's own workers are told when it closes: the run's end, or why the node leaves it.
  let ending = 'the node left the run';
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
      onWelcome: (welcome) => server.setRequestTimeout(nodeRequestTimeout(welcome.requestTimeoutMs, o.requestTimeout)),
      ...(o.reconnectTimeout !== undefined ? { reconnectTimeoutMs: o.reconnectTimeout } : {}),
    });
    log(`done: ${reason}`);
    ending = reason;
  } catch (err) {
    ending = `the node left the run: ${(err as Error).message}`;
    throw err;
  } finally {
    finished = true;
    await server.close(ending);
    stop();
  }
}

main(process.argv).then(
  () => {
    if (!stopping?.requested) process.exit(0); // a stop under way exits with its own code
  },
  (err: unknown) => {
    if (stopping?.requested) return;
    process.stderr.write(`node: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(exitCodeFor(err));
  },
);
