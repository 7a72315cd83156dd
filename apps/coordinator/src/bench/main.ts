/**
 * `npm run bench -- [options]`: training and inference throughput of one worker process and of N
 * through the real coordinator, the split of a synchronous step, peak memory, and the same network
 * in PyTorch (bench/peer_torch.py) when python3 can import torch, and the machine's own ceiling of
 * scaling (the same step in N independent processes). Prints a table; --out writes JSON.
 * A measuring tool: it asserts nothing, and its numbers depend on what else the machine is doing.
 */
import { availableParallelism, cpus, hostname } from 'node:os';
import { Command, Option } from 'commander';
import { GRAD_DTYPES, type GradDtype } from '@cifar-dist/protocol';
import { loadCifar10, loadFinetuneDataset, resolveDataDir, type ImageSet } from '@cifar-dist/data';
import { createLog } from '../log.js';
import { emitBench, runBench } from './output.js';
import { positiveInt } from '../options.js';
import { computeCeiling } from './ceiling.js';
import { benchCoordinatorOnly, formatCoordinatorOnly } from './coordinator-only.js';
import { codecCost } from './codec-cost.js';
import { benchTwoHosts, formatTwoHosts } from './two-hosts.js';
import { defaultPython, runPeer, type PeerResult } from './peer.js';
import { ownPeakRssMb } from './rss.js';
import { BenchCluster, syntheticSet } from './throughput.js';
import { formatBench, type BenchReport } from './report.js';

interface BenchOptions {
  workers?: number;
  batch: number;
  windows: number;
  windowSteps: number;
  quick: boolean;
  out?: string;
  dataDir?: string;
  python: string;
  peer: boolean;
  blasDir?: string;
  backend?: string;
  coordinatorOnly: boolean;
  twoHosts: boolean;
  gradDtype: GradDtype;
}

/** The training images: CIFAR-10 from the data directory when it is there (and the fine-tune set, so the coordinator's memory is a real run's), else synthetic. */
async function loadSource(dataDir: string | undefined, log: (m: string) => void): Promise<{ source: ImageSet; data: string }> {
  const dir = resolveDataDir(dataDir);
  try {
    const train = await loadCifar10(dir, 'train');
    await loadCifar10(dir, 'test');
    await loadFinetuneDataset(dir, 'train', {});
    await loadFinetuneDataset(dir, 'test', {});
    return { source: train, data: `CIFAR-10 from ${dir} (CIFAR-10 and fine-tune sets loaded)` };
  } catch (err) {
    log(`no CIFAR data at ${dir} (${(err as Error).message.split('\n')[0]}): synthetic images`);
    return { source: syntheticSet(4096, Array.from({ length: 10 }, (_, c) => `class${c}`)), data: 'synthetic' };
  }
}

function machineName(): string {
  return `${hostname()}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`;
}

async function main(argv: string[]): Promise<void> {
  const o = new Command('bench')
    .description('Throughput, step split and memory of cifar-dist, beside PyTorch when it is installed')
    .option('--workers <n>', 'workers of the multi-worker run (default: the number of CPU cores)', positiveInt('--workers'))
    .option('--batch <n>', 'batch per worker process', positiveInt('--batch'), 64)
    .option('--windows <n>', 'timed windows per measurement (the median is reported)', positiveInt('--windows'), 5)
    .option('--window-steps <n>', 'steps per timed window', positiveInt('--window-steps'), 10)
    .option('--quick', 'few short windows and a quick peer run: under a minute (CI)', false)
    .option('--out <file.json>', 'also write the figures as JSON')
    .option('--data-dir <dir>', 'CIFAR data (else env CIFAR_DATA_DIR, else ./data); synthetic images when absent')
    .option('--python <exe>', 'python for the PyTorch peer', defaultPython())
    .option('--no-peer', 'skip the PyTorch peer')
    .option('--blas-dir <dir>', 'run the peer with OpenBLAS: a folder holding its libblas.so.3, or the dpkg -x root of libopenblas0-openmp, -pthread or -serial (see bench/README.md)')
    .option('--backend <name>', 'force the workers\' backend')
    .addOption(new Option('--grad-dtype <dtype>', 'dtype of the workers\' gradients (with --coordinator-only)').choices([...GRAD_DTYPES]).default('float32'))
    .option('--coordinator-only', 'time the coordinator alone: zero-compute workers (N = 1, 2, 4, 8 over shared memory; 2, 4 over the socket) beside PyTorch\'s gloo all_reduce + SGD step', false)
    .option('--two-hosts', 'step times with zero-compute workers in 2 network namespaces × 2 (root: ip netns), links shaped to 10 and 1 Gbit/s, and the bytes per step on each link', false)
    .parse(argv)
    .opts<BenchOptions>();
  const workers = o.workers ?? availableParallelism();
  const log = createLog('bench');
  const windows = o.quick ? 3 : o.windows;
  const windowSteps = o.quick ? 3 : o.windowSteps;
  const warmup = o.quick ? 2 : 3;
  if (o.twoHosts) {
    const figures = await benchTwoHosts({ perWorkerBatch: o.batch, warmup, windows, windowSteps: o.quick ? 5 : 10, log });
    const report = { date: new Date().toISOString(), machine: machineName(), ...figures };
    await emitBench(formatTwoHosts(figures, `two hosts (network namespaces), ${report.machine}`), report, o.out, log);
    return;
  }
  const { source, data } = await loadSource(o.dataDir, log);
  if (o.coordinatorOnly) {
    const figures = await benchCoordinatorOnly({ source, perWorkerBatch: o.batch, warmup, windows, windowSteps: o.quick ? 10 : 40, python: o.python, peer: o.peer, gradDtype: o.gradDtype, log });
    const report = { date: new Date().toISOString(), machine: machineName(), data, batchPerWorker: o.batch, ...figures };
    await emitBench(formatCoordinatorOnly(figures, `coordinator only, ${report.machine}, ${o.batch} images per worker per step`), report, o.out, log);
    return;
  }
  const cluster = new BenchCluster({ log, ...(o.backend ? { backend: o.backend } : {}) });
  await cluster.start();
  let report: BenchReport;
  try {
    await cluster.scaleTo(workers);
    log(`training: 1 worker and ${workers} workers in alternating windows`);
    const { single, multi } = await cluster.training(source, o.batch, warmup, windows, windowSteps);
    log('inference');
    const inferenceMulti = await cluster.inference(source, o.quick ? 2000 : 10000);
    const workerRss = cluster.workerPeakRss();
    const backends = cluster.backends;
    await cluster.stop();
    const codec = codecCost(1_250_858);
    log(`compute only: 1 process, then ${workers} at once`);
    const ceiling = await computeCeiling(workers, o.batch, o.quick ? 2 : 3, o.quick ? 5 : 8, o.quick ? 1 : 2);
    let peer: PeerResult = { ok: false, reason: 'skipped (--no-peer)' };
    if (o.peer) {
      log(`PyTorch peer (${o.python})`);
      peer = await runPeer({ python: o.python, workers, quick: o.quick, log, ...(o.blasDir ? { blasDir: o.blasDir } : {}) });
      if (!peer.ok) log(`no PyTorch peer: ${peer.reason}`);
    }
    const rssValues = Object.values(workerRss).filter((v): v is number => v !== null);
    report = {
      date: new Date().toISOString(),
      machine: machineName(),
      data,
      backends,
      batchPerWorker: o.batch,
      single: { workers: 1, imagesPerSecond: single.imagesPerSecond, windows: single.windows, step: single.step },
      multi: { workers: multi.workers, imagesPerSecond: multi.imagesPerSecond, windows: multi.windows, step: multi.step },
      scaling: multi.imagesPerSecond / single.imagesPerSecond,
      exchangeMs: multi.step.wireMs + multi.step.averageMs,
      ceiling,
      codec,
      inference: { multi: inferenceMulti.imagesPerSecond },
      peer: peer.ok
        ? {
            torch: peer.figures.torch,
            ...(peer.figures.blas ? { blas: peer.figures.blas } : {}),
            single: { imagesPerSecond: peer.figures.single.imagesPerSecond },
            multi: { workers, imagesPerSecond: peer.figures.multi?.imagesPerSecond ?? null },
            allreduceMs: peer.figures.allreduceMs,
          }
        : { reason: peer.reason, single: { imagesPerSecond: null }, multi: { workers, imagesPerSecond: null }, allreduceMs: null },
      rssMb: { worker: rssValues.length ? Math.max(...rssValues) : null, workers: workerRss, coordinator: ownPeakRssMb() },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  await emitBench(formatBench(report), report, o.out, log);
}

runBench('bench', () => main(process.argv));
