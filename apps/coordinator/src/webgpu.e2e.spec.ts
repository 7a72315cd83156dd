/**
 * `npm run train` on the webgpu backend, end to end: 2 worker processes on real CIFAR, a few steps
 * of both phases. Without a GPU the workers run on Chromium's SwiftShader (a GPU emulated on the
 * CPU: slow, so the run is tiny). And automatic choice must not take that emulated adapter.
 * Skipped, with the reason printed, only where Dawn finds no Vulkan adapter at all; CI sets
 * REQUIRE_WEBGPU=1 and there a missing adapter fails the run instead.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEmulatedAdapterName, probeAdapters, swiftShaderEnv } from '@cifar-dist/model';
import type { RunReport } from '@cifar-dist/training';
import { DATA, train } from './e2e-support.js';

// The machine's own adapters first (a real GPU); SwiftShader only where Dawn finds none.
let probe = await probeAdapters();
if (probe.adapters.length === 0) {
  Object.assign(process.env, swiftShaderEnv());
  probe = await probeAdapters();
}
const adapters = probe.adapters;
const skip = adapters.length === 0 && process.env['REQUIRE_WEBGPU'] !== '1';
if (skip) console.log(`webgpu e2e skipped: Dawn finds no Vulkan adapter (${probe.problem ?? "install a GPU's Vulkan driver, or Debian's chromium for SwiftShader"})`);
const emulatedOnly = adapters.length > 0 && adapters.every((a) => isEmulatedAdapterName(a.name));
if (!emulatedOnly) console.log('automatic-choice e2e skipped: it needs a machine whose only Vulkan adapter is emulated (this one has a GPU, or none)');

describe.skipIf(skip)('npm run train --backend webgpu (2 worker processes, real CIFAR, both phases)', () => {
  let out: string;
  let result: { code: number | null; output: string };

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'cifar-dist-webgpu-'));
    result = await train([
      '--backend', 'webgpu', '--workers', '2', '--data-dir', DATA, '--out', out,
      '--epochs', '1', '--finetune-epochs', '1', '--train-limit', '64', '--test-limit', '32',
      '--batch-size', '32', '--no-eval-train',
    ]);
  }, 900_000);

  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('exits 0; each worker logs the adapter it computes on, and the coordinator its join', () => {
    if (result.code !== 0) console.error(result.output.slice(-5000));
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/== finetune: 14 classes/);
    for (const w of ['w0', 'w1']) expect(result.output).toMatch(new RegExp(`worker ${w} joined \\(webgpu, [^,]+, adapter \\d+: [^)]*driver '[^']+'`));
  });

  it('report.json names the backend webgpu and every worker its adapter (vendor, architecture, device, driver)', async () => {
    const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as RunReport;
    expect(report.backend).toBe('webgpu');
    expect(report.workers).toHaveLength(2);
    for (const w of report.workers) {
      expect(w.backend).toBe('webgpu');
      // Worker i is on GPU i (adapter index i among the GPUs), or all share the emulated one.
      expect(w.adapter).toEqual({
        vendor: expect.any(String),
        architecture: expect.any(String),
        device: adapters[w.adapter?.index ?? -1]?.name,
        driver: expect.stringMatching(/\S/),
        emulated: emulatedOnly,
        index: expect.any(Number),
      });
    }
    const [p1, p2] = report.phases;
    expect(p1?.samplesSeen).toBe(64);
    expect(p1?.test.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(32);
    expect(Number.isFinite(p1?.test.loss)).toBe(true);
    expect(p2?.frozenWeightsUnchanged).toBe(true);
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/w0: webgpu, .*adapter 0: /);
  });
});

describe.skipIf(!emulatedOnly)('npm run train without --backend, where the only adapter is emulated', () => {
  it('chooses wasm, and says why it passed webgpu over', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'cifar-dist-auto-'));
    try {
      const result = await train(['--workers', '1', '--data-dir', DATA, '--out', out, '--epochs', '1', '--finetune-epochs', '0', '--train-limit', '64', '--test-limit', '32', '--no-eval-train']);
      if (result.code !== 0) console.error(result.output.slice(-5000));
      expect(result.code).toBe(0);
      expect(result.output).toMatch(/backend webgpu unavailable: .*only emulated WebGPU adapters \('SwiftShader/);
      expect(result.output).toMatch(/worker w0 joined \(wasm/);
      const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as RunReport;
      expect(report.backend).toBe('wasm');
      expect(report.workers[0]?.adapter).toBeUndefined();
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 300_000);
});
