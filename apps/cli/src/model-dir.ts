import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { INPUT_SHAPE, type tf } from '@cifar-dist/model';
import { loadLayersModel, type RunReport } from '@cifar-dist/training';
import { CliError } from './errors.js';

/** A saved model, ready to run, and what the run folder says about it. */
export interface LoadedModel {
  model: tf.LayersModel;
  /** Output width (10 for model-cifar10, 14 for the default model-finetune). */
  numClasses: number;
  /** Absolute model folder. */
  dir: string;
  /** The run's report.json next to the model folder, or null when there is none (or unreadable). */
  report: RunReport | null;
}

/**
 * Reads `<modelDir>/../report.json` (the run folder's report). Missing file: null. A file that is
 * not JSON or has no `phases` array: null, after calling `warn` with the reason.
 */
export async function readRunReport(modelDir: string, warn: (msg: string) => void = () => undefined): Promise<RunReport | null> {
  const file = path.join(path.resolve(modelDir), '..', 'report.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const report = JSON.parse(text) as RunReport;
    if (typeof report !== 'object' || report === null || !Array.isArray(report.phases)) {
      warn(`ignoring ${file}: it has no 'phases' list`);
      return null;
    }
    return report;
  } catch (err) {
    warn(`ignoring ${file}: ${(err as Error).message}`);
    return null;
  }
}

/**
 * Loads a LayersModel folder (model.json + weights.bin, as the training run saves model-cifar10/
 * and model-finetune/, or any layout of the format that tf.loadLayersModel reads: weights split
 * into groups and shards, in subfolders, uint8/uint16/float16-quantized) and the run's
 * report.json beside it. Call after the backend is chosen; the caller disposes `model`.
 *
 * @throws CliError E_CLI_MODEL when the folder is missing, is not a readable model (the message
 *   names the file, weights group or weight at fault), or the model does not take
 *   [batch, 32, 32, 3] input and give [batch, classes] output
 */
export async function loadModelDir(modelDir: string, warn?: (msg: string) => void): Promise<LoadedModel> {
  const dir = path.resolve(modelDir);
  const info = await stat(dir).catch(() => null);
  if (info === null || !info.isDirectory()) {
    throw new CliError('E_CLI_MODEL', `no model folder at ${modelDir} (expected a folder with model.json and weights.bin)`);
  }
  let model: tf.LayersModel;
  try {
    model = await loadLayersModel(dir);
  } catch (err) {
    throw new CliError('E_CLI_MODEL', `cannot load the model in ${modelDir}: ${(err as Error).message}`, { cause: err });
  }
  const input = model.inputs[0]?.shape ?? [];
  const output = model.outputs[0]?.shape ?? [];
  const numClasses = output[1];
  if (input.length !== 4 || INPUT_SHAPE.some((d, i) => input[i + 1] !== d) || output.length !== 2 || typeof numClasses !== 'number') {
    model.dispose();
    throw new CliError(
      'E_CLI_MODEL',
      `the model in ${modelDir} maps ${JSON.stringify(input)} to ${JSON.stringify(output)}; expected [null,32,32,3] to [null,classes]`,
    );
  }
  return { model, numClasses, dir, report: await readRunReport(dir, warn) };
}
