import type { StepTimings } from '@cifar-dist/training';
import type { CeilingFigures } from './ceiling.js';

/** The figures of one `npm run bench` (the JSON written by --out). */
export interface BenchReport {
  date: string;
  machine: string;
  /** Where the training images came from. */
  data: string;
  /** Backend and device of each worker. */
  backends: string[];
  batchPerWorker: number;
  single: { workers: 1; imagesPerSecond: number; windows: number[]; step: StepTimings };
  multi: { workers: number; imagesPerSecond: number; windows: number[]; step: StepTimings };
  /** multi.imagesPerSecond / single.imagesPerSecond. */
  scaling: number;
  /** Median synchronous gradient exchange of the multi run, ms: wire (encode, transfer, decode, both ways) plus averaging. */
  exchangeMs: number;
  /** The same training step in 1 process alone and in N at once, with no coordinator: the machine's own scaling. */
  ceiling: CeilingFigures;
  /** One 1,250,858-float gradient frame through the codec in this process, ms. */
  codec: { encodeMs: number; decodeMs: number; frameBytes: number };
  /** Sharded forward pass over every worker, images/s. */
  inference: { multi: number };
  peer: {
    torch?: string;
    blas?: string;
    reason?: string;
    single: { imagesPerSecond: number | null };
    multi: { workers: number; imagesPerSecond: number | null };
    allreduceMs: number | null;
  };
  /** Peak RSS, MiB: the largest worker's, each worker's, the coordinator's. */
  rssMb: { worker: number | null; workers: Record<string, number | null>; coordinator: number };
}

const f = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));
const ratio = (a: number | null, b: number | null): string => (a === null || b === null || b === 0 ? '-' : `${(a / b).toFixed(2)}×`);
const mark = (ok: boolean | null): string => (ok === null ? '?' : ok ? 'met' : 'not met');

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')).join('\n');
}

function split(t: StepTimings): string {
  return `prepare ${f(t.prepareMs)} | compute ${f(t.computeMs)} | wire ${f(t.wireMs)} | average ${f(t.averageMs)} | optimizer ${f(t.optimizerMs)} | step ${f(t.stepMs)} ms`;
}

/** The human table of a bench run: ours, the PyTorch peer's, their ratio and the issue's goal. */
export function formatBench(r: BenchReport): string {
  const p = r.peer;
  const n = r.multi.workers;
  const peerScaling = p.single.imagesPerSecond && p.multi.imagesPerSecond ? p.multi.imagesPerSecond / p.single.imagesPerSecond : null;
  const rows: string[][] = [
    ['measure', 'ours', `peer (torch${p.torch ? ` ${p.torch}, ${p.blas}` : ': none'})`, 'ours/peer', 'goal', ''],
    ['train img/s, 1 worker', f(r.single.imagesPerSecond), f(p.single.imagesPerSecond), ratio(r.single.imagesPerSecond, p.single.imagesPerSecond), '≥ 1.00×', mark(p.single.imagesPerSecond === null ? null : r.single.imagesPerSecond >= p.single.imagesPerSecond)],
    [`train img/s, ${n} workers`, f(r.multi.imagesPerSecond), f(p.multi.imagesPerSecond), ratio(r.multi.imagesPerSecond, p.multi.imagesPerSecond), '', ''],
    [`scaling ${n}/1`, f(r.scaling, 2), f(peerScaling, 2), '', `≥ ${n === 2 ? '1.90' : (0.95 * n).toFixed(2)}`, mark(r.scaling >= 0.95 * n)],
    [`  machine ceiling ${n}/1 (compute only)`, f(r.ceiling.scaling, 2), '', '', '', ''],
    ['exchange ms (vs gloo all-reduce)', f(r.exchangeMs), f(p.allreduceMs), ratio(r.exchangeMs, p.allreduceMs), '≤ 1.00×', mark(p.allreduceMs === null ? null : r.exchangeMs <= p.allreduceMs)],
    [`inference img/s, ${n} workers`, f(r.inference.multi), '', '', '', ''],
    ['peak RSS worker MiB', f(r.rssMb.worker, 0), '', '', '≤ 600', mark(r.rssMb.worker === null ? null : r.rssMb.worker <= 600)],
    ['peak RSS coordinator MiB', f(r.rssMb.coordinator, 0), '', '', '≤ 1536', mark(r.rssMb.coordinator <= 1536)],
  ];
  return [
    `cifar-dist bench ${r.date} on ${r.machine}`,
    `workers: ${r.backends.join('; ')}; batch ${r.batchPerWorker} per worker; data: ${r.data}`,
    ...(p.reason ? [`PyTorch peer: ${p.reason}`] : []),
    '',
    table(rows),
    '',
    `step, 1 worker:  ${split(r.single.step)}`,
    `step, ${n} workers: ${split(r.multi.step)}`,
    `compute only (no coordinator, no exchange): 1 process ${f(r.ceiling.single)} img/s; ${n} at once ${f(r.ceiling.multi)} img/s, ` +
      `median step ${r.ceiling.stepMs.map((ms) => f(ms, 0)).join(' / ')} ms`,
    `codec, one ${(r.codec.frameBytes / 1e6).toFixed(1)} MB gradient frame: encode ${f(r.codec.encodeMs, 2)} ms, decode ${f(r.codec.decodeMs, 2)} ms`,
  ].join('\n');
}
