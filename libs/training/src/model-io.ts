import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '@cifar-dist/model';
import { TrainingError } from './errors.js';

/** The model file of a TensorFlow.js LayersModel folder. */
export const MODEL_JSON = 'model.json';

type ManifestEntry = tf.io.WeightsManifestEntry;

/** Bytes per stored value, by the dtype stored in the file (the quantized one when there is one), as tf.io.decodeWeights reads them. */
const STORED_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };
/** The dtypes a LayersModel weight can have. */
const WEIGHT_DTYPES = ['float32', 'int32', 'bool'];
/** How many weight names a message lists before it says "…". */
const NAMES_SHOWN = 6;

/** One group of a weightsManifest: its weights and the files that hold them, read from disk. */
export interface WeightGroupFiles {
  /** 1-based, as the converter numbers its files (group1-shard1of2.bin). */
  group: number;
  /** Absolute path of each file, in manifest order, and its size. */
  files: Array<{ file: string; bytes: number }>;
  specs: ManifestEntry[];
  /** The files' bytes, in order: the group's weights, concatenated as the format defines. */
  data: ArrayBuffer[];
}

function fail(message: string, cause?: unknown): never {
  throw new TrainingError('E_TRAIN_CHECKPOINT', message, cause === undefined ? undefined : { cause });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function listNames(names: readonly string[]): string {
  return names.length <= NAMES_SHOWN ? names.join(', ') : `${names.slice(0, NAMES_SHOWN).join(', ')}, … (${names.length} in all)`;
}

function valueCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes one manifest entry takes in its group's files. */
export function storedByteLength(spec: ManifestEntry): number {
  return valueCount(spec.shape) * (STORED_BYTES[spec.quantization?.dtype ?? spec.dtype] ?? Number.NaN);
}

/**
 * Reads and parses `<dir>/model.json` and checks that it is a LayersModel: a JSON object with a
 * `modelTopology` object and a `weightsManifest` list of groups, each with a `paths` list and a
 * `weights` list of well-formed entries (name, shape, a LayersModel dtype, and a quantization
 * tfjs can decode). Every weight name appears once.
 * @throws TrainingError E_TRAIN_CHECKPOINT naming model.json and what is wrong in it
 */
export async function readModelJson(dir: string): Promise<{ jsonPath: string; json: tf.io.ModelJSON }> {
  const jsonPath = path.join(dir, MODEL_JSON);
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (err) {
    return fail(`cannot read ${jsonPath}: ${(err as Error).message}`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`${jsonPath} is not JSON: ${(err as Error).message}`, err);
  }
  if (!isObject(json)) fail(`${jsonPath} holds no JSON object`);
  if (json.format === 'graph-model') {
    fail(`${jsonPath} is a graph model (format 'graph-model', for tf.loadGraphModel), not a layers model`);
  }
  if (!isObject(json.modelTopology)) {
    fail(`${jsonPath} has no modelTopology (the network's layers): it is not a TensorFlow.js layers model`);
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) {
    fail(`${jsonPath} has no weightsManifest (the list of weight files): the model has no saved weights`);
  }
  const seen = new Map<string, number>();
  manifest.forEach((g: unknown, gi) => {
    const where = `weightsManifest group ${gi + 1} of ${manifest.length}`;
    if (!isObject(g)) return fail(`${jsonPath}: ${where} is not an object`);
    if (!Array.isArray(g.paths) || g.paths.length === 0 || !g.paths.every((p) => typeof p === 'string' && p !== '')) {
      fail(`${jsonPath}: ${where} has no 'paths' list of file names`);
    }
    if (!Array.isArray(g.weights)) fail(`${jsonPath}: ${where} has no 'weights' list`);
    for (const p of g.paths as string[]) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(p)) fail(`${jsonPath}: ${where} lists '${p}', a URL; weight files are read from the model folder`);
    }
    (g.weights as unknown[]).forEach((w, wi) => {
      const problem = entryProblem(w);
      const name = isObject(w) && typeof w.name === 'string' ? `'${w.name}'` : `number ${wi + 1}`;
      if (problem) fail(`${jsonPath}: weight ${name} of ${where} ${problem}`);
      const entry = w as unknown as ManifestEntry;
      const first = seen.get(entry.name);
      if (first !== undefined) fail(`${jsonPath}: weight '${entry.name}' is listed twice in weightsManifest (groups ${first} and ${gi + 1})`);
      seen.set(entry.name, gi + 1);
    });
  });
  return { jsonPath, json: json as unknown as tf.io.ModelJSON };
}

/** What is wrong with one weightsManifest entry (a phrase), or null. */
function entryProblem(w: unknown): string | null {
  if (!isObject(w)) return 'is not an object';
  if (typeof w.name !== 'string' || w.name === '') return 'has no name';
  if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    return `has shape ${JSON.stringify(w.shape)}, not a list of sizes`;
  }
  if (typeof w.dtype !== 'string' || !WEIGHT_DTYPES.includes(w.dtype)) {
    return `has dtype ${JSON.stringify(w.dtype)}; a layers model's weights are ${WEIGHT_DTYPES.join(', ')}`;
  }
  const q = w.quantization;
  if (q === undefined) return null;
  if (!isObject(q)) return `has quantization ${JSON.stringify(q)}, not an object`;
  if (q.dtype === 'uint8' || q.dtype === 'uint16') {
    if (w.dtype === 'bool') return `is bool, which cannot be quantized`;
    if (typeof q.scale !== 'number' || !Number.isFinite(q.scale) || typeof q.min !== 'number' || !Number.isFinite(q.min)) {
      return `is quantized to ${q.dtype} without a finite 'min' and 'scale' (${JSON.stringify(q)})`;
    }
    return null;
  }
  if (q.dtype === 'float16') return w.dtype === 'float32' ? null : `is ${w.dtype}, which float16 quantization does not apply to`;
  return `has quantization dtype ${JSON.stringify(q.dtype)}; tfjs decodes uint8, uint16 and float16`;
}

/**
 * Reads every file of every group of `json.weightsManifest` (paths relative to `dir`, in manifest
 * order) and checks that each group's files hold exactly the bytes its weights take (quantized
 * ones at their stored width).
 * @throws TrainingError E_TRAIN_CHECKPOINT naming the missing or unreadable file, or the file(s)
 *   of a group with their sizes and the size the group's weights need
 */
export async function readWeightGroups(dir: string, jsonPath: string, manifest: tf.io.WeightsManifestConfig): Promise<WeightGroupFiles[]> {
  // Every file is read at once; the first failure in manifest order is the one reported.
  const groups = await settleInOrder(
    manifest.map(async (g, gi) => {
      const where = `weightsManifest group ${gi + 1} of ${manifest.length}`;
      const buffers = await settleInOrder(
        g.paths.map(async (p, pi) => {
          const file = path.resolve(dir, p);
          try {
            return { file, buf: await readFile(file) };
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            const which = `${where}, path ${pi + 1} of ${g.paths.length} '${p}' in ${jsonPath}`;
            return code === 'ENOENT'
              ? fail(`weights file ${file} is missing (${which})`, err)
              : fail(`cannot read weights file ${file} (${which}): ${(err as Error).message}`, err);
          }
        }),
      );
      return { g, gi, where, buffers };
    }),
  );
  return groups.map(({ g, gi, where, buffers }) => {
    const found = buffers.reduce((n, b) => n + b.buf.byteLength, 0);
    const needed = g.weights.reduce((n, s) => n + storedByteLength(s), 0);
    if (found !== needed) {
      const what =
        buffers.length === 1
          ? `weights file ${buffers[0]?.file} holds ${found} bytes`
          : `the weights files of ${where} (${buffers.map((b) => `${b.file}: ${b.buf.byteLength} bytes`).join(', ')}) hold ${found} bytes`;
      const count = g.weights.length;
      fail(
        `${what}, ${found < needed ? `${needed - found} short of` : `${found - needed} more than`} the ${needed} that the ` +
          `${count} weight${count === 1 ? '' : 's'} of ${where} in ${jsonPath} take (${listNames(g.weights.map((s) => s.name))})`,
      );
    }
    // Node's Buffers may be views into a shared pool: hand tfjs ArrayBuffers of exactly the file.
    const data = buffers.map(({ buf }) =>
      buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength
        ? (buf.buffer as ArrayBuffer)
        : (buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer),
    );
    return { group: gi + 1, files: buffers.map((b) => ({ file: b.file, bytes: b.buf.byteLength })), specs: g.weights, data };
  });
}

/** Like Promise.all, but waits for every promise and rejects with the first rejection in list order. */
async function settleInOrder<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/**
 * Builds the network of `modelTopology` alone (no weights) and checks the manifest's weights
 * against it the way `LayersModel.loadWeights(weights, strict)` matches them: every manifest
 * weight names one of the network's (its name, or the name without a TF 2.2 cell segment), with
 * the same shape and dtype, and every network weight gets a value. Keras 3 manifests (names
 * `layer/0`) are left to tfjs.
 * @throws TrainingError E_TRAIN_CHECKPOINT naming model.json, the weight and what does not fit
 */
export async function checkWeightsFitTopology(jsonPath: string, modelTopology: object, groups: readonly WeightGroupFiles[]): Promise<void> {
  let probe: tf.LayersModel;
  try {
    probe = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology }));
  } catch (err) {
    const first = ((err as Error).message ?? String(err)).split('\n')[0];
    return fail(`${jsonPath}: modelTopology does not describe a network TensorFlow.js can build: ${first}`, err);
  }
  try {
    const entries = groups.flatMap((g) => g.specs.filter((s) => s.group !== 'optimizer').map((s) => ({ spec: s, group: g.group })));
    const last = entries[0]?.spec.name.split('/').at(-1);
    if (last !== undefined && !Number.isNaN(Number.parseInt(last, 10))) return;
    const byName = new Map<string, { shape: number[]; dtype: string }>();
    for (const layer of probe.layers) for (const w of layer.weights) byName.set(w.originalName, { shape: w.shape as number[], dtype: w.dtype });
    const unset = new Set(byName.keys());
    for (const { spec, group } of entries) {
      let name = spec.name;
      if (!byName.has(name)) {
        const tokens = name.split('/');
        name = [...tokens.slice(0, -2), tokens[tokens.length - 1]].join('/');
      }
      const target = byName.get(name);
      const where = `weightsManifest group ${group} of ${groups.length}`;
      if (target === undefined) {
        fail(
          `${jsonPath}: ${where} lists weight '${spec.name}', which the network in modelTopology does not have ` +
            `(its weights: ${listNames([...byName.keys()])})`,
        );
      }
      if (JSON.stringify(target.shape) !== JSON.stringify(spec.shape)) {
        fail(
          `${jsonPath}: weight '${spec.name}' is ${JSON.stringify(spec.shape)} in ${where} but ${JSON.stringify(target.shape)} ` +
            `in the network of modelTopology`,
        );
      }
      if (target.dtype !== spec.dtype) {
        fail(`${jsonPath}: weight '${spec.name}' is ${spec.dtype} in ${where} but ${target.dtype} in the network of modelTopology`);
      }
      unset.delete(name);
    }
    if (unset.size > 0) {
      fail(`${jsonPath}: weightsManifest gives no values for ${unset.size} of the network's ${byName.size} weights: ${listNames([...unset])}`);
    }
  } finally {
    probe.dispose();
  }
}

/**
 * A `tf.io.IOHandler` for a LayersModel folder on disk (plain @tensorflow/tfjs has no file://
 * handler). `load()` reads model.json and every path of every weightsManifest group, in manifest
 * order, and hands tfjs the weight specs and the files' bytes through
 * `tf.io.getModelArtifactsForJSON`; `tf.loadLayersModel` then decodes them with
 * `tf.io.decodeWeights`, so every layout the format allows loads: one group or one per layer,
 * groups sharded into several files, files in subfolders, uint8/uint16/float16 quantization,
 * any weight order. Before tfjs builds anything, load() checks the files and the manifest against
 * the network (see readModelJson, readWeightGroups, checkWeightsFitTopology) so that an error
 * names the file, group or weight at fault.
 */
export function modelFolderHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const { jsonPath, json } = await readModelJson(dir);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const groups = await readWeightGroups(dir, jsonPath, manifest);
        await checkWeightsFitTopology(jsonPath, json.modelTopology, groups);
        return [groups.flatMap((g) => g.specs), groups.flatMap((g) => g.data)];
      });
    },
  };
}
