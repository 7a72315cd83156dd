import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '@cifar-dist/model';
import { writeDirAtomic } from './atomic-files.js';
import { TrainingError } from './errors.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/**
 * The files of a model in TensorFlow.js's LayersModel format (model.json with `modelTopology` and
 * `weightsManifest` pointing to one `weights.bin`), as `tf.io.browserFiles`/`tfjs-node` write them;
 * `tf.loadLayersModel` reads them back.
 */
export async function layersModelFiles(model: tf.LayersModel): Promise<Record<string, Uint8Array | string>> {
  let files: Record<string, Uint8Array | string> = {};
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.concatenateArrayBuffers(
        artifacts.weightData === undefined ? [] : (artifacts.weightData as ArrayBuffer | ArrayBuffer[]),
      );
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      files = { [MODEL_JSON]: JSON.stringify(modelJson), [WEIGHTS_BIN]: new Uint8Array(weightData) };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return files;
}

/** Saves `model` into `dir` (replaced atomically). */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  await writeDirAtomic(dir, await layersModelFiles(model));
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/**
 * Loads a LayersModel folder written by saveLayersModel (or any single-shard model.json) with
 * `tf.loadLayersModel`, reading the files from disk (plain @tensorflow/tfjs has no file:// handler).
 * @throws TrainingError E_TRAIN_CHECKPOINT naming the file when it is missing or malformed
 */
export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  const jsonPath = path.join(dir, MODEL_JSON);
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8')) as ModelJson;
  } catch (err) {
    throw new TrainingError('E_TRAIN_CHECKPOINT', `cannot read ${jsonPath}: ${(err as Error).message}`, { cause: err });
  }
  const manifest = json.weightsManifest?.[0];
  if (!json.modelTopology || !manifest) {
    throw new TrainingError('E_TRAIN_CHECKPOINT', `${jsonPath} has no modelTopology or weightsManifest`);
  }
  const buffers = await Promise.all(manifest.paths.map((p) => readFile(path.join(dir, p))));
  const weightData = tf.io.concatenateArrayBuffers(
    buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer),
  );
  // Every weight of this network is float32: 4 bytes per value.
  const expected = manifest.weights.reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (weightData.byteLength !== expected) {
    throw new TrainingError(
      'E_TRAIN_CHECKPOINT',
      `${path.join(dir, manifest.paths[0] ?? WEIGHTS_BIN)} holds ${weightData.byteLength} bytes, model.json expects ${expected}`,
    );
  }
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: manifest.weights, weightData }),
  );
}
