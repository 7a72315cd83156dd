import path from 'node:path';
import { tf } from '@cifar-dist/model';
import { writeDirAtomic } from './atomic-files.js';
import { TrainingError } from './errors.js';
import { MODEL_JSON, modelFolderHandler } from './model-io.js';

export { MODEL_JSON };
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

/**
 * Loads a LayersModel folder (model.json and the weight files its weightsManifest lists, in any
 * layout the format allows: saveLayersModel's one weights.bin, one group per layer, sharded
 * groups, subfolders, uint8/uint16/float16-quantized weights) with `tf.loadLayersModel` through
 * {@link modelFolderHandler}.
 * @throws TrainingError E_TRAIN_CHECKPOINT naming the file, group or weight at fault: model.json
 *   missing, not JSON or not a layers model; a weight file missing, unreadable, or not of the size
 *   its group's weights take; a manifest weight the network does not have, of another shape, or a
 *   network weight the manifest does not give
 */
export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(modelFolderHandler(dir));
  } catch (err) {
    if (err instanceof TrainingError) throw err;
    throw new TrainingError('E_TRAIN_CHECKPOINT', `cannot load ${path.join(dir, MODEL_JSON)}: ${(err as Error).message}`, { cause: err });
  }
}
