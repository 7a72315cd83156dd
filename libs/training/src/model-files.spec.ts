import { mkdir, mkdtemp, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, selectBackend, tf } from '@cifar-dist/model';
import { TrainingError } from './errors.js';
import { layersModelFiles, loadLayersModel, MODEL_JSON, WEIGHTS_BIN } from './model-files.js';

/**
 * The model reader against the layouts the TensorFlow.js LayersModel format allows (what
 * tensorflowjs_converter and the tfjs savers write), built here from a saved reference network:
 * the weights come back bit for bit (within the quantization step when quantized), predictions
 * of a fixed input equal those of the network holding the expected weights, and a broken folder
 * is refused naming the file, group or weight at fault.
 */

type Entry = tf.io.WeightsManifestEntry;
type Quantization = 'uint8' | 'uint16' | 'float16';
interface Folder {
  json: Record<string, unknown> & { weightsManifest: Array<{ paths: string[]; weights: Entry[] }> };
  files: Record<string, Uint8Array>;
}

const SHARD_4MB = 4 * 1024 * 1024;
let root: string;
/** model.json of the saved 14-class network, as saveLayersModel writes it. */
let savedJson: Folder['json'];
let specs: Entry[];
/** The saved weights, float32, by name. */
let values: Map<string, Float32Array>;
/** Weight names by layer, in the network's order (one group per layer). */
let byLayer: string[][];
/** A fixed input batch of 4 images. */
let input: tf.Tensor4D;
let folderCount = 0;

beforeAll(async () => {
  await selectBackend({ force: 'wasm' });
  root = await mkdtemp(path.join(os.tmpdir(), 'model-files-spec-'));
  const model = createModel({ numClasses: 14, seed: 5 });
  // Non-zero biases, so that quantizing them is tested too (a fresh network's are all 0).
  let x = 12345;
  const noise = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.2;
  const biased = model.getWeights().map((w) => (w.shape.length === 1 ? tf.tensor1d(Float32Array.from({ length: w.size }, noise)) : w.clone()));
  model.setWeights(biased);
  tf.dispose(biased);
  const files = await layersModelFiles(model);
  model.dispose();
  savedJson = JSON.parse(files[MODEL_JSON] as string) as Folder['json'];
  specs = savedJson.weightsManifest[0]?.weights ?? [];
  const bin = files[WEIGHTS_BIN] as Uint8Array;
  values = new Map();
  let offset = bin.byteOffset;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    values.set(s.name, new Float32Array(bin.buffer.slice(offset, offset + n * 4)));
    offset += n * 4;
  }
  const layers = new Map<string, string[]>();
  for (const s of specs) {
    const layer = s.name.split('/')[0] as string;
    layers.set(layer, [...(layers.get(layer) ?? []), s.name]);
  }
  byLayer = [...layers.values()];
  input = tf.tidy(() => tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 42) as tf.Tensor4D);
});

afterAll(async () => {
  input?.dispose();
  await rm(root, { recursive: true, force: true });
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** float32 -> IEEE binary16 bits, round to nearest even (what numpy's astype(float16) does). */
function toHalf(value: number): number {
  const bits = new Uint32Array(Float32Array.of(value).buffer)[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  const mant = bits & 0x7fffff;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - exp;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** IEEE binary16 bits -> its value, exactly. */
function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  return sign * (exp === 0 ? mant * 2 ** -24 : (1 + mant / 1024) * 2 ** (exp - 15));
}

/**
 * One weight as tensorflowjs_converter --quantize_{uint8,uint16,float16} stores it
 * (tfjs-converter's quantize_weights: affine over [min, max], the range nudged so that 0 is exact),
 * with the values tfjs must decode (v * scale + min in float64, stored as float32) and the step.
 */
function quantize(v: Float32Array, dtype: Quantization): { bytes: Uint8Array; quantization: Entry['quantization']; decoded: Float32Array; step: number } {
  if (dtype === 'float16') {
    const h = Uint16Array.from(v, toHalf);
    return { bytes: new Uint8Array(h.buffer), quantization: { dtype }, decoded: Float32Array.from(h, fromHalf), step: 0 };
  }
  const qmax = dtype === 'uint8' ? 255 : 65535;
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  let scale = 1;
  let min = lo;
  let max = hi;
  if (lo !== hi) {
    scale = (hi - lo) / qmax;
    if (lo <= 0 && hi >= 0) {
      min = -Math.round(-lo / scale) * scale;
      max = qmax * scale + min;
    }
  }
  const level = (x: number) => (lo === hi ? 0 : Math.round((Math.min(max, Math.max(min, x)) - min) / scale));
  const q = dtype === 'uint8' ? Uint8Array.from(v, level) : Uint16Array.from(v, level);
  return {
    bytes: new Uint8Array(q.buffer),
    quantization: { dtype, min, scale },
    decoded: Float32Array.from(q, (k) => k * scale + min),
    step: lo === hi ? 0 : scale,
  };
}

/**
 * A model folder's files: `groups` of weight names, each stored (quantized or not) as one run of
 * bytes cut into files of at most `shardBytes`, named as the converter names them
 * (`<sub>group<g>-shard<i>of<n>.bin`), plus what the loaded weights must be.
 */
function build(
  groups: string[][],
  opts: { quantize?: Quantization; shardBytes?: number; sub?: string } = {},
): Folder & { expected: Map<string, Float32Array>; step: Map<string, number> } {
  const expected = new Map<string, Float32Array>();
  const step = new Map<string, number>();
  const files: Record<string, Uint8Array> = {};
  const weightsManifest = groups.map((names, g) => {
    const weights: Entry[] = [];
    const parts: Uint8Array[] = [];
    for (const name of names) {
      const spec = specs.find((s) => s.name === name) as Entry;
      const v = values.get(name) as Float32Array;
      if (opts.quantize) {
        const q = quantize(v, opts.quantize);
        weights.push({ ...spec, quantization: q.quantization });
        parts.push(q.bytes);
        expected.set(name, q.decoded);
        step.set(name, q.step);
      } else {
        weights.push(spec);
        parts.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        expected.set(name, v);
      }
    }
    const data = concat(parts);
    const shard = opts.shardBytes ?? data.length;
    const n = Math.max(1, Math.ceil(data.length / shard));
    const paths = Array.from({ length: n }, (_, i) => {
      const p = `${opts.sub ?? ''}group${g + 1}-shard${i + 1}of${n}.bin`;
      files[p] = data.subarray(i * shard, (i + 1) * shard);
      return p;
    });
    return { paths, weights };
  });
  return { json: { ...savedJson, weightsManifest }, files, expected, step };
}

async function write(folder: Folder): Promise<string> {
  const dir = path.join(root, `m${++folderCount}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, MODEL_JSON), JSON.stringify(folder.json));
  for (const [p, bytes] of Object.entries(folder.files)) {
    await mkdir(path.dirname(path.resolve(dir, p)), { recursive: true });
    await writeFile(path.resolve(dir, p), bytes);
  }
  return dir;
}

function weightsByName(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(model.layers.flatMap((l) => l.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array] as const)));
}

function predict(model: tf.LayersModel): Float32Array {
  const out = tf.tidy(() => model.predict(input) as tf.Tensor);
  const v = out.dataSync() as Float32Array;
  out.dispose();
  return v;
}

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

const all = () => [specs.map((s) => s.name)];

describe('loadLayersModel reads every layout of the format', () => {
  const layouts: Array<[string, () => ReturnType<typeof build>]> = [
    ["saveLayersModel's own: one group, paths ['./weights.bin']", () => ({
      ...build(all()),
      json: savedJson,
      files: { [WEIGHTS_BIN]: concat(specs.map((s) => new Uint8Array((values.get(s.name) as Float32Array).buffer))) },
    })],
    ['one group per layer (tensorflowjs_converter --split_weights_by_layer; the issue example)', () => build(byLayer)],
    ['uint8-quantized weights (--quantize_uint8; the issue example)', () => build(all(), { quantize: 'uint8' })],
    ['one group sharded into files of 4 MB, the converter default (the cut falls inside dense_1/kernel)', () => build(all(), { shardBytes: SHARD_4MB })],
    ['float16-quantized weights (--quantize_float16)', () => build(all(), { quantize: 'float16' })],
    ['uint16-quantized, one group per layer, each sharded into 256 KB files', () => build(byLayer, { quantize: 'uint16', shardBytes: 256 * 1024 })],
    ['weight files in a subfolder (paths: sub/group1-shard1of1.bin)', () => build(byLayer, { sub: 'sub/' })],
    ['manifest order unlike the network order (groups and weights reversed)', () => build(byLayer.map((g) => [...g].reverse()).reverse())],
  ];

  it.each(layouts)('%s', async (_name, make) => {
    const folder = make();
    const dir = await write(folder);
    const before = tf.memory().numTensors;
    const model = await loadLayersModel(dir);
    const reference = createModel({ numClasses: 14 });
    try {
      const got = weightsByName(model);
      expect([...got.keys()].sort()).toEqual(specs.map((s) => s.name).sort());
      for (const [name, want] of folder.expected) {
        const have = got.get(name) as Float32Array;
        // what tfjs must decode, bit for bit (the original values when not quantized)
        expect(bytesOf(have).equals(bytesOf(want)), name).toBe(true);
        // and within the quantization step of the original weights
        const original = values.get(name) as Float32Array;
        const step = folder.step.get(name) ?? 0;
        const quantization = folder.json.weightsManifest.flatMap((g) => g.weights).find((w) => w.name === name)?.quantization?.dtype;
        let worst = 0;
        for (let i = 0; i < have.length; i++) {
          const x = original[i] as number;
          const bound = quantization === 'float16' ? Math.abs(x) * 2 ** -11 + 2 ** -25 : step / 2 + Math.abs(x) * 2 ** -23;
          worst = Math.max(worst, Math.abs((have[i] as number) - x) - bound);
        }
        expect(worst, name).toBeLessThanOrEqual(0);
        if (!quantization) expect(bytesOf(have).equals(bytesOf(original)), name).toBe(true);
      }
      // predictions of a fixed input equal those of the network holding the expected weights
      const expected = reference.weights.map((w) => tf.tensor(folder.expected.get(w.originalName) as Float32Array, w.shape as number[]));
      reference.setWeights(expected);
      tf.dispose(expected);
      expect(bytesOf(predict(model)).equals(bytesOf(predict(reference)))).toBe(true);
    } finally {
      model.dispose();
      reference.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('quantization is real: uint8 weights differ from the originals, by at most half a step', async () => {
    const folder = build(all(), { quantize: 'uint8' });
    const kernel = folder.expected.get('dense_1/kernel') as Float32Array;
    const original = values.get('dense_1/kernel') as Float32Array;
    const step = folder.step.get('dense_1/kernel') as number;
    let worst = 0;
    let beyond = -Infinity;
    for (let i = 0; i < kernel.length; i++) {
      const error = Math.abs((kernel[i] as number) - (original[i] as number));
      worst = Math.max(worst, error);
      // half a step, plus the float32 rounding of the decoded value
      beyond = Math.max(beyond, error - step / 2 - Math.abs(original[i] as number) * 2 ** -23);
    }
    expect(worst).toBeGreaterThan(step / 4);
    expect(beyond).toBeLessThanOrEqual(0);
    expect(Object.values(folder.files)[0]?.byteLength).toBe(1252910);
  });
});

describe('loadLayersModel refuses a broken folder, naming what is wrong', () => {
  async function refusal(folder: Folder, edit?: (dir: string) => Promise<void>): Promise<{ dir: string; message: string }> {
    const dir = await write(folder);
    await edit?.(dir);
    const before = tf.memory().numTensors;
    const err = await loadLayersModel(dir).then(
      (m) => {
        m.dispose();
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrainingError);
    expect((err as TrainingError).code).toBe('E_TRAIN_CHECKPOINT');
    // nothing built on the way is left behind
    expect(tf.memory().numTensors).toBe(before);
    return { dir, message: (err as Error).message };
  }

  it('a missing weights file: the file, its group and the path model.json gives', async () => {
    const { dir, message } = await refusal(build(byLayer), (d) => unlink(path.join(d, 'group3-shard1of1.bin')));
    expect(message).toBe(
      `weights file ${path.join(dir, 'group3-shard1of1.bin')} is missing ` +
        `(weightsManifest group 3 of 6, path 1 of 1 'group3-shard1of1.bin' in ${path.join(dir, MODEL_JSON)})`,
    );
  });

  it('a shard shorter than its group needs: every file of the group with its size, found and expected bytes', async () => {
    const { dir, message } = await refusal(build(all(), { shardBytes: SHARD_4MB }), (d) => truncate(path.join(d, 'group1-shard2of2.bin'), 100));
    expect(message).toBe(
      `the weights files of weightsManifest group 1 of 1 (${path.join(dir, 'group1-shard1of2.bin')}: 4194304 bytes, ` +
        `${path.join(dir, 'group1-shard2of2.bin')}: 100 bytes) hold 4194404 bytes, 817236 short of the 5011640 that the 12 weights ` +
        `of weightsManifest group 1 of 1 in ${path.join(dir, MODEL_JSON)} take ` +
        `(conv2d_1/kernel, conv2d_1/bias, conv2d_2/kernel, conv2d_2/bias, conv2d_3/kernel, conv2d_3/bias, … (12 in all))`,
    );
  });

  it('float32 data under a uint8 manifest: the file holds more than the quantized weights take', async () => {
    const folder = build(byLayer);
    const quantized = build(byLayer, { quantize: 'uint8' });
    const { dir, message } = await refusal({ json: quantized.json, files: folder.files });
    expect(message).toBe(
      `weights file ${path.join(dir, 'group1-shard1of1.bin')} holds 3584 bytes, 2688 more than the 896 that the 2 weights ` +
        `of weightsManifest group 1 of 6 in ${path.join(dir, MODEL_JSON)} take (conv2d_1/kernel, conv2d_1/bias)`,
    );
  });

  it('model.json missing, not JSON, a graph model, without modelTopology or weightsManifest', async () => {
    const folder = build(all());
    const json = (d: string) => path.join(d, MODEL_JSON);
    let r = await refusal(folder, (d) => unlink(json(d)));
    expect(r.message).toMatch(new RegExp(`^cannot read ${json(r.dir)}: ENOENT`));
    r = await refusal(folder, (d) => writeFile(json(d), '{"modelTopology": '));
    expect(r.message).toMatch(new RegExp(`^${json(r.dir)} is not JSON: `));
    r = await refusal({ ...folder, json: { ...folder.json, format: 'graph-model' } });
    expect(r.message).toBe(`${json(r.dir)} is a graph model (format 'graph-model', for tf.loadGraphModel), not a layers model`);
    r = await refusal({ ...folder, json: { ...folder.json, modelTopology: undefined } });
    expect(r.message).toBe(`${json(r.dir)} has no modelTopology (the network's layers): it is not a TensorFlow.js layers model`);
    r = await refusal({ ...folder, json: { ...folder.json, weightsManifest: [] } });
    expect(r.message).toBe(`${json(r.dir)} has no weightsManifest (the list of weight files): the model has no saved weights`);
  });

  it('a manifest weight the network does not have; network weights the manifest does not give', async () => {
    const folder = build(byLayer);
    const renamed = structuredClone(folder.json);
    (renamed.weightsManifest[5]?.weights[1] as Entry).name = 'dense_3/bias';
    let r = await refusal({ ...folder, json: renamed });
    expect(r.message).toBe(
      `${path.join(r.dir, MODEL_JSON)}: weightsManifest group 6 of 6 lists weight 'dense_3/bias', which the network in modelTopology ` +
        `does not have (its weights: conv2d_1/kernel, conv2d_1/bias, conv2d_2/kernel, conv2d_2/bias, conv2d_3/kernel, conv2d_3/bias, … (12 in all))`,
    );
    const dropped = build(byLayer.slice(0, 5));
    r = await refusal(dropped);
    expect(r.message).toBe(`${path.join(r.dir, MODEL_JSON)}: weightsManifest gives no values for 2 of the network's 12 weights: dense_2/kernel, dense_2/bias`);
  });

  it('a topology that is not the network of the weights: 14-class weights under a 10-class topology', async () => {
    const ten = await layersModelFiles(createModel({ numClasses: 10 }));
    const folder = build(byLayer);
    const r = await refusal({ ...folder, json: { ...folder.json, modelTopology: (JSON.parse(ten[MODEL_JSON] as string) as Folder['json']).modelTopology } });
    expect(r.message).toBe(
      `${path.join(r.dir, MODEL_JSON)}: weight 'dense_2/kernel' is [512,14] in weightsManifest group 6 of 6 but [512,10] in the network of modelTopology`,
    );
  });

  it('a topology tfjs cannot build; a weight listed twice; a quantization tfjs cannot decode; a URL path', async () => {
    const folder = build(byLayer);
    const json = (d: string) => path.join(d, MODEL_JSON);
    const unknownLayer = JSON.parse(JSON.stringify(folder.json).replace('"Conv2D"', '"Conv9D"')) as Folder['json'];
    let r = await refusal({ ...folder, json: unknownLayer });
    expect(r.message).toMatch(new RegExp(`^${json(r.dir)}: modelTopology does not describe a network TensorFlow.js can build: Unknown layer: Conv9D\\.`));
    const twice = structuredClone(folder.json);
    twice.weightsManifest[1]?.weights.push(folder.json.weightsManifest[0]?.weights[0] as Entry);
    r = await refusal({ ...folder, json: twice });
    expect(r.message).toBe(`${json(r.dir)}: weight 'conv2d_1/kernel' is listed twice in weightsManifest (groups 1 and 2)`);
    const int4 = structuredClone(folder.json);
    (int4.weightsManifest[0]?.weights[0] as Entry).quantization = { dtype: 'int4' as Quantization };
    r = await refusal({ ...folder, json: int4 });
    expect(r.message).toBe(
      `${json(r.dir)}: weight 'conv2d_1/kernel' of weightsManifest group 1 of 6 has quantization dtype "int4"; tfjs decodes uint8, uint16 and float16`,
    );
    const noScale = structuredClone(folder.json);
    (noScale.weightsManifest[0]?.weights[0] as Entry).quantization = { dtype: 'uint8', min: -1 };
    r = await refusal({ ...folder, json: noScale });
    expect(r.message).toBe(
      `${json(r.dir)}: weight 'conv2d_1/kernel' of weightsManifest group 1 of 6 is quantized to uint8 without a finite 'min' and 'scale' ({"dtype":"uint8","min":-1})`,
    );
    const url = structuredClone(folder.json);
    (url.weightsManifest[0] as { paths: string[] }).paths = ['https://example.com/group1-shard1of1.bin'];
    r = await refusal({ ...folder, json: url });
    expect(r.message).toBe(
      `${json(r.dir)}: weightsManifest group 1 of 6 lists 'https://example.com/group1-shard1of1.bin', a URL; weight files are read from the model folder`,
    );
  });
});
