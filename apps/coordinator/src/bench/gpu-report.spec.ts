import { describe, expect, it } from 'vitest';
import { formatGpuBench, gpuRatios, parseConfigs, type GpuBenchReport, type GpuBenchRow } from './gpu-report.js';

const step = (stepMs: number, computeMs: number) => ({ prepareMs: 1, computeMs, wireMs: 3, averageMs: 1, optimizerMs: 5, stepMs });
const H200 = { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', driver: 'NVIDIA 570.86.15', emulated: false, index: 0 };
const ROWS: GpuBenchRow[] = [
  { backend: 'webgpu', workers: 1, ok: true, devices: [{ device: 'NVIDIA H200', adapter: H200 }], imagesPerSecond: 5120, windows: [5000, 5120, 5200], step: step(50, 40), seconds: 20 },
  { backend: 'webgpu', workers: 2, ok: true, devices: [{ device: 'NVIDIA H200', adapter: H200 }, { device: 'NVIDIA H200', adapter: H200 }], imagesPerSecond: 7680, windows: [7680], step: step(66.7, 55), seconds: 25 },
  { backend: 'webgpu', workers: 4, ok: false, reason: 'E_BACKEND_UNAVAILABLE: requestDevice failed', seconds: 3 },
  { backend: 'wasm', workers: 1, ok: true, devices: [{ device: 'CPU (wasm, 1 thread, simd)' }], imagesPerSecond: 256, windows: [256], step: step(1000, 980), seconds: 30 },
];

describe('GPU bench figures', () => {
  it('parses backend:workers lists and refuses unknown backends and counts', () => {
    expect(parseConfigs('webgpu:1, webgpu:4,wasm')).toEqual([
      { backend: 'webgpu', workers: 1 },
      { backend: 'webgpu', workers: 4 },
      { backend: 'wasm', workers: 1 },
    ]);
    expect(() => parseConfigs('cuda:1')).toThrow(/unknown backend 'cuda'/);
    expect(() => parseConfigs('webgpu:0')).toThrow(/bad worker count '0'/);
  });

  it('divides the 1-worker webgpu rate by wasm and by PyTorch on CUDA; N-worker rates by the 1-worker one', () => {
    expect(gpuRatios(ROWS, 10240)).toEqual({ webgpuOverWasm: 20, webgpuOverTorchCuda: 0.5, webgpuScaling: { '2': 1.5, '4': null } });
    expect(gpuRatios(ROWS.slice(3), null)).toEqual({ webgpuOverWasm: null, webgpuOverTorchCuda: null, webgpuScaling: {} });
  });

  it('prints each configuration, a failed one with its reason, the peer and the goals', () => {
    const report: GpuBenchReport = {
      date: '2026-12-01T00:00:00.000Z', machine: 'h: 16 × EPYC', gpus: 'GPU 0: NVIDIA H200 (UUID: GPU-1)\n', data: 'synthetic', batchPerWorker: 256,
      rows: ROWS, peer: { ok: true, torch: '2.5.1', gpu: 'NVIDIA H200', cuda: '12.4', imagesPerSecond: 10240 }, ratios: gpuRatios(ROWS, 10240), wallSeconds: 80,
    };
    const text = formatGpuBench(report).split('\n');
    expect(text[1]).toBe('GPUs: GPU 0: NVIDIA H200 (UUID: GPU-1); batch 256 per worker; data: synthetic');
    expect(text[3]).toBe('webgpu × 1      5120.0 img/s   step 50.0 ms (compute 40.0, wire 3.0, average 1.0, optimizer 5.0)   NVIDIA H200, nvidia hopper, driver NVIDIA 570.86.15');
    expect(text[5]).toBe('webgpu × 4   failed: E_BACKEND_UNAVAILABLE: requestDevice failed');
    expect(text[7]).toBe('PyTorch 2.5.1 on NVIDIA H200 (CUDA 12.4): 10240.0 img/s');
    expect(text[8]).toBe('webgpu × 1 / wasm × 1: 20.00 (goal ≥ 20)   webgpu × 1 / PyTorch CUDA: 0.50 (goal ≥ 0.5)   scaling on one GPU: 2: 1.50, 4: -');
  });
});
