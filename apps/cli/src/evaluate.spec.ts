import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadCifar10, loadFinetuneDataset, normalizeImages, type ImageSet } from '@cifar-dist/data';
import { classificationReport, confusionMatrix, formatClassificationReport, type ClassificationReport } from '@cifar-dist/metrics';
import { tf } from '@cifar-dist/model';
import type { RunReport } from '@cifar-dist/training';
import { useBackend } from './backend.js';
import { exitCodeFor } from './errors.js';
import { evaluateCommand } from './evaluate-command.js';
import { evaluateModel } from './evaluate-model.js';
import { argv, captureIo, makeTempDir, removeDir, runCli, saveTinyModel, SHARED_DATA_DIR } from './spec-helpers.js';

const LIMIT = 200;
let dir: string;
let model10: tf.Sequential;
let model14: tf.Sequential;
let dir10: string;
let dir14: string;
/** Fine-tune classes of the fake run, deliberately not in the default order. */
const FINETUNE_CLASSES = ['worm', 'lobster', 'spider', 'snail'];

beforeAll(async () => {
  await useBackend('wasm');
  dir = await makeTempDir();
  dir10 = path.join(dir, 'run-a', 'model-cifar10');
  dir14 = path.join(dir, 'run-b', 'model-finetune');
  model10 = await saveTinyModel(dir10, 10, 11);
  model14 = await saveTinyModel(dir14, 14, 12);
  await writeFile(path.join(dir, 'run-b', 'report.json'), JSON.stringify({ config: { finetune: { classes: FINETUNE_CLASSES } }, phases: [] }));
});

afterAll(async () => {
  model10?.dispose();
  model14?.dispose();
  await removeDir(dir);
});

/**
 * The metrics computed independently of the evaluation path: model.predict (softmax) on the
 * normalised images, argmax, sklearn-style report; loss = mean -ln p[label] in float64.
 */
function direct(model: tf.LayersModel, set: ImageSet): { report: ClassificationReport; loss: number } {
  const probs = tf.tidy(() => model.predict(tf.tensor4d(normalizeImages(set.images, set.count), [set.count, 32, 32, 3])) as tf.Tensor);
  const p = probs.dataSync();
  probs.dispose();
  const k = set.classNames.length;
  const predictions = new Uint8Array(set.count);
  let lossSum = 0;
  for (let i = 0; i < set.count; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if ((p[i * k + c] as number) > (p[i * k + best] as number)) best = c;
    predictions[i] = best;
    lossSum -= Math.log(p[i * k + (set.labels[i] as number)] as number);
  }
  return { report: classificationReport(confusionMatrix(set.labels.subarray(0, set.count), predictions, k), { classNames: set.classNames }), loss: lossSum / set.count };
}

async function evaluateJson(modelDir: string): Promise<ClassificationReport> {
  const io = captureIo();
  const report = await evaluateCommand(argv('--model', modelDir, '--data-dir', SHARED_DATA_DIR, '--test-limit', String(LIMIT), '--json'), io);
  const parsed = JSON.parse(io.stdout()) as ClassificationReport;
  expect(parsed).toEqual(report);
  return parsed;
}

describe('evaluate', () => {
  it('10 classes: the first 200 CIFAR-10 test images, metrics equal to a direct model.predict computation', async () => {
    const before = tf.memory().numTensors;
    const got = await evaluateJson(dir10);
    expect(tf.memory().numTensors).toBe(before);
    const set = await loadCifar10(SHARED_DATA_DIR, 'test', { limit: LIMIT });
    const want = direct(model10, set);
    expect(got.samples).toBe(LIMIT);
    expect({ ...got, loss: undefined }).toEqual(want.report);
    expect(Math.abs((got.loss as number) - want.loss)).toBeLessThan(1e-5);
  });

  it('14 classes: the fine-tune test set with the classes of the report.json next to the model', async () => {
    const got = await evaluateJson(dir14);
    expect(got.perClass.map((c) => c.name).slice(10)).toEqual(FINETUNE_CLASSES);
    const set = await loadFinetuneDataset(SHARED_DATA_DIR, 'test', { classes: FINETUNE_CLASSES }, { limit: LIMIT });
    // 200 CIFAR-10 records + the chosen classes among the first 200 CIFAR-100 records.
    expect(got.samples).toBe(set.count);
    expect(set.count).toBeGreaterThan(LIMIT);
    const want = direct(model14, set);
    expect({ ...got, loss: undefined }).toEqual(want.report);
    expect(Math.abs((got.loss as number) - want.loss)).toBeLessThan(1e-5);
  });

  it('gives a bit-identical report whatever the chunk size', async () => {
    const set = await loadCifar10(SHARED_DATA_DIR, 'test', { limit: LIMIT });
    const reference = await evaluateModel(model10, set, 500);
    expect(await evaluateModel(model10, set, 64)).toEqual(reference);
    expect(await evaluateModel(model10, set, 7)).toEqual(reference);
  });

  it('warns that a --holdout run\'s report.json figures are held-out ones, not these test figures', async () => {
    const held = path.join(dir, 'run-h', 'model-cifar10');
    (await saveTinyModel(held, 10, 13)).dispose();
    await writeFile(path.join(dir, 'run-h', 'report.json'), JSON.stringify({ config: { holdout: 0.2 }, phases: [] }));
    const io = captureIo();
    await evaluateCommand(argv('--model', held, '--data-dir', SHARED_DATA_DIR, '--test-limit', '20'), io);
    expect(io.stderr()).toBe(
      "warning: this model's run was trained with --holdout 0.2: its report.json figures are on the held-out split; these are on the test set\n",
    );
  });

  it('fails with a data error (exit 3) when the data folder holds no CIFAR-10', async () => {
    const err = await evaluateCommand(argv('--model', dir10, '--data-dir', path.join(dir, 'empty')), captureIo()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(exitCodeFor(err)).toBe(3);
    expect((err as Error).message).toContain(path.join(dir, 'empty'));
  });

  it('npm run evaluate prints the sklearn-style table, then accuracy and loss at full precision', async () => {
    const report = await evaluateJson(dir10);
    const r = await runCli('evaluate', ['--model', dir10, '--data-dir', SHARED_DATA_DIR, '--test-limit', String(LIMIT)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `model-cifar10: 10 classes, CIFAR-10 test set, ${LIMIT} images, backend wasm\n\n` +
        `${formatClassificationReport(report)}\naccuracy ${report.accuracy}\nloss ${report.loss}\n`,
    );
  });
});

describe('evaluate the trained models of a run (runs/full-2 when present, else a short run trained for the specs)', () => {
  const runDir = inject('trainedRunDir');
  const FULL_MODELS = ['model-cifar10', 'model-finetune'].map((m) => path.join(runDir, m));
  it.each([0, 1])('reproduces report.json phases[%i].test exactly', async (phase) => {
    const run = JSON.parse(await readFile(path.join(runDir, 'report.json'), 'utf8')) as RunReport;
    const io = captureIo();
    // the test records the run evaluated on (all of them, unless it was trained with --test-limit)
    const limit = run.config.testLimit ? ['--test-limit', String(run.config.testLimit)] : [];
    const got = await evaluateCommand(argv('--model', FULL_MODELS[phase] as string, '--data-dir', SHARED_DATA_DIR, ...limit, '--json'), io);
    expect(got).toEqual(run.phases[phase]?.test);
  });
});
