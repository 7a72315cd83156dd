import { Command, InvalidArgumentError, Option } from 'commander';
import type { LogLevel } from '@cifar-dist/log';
import { resolveDataDir } from '@cifar-dist/data';
import {
  checkFrameBudget,
  checkRunFolder,
  defaultConfig,
  durationHelp,
  formatClassBias,
  formatDuration,
  moveRunFolderAside,
  parseDuration,
  TrainingError,
  type DurationUnit,
  type OptimizerName,
  type TrainConfig,
} from '@cifar-dist/training';
import { GRAD_DTYPES, type GradDtype } from '@cifar-dist/protocol';

/** Parsed command-line options shared by `coordinator` and `train`. */
export interface CoordinatorOptions {
  dataDir?: string;
  out?: string;
  epochs: number;
  finetuneEpochs: number;
  batchSize: number;
  lr?: number;
  finetuneLr?: number;
  optimizer: OptimizerName;
  seed: number;
  finetuneClasses?: string[];
  superclass?: string;
  frozenLayers: number;
  finetuneOversample: number;
  logitAdjust: boolean;
  logitTau?: number;
  classBias?: Record<string, number>;
  holdout?: number;
  finetuneCutout?: number;
  labelSmoothing?: number;
  finetuneLabelSmoothing?: number;
  augment: boolean;
  dropout: boolean;
  trainLimit?: number;
  testLimit?: number;
  port: number;
  host: string;
  token?: string;
  resume?: string | boolean;
  /** Start a new run in an --out that holds another run, moving its contents aside. */
  overwrite?: boolean;
  minWorkers: number;
  /** ms (parsed from a duration). */
  waitTimeout: number;
  evalTrain: boolean;
  deterministic: boolean;
  microBatch: number;
  gradDtype: GradDtype;
  balance: boolean;
  clipNorm?: number;
  shm: boolean;
  /** ms (parsed from a duration, see durationOption). */
  requestTimeout: number;
  logLevel: LogLevel;
  dashboardPort?: number;
}

/** A commander parser for an option that must be a positive integer. */
export const positiveInt = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const nonNegInt = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};
const positiveNumber = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};
/** A number in [0, 1]. */
const unitInterval = (name: string) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be a number from 0 to 1`);
  return n;
};
/** A label smoothing: a number in [0, 1). */
const smoothing = (name: string) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n < 1)) throw new InvalidArgumentError(`${name} must be a number from 0 up to (not including) 1`);
  return n;
};
/** A number strictly between 0 and 1. */
const openUnitInterval = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`${name} must be a number between 0 and 1 (exclusive)`);
  return n;
};
/**
 * `--class-bias`: `name=nats,name=nats` (e.g. `snail=0.9,worm=0.5`), or `none`. Each name once,
 * each value a finite number, the option once (`previous`: commander's value so far, set when the
 * option was already given); whether the names are added classes is checked when the run starts.
 */
export function parseClassBias(value: string, previous?: Record<string, number>): Record<string, number> {
  if (previous !== undefined) throw new InvalidArgumentError('--class-bias is given more than once: give one comma-separated list');
  const text = value.trim();
  if (text === 'none') return {};
  const out = new Map<string, number>();
  for (const item of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(item);
    const n = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(n)) throw new InvalidArgumentError(`--class-bias: '${item}' is not name=nats (e.g. snail=0.9); give a comma-separated list, or none`);
    const name = m[1] as string;
    if (out.has(name)) throw new InvalidArgumentError(`--class-bias gives ${name} twice`);
    out.set(name, n);
  }
  // fromEntries makes every name an own property, even `__proto__`, which the run then refuses.
  return Object.fromEntries(out);
}
/** A TCP port: 0 (any free port) to 65535. */
const portNumber = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${name} must be a port number, 0 to 65535 (0: any free port)`);
  return n;
};

/**
 * A duration option (one rule for every one of train, coordinator, worker and node): `500ms`,
 * `30s`, `2m`, `1h`, `1m30s`; a bare number is `bareUnit`, the unit the option always had.
 * `defaultMs` is shown in the help as a duration. The parsed value is milliseconds.
 */
export function durationOption(flags: string, description: string, bareUnit: DurationUnit, defaultMs?: number): Option {
  const name = flags.split(' ')[0] as string;
  const option = new Option(flags, `${description} (${durationHelp(bareUnit)})`).argParser((value: string) => {
    try {
      return parseDuration(value, bareUnit);
    } catch (err) {
      throw new InvalidArgumentError(`${name}: ${(err as Error).message}`);
    }
  });
  return defaultMs === undefined ? option : option.default(defaultMs, formatDuration(defaultMs));
}

/** Layers of the reference network (Keras order, see createModel): the most --frozen-layers can freeze. */
const MODEL_LAYERS = 18;

/** Adds every training option to `cmd`; defaults come from defaultConfig() (the recipe). */
export function addTrainOptions(cmd: Command): Command {
  const d = defaultConfig();
  return cmd
    .option('--data-dir <dir>', 'CIFAR data directory, which must exist (else env CIFAR_DATA_DIR, else ./data); the archives are downloaded into it when it is empty')
    .option('--out <dir>', 'run directory for checkpoints, models and reports (default runs/<timestamp>); one that holds another run is refused unless --resume or --overwrite')
    .option('--epochs <n>', 'epochs of the CIFAR-10 phase', nonNegInt('--epochs'), d.epochs)
    .option('--finetune-epochs <n>', 'epochs of the fine-tune phase', nonNegInt('--finetune-epochs'), d.finetuneEpochs)
    .option('--batch-size <n>', 'global batch: samples per synchronous step, split over the workers', positiveInt('--batch-size'), d.batchSize)
    .option('--lr <rate>', `peak learning rate of the CIFAR-10 phase (default ${d.schedule.lr})`, positiveNumber('--lr'))
    .option('--finetune-lr <rate>', `peak learning rate of the fine-tune (default ${d.finetuneSchedule.lr})`, positiveNumber('--finetune-lr'))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adam']).default(d.optimizer.name))
    .option('--seed <n>', 'seed of initialisation, shuffling and augmentation', nonNegInt('--seed'), d.seed)
    .option('--finetune-classes <names...>', 'CIFAR-100 fine classes added in the fine-tune (default: lobster snail spider worm)')
    .option('--superclass <name|index>', 'add every fine class of this CIFAR-100 superclass instead')
    .option('--frozen-layers <k>', `freeze the first k layers (Keras order, 0 to ${MODEL_LAYERS}) in the fine-tune`, (v: string) => {
      const n = nonNegInt('--frozen-layers')(v);
      if (n > MODEL_LAYERS) throw new InvalidArgumentError(`--frozen-layers must be 0 to ${MODEL_LAYERS}: the network has ${MODEL_LAYERS} layers`);
      return n;
    }, d.frozenLayers)
    .option('--finetune-oversample <k>', 'times each image of the added classes is seen per fine-tune epoch', positiveInt('--finetune-oversample'), d.finetuneOversample)
    .option('--logit-tau <tau>', `class prior the fine-tuned model predicts under, natural^(1-tau): 0 = natural prior (accuracy), 1 = uniform (balanced recall) (default ${d.finetuneLogitTau})`, unitInterval('--logit-tau'))
    .option('--class-bias <list>', `nats added to an added class's logit after the fine-tune, name=nats,... or none: a per-class decision threshold chosen by choose-prior, applied with the logit adjustment (default: ${formatClassBias(d.finetuneClassBias)} with the default added classes, none with others)`, parseClassBias)
    .option('--label-smoothing <e>', `label smoothing of the CIFAR-10 phase's loss, 0 to 0.99 (default ${d.labelSmoothing})`, smoothing('--label-smoothing'))
    .option('--finetune-label-smoothing <e>', `label smoothing of the fine-tune's loss, 0 to 0.99 (default ${d.finetuneLabelSmoothing})`, smoothing('--finetune-label-smoothing'))
    .option('--finetune-cutout <px>', `Cutout square side on the added classes' training images in the fine-tune, 0 = none (default ${d.finetuneCutout})`, (v: string) => {
      const n = nonNegInt('--finetune-cutout')(v);
      if (n > 32) throw new InvalidArgumentError('--finetune-cutout must be 0 to 32 pixels (the images are 32 x 32)');
      return n;
    })
    .option('--holdout <fraction>', 'choose a recipe: hold out this share of each class of the training set and evaluate on it; the test sets are not read', openUnitInterval('--holdout'))
    .option('--no-logit-adjust', 'keep the output bias as trained, with no class bias (default: after the fine-tune, shift it from the oversampled prior to the one --logit-tau names, then add --class-bias)')
    .option('--augment', 'random crop (4 px padding) and horizontal flip of training images', true)
    .option('--no-augment', 'train on the images as they are')
    .option('--no-dropout', 'set every dropout rate to 0 (layers kept)')
    .option('--train-limit <n>', 'use only the first n training records of each file set', positiveInt('--train-limit'))
    .option('--test-limit <n>', 'use only the first n test records of each file set', positiveInt('--test-limit'))
    .option('--port <n>', 'coordinator port (0: any free port)', portNumber('--port'), 0)
    .option('--host <addr>', 'address to listen on; anything but loopback requires --token', '127.0.0.1')
    .option('--token <secret>', 'shared secret workers must present (else env CIFAR_DIST_TOKEN)')
    .option('--resume [dir]', "continue from the newest good checkpoint in --out (or in dir); 'auto': continue when --out holds a checkpoint, else start a new run there (for schedulers that restart a job)")
    .option('--overwrite', "start a new run in an --out that holds another run: the old run's files are first moved into <out>/previous-<timestamp>/ (never deleted)")
    .option('--min-workers <n>', 'wait until this many workers are connected before each step', positiveInt('--min-workers'), 1)
    .option('--deterministic', 'bit-identical weights for any number of workers and across --resume (fixed micro-batches, keyed dropout; more gradient traffic)', false)
    .option('--micro-batch <n>', 'micro-batch size of --deterministic', positiveInt('--micro-batch'), d.microBatch)
    .addOption(
      new Option('--grad-dtype <dtype>', 'dtype of the gradients workers send: 16-bit halves the bytes; the coordinator averages in float32, weights stay float32')
        .choices([...GRAD_DTYPES])
        .default(d.gradDtype),
    )
    .option('--no-balance', 'equal shards for every worker instead of shards sized by each worker\'s measured speed')
    .option('--clip-norm <max>', 'clip the averaged gradient to this L2 norm (global-norm clipping, as torch clip_grad_norm_); off by default', positiveNumber('--clip-norm'))
    .option('--no-shm', 'send every frame over the socket, also to workers on this machine (default: through /dev/shm)')
    .option('--no-eval-train', 'skip the full training-set evaluation at the end of each phase')
    .addOption(durationOption('--request-timeout <duration>', 'a worker that does not answer a request within this is dropped', 'ms', 120_000))
    .addOption(durationOption('--wait-timeout <duration>', 'stop the run (exit 5; the newest checkpoint is kept) when fewer than --min-workers workers have been live for this long', 's', 30 * 60_000))
    .option('--dashboard-port <n>', 'serve a live run page on 127.0.0.1:<n> (0: any free port; off by default)', portNumber('--dashboard-port'))
    .addOption(new Option('--log-level <level>', 'log verbosity').choices(['error', 'warn', 'info', 'debug']).default('info'));
}

/**
 * The start gate of `train` and `coordinator`, before anything starts: checks what can be checked
 * from the options alone, then resolves the run folder and resume mode they ask for, and with
 * --overwrite moves the folder's old contents aside. `--resume <dir>` continues the run in dir,
 * `--resume` the run in --out, `--resume auto` the run in --out when it holds a checkpoint (else a
 * new run there; a folder literally named auto is `--resume ./auto`).
 *
 * Refused, each with a message that names the option and the way out:
 * - an --out that holds another run (checkpoints, or a finished run's report and models) for a new
 *   run, and for --resume auto when none of its checkpoints verifies; a file in place of --out;
 * - --overwrite with --resume;
 * - a --data-dir (or CIFAR_DATA_DIR) that does not exist (E_DATA_MISSING);
 * - settings whose largest frame exceeds the message limit (see checkFrameBudget; a resumed run's
 *   settings come from its checkpoint and are checked when it is read).
 * @throws InvalidArgumentError for `--resume auto` without --out (a fresh timestamped folder never holds a checkpoint)
 * @throws TrainingError E_TRAIN_CONFIG, CifarDataError E_DATA_MISSING as above
 */
export function runFolder(
  o: StartOptionsOf,
  now = new Date(),
  env: NodeJS.ProcessEnv = process.env,
  log: (msg: string) => void = (msg) => process.stderr.write(`${msg}\n`),
): { out: string; resume: boolean | 'auto' } {
  const folder = checkStart(o, now, env);
  if (o.overwrite) {
    const aside = moveRunFolderAside(folder.out, now);
    if (aside !== null) log(`--overwrite: the old run's files in ${folder.out} were moved to ${aside} (nothing deleted); a new run starts there`);
  }
  return folder;
}

/** The options runFolder and checkStart read (a partial set skips the checks it lacks). */
type StartOptionsOf = Pick<CoordinatorOptions, 'out' | 'resume'> & Partial<CoordinatorOptions>;

/**
 * Every check of runFolder, without its one side effect (--overwrite's move): the launcher runs it
 * first, so that a refusal comes before it probes GPUs and backends.
 */
export function checkStart(o: StartOptionsOf, now = new Date(), env: NodeJS.ProcessEnv = process.env): { out: string; resume: boolean | 'auto' } {
  let folder: { out: string; resume: boolean | 'auto' };
  if (o.resume === 'auto') {
    if (o.out === undefined) throw new InvalidArgumentError('--resume auto needs --out <dir>: the folder to continue or to start in');
    folder = { out: o.out, resume: 'auto' };
  } else if (typeof o.resume === 'string') folder = { out: o.resume, resume: true };
  else folder = { out: o.out ?? defaultRunDir(now), resume: o.resume === true };
  if (o.overwrite && folder.resume !== false) {
    throw new TrainingError('E_TRAIN_CONFIG', `--overwrite starts a new run in ${folder.out} and --resume continues the one there: give one of them`);
  }
  if (o.dataDir !== undefined || env['CIFAR_DATA_DIR']) resolveDataDir(o.dataDir, env, { mustExist: true });
  // The folder: may a run start there, and as which?
  const mode = o.overwrite ? 'overwrite' : folder.resume === 'auto' ? 'auto' : folder.resume ? 'resume' : 'new';
  const { start } = checkRunFolder(folder.out, mode);
  if (start === 'new' && o.batchSize !== undefined) checkFrameBudget(configFromOptions(o as CoordinatorOptions, env));
  return folder;
}

/** Default run directory: runs/<ISO timestamp without colons>. */
export function defaultRunDir(now = new Date()): string {
  return `runs/${now.toISOString().replace(/[:.]/g, '-')}`;
}

/** Maps parsed options onto a TrainConfig. */
export function configFromOptions(o: CoordinatorOptions, env: NodeJS.ProcessEnv = process.env): TrainConfig {
  const d = defaultConfig();
  return defaultConfig({
    dataDir: resolveDataDir(o.dataDir, env),
    epochs: o.epochs,
    finetuneEpochs: o.finetuneEpochs,
    batchSize: o.batchSize,
    seed: o.seed,
    augment: o.augment,
    dropout: o.dropout,
    frozenLayers: o.frozenLayers,
    finetuneOversample: o.finetuneOversample,
    finetuneLogitAdjust: o.logitAdjust,
    finetuneLogitTau: o.logitTau ?? d.finetuneLogitTau,
    // Absent: defaultConfig's, which is for the default added classes only.
    ...(o.classBias !== undefined ? { finetuneClassBias: o.classBias } : {}),
    labelSmoothing: o.labelSmoothing ?? d.labelSmoothing,
    finetuneLabelSmoothing: o.finetuneLabelSmoothing ?? d.finetuneLabelSmoothing,
    finetuneCutout: o.finetuneCutout ?? d.finetuneCutout,
    ...(o.holdout !== undefined ? { holdout: o.holdout } : {}),
    finetune: o.superclass !== undefined
      ? { superclass: /^\d+$/.test(o.superclass) ? Number(o.superclass) : o.superclass }
      : o.finetuneClasses
        ? { classes: o.finetuneClasses }
        : {},
    ...(o.trainLimit ? { trainLimit: o.trainLimit } : {}),
    ...(o.testLimit ? { testLimit: o.testLimit } : {}),
    optimizer: {
      ...d.optimizer,
      name: o.optimizer,
      ...(o.optimizer === 'adam' ? { weightDecay: 0 } : {}),
    },
    schedule: { ...d.schedule, lr: o.lr ?? (o.optimizer === 'adam' ? 1e-3 : d.schedule.lr) },
    finetuneSchedule: { ...d.finetuneSchedule, lr: o.finetuneLr ?? (o.optimizer === 'adam' ? 5e-4 : d.finetuneSchedule.lr) },
    evaluateTrain: o.evalTrain,
    minWorkers: o.minWorkers,
    workerWaitMs: o.waitTimeout,
    deterministic: o.deterministic,
    microBatch: o.microBatch,
    gradDtype: o.gradDtype,
    balanceShards: o.balance,
    ...(o.clipNorm !== undefined ? { clipNorm: o.clipNorm } : {}),
  });
}

/** Which TrainConfig field each training option sets. */
const CONFIG_KEY_OF_OPTION: Record<string, keyof TrainConfig> = {
  dataDir: 'dataDir',
  epochs: 'epochs',
  finetuneEpochs: 'finetuneEpochs',
  batchSize: 'batchSize',
  lr: 'schedule',
  finetuneLr: 'finetuneSchedule',
  optimizer: 'optimizer',
  seed: 'seed',
  finetuneClasses: 'finetune',
  superclass: 'finetune',
  frozenLayers: 'frozenLayers',
  finetuneOversample: 'finetuneOversample',
  logitAdjust: 'finetuneLogitAdjust',
  logitTau: 'finetuneLogitTau',
  classBias: 'finetuneClassBias',
  holdout: 'holdout',
  finetuneCutout: 'finetuneCutout',
  labelSmoothing: 'labelSmoothing',
  finetuneLabelSmoothing: 'finetuneLabelSmoothing',
  augment: 'augment',
  dropout: 'dropout',
  trainLimit: 'trainLimit',
  testLimit: 'testLimit',
  evalTrain: 'evaluateTrain',
  minWorkers: 'minWorkers',
  waitTimeout: 'workerWaitMs',
  deterministic: 'deterministic',
  microBatch: 'microBatch',
  gradDtype: 'gradDtype',
  balance: 'balanceShards',
  clipNorm: 'clipNorm',
};

/**
 * The config fields the user set explicitly (on the command line or through an env variable):
 * on --resume these override the checkpoint's saved config, the rest comes from the checkpoint.
 */
export function explicitConfigKeys(cmd: Command): Set<keyof TrainConfig> {
  const keys = new Set<keyof TrainConfig>();
  for (const [option, key] of Object.entries(CONFIG_KEY_OF_OPTION)) {
    const source = cmd.getOptionValueSource(option);
    if (source === 'cli' || source === 'env') keys.add(key);
  }
  // --data-dir also comes from CIFAR_DATA_DIR
  if (process.env['CIFAR_DATA_DIR']) keys.add('dataDir');
  return keys;
}
