import path from 'node:path';
import { Command, Option } from 'commander';
import { resolveDataDir } from '@cifar-dist/data';
import { formatClassificationReport, type ClassificationReport } from '@cifar-dist/metrics';
import { BACKEND_NAMES, type BackendName } from '@cifar-dist/model';
import { useBackend } from './backend.js';
import type { CommandIo } from './command-io.js';
import { DEFAULT_EVAL_CHUNK, evaluateModel } from './evaluate-model.js';
import { loadModelDir } from './model-dir.js';
import { parseArgs, positiveInt } from './parse-args.js';
import { loadTestSet } from './test-set.js';

interface EvaluateOptions {
  model: string;
  dataDir?: string;
  testLimit?: number;
  json?: boolean;
  backend: BackendName;
}

/**
 * `npm run evaluate -- --model <dir> [--data-dir <dir>] [--test-limit n] [--json] [--backend name]`:
 * recomputes the test metrics of a saved model as the training run did (evaluate-model.ts), on
 * the CIFAR-10 test set (10 classes) or the fine-tune test set (classes from the run's
 * report.json `config.finetune` next to the model folder, else the default four). Prints the
 * scikit-learn-style report, then `accuracy` and `loss` at full precision (shortest round-trip
 * decimal of the float64); with --json the ClassificationReport as JSON.
 *
 * @throws CliError E_CLI_USAGE / E_CLI_MODEL / E_CLI_DATA, CifarDataError (data not found)
 */
export async function evaluateCommand(argv: readonly string[], io: CommandIo): Promise<ClassificationReport | null> {
  const program = new Command('evaluate')
    .description('Recompute the test metrics of a saved model (as report.json has them)')
    .requiredOption('--model <dir>', 'model folder (model.json + weights.bin), e.g. runs/<run>/model-cifar10')
    .option('--data-dir <dir>', 'CIFAR data directory (else env CIFAR_DATA_DIR, else ./data)')
    .option('--test-limit <n>', 'use only the first n records of each test file', positiveInt)
    .option('--json', 'print the ClassificationReport as JSON')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend (webgpu: a GPU through Dawn, emulated ones included)').choices([...BACKEND_NAMES]).default('wasm'))
    .configureOutput({ writeOut: io.out });
  if (!parseArgs(program, argv)) return null;
  const o = program.opts<EvaluateOptions>();

  await useBackend(o.backend);
  const loaded = await loadModelDir(o.model, (msg) => io.err(`warning: ${msg}\n`));
  try {
    const finetune = loaded.report?.config?.finetune ?? {};
    const holdout = loaded.report?.config?.holdout;
    if (holdout !== undefined) {
      io.err(`warning: this model's run was trained with --holdout ${holdout}: its report.json figures are on the held-out split; these are on the test set\n`);
    }
    const { set, description } = await loadTestSet(resolveDataDir(o.dataDir), loaded.numClasses, finetune, o.testLimit);
    const report = await evaluateModel(loaded.model, set, loaded.report?.config?.evalChunk ?? DEFAULT_EVAL_CHUNK);
    if (o.json) {
      io.out(`${JSON.stringify(report, null, 1)}\n`);
    } else {
      io.out(
        `${path.basename(loaded.dir)}: ${loaded.numClasses} classes, ${description}, ${set.count} images, backend ${o.backend}\n\n` +
          `${formatClassificationReport(report)}\naccuracy ${report.accuracy}\nloss ${report.loss}\n`,
      );
    }
    return report;
  } finally {
    loaded.model.dispose();
  }
}
