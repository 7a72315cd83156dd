import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { loadCifar10, loadFinetuneDataset, loadHoldoutSplit, type ImageSet } from '@cifar-dist/data';
import {
  countParams,
  createModel,
  freezeLayers,
  getWeightsFlat,
  replaceHead,
  setWeightsFlat,
  tf,
} from '@cifar-dist/model';
import { writeFileAtomic } from './atomic-files.js';
import { checkpointName, findLatestCheckpoint, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { TrainingError } from './errors.js';
import { checkFrameBudget, MAX_MESSAGE_BYTES } from './frame-budget.js';
import { checkClassBias, finetunePrior } from './logit-adjust.js';
import { saveLayersModel } from './model-files.js';
import { PhaseRunner, type PhaseHooks, type PhaseName, type PhaseProgress } from './phase-runner.js';
import type { PhaseReport, RunReport } from './report.js';
import { checkRunFolder, lockRunFolder } from './run-folder.js';
import type { WorkerPool } from './worker-pool.js';

export interface RunOptions {
  config: TrainConfig;
  pool: WorkerPool;
  /** Run directory: checkpoints/, model-cifar10/, model-finetune/, report.json. */
  out: string;
  /**
   * true: continue from the newest good checkpoint under `<out>/checkpoints` (there must be one).
   * 'auto' (schedulers that restart a job into the same folder): continue when there is one, start
   * a new run when there is none.
   */
  resume?: boolean | 'auto';
  /**
   * On resume, the settings given explicitly (e.g. on the command line): they override the
   * checkpoint's saved config; every other setting is taken from the checkpoint. Absent: `config`
   * is used as given.
   */
  explicit?: ReadonlySet<keyof TrainConfig>;
  backend?: string;
  hooks?: PhaseHooks;
  /** Id of a new run (default: a random UUID); a resumed run keeps its checkpoint's. */
  runId?: string;
  /** Largest frame the transport carries (default MAX_MESSAGE_BYTES): larger settings are refused. */
  maxMessageBytes?: number;
}

/**
 * Settings whose default changed when they were introduced: a checkpoint written before them
 * resumes with what its run did (tau 0: the adjustment then always restored the natural prior;
 * no class bias).
 */
const LEGACY_DEFAULTS: Partial<TrainConfig> = { finetuneLogitTau: 0, finetuneClassBias: {} };

/**
 * The config a resumed run continues with: the checkpoint's, except the settings given explicitly;
 * a setting the checkpoint does not hold (one added since it was written) takes what its run did
 * (LEGACY_DEFAULTS) or else today's default. The class bias follows new fine-tune classes or an
 * explicit `--no-logit-adjust` (taking `given`'s) unless it is given itself. Logs every setting
 * that differs, and why.
 * @throws TrainingError E_TRAIN_CONFIG when an explicit --holdout differs from the checkpoint's
 */
export function resumedConfig(
  saved: TrainConfig,
  given: TrainConfig,
  explicit: ReadonlySet<keyof TrainConfig>,
  log: (msg: string) => void,
): TrainConfig {
  if (explicit.has('holdout') && saved.holdout !== given.holdout) {
    // Training on one split and scoring on another would score images the model trained on.
    throw new TrainingError(
      'E_TRAIN_CONFIG',
      `--holdout ${given.holdout ?? '(none)'} differs from the checkpoint's (${saved.holdout ?? 'none'}): a run keeps the data split it started with`,
    );
  }
  const merged: TrainConfig = { ...given, ...LEGACY_DEFAULTS, ...saved };
  // The class bias belongs to the classes it was chosen for and rides on the adjustment: new classes,
  // or the adjustment turned off, take the given one (defaultConfig's: none without the adjustment).
  const followsClasses = explicit.has('finetune');
  const followsNoAdjust = explicit.has('finetuneLogitAdjust') && !given.finetuneLogitAdjust;
  const biasFollows = (followsClasses || followsNoAdjust) && !explicit.has('finetuneClassBias');
  for (const key of biasFollows ? [...explicit, 'finetuneClassBias' as const] : explicit) (merged as unknown as Record<string, unknown>)[key] = given[key];
  for (const key of Object.keys(merged) as Array<keyof TrainConfig>) {
    const [was, now] = [JSON.stringify(saved[key]), JSON.stringify(merged[key])];
    if (was === now) continue;
    const why = explicit.has(key) ? 'given explicitly' : biasFollows && key === 'finetuneClassBias' ? (followsClasses ? 'follows the fine-tune classes given' : 'follows --no-logit-adjust') : key in LEGACY_DEFAULTS ? 'not in the checkpoint: what its run did' : "not in the checkpoint: today's default";
    log(`resume: ${key} ${was ?? 'unset'} -> ${now ?? 'unset'} (${why})`);
  }
  return merged;
}

/** Weights of the first `k` layers, flat, for the frozen-weights check. */
function layerWeights(model: tf.LayersModel, k: number): Float32Array {
  const parts = model.layers.slice(0, k).flatMap((l) => l.getWeights().map((w) => w.dataSync() as Float32Array));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function bitEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Loads the data of both phases with the run's limits. */
async function loadPhaseData(config: TrainConfig, phase: PhaseName): Promise<{ train: ImageSet; test: ImageSet }> {
  const trainOpts = config.trainLimit ? { limit: config.trainLimit } : {};
  const testOpts = config.testLimit ? { limit: config.testLimit } : {};
  if (config.holdout !== undefined) {
    // Choosing a recipe: the held-out part of the training set stands in for the test set.
    const { train, heldOut } = await loadHoldoutSplit(config.dataDir, phase, config.finetune, config.holdout, trainOpts);
    return { train, test: heldOut };
  }
  if (phase === 'cifar10') {
    return {
      train: await loadCifar10(config.dataDir, 'train', trainOpts),
      test: await loadCifar10(config.dataDir, 'test', testOpts),
    };
  }
  return {
    train: await loadFinetuneDataset(config.dataDir, 'train', config.finetune, trainOpts),
    test: await loadFinetuneDataset(config.dataDir, 'test', config.finetune, testOpts),
  };
}

/** Copies every weight of `from` into a model built by createModel (same architecture). */
function rebuild(from: tf.LayersModel, numClasses: number, config: TrainConfig, frozen: number): tf.Sequential {
  const model = createModel({ numClasses, dropout: config.dropout, seed: config.seed });
  setWeightsFlat(model, getWeightsFlat(from, 'all'), 'all');
  freezeLayers(model, frozen);
  return model;
}

/**
 * The main job: phase 1 (CIFAR-10 from scratch), then phase 2 (new head for CIFAR-10 + the chosen
 * CIFAR-100 classes, first `frozenLayers` layers frozen), each trained by synchronous data-parallel
 * SGD over the pool's workers, checkpointed every epoch, evaluated, saved in LayersModel format.
 * With `resume`, continues from the newest good checkpoint under `<out>/checkpoints`.
 */
export async function runTraining(opts: RunOptions): Promise<RunReport> {
  // One run per folder at a time: a second one started on it is refused while this one runs.
  const release = lockRunFolder(opts.out);
  try {
    return await trainInFolder(opts);
  } finally {
    release();
  }
}

async function trainInFolder(opts: RunOptions): Promise<RunReport> {
  const { pool, out } = opts;
  let config = opts.config;
  const log = opts.hooks?.log ?? (() => undefined);
  const ckptRoot = path.join(out, 'checkpoints');
  const startedAt = new Date().toISOString();
  let resumeFrom: Checkpoint | null = null;
  // A new run never mixes with another run's files (the command line checks this before anything
  // starts, see runFolder; this covers every other caller).
  if (!opts.resume) checkRunFolder(out, 'new', { lockedByUs: true });
  if (opts.resume) {
    resumeFrom = await findLatestCheckpoint(ckptRoot, log);
    if (resumeFrom === null && opts.resume === 'auto') {
      // Nothing to continue: only a folder that holds no other run's files may take a new one.
      checkRunFolder(out, 'auto', { lockedByUs: true });
      log(`--resume auto: no checkpoint under ${ckptRoot}; starting a new run`);
    } else if (resumeFrom === null) {
      throw new TrainingError('E_TRAIN_CONFIG', `--resume: no good checkpoint under ${ckptRoot}; nothing to resume (leave out --resume to start a new run)`);
    }
  }
  let runId = opts.runId ?? randomUUID();
  if (resumeFrom !== null) {
    if (resumeFrom.state.runId !== undefined) runId = resumeFrom.state.runId;
    else log(`${resumeFrom.dir} has no run id (written before run ids): the run continues as run ${runId}`);
    log(`resuming from ${resumeFrom.dir} (run ${runId})`);
    if (opts.explicit) config = resumedConfig(resumeFrom.state.config, opts.config, opts.explicit, log);
  } else {
    log(`run ${runId} starts in ${out}`);
  }
  // Every frame must fit through the transport, with the settings the run goes on with.
  checkFrameBudget(config, opts.maxMessageBytes ?? MAX_MESSAGE_BYTES);
  // A class bias naming no added class fails now, not after the CIFAR-10 phase.
  await checkClassBias(config);
  const completed: PhaseReport[] = resumeFrom ? [...resumeFrom.state.completed] : [];
  let modelId = 0;

  const runPhase = async (
    name: PhaseName,
    model: tf.Sequential,
    data: { train: ImageSet; test: ImageSet },
    epochs: number,
    frozenLayers: number,
    resume?: Checkpoint,
  ): Promise<{ report: PhaseReport; model: tf.Sequential }> => {
    const started = performance.now();
    const numClasses = data.train.classNames.length;
    const phaseIndex = name === 'cifar10' ? 1 : 2;
    // The fine-tune's added classes are seen k times as often as their share of the data: its final
    // figures are taken after undoing that prior shift, and so is each epoch's test figure.
    const { repeats, adjust } = name === 'finetune' ? finetunePrior(config, data.train.labels, data.train.classNames) : { repeats: [], adjust: null };
    const runner = new PhaseRunner({
      name,
      model,
      modelId: ++modelId,
      numClasses,
      classNames: data.train.classNames,
      frozenLayers,
      train: data.train,
      test: data.test,
      epochs,
      schedule: name === 'cifar10' ? config.schedule : config.finetuneSchedule,
      config,
      pool,
      // The fine-tune's classes past CIFAR-10's ten are the added ones, with a tenth of the images.
      classRepeats: repeats,
      ...(adjust ? { evalAdjust: adjust } : {}),
      hooks: {
        ...opts.hooks,
        onEpochEnd: async (r, record) => {
          r.syncModel();
          const dir = await saveCheckpoint(
            ckptRoot,
            checkpointName(phaseIndex, record.epoch),
            model,
            {
              format: 1,
              createdAt: new Date().toISOString(),
              runId,
              config,
              phase: r.progress,
              numClasses,
              classNames: data.train.classNames,
              frozenLayers,
              completed,
            },
            r.optimizer.getState(),
          );
          log(`checkpoint ${dir}`);
          await opts.hooks?.onEpochEnd?.(r, record);
        },
      },
      ...(resume ? { resume: { progress: resume.state.phase, optimizer: resume.optimizer } } : {}),
    });
    const progress: PhaseProgress = await runner.run();
    if (adjust) {
      runner.adjustOutputBias(adjust);
      const bias = Object.entries(config.finetuneClassBias ?? {}).map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${v}`).join(', ');
      log(`logit adjustment (tau ${config.finetuneLogitTau ?? 0}${bias ? `, class bias ${bias}` : ''}): output bias lowered by ${adjust.map((a) => a.toFixed(4)).join(' ')}`);
    }
    const test = await runner.evaluateReport(data.test);
    const train = config.evaluateTrain ? await runner.evaluateReport(data.train) : null;
    const params = countParams(model);
    await saveLayersModel(model, path.join(out, `model-${name}`));
    const report: PhaseReport = {
      name,
      numClasses,
      classNames: data.train.classNames,
      params: params.total,
      trainableParams: params.trainable,
      frozenLayers,
      epochs,
      steps: progress.step,
      samplesSeen: progress.samplesSeen,
      history: progress.history,
      train,
      test,
      seconds: (performance.now() - started) / 1000,
    };
    return { report, model };
  };

  // Phase 1
  let phase1Model: tf.Sequential | null = null;
  if (resumeFrom && resumeFrom.state.phase.name === 'finetune') {
    log('phase cifar10 already finished in the checkpoint');
  } else {
    const data = await loadPhaseData(config, 'cifar10');
    const model = resumeFrom
      ? rebuild(resumeFrom.model, 10, config, 0)
      : createModel({ numClasses: 10, dropout: config.dropout, seed: config.seed });
    const r = await runPhase('cifar10', model, data, config.epochs, 0, resumeFrom ?? undefined);
    completed.push(r.report);
    phase1Model = r.model;
  }

  // Phase 2
  const data2 = await loadPhaseData(config, 'finetune');
  const numClasses2 = data2.train.classNames.length;
  let model2: tf.Sequential;
  let resume2: Checkpoint | undefined;
  if (phase1Model === null && resumeFrom) {
    model2 = rebuild(resumeFrom.model, numClasses2, config, config.frozenLayers);
    resume2 = resumeFrom;
  } else {
    model2 = replaceHead(phase1Model as tf.Sequential, numClasses2, { seed: config.seed + 1, dropout: config.dropout });
    freezeLayers(model2, config.frozenLayers);
  }
  // replaceHead copied every weight it keeps: phase 1's model is no longer needed.
  phase1Model?.dispose();
  // The frozen layers must come out bit-identical to phase 1's final weights (read from the saved phase 1 model on resume).
  const frozenBefore = layerWeights(model2, config.frozenLayers);
  const r2 = await runPhase('finetune', model2, data2, config.finetuneEpochs, config.frozenLayers, resume2);
  r2.report.frozenWeightsUnchanged = bitEqual(frozenBefore, layerWeights(r2.model, config.frozenLayers));
  completed.push(r2.report);

  // report.json names the run that wrote it, as its checkpoints do.
  const report: RunReport = {
    version: 1,
    runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    // The workers' backend is what trained; the coordinator's own (cpu) only builds and saves.
    backend: opts.backend ?? pool.live()[0]?.info.backend ?? tf.getBackend(),
    workers: pool.live().map((l) => ({ ...l.info })),
    config,
    phases: completed,
  };
  await writeFileAtomic(path.join(out, 'report.json'), JSON.stringify(report, null, 1));
  r2.model.dispose();
  resumeFrom?.model.dispose();
  return report;
}
