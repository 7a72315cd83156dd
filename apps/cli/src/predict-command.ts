import path from 'node:path';
import { Command, Option } from 'commander';
import { BACKEND_NAMES, type BackendName } from '@cifar-dist/model';
import { useBackend } from './backend.js';
import { classNamesFor } from './class-names.js';
import type { CommandIo } from './command-io.js';
import { CliError } from './errors.js';
import { FORMATS_READ, MAX_INPUT_PIXELS, readImages, RESIZE_KERNEL, type ImageFailure } from './image-input.js';
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
 * predict's failure when some image files could not be read or decoded (exit status 5, as every
 * E_CLI_IMAGE). The files that could were classified and printed; both lists travel with the error.
 */
export class PredictImagesError extends CliError {
  readonly results: FilePrediction[];
  readonly failures: ImageFailure[];
  constructor(message: string, results: FilePrediction[], failures: ImageFailure[]) {
    super('E_CLI_IMAGE', message);
    this.name = 'PredictImagesError';
    this.results = results;
    this.failures = failures;
  }
}

const HELP_AFTER = `
Images: ${FORMATS_READ}, recognised by their content, of up to
${MAX_INPUT_PIXELS.toLocaleString('en-US')} pixels (2^28, e.g. 16384x16384: 50 and 100 MP photos are
fine). Each is decoded with sharp (libvips), turned upright by its EXIF orientation,
composited onto white where transparent, converted to 8-bit sRGB (gray, palette, 16-bit,
CMYK, ICC profiles) and stretched to 32x32 with the ${RESIZE_KERNEL} kernel. A damaged file
(truncated or corrupt data) is decoded as far as it can be read, with a warning.

A file that cannot be read or decoded is named on stderr with the reason; the others are
still classified. Exit status: 0 every image classified, 1 other failures (e.g. backend),
2 bad arguments, 4 model folder unusable, 5 one or more images could not be read or decoded.
`;

/**
 * `npm run predict -- --model <dir> [--top k] [--json] [--backend name] <image ...>`: classifies
 * image files of any size with a saved model. Each image is decoded, resized to 32x32 and
 * standardised like the training data (image-input.ts, predict-images.ts); the model's softmax
 * output gives the probabilities. Prints, per file, the top-k classes (names from the run's
 * report.json, see class-names.ts); with --json one JSON array [{file, top: [{class, probability}]}].
 *
 * Images are all decoded before the model is loaded. A file that cannot be read or decoded is
 * reported on `io.err` as `predict: <reason naming the file>` (when more than one file is given)
 * and skipped; the others are classified and printed (the JSON array holds only those), and the
 * command then fails with {@link PredictImagesError} (exit 5). When no file can be decoded the
 * model is not loaded. A damaged file that was decoded anyway gets a `warning:` line.
 *
 * @param argv process.argv style: node, script, then the arguments
 * @throws CliError E_CLI_USAGE (bad arguments), E_CLI_IMAGE (one image given and it cannot be read
 *   or decoded: its own error), PredictImagesError (E_CLI_IMAGE: some of several images could not
 *   be read or decoded), E_CLI_MODEL (missing or malformed model folder); ModelError E_BACKEND_UNAVAILABLE
 */
export async function predictCommand(argv: readonly string[], io: CommandIo): Promise<FilePrediction[]> {
  const program = new Command('predict')
    .description(`Classify images (${FORMATS_READ}; any size up to 2^28 pixels) with a saved model: top-k classes and probabilities`)
    .requiredOption('--model <dir>', 'model folder (model.json + weights.bin), e.g. runs/<run>/model-finetune')
    .option('--top <k>', 'classes to print per image', positiveInt, 3)
    .option('--json', 'print JSON: [{file, top: [{class, probability}]}] (the files that could be classified)')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend (webgpu: a GPU through Dawn, emulated ones included)').choices([...BACKEND_NAMES]).default('wasm'))
    .argument('<image...>', 'image files')
    .addHelpText('after', HELP_AFTER)
    .configureOutput({ writeOut: io.out });
  if (!parseArgs(program, argv)) return [];
  const o = program.opts<PredictOptions>();
  const files = program.args;

  // One file: its error is the command's error (printed once). Several: each is named as it is met.
  const several = files.length > 1;
  const { images, decoded, failures } = await readImages(files, {
    onFailure: (f) => several && io.err(`predict: ${f.error.message}\n`),
    onWarning: (msg) => io.err(`warning: ${msg}\n`),
  });
  if (!several && failures[0]) throw failures[0].error;
  let results: FilePrediction[] = [];
  const failed = () =>
    new PredictImagesError(
      decoded.length === 0
        ? `none of the ${files.length} images could be read or decoded (each is named above)`
        : `${failures.length} of ${files.length} images could not be read or decoded (each is named above); the other ${decoded.length} were classified`,
      results,
      failures,
    );
  if (decoded.length === 0) throw failed();

  await useBackend(o.backend);
  const loaded = await loadModelDir(o.model, (msg) => io.err(`warning: ${msg}\n`));
  try {
    const { names } = classNamesFor(loaded.numClasses, path.basename(loaded.dir), loaded.report);
    const probs = await predictProbabilities(loaded.model, images, decoded.length);
    const k = loaded.numClasses;
    results = decoded.map((fileIndex, i) => ({ file: files[fileIndex] as string, top: topK(probs.subarray(i * k, (i + 1) * k), o.top, names) }));
    io.out(o.json ? `${JSON.stringify(results, null, 1)}\n` : formatPredictions(results));
  } finally {
    loaded.model.dispose();
  }
  if (failures.length > 0) throw failed();
  return results;
}
