/**
 * What the soak runs measure: the process's memory after a step, and the growth between two
 * such samples (soak.ts drives a PhaseRunner, worker-soak.ts a worker's runtime alone).
 */
import { tf } from '@cifar-dist/model';

/** Memory figures after one step. */
export interface SoakSample {
  step: number;
  /** process.memoryUsage.rss(), bytes, taken before the forced GC. */
  rss: number;
  /** process.memoryUsage().heapUsed, bytes (after a full GC when one could be exposed). */
  heapUsed: number;
  /** process.memoryUsage().arrayBuffers: typed-array stores outside the JS heap, bytes. */
  arrayBuffers: number;
  /** Size of the wasm backend's linear memory (it only ever grows), bytes; 0 on other backends. */
  wasmHeap: number;
  numTensors: number;
  /** tf.memory().numBytes: bytes held by live tensors. */
  numBytes: number;
  /** webgpu: bytes of GPU buffers in use / allocated by the backend's buffer pool; 0 elsewhere. */
  gpuBytesUsed: number;
  gpuBytesAllocated: number;
}

export interface SoakResult {
  first: SoakSample;
  last: SoakSample;
  /** last / first. */
  rssRatio: number;
  tensorsRatio: number;
  bytesRatio: number;
  /** Mean wall time per step after the probe step, ms. */
  msPerStep: number;
  /** Whether heap figures were taken after a forced full GC. */
  gcExposed: boolean;
}

/** Growth allowed between the probe step and the last one (5 %). */
export const SOAK_TOLERANCE = 0.05;

/** The ratios of two samples. */
export function soakResult(first: SoakSample, last: SoakSample, msPerStep: number, gcExposed: boolean): SoakResult {
  return {
    first,
    last,
    rssRatio: last.rss / first.rss,
    tensorsRatio: last.numTensors / first.numTensors,
    bytesRatio: last.numBytes / first.numBytes,
    msPerStep,
    gcExposed,
  };
}

/**
 * The process's memory now. RSS is read as the run leaves it: a forced full GC would release and
 * later re-take pages, which makes RSS swing by ±5 % between samples (measured here); the heap
 * figures are read after one (`gc`, when exposed).
 */
export function memorySample(step: number, gc: (() => void) | null): SoakSample {
  const rss = process.memoryUsage.rss();
  gc?.();
  const mem = process.memoryUsage();
  const t = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  return {
    step, rss, heapUsed: mem.heapUsed, arrayBuffers: mem.arrayBuffers, wasmHeap: wasmHeapBytes(),
    numTensors: t.numTensors, numBytes: t.numBytes,
    gpuBytesUsed: t.numBytesInGPU ?? 0, gpuBytesAllocated: t.numBytesAllocatedInGPU ?? 0,
  };
}

/** The wasm backend's linear memory, bytes (0 when the backend is not wasm). */
function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength ?? 0;
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** One line per sample: "after step N: rss …, heapUsed …, arrayBuffers …, wasm heap …, numTensors …, numBytes …". */
export function formatSample(s: SoakSample): string {
  return (
    `after step ${s.step}: rss ${mb(s.rss)}, heapUsed ${mb(s.heapUsed)}, arrayBuffers ${mb(s.arrayBuffers)}, ` +
    `wasm heap ${mb(s.wasmHeap)}, numTensors ${s.numTensors}, numBytes ${mb(s.numBytes)}` +
    (s.gpuBytesAllocated > 0 ? `, GPU buffers in use ${mb(s.gpuBytesUsed)} of ${mb(s.gpuBytesAllocated)} allocated` : '')
  );
}

/** Whether RSS, live tensors and GPU buffers stayed within SOAK_TOLERANCE of the probe step's figures. */
export function soakPassed(r: SoakResult): boolean {
  const gpu = r.first.gpuBytesAllocated > 0 ? r.last.gpuBytesAllocated / r.first.gpuBytesAllocated : 1;
  return r.rssRatio <= 1 + SOAK_TOLERANCE && r.tensorsRatio <= 1 + SOAK_TOLERANCE && gpu <= 1 + SOAK_TOLERANCE;
}

