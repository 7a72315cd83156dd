/**
 * The coordinator side of `npm run bench -- --two-hosts`: started by two-hosts.ts inside the lab's
 * hub namespace, never by hand. It listens on the hub's address (with a token: it is not
 * loopback), prints `listening <url>`, waits for the configured number of pool members (workers,
 * or per-node stages) from the host namespaces, trains timed windows of synthetic images with
 * them, and prints `result <json>` (TwoHostsCoordinatorResult). Per step it keeps the wall time,
 * the gradient bytes the coordinator received (StepInfo.gradientBytes) and, from the hub's ends of
 * the veth pairs (/sys/class/net/<if>/statistics in this namespace), the bytes each link carried.
 * Argument: the JSON of a TwoHostsCoordinatorConfig. Logs go to stderr.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createModel, tf } from '@cifar-dist/model';
import { PhaseRunner, SocketCoordinatorServer, WorkerPool, defaultConfig } from '@cifar-dist/training';
import { runBench } from './output.js';
import { slice, syntheticSet } from './throughput.js';
import type { TwoHostsCoordinatorConfig, TwoHostsCoordinatorResult, TwoHostsStep } from './two-hosts.js';

/** Received and sent bytes of each hub-side link end, in config order. */
function readCounters(ifs: string[]): Array<{ rx: number; tx: number }> {
  const read = (dev: string, what: 'rx' | 'tx'): number => Number(readFileSync(`/sys/class/net/${dev}/statistics/${what}_bytes`, 'utf8').trim());
  return ifs.map((dev) => ({ rx: read(dev, 'rx'), tx: read(dev, 'tx') }));
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as TwoHostsCoordinatorConfig;
  const log = (msg: string): void => {
    process.stderr.write(`${msg}\n`);
  };
  tf.enableProdMode();
  await tf.setBackend('cpu');
  const pool = new WorkerPool();
  const server = new SocketCoordinatorServer({
    host: cfg.host,
    port: 0,
    token: cfg.token,
    maxMessageBytes: 64 * 1024 * 1024,
    requestTimeoutMs: 300_000,
    pool,
    runId: randomUUID(),
    log,
  });
  const port = await server.start();
  process.stdout.write(`listening http://${cfg.host}:${port}\n`);
  try {
    await pool.waitFor(cfg.members, 120_000);
    const shared = pool.live().filter((l) => l.info.sharedMemory === true).map((l) => l.info.workerId);
    if (shared.length > 0) throw new Error(`members ${shared.join(', ')} share /dev/shm with the coordinator: the namespaces leak it, nothing would cross the links`);
    const source = syntheticSet(4096, Array.from({ length: 10 }, (_, c) => `class${c}`));
    const ifs = cfg.links.map((l) => l.hubIf);
    const steps: TwoHostsStep[] = [];
    for (let w = 0; w < cfg.windows; w++) {
      let last = performance.now();
      let counters = readCounters(ifs);
      let seen = 0;
      const model = createModel({ numClasses: 10, seed: 1 });
      const runner = new PhaseRunner({
        name: 'cifar10',
        model,
        modelId: w + 1,
        numClasses: 10,
        classNames: source.classNames,
        frozenLayers: 0,
        train: slice(source, (cfg.warmup + cfg.windowSteps) * cfg.globalBatch),
        test: slice(source, pool.size),
        epochs: 1,
        schedule: { lr: 0.01, warmupEpochs: 0, decay: 'constant', minFactor: 1 },
        config: defaultConfig({ batchSize: cfg.globalBatch, evaluateTrain: false, augment: true, dropout: true }),
        pool,
        hooks: {
          onStep: (s) => {
            const now = performance.now();
            const next = readCounters(ifs);
            seen += 1;
            if (seen > cfg.warmup) {
              steps.push({
                window: w,
                ms: now - last,
                wireMs: s.timings.wireMs,
                workers: s.workers,
                gradientBytes: s.gradientBytes,
                links: cfg.links.map((l, i) => ({
                  host: l.host,
                  toHost: (next[i]?.tx ?? 0) - (counters[i]?.tx ?? 0),
                  fromHost: (next[i]?.rx ?? 0) - (counters[i]?.rx ?? 0),
                })),
              });
            }
            last = now;
            counters = next;
          },
        },
      });
      await runner.run();
      model.dispose();
      log(`window ${w + 1}/${cfg.windows} done`);
    }
    const result: TwoHostsCoordinatorResult = { members: pool.live().map((l) => ({ workerId: l.info.workerId, sharedMemory: l.info.sharedMemory === true })), steps };
    process.stdout.write(`result ${JSON.stringify(result)}\n`);
  } finally {
    await server.close();
  }
}

runBench('two-hosts coordinator', main);
