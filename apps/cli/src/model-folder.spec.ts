import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadCifar10, normalizeImages } from '@cifar-dist/data';
import type { ClassificationReport } from '@cifar-dist/metrics';
import { tf } from '@cifar-dist/model';
import { saveLayersModel, type RunReport } from '@cifar-dist/training';
import { useBackend } from './backend.js';
import { CliError, exitCodeFor } from './errors.js';
import { evaluateCommand } from './evaluate-command.js';
import { loadModelDir } from './model-dir.js';
import { argv, captureIo, makeTempDir, removeDir, SHARED_DATA_DIR } from './spec-helpers.js';

/**
 * Issue 14, item 2: model folders that tf.loadLayersModel loads must load in predict/evaluate.
 * The examples, built from the trained run's model-finetune/: its weightsManifest split into one
 * group per layer (tensorflowjs_converter --split_weights_by_layer), and its weights quantized to
 * uint8 (--quantize_uint8). libs/training's model-files.spec.ts covers the other layouts and the
 * refusals in detail.
 */

type Entry = tf.io.WeightsManifestEntry;
interface ModelJson {
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: Entry[] }>;
  [key: string]: unknown;
}

const runDir = inject('trainedRunDir');
const TEST_IMAGES = 200;
let dir: string;
let run: RunReport;
let json: ModelJson;
/** The trained weights, float32, by name, in the saved order. */
let weights: Map<string, Float32Array>;
let original: string;
let split: string;
let uint8: string;
/** dense_1/kernel etc. -> the values the uint8 folder must decode, and its quantization step. */
const dequantized = new Map<string, { values: Float32Array; step: number }>();
let images: tf.Tensor4D;

/** A copy of the run: report.json beside a model-finetune/ holding `files`. */
async function runCopy(name: string, files: Record<string, Uint8Array | string>): Promise<string> {
  const model = path.join(dir, name, 'model-finetune');
  await mkdir(model, { recursive: true });
  await copyFile(path.join(runDir, 'report.json'), path.join(dir, name, 'report.json'));
  for (const [file, bytes] of Object.entries(files)) await writeFile(path.join(model, file), bytes);
  return model;
}

/** tfjs-converter's uint8 quantization of one weight: affine over [min, max], nudged so that 0 is exact. */
function quantizeUint8(v: Float32Array): { bytes: Uint8Array; min: number; scale: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  if (lo === hi) return { bytes: new Uint8Array(v.length), min: lo, scale: 1 };
  const scale = (hi - lo) / 255;
  const min = lo <= 0 && hi >= 0 ? -Math.round(-lo / scale) * scale : lo;
  const max = 255 * scale + min;
  return { bytes: Uint8Array.from(v, (x) => Math.round((Math.min(max, Math.max(min, x)) - min) / scale)), min, scale };
}

beforeAll(async () => {
  await useBackend('wasm');
  dir = await makeTempDir();
  run = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8')) as RunReport;
  original = path.join(runDir, 'model-finetune');
  json = JSON.parse(await readFile(path.join(original, 'model.json'), 'utf8')) as ModelJson;
  expect(json.weightsManifest).toHaveLength(1);
  const bin = await readFile(path.join(original, 'weights.bin'));
  weights = new Map();
  let offset = bin.byteOffset;
  for (const spec of json.weightsManifest[0]?.weights ?? []) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    weights.set(spec.name, new Float32Array(bin.buffer.slice(offset, offset + n * 4)));
    offset += n * 4;
  }
  const specs = json.weightsManifest[0]?.weights ?? [];

  // One group per layer, one file per group, named as the converter names them.
  const layers = [...new Set(specs.map((s) => s.name.split('/')[0] as string))];
  const splitFiles: Record<string, Uint8Array | string> = {};
  const splitManifest = layers.map((layer, g) => {
    const ws = specs.filter((s) => s.name.startsWith(`${layer}/`));
    const file = `group${g + 1}-shard1of1.bin`;
    splitFiles[file] = Buffer.concat(ws.map((s) => new Uint8Array((weights.get(s.name) as Float32Array).buffer)));
    return { paths: [file], weights: ws };
  });
  split = await runCopy('split', { ...splitFiles, 'model.json': JSON.stringify({ ...json, weightsManifest: splitManifest }) });

  // uint8: one byte per value, a quantization entry per weight.
  const parts: Uint8Array[] = [];
  const quantizedSpecs = specs.map((s) => {
    const q = quantizeUint8(weights.get(s.name) as Float32Array);
    parts.push(q.bytes);
    dequantized.set(s.name, { values: Float32Array.from(q.bytes, (k) => k * q.scale + q.min), step: q.scale });
    return { ...s, quantization: { dtype: 'uint8', min: q.min, scale: q.scale } };
  });
  uint8 = await runCopy('uint8', {
    'weights.bin': Buffer.concat(parts),
    'model.json': JSON.stringify({ ...json, weightsManifest: [{ paths: ['./weights.bin'], weights: quantizedSpecs }] }),
  });

  const test = await loadCifar10(SHARED_DATA_DIR, 'test', { limit: TEST_IMAGES });
  images = tf.tensor4d(normalizeImages(test.images, test.count), [test.count, 32, 32, 3]);
});

afterAll(async () => {
  images?.dispose();
  await removeDir(dir);
});

function weightsOf(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(model.layers.flatMap((l) => l.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array] as const)));
}

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function predict(model: tf.LayersModel): Float32Array {
  const out = tf.tidy(() => model.predict(images) as tf.Tensor);
  const v = out.dataSync() as Float32Array;
  out.dispose();
  return v;
}

async function evaluate(modelDir: string): Promise<ClassificationReport> {
  // the run's own test records when it was trained with --test-limit, else the first 200
  const limit = String(run.config.testLimit ?? TEST_IMAGES);
  const io = captureIo();
  const report = await evaluateCommand(argv('--model', modelDir, '--data-dir', SHARED_DATA_DIR, '--test-limit', limit, '--json'), io);
  expect(io.stderr()).toBe('');
  return report as ClassificationReport;
}

describe("the run's model-finetune in the converter's layouts", () => {
  it('one group per layer: every weight bit for bit, evaluate gives the report of the original folder', async () => {
    const [a, b] = await Promise.all([loadModelDir(original), loadModelDir(split)]);
    try {
      expect(b.numClasses).toBe(14);
      expect(b.report?.phases[1]?.name).toBe('finetune');
      const want = weightsOf(a.model);
      const got = weightsOf(b.model);
      expect([...got.keys()]).toEqual([...want.keys()]);
      for (const [name, v] of want) expect(bytesOf(got.get(name) as Float32Array).equals(bytesOf(v)), name).toBe(true);
      expect(bytesOf(predict(b.model)).equals(bytesOf(predict(a.model)))).toBe(true);
    } finally {
      a.model.dispose();
      b.model.dispose();
    }
    const report = await evaluate(split);
    expect(report).toEqual(await evaluate(original));
    if (run.config.testLimit) expect(report).toEqual(run.phases[1]?.test);
  });

  it('uint8-quantized: the dequantized values, within half a step of the trained ones; predictions as the network holding them', async () => {
    const [a, b] = await Promise.all([loadModelDir(original), loadModelDir(uint8)]);
    try {
      expect(b.numClasses).toBe(14);
      const trained = weightsOf(a.model);
      const got = weightsOf(b.model);
      for (const [name, { values, step }] of dequantized) {
        const have = got.get(name) as Float32Array;
        expect(bytesOf(have).equals(bytesOf(values)), name).toBe(true);
        const t = trained.get(name) as Float32Array;
        let beyond = -Infinity;
        for (let i = 0; i < t.length; i++) {
          beyond = Math.max(beyond, Math.abs((have[i] as number) - (t[i] as number)) - step / 2 - Math.abs(t[i] as number) * 2 ** -23);
        }
        expect(beyond, name).toBeLessThanOrEqual(0);
      }
      const trainedPredictions = predict(a.model);
      // the original network given the dequantized weights predicts exactly as the uint8 folder
      const values = a.model.weights.map((w) => tf.tensor((dequantized.get(w.originalName) as { values: Float32Array }).values, w.shape as number[]));
      a.model.setWeights(values);
      tf.dispose(values);
      const got8 = predict(b.model);
      expect(bytesOf(got8).equals(bytesOf(predict(a.model)))).toBe(true);
      // and nearly always picks the class the trained weights pick
      const argmax = (p: Float32Array, i: number) => {
        let best = 0;
        for (let c = 1; c < 14; c++) if ((p[i * 14 + c] as number) > (p[i * 14 + best] as number)) best = c;
        return best;
      };
      let same = 0;
      for (let i = 0; i < TEST_IMAGES; i++) same += argmax(got8, i) === argmax(trainedPredictions, i) ? 1 : 0;
      expect(same / TEST_IMAGES).toBeGreaterThanOrEqual(0.9);
    } finally {
      a.model.dispose();
      b.model.dispose();
    }
    const report = await evaluate(uint8);
    expect(report.perClass).toHaveLength(14);
  });

  it('a folder missing one weights file is refused (exit 4), naming the file and its group', async () => {
    const files: Record<string, Uint8Array | string> = { 'model.json': await readFile(path.join(split, 'model.json'), 'utf8') };
    for (const g of [1, 2, 4, 5, 6]) files[`group${g}-shard1of1.bin`] = await readFile(path.join(split, `group${g}-shard1of1.bin`));
    const broken = await runCopy('broken', files);
    const err = await loadModelDir(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(exitCodeFor(err)).toBe(4);
    expect((err as Error).message).toBe(
      `cannot load the model in ${broken}: weights file ${path.join(broken, 'group3-shard1of1.bin')} is missing ` +
        `(weightsManifest group 3 of 6, path 1 of 1 'group3-shard1of1.bin' in ${path.join(broken, 'model.json')})`,
    );
  });

  it('a network that is not the reference one (28x28x1 in) is refused, saying what it maps', async () => {
    const other = tf.sequential({
      layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, activation: 'softmax' })],
    });
    const folder = path.join(dir, 'mnist', 'model-cifar10');
    await saveLayersModel(other, folder);
    other.dispose();
    const before = tf.memory().numTensors;
    const err = await loadModelDir(folder).catch((e: unknown) => e);
    expect(tf.memory().numTensors).toBe(before);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toBe(
      `the model in ${folder} maps [null,28,28,1] to [null,10]; expected [null,32,32,3] to [null,classes]`,
    );
  });
});
