import path from 'node:path';
import { Command, Option } from 'commander';
import { BACKEND_NAMES, type BackendName } from '@cifar-dist/model';
import { useBackend } from './backend.js';
import { classNamesFor } from './class-names.js';
import type { CommandIo } from './command-io.js';
import { readImagesRgb32 } from './image-input.js';
import { loadModelDir } from './model-dir.js';
import { parseArgs, positiveInt } from './parse-args.js';
import { predictProbabilities } from './predict-images.js';
import { formatPredictions, topK, type FilePrediction } from './top-k.js';

interface PredictOptions {
  model: string;
  top: number;
  json?: boolean;
  backend: BackendName;
}

/**
 * `npm run predict -- --model <dir> [--top k] [--json] [--backend name] <image ...>`: classifies
 * image files of any size with a saved model. Each image is decoded, resized to 32x32 and
 * standardised like the training data (image-input.ts, predict-images.ts); the model's softmax
 * output gives the probabilities. Prints, per file, the top-k classes (names from the run's
 * report.json, see class-names.ts); with --json one JSON array [{file, top: [{class, probability}]}].
 * Images are all decoded before the model is loaded, so a bad file fails fast.
 *
 * @param argv process.argv style: node, script, then the arguments
 * @throws CliError E_CLI_USAGE (bad arguments), E_CLI_IMAGE (unreadable/undecodable image, naming
 *   the file), E_CLI_MODEL (missing or malformed model folder); ModelError E_BACKEND_UNAVAILABLE
 */
export async function predictCommand(argv: readonly string[], io: CommandIo): Promise<FilePrediction[]> {
  const program = new Command('predict')
    .description('Classify images (PNG/JPEG, any size) with a saved model: top-k classes and probabilities')
    .requiredOption('--model <dir>', 'model folder (model.json + weights.bin), e.g. runs/<run>/model-finetune')
    .option('--top <k>', 'classes to print per image', positiveInt, 3)
    .option('--json', 'print JSON: [{file, top: [{class, probability}]}]')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend (webgpu: a GPU through Dawn, emulated ones included)').choices([...BACKEND_NAMES]).default('wasm'))
    .argument('<image...>', 'image files')
    .configureOutput({ writeOut: io.out });
  if (!parseArgs(program, argv)) return [];
  const o = program.opts<PredictOptions>();
  const files = program.args;

  const images = await readImagesRgb32(files);
  await useBackend(o.backend);
  const loaded = await loadModelDir(o.model, (msg) => io.err(`warning: ${msg}\n`));
  try {
    const { names } = classNamesFor(loaded.numClasses, path.basename(loaded.dir), loaded.report);
    const probs = await predictProbabilities(loaded.model, images, files.length);
    const k = loaded.numClasses;
    const results = files.map((file, i) => ({ file, top: topK(probs.subarray(i * k, (i + 1) * k), o.top, names) }));
    io.out(o.json ? `${JSON.stringify(results, null, 1)}\n` : formatPredictions(results));
    return results;
  } finally {
    loaded.model.dispose();
  }
}
