import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadCifar10, normalizeImages, type ImageSet } from '@cifar-dist/data';
import { useBackend } from './backend.js';
import { CliError } from './errors.js';
import { loadModelDir, readRunReport } from './model-dir.js';
import { makeTempDir, removeDir, saveTinyModel, SHARED_DATA_DIR } from './spec-helpers.js';

/**
 * A file:// IOHandler for plain @tensorflow/tfjs (which has none in Node), written here from the
 * LayersModel format itself, independently of libs/training's loader: model.json's topology and
 * weightsManifest, the weight files it lists concatenated in order.
 */
function fileHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
        modelTopology: object;
        weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
      };
      const groups = json.weightsManifest;
      const buffers = await Promise.all(groups.flatMap((g) => g.paths).map((p) => readFile(path.join(dir, p))));
      const weightData = new Uint8Array(buffers.reduce((n, b) => n + b.length, 0));
      let offset = 0;
      for (const b of buffers) {
        weightData.set(b, offset);
        offset += b.length;
      }
      return { modelTopology: json.modelTopology, weightSpecs: groups.flatMap((g) => g.weights), weightData: weightData.buffer };
    },
  };
}

function predictAll(model: tf.LayersModel, set: ImageSet): Float32Array {
  const out = tf.tidy(() => model.predict(tf.tensor4d(normalizeImages(set.images, set.count), [set.count, 32, 32, 3])) as tf.Tensor);
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

let dir: string;
let set: ImageSet;

beforeAll(async () => {
  await useBackend('wasm');
  dir = await makeTempDir();
  set = await loadCifar10(SHARED_DATA_DIR, 'test', { limit: 20 });
});
afterAll(() => removeDir(dir));

describe('a saved model', () => {
  it('loads in plain tfjs (custom file handler) with every weight and every prediction identical', async () => {
    const modelDir = path.join(dir, 'run', 'model-finetune');
    const original = await saveTinyModel(modelDir, 14, 5);
    const plain = await tf.loadLayersModel(fileHandler(modelDir));
    const ours = await loadModelDir(modelDir);
    try {
      expect(ours.numClasses).toBe(14);
      expect(ours.report).toBeNull();
      const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
      expect(weights(plain)).toEqual(weights(original));
      const want = predictAll(original, set);
      expect(want.length).toBe(20 * 14);
      expect(predictAll(plain, set)).toEqual(want);
      expect(predictAll(ours.model, set)).toEqual(want);
    } finally {
      original.dispose();
      plain.dispose();
      ours.model.dispose();
    }
  });

  it('a trained model-finetune (runs/full-2, else a short run): plain tfjs and the CLI loader predict identically', async () => {
    const modelDir = path.join(inject('trainedRunDir'), 'model-finetune');
    const plain = await tf.loadLayersModel(fileHandler(modelDir));
    const ours = await loadModelDir(modelDir);
    try {
      expect(ours.report?.phases[1]?.name).toBe('finetune');
      expect(predictAll(ours.model, set)).toEqual(predictAll(plain, set));
    } finally {
      plain.dispose();
      ours.model.dispose();
    }
  });

  it('is refused, naming the file, when weights.bin is short or model.json is not JSON', async () => {
    const broken = path.join(dir, 'broken');
    const m = await saveTinyModel(broken, 10, 1);
    m.dispose();
    await writeFile(path.join(broken, 'weights.bin'), new Uint8Array(8));
    await expect(loadModelDir(broken)).rejects.toThrow(
      `weights file ${path.join(broken, 'weights.bin')} holds 8 bytes, 5003424 short of the 5003432 that the 12 weights of weightsManifest group 1 of 1`,
    );
    await writeFile(path.join(broken, 'model.json'), '{');
    const err = await loadModelDir(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe('E_CLI_MODEL');
    expect((err as CliError).message).toContain(path.join(broken, 'model.json'));
  });
});

describe('readRunReport', () => {
  it('reads ../report.json; null when absent; null with a warning when malformed', async () => {
    const run = path.join(dir, 'rr');
    await mkdir(path.join(run, 'model-cifar10'), { recursive: true });
    expect(await readRunReport(path.join(run, 'model-cifar10'))).toBeNull();
    await writeFile(path.join(run, 'report.json'), JSON.stringify({ phases: [{ name: 'cifar10' }] }));
    expect((await readRunReport(path.join(run, 'model-cifar10/')))?.phases).toEqual([{ name: 'cifar10' }]);
    await writeFile(path.join(run, 'report.json'), '[1, 2');
    const warnings: string[] = [];
    expect(await readRunReport(path.join(run, 'model-cifar10'), (w) => warnings.push(w))).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`ignoring ${path.join(run, 'report.json')}`);
  });
});
