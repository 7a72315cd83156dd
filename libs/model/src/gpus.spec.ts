import { describe, expect, it } from 'vitest';
import { countGpus, nodeGpuIds } from './gpus.js';

const SMI = `GPU 0: NVIDIA H200 (UUID: GPU-1f2e)
GPU 1: NVIDIA H200 (UUID: GPU-3a4b)
  MIG 1g.18gb     Device  0: (UUID: MIG-5c6d)
`;

describe('countGpus', () => {
  it('counts the GPU lines of nvidia-smi -L (not MIG lines)', () => {
    expect(countGpus({ nvidiaSmiList: () => SMI, procGpuEntries: () => null })).toBe(2);
  });

  it('falls back to /proc/driver/nvidia/gpus, then to 0', () => {
    expect(countGpus({ nvidiaSmiList: () => null, procGpuEntries: () => ['0000:3b:00.0', '0000:5e:00.0', '0000:86:00.0'] })).toBe(3);
    expect(countGpus({ nvidiaSmiList: () => 'No devices were found\n', procGpuEntries: () => ['0000:3b:00.0'] })).toBe(1);
    expect(countGpus({ nvidiaSmiList: () => null, procGpuEntries: () => null })).toBe(0);
  });

  it('reads the real machine without throwing', () => {
    const n = countGpus();
    expect(Number.isInteger(n) && n >= 0).toBe(true);
  });
});

describe('nodeGpuIds', () => {
  it('takes --gpus first, then CUDA_VISIBLE_DEVICES as a scheduler set it, then the GPUs found', () => {
    expect(nodeGpuIds('2,3', { CUDA_VISIBLE_DEVICES: '0' }, 8)).toEqual([2, 3]);
    expect(nodeGpuIds(undefined, { CUDA_VISIBLE_DEVICES: '4, 6' }, 8)).toEqual([4, 6]);
    expect(nodeGpuIds(undefined, {}, 3)).toEqual([0, 1, 2]);
    expect(nodeGpuIds(undefined, {}, 0)).toEqual([]);
  });

  it('reads "no GPU" the ways schedulers write it', () => {
    for (const none of ['', 'NoDevFiles', '-1']) expect(nodeGpuIds(undefined, { CUDA_VISIBLE_DEVICES: none }, 4), none).toEqual([]);
  });

  it('refuses GPU UUIDs with the fix', () => {
    expect(() => nodeGpuIds(undefined, { CUDA_VISIBLE_DEVICES: 'GPU-1f2e,GPU-3a4b' }, 2)).toThrow(/E_GPU_LIST: CUDA_VISIBLE_DEVICES=GPU-1f2e,GPU-3a4b: 'GPU-1f2e' is not a GPU index/);
  });
});
