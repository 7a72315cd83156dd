/**
 * `npm run bench:gpu -- [options]` (and the GPU check folder's run.sh): training throughput
 * through the real coordinator of webgpu workers sharing the GPU (1, 2 and 4 workers by default),
 * of one wasm worker on the same machine's CPU, and of the same network in PyTorch on CUDA when
 * python3 can import torch and torch sees a GPU (bench/peer_torch.py --device cuda). Per-worker
 * batch, network and data are the same everywhere. Prints a table; --out writes the JSON.
 * A measuring tool: it asserts nothing, and a configuration that fails is reported, not fatal.
 */
import { spawnSync } from 'node:child_process';
import { cpus, hostname } from 'node:os';
import { Command, Option } from 'commander';
import type { ImageSet } from '@cifar-dist/data';
import { loadCifar10, resolveDataDir } from '@cifar-dist/data';
import { createLog } from '../log.js';
import { emitBench, runBench } from './output.js';
import { positiveInt } from '../options.js';
import { formatGpuBench, gpuRatios, parseConfigs, type GpuBenchConfig, type GpuBenchReport, type GpuBenchRow } from './gpu-report.js';
import { defaultPython, runPeer } from './peer.js';
import { BenchCluster, syntheticSet } from './throughput.js';

function nvidiaSmi(): string | null {
  const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && typeof r.stdout === 'string' ? r.stdout : null;
}

interface GpuBenchOptions {
  configs: GpuBenchConfig[];
  batch: number;
  warmup: number;
  windows: number;
  windowSteps: number;
  out?: string;
  dataDir?: string;
  python: string;
  peer: boolean;
  peerScript?: string;
}

const DEFAULT_CONFIGS = 'webgpu:1,webgpu:2,webgpu:4,wasm:1';

async function loadImages(dataDir: string | undefined, log: (m: string) => void): Promise<{ source: ImageSet; data: string }> {
  if (dataDir !== undefined) {
    const dir = resolveDataDir(dataDir);
    try {
      return { source: await loadCifar10(dir, 'train', { limit: 8192 }), data: `CIFAR-10 from ${dir}` };
    } catch (err) {
      log(`no CIFAR data at ${dir} (${(err as Error).message.split('\n')[0]}): synthetic images`);
    }
  }
  return { source: syntheticSet(4096, Array.from({ length: 10 }, (_, c) => `class${c}`)), data: 'synthetic (4,096 deterministic images)' };
}

async function measure(config: GpuBenchConfig, source: ImageSet, o: GpuBenchOptions, log: (m: string) => void): Promise<GpuBenchRow> {
  const started = performance.now();
  const cluster = new BenchCluster({ log, backend: config.backend });
  try {
    await cluster.start();
    await cluster.scaleTo(config.workers);
    const devices = cluster.workerInfo.map(({ device, adapter }) => ({ device, ...(adapter ? { adapter } : {}) }));
    log(`${config.backend} × ${config.workers}: ${devices.map((d) => d.device).join('; ')}`);
    const t = await cluster.trainingAll(source, o.batch, o.warmup, o.windows, o.windowSteps);
    return { ...config, ok: true, devices, imagesPerSecond: t.imagesPerSecond, windows: t.windows, step: t.step, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    return { ...config, ok: false, reason: (err as Error).message.split('\n')[0] ?? String(err), seconds: (performance.now() - started) / 1000 };
  } finally {
    await cluster.stop();
  }
}

async function main(argv: string[]): Promise<void> {
  const o = new Command('bench:gpu')
    .description('Training throughput of webgpu workers sharing a GPU, one wasm worker, and PyTorch on CUDA, with the same network and per-worker batch')
    .addOption(
      new Option('--configs <list>', 'backend:workers, comma-separated; GPU workers share GPU 0')
        .argParser(parseConfigs)
        .default(parseConfigs(DEFAULT_CONFIGS), DEFAULT_CONFIGS),
    )
    .option('--batch <n>', 'batch per worker process', positiveInt('--batch'), 256)
    .option('--warmup <n>', 'untimed steps before each window (the first compiles the GPU kernels)', positiveInt('--warmup'), 2)
    .option('--windows <n>', 'timed windows per configuration (the median is reported)', positiveInt('--windows'), 3)
    .option('--window-steps <n>', 'steps per timed window', positiveInt('--window-steps'), 5)
    .option('--out <file.json>', 'also write the figures as JSON')
    .option('--data-dir <dir>', 'CIFAR data (default: synthetic images)')
    .option('--python <exe>', 'python for the PyTorch peer', defaultPython())
    .option('--no-peer', 'skip PyTorch on CUDA')
    .option('--peer-script <file>', 'bench/peer_torch.py elsewhere (the GPU check folder ships it)')
    .parse(argv)
    .opts<GpuBenchOptions>();
  const t0 = performance.now();
  const log = createLog('bench');
  const { source, data } = await loadImages(o.dataDir, log);
  const rows: GpuBenchRow[] = [];
  for (const config of o.configs) {
    const row = await measure(config, source, o, log);
    if (!row.ok) log(`${config.backend} × ${config.workers} failed: ${row.reason}`);
    rows.push(row);
  }
  let peer: GpuBenchReport['peer'] = { ok: false, reason: 'skipped (--no-peer)' };
  if (o.peer) {
    log(`PyTorch on CUDA (${o.python})`);
    const p = await runPeer({
      python: o.python, workers: 1, quick: true, log,
      extraArgs: ['--device', 'cuda', '--batch', String(o.batch)],
      ...(o.peerScript ? { script: o.peerScript } : {}),
    });
    peer = p.ok
      ? { ok: true, torch: p.figures.torch, imagesPerSecond: p.figures.single.imagesPerSecond, ...(p.figures.gpu ? { gpu: p.figures.gpu } : {}), ...(p.figures.cuda ? { cuda: p.figures.cuda } : {}) }
      : { ok: false, reason: p.reason };
  }
  const report: GpuBenchReport = {
    date: new Date().toISOString(),
    machine: `${hostname()}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
    gpus: nvidiaSmi(),
    data,
    batchPerWorker: o.batch,
    rows,
    peer,
    ratios: gpuRatios(rows, peer.ok ? peer.imagesPerSecond : null),
    wallSeconds: (performance.now() - t0) / 1000,
  };
  await emitBench(formatGpuBench(report), report, o.out, log);
}

runBench('bench:gpu', () => main(process.argv));
