import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Packr } from 'msgpackr';
import type { tf } from '@cifar-dist/model';
import { removeInterruptedWrites, settleAtomicWrites, sha256, writeDirAtomic } from './atomic-files.js';
import type { TrainConfig } from './config.js';
import { TrainingError } from './errors.js';
import { MODEL_JSON, WEIGHTS_BIN, layersModelFiles, loadLayersModel } from './model-files.js';
import type { OptimizerState } from './optimizer.js';
import type { PhaseProgress } from './phase-runner.js';
import type { PhaseReport } from './report.js';

export const CHECKPOINT_FORMAT = 1;
const OPTIMIZER_BIN = 'optimizer.bin';
const STATE_JSON = 'state.json';
const MANIFEST_JSON = 'manifest.json';

const packr = new Packr({ moreTypes: true, useRecords: false });

/** What a checkpoint records besides the model and optimizer slots. */
export interface CheckpointState {
  format: number;
  createdAt: string;
  /**
   * The run that wrote it: a random id stamped when a run starts, kept by every resume. Absent in
   * checkpoints written before run ids (they still load; the resumed run gets an id then).
   */
  runId?: string;
  config: TrainConfig;
  phase: PhaseProgress;
  numClasses: number;
  classNames: string[];
  frozenLayers: number;
  /** Reports of phases already finished (phase 1's, while phase 2 runs). */
  completed: PhaseReport[];
}

export interface Checkpoint {
  dir: string;
  state: CheckpointState;
  optimizer: OptimizerState;
  model: tf.LayersModel;
}

/** Folder name of a checkpoint: sortable by (phase, epoch). */
export function checkpointName(phaseIndex: number, epoch: number): string {
  return `ckpt-p${phaseIndex}-e${String(epoch).padStart(4, '0')}`;
}

/**
 * Writes a checkpoint folder atomically (temp folder + rename): the LayersModel files, the
 * optimizer state (msgpack: iteration, then slots), state.json, and manifest.json with the sha256
 * of every other file, so a torn or altered checkpoint is detected on load.
 */
export async function saveCheckpoint(
  root: string,
  name: string,
  model: tf.LayersModel,
  state: CheckpointState,
  optimizer: OptimizerState,
): Promise<string> {
  const files: Record<string, Uint8Array | string> = {
    ...(await layersModelFiles(model)),
    [OPTIMIZER_BIN]: packr.pack(optimizer),
    [STATE_JSON]: JSON.stringify(state, null, 1),
  };
  const manifest = { format: CHECKPOINT_FORMAT, files: Object.fromEntries(Object.entries(files).map(([n, d]) => [n, sha256(d)])) };
  files[MANIFEST_JSON] = JSON.stringify(manifest, null, 1);
  const dir = path.join(root, name);
  await writeDirAtomic(dir, files);
  return dir;
}

/**
 * Reads and verifies one checkpoint folder.
 * @throws TrainingError E_TRAIN_CHECKPOINT naming the folder and the file that is missing, torn or
 *   does not match its checksum
 */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const fail = (what: string): never => {
    throw new TrainingError('E_TRAIN_CHECKPOINT', `checkpoint ${dir}: ${what}`);
  };
  let manifest: { format: number; files: Record<string, string> };
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_JSON), 'utf8')) as typeof manifest;
  } catch (err) {
    return fail(`${MANIFEST_JSON} is missing or unreadable (${(err as Error).message})`);
  }
  if (manifest.format !== CHECKPOINT_FORMAT) fail(`format ${manifest.format}, expected ${CHECKPOINT_FORMAT}`);
  for (const required of [MODEL_JSON, WEIGHTS_BIN, OPTIMIZER_BIN, STATE_JSON]) {
    const expected = manifest.files?.[required];
    if (!expected) fail(`${MANIFEST_JSON} lists no ${required}`);
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(dir, required));
    } catch {
      return fail(`${required} is missing`);
    }
    if (sha256(bytes) !== expected) fail(`${required} does not match its sha256 (torn or corrupted)`);
  }
  const state = JSON.parse(await readFile(path.join(dir, STATE_JSON), 'utf8')) as CheckpointState;
  const optimizer = packr.unpack(await readFile(path.join(dir, OPTIMIZER_BIN))) as OptimizerState;
  optimizer.slots = optimizer.slots.map((s) => new Float32Array(s));
  const model = await loadLayersModel(dir);
  return { dir, state, optimizer, model };
}

/**
 * The newest checkpoint under `root` that verifies; broken ones are reported through `log` and
 * skipped for the previous good one. Null when there is none.
 */
export async function findLatestCheckpoint(root: string, log: (msg: string) => void = () => undefined): Promise<Checkpoint | null> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => /^ckpt-p\d+-e\d+$/.test(n)).sort().reverse();
  } catch {
    return null;
  }
  for (const name of names) {
    try {
      return await loadCheckpoint(path.join(root, name));
    } catch (err) {
      log(`skipping ${name}: ${(err as Error).message}`);
    }
  }
  return null;
}

/**
 * Resolves once the saves in flight (checkpoints, models, the report) have been renamed into
 * place or failed, or after `timeoutMs`: a run that is stopping lets a nearly done save finish.
 * What is still unfinished at exit is removed then (see atomic-files.ts).
 */
export function settleSaves(timeoutMs: number): Promise<void> {
  return settleAtomicWrites(timeoutMs);
}

/** What a run writes into its folder through temp + rename (checkpoints go one level down). */
const RUN_WRITES = /^(model-[\w-]+|report\.(json|html)|history-[\w-]+\.csv)$/;

/**
 * Removes what interrupted saves left in a run folder and its checkpoints/ (a process killed
 * while writing a checkpoint, a model or the report): temp folders and files named
 * `<name>.tmp-<pid>-<ms>`, and puts back a `<name>.old-<pid>-<ms>` that was moved aside to be
 * replaced when `<name>` is missing. Only those names, and only for what a run writes
 * (checkpoint folders, models, report and history files); everything else is left alone.
 * Called when a run starts in `out`; each action is logged.
 */
export function removeInterruptedSaves(out: string, log: (msg: string) => void = () => undefined): void {
  const done = [
    ...removeInterruptedWrites(path.join(out, 'checkpoints'), (name) => /^ckpt-p\d+-e\d+$/.test(name)),
    ...removeInterruptedWrites(out, (name) => RUN_WRITES.test(name)),
  ];
  for (const line of done) log(line);
}
