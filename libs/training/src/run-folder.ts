import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processAlive, sha256 } from './atomic-files.js';
import { TrainingError } from './errors.js';

/*
 * What a run folder (--out) holds, and whether a run may start in it. A new run refuses a folder
 * that holds another run (its checkpoints, or the report and models of a finished one) unless it is
 * told what to do with it: --resume continues that run, --overwrite moves its contents aside (never
 * deletes them), another --out starts elsewhere. --resume auto (schedulers restarting a job into
 * the same folder) continues when the folder holds a good checkpoint and starts a new run when it
 * holds no run at all.
 *
 * Synchronous on purpose: the command-line gate (runFolder in the coordinator's options) runs
 * before anything starts, and only reads a few small files plus the checksums of one checkpoint.
 */

/** What a run writes directly into its folder; anything else there is the user's and left alone. */
export const RUN_ENTRIES = [
  'checkpoints',
  'report.json',
  'report.html',
  'model-cifar10',
  'model-finetune',
  'history-cifar10.csv',
  'history-finetune.csv',
] as const;

const CHECKPOINT_NAME = /^ckpt-p(\d+)-e(\d+)$/;

/** One checkpoint folder as found on disk. */
export interface CheckpointSummary {
  name: string;
  /** Its files are all there and match manifest.json's checksums. */
  good: boolean;
  /** Why it is not good. */
  problem?: string;
  /** From its state.json, when readable. */
  runId?: string;
  phase?: string;
  epoch?: number;
  epochs?: number;
  seed?: number;
}

export interface RunFolderState {
  out: string;
  /**
   * missing: nothing there; file: a file, not a folder; empty: an empty folder; foreign: a folder
   * of files no run wrote (left alone, the run's files go beside them); run: it holds a run.
   */
  kind: 'missing' | 'file' | 'empty' | 'foreign' | 'run';
  /** Checkpoint folders under checkpoints/, newest first. */
  checkpoints: CheckpointSummary[];
  /** The newest checkpoint that verifies (what --resume continues), else null. */
  newestGood: CheckpointSummary | null;
  /** report.json's run id and seed when present (null: none; 'unreadable': there but not JSON). */
  report: { runId?: string; seed?: number } | 'unreadable' | null;
  /** The run's own entries present (RUN_ENTRIES). */
  runEntries: string[];
  /** Everything else in the folder. */
  otherEntries: string[];
}

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

/** Reads and verifies one checkpoint folder as loadCheckpoint does, without loading the model. */
function summarizeCheckpoint(dir: string, name: string): CheckpointSummary {
  const summary: CheckpointSummary = { name, good: false };
  try {
    const state = readJson(path.join(dir, 'state.json')) as {
      runId?: unknown;
      phase?: { name?: unknown; epoch?: unknown; epochs?: unknown };
      config?: { seed?: unknown; epochs?: unknown; finetuneEpochs?: unknown };
    };
    if (typeof state.runId === 'string') summary.runId = state.runId;
    if (typeof state.phase?.name === 'string') summary.phase = state.phase.name;
    if (typeof state.phase?.epoch === 'number') summary.epoch = state.phase.epoch;
    const epochs = summary.phase === 'finetune' ? state.config?.finetuneEpochs : state.config?.epochs;
    if (typeof epochs === 'number') summary.epochs = epochs;
    if (typeof state.config?.seed === 'number') summary.seed = state.config.seed;
  } catch {
    // described by the checks below
  }
  let manifest: { format?: unknown; files?: Record<string, unknown> };
  try {
    manifest = readJson(path.join(dir, 'manifest.json')) as typeof manifest;
  } catch {
    summary.problem = 'manifest.json is missing or unreadable';
    return summary;
  }
  for (const file of ['model.json', 'weights.bin', 'optimizer.bin', 'state.json']) {
    const expected = manifest.files?.[file];
    if (typeof expected !== 'string') {
      summary.problem = `manifest.json lists no ${file}`;
      return summary;
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(path.join(dir, file));
    } catch {
      summary.problem = `${file} is missing`;
      return summary;
    }
    if (sha256(bytes) !== expected) {
      summary.problem = `${file} does not match its sha256 (torn or corrupted)`;
      return summary;
    }
  }
  summary.good = true;
  return summary;
}

/** What `out` holds (see RunFolderState). Verifies checkpoints newest first, up to the first good one. */
export function inspectRunFolder(out: string): RunFolderState {
  const state: RunFolderState = { out, kind: 'missing', checkpoints: [], newestGood: null, report: null, runEntries: [], otherEntries: [] };
  let stat;
  try {
    stat = statSync(out);
  } catch {
    return state;
  }
  if (!stat.isDirectory()) return { ...state, kind: 'file' };
  const entries = readdirSync(out).sort();
  state.runEntries = entries.filter((e) => (RUN_ENTRIES as readonly string[]).includes(e));
  state.otherEntries = entries.filter((e) => !(RUN_ENTRIES as readonly string[]).includes(e));
  const ckptRoot = path.join(out, 'checkpoints');
  let names: string[] = [];
  try {
    names = readdirSync(ckptRoot).filter((n) => CHECKPOINT_NAME.test(n)).sort().reverse();
  } catch {
    // no checkpoints folder
  }
  for (const name of names) {
    const dir = path.join(ckptRoot, name);
    if (state.newestGood !== null) {
      state.checkpoints.push({ name, good: false, problem: 'not verified (a newer one is good)' });
      continue;
    }
    const summary = summarizeCheckpoint(dir, name);
    state.checkpoints.push(summary);
    if (summary.good) state.newestGood = summary;
  }
  if (existsSync(path.join(out, 'report.json'))) {
    try {
      const report = readJson(path.join(out, 'report.json')) as { runId?: unknown; config?: { seed?: unknown } };
      state.report = {
        ...(typeof report.runId === 'string' ? { runId: report.runId } : {}),
        ...(typeof report.config?.seed === 'number' ? { seed: report.config.seed } : {}),
      };
    } catch {
      state.report = 'unreadable';
    }
  }
  // A checkpoints/ folder without a checkpoint (a run that stopped while writing its first one
  // leaves only a temporary folder there) holds no run.
  if (state.checkpoints.length === 0) state.runEntries = state.runEntries.filter((e) => e !== 'checkpoints');
  state.kind = entries.length === 0 ? 'empty' : state.checkpoints.length > 0 || state.runEntries.length > 0 ? 'run' : 'foreign';
  return state;
}

/** The checkpoint in words: "run 1b2c… at cifar10 epoch 3 of 18, seed 42 (checkpoints/ckpt-p1-e0003)". */
function describeCheckpoint(c: CheckpointSummary): string {
  const where = c.phase !== undefined && c.epoch !== undefined ? `${c.phase} epoch ${c.epoch}${c.epochs !== undefined ? ` of ${c.epochs}` : ''}` : 'an unknown phase and epoch';
  return `run ${c.runId ?? '(no run id: written before run ids)'} at ${where}${c.seed !== undefined ? `, seed ${c.seed}` : ''} (checkpoints/${c.name})`;
}

/** What a folder holds, in words, for the refusal messages. */
export function describeRunFolder(s: RunFolderState): string {
  const parts: string[] = [];
  if (s.newestGood !== null) parts.push(`a checkpoint of ${describeCheckpoint(s.newestGood)}`);
  const bad = s.checkpoints.filter((c) => !c.good && c.problem !== undefined && !c.problem.startsWith('not verified'));
  if (bad.length > 0) {
    parts.push(`${bad.length === 1 ? 'a checkpoint' : `${bad.length} checkpoints`} that do${bad.length === 1 ? 'es' : ''} not verify (${bad.map((c) => `${c.name}: ${c.problem}`).join('; ')})`);
  }
  if (s.report === 'unreadable') parts.push('an unreadable report.json');
  else if (s.report !== null) {
    const about = [s.report.runId !== undefined ? `run ${s.report.runId}` : '', s.report.seed !== undefined ? `seed ${s.report.seed}` : ''].filter((x) => x !== '');
    parts.push(`the report.json of a finished run${about.length > 0 ? ` (${about.join(', ')})` : ''}`);
  }
  const rest = s.runEntries.filter((e) => e !== 'checkpoints' && e !== 'report.json');
  if (rest.length > 0) parts.push(parts.length > 0 ? `also ${rest.join(', ')}` : rest.join(', '));
  return parts.join('; ');
}

/** How a run is asked to use its folder. */
export type RunFolderMode = 'new' | 'resume' | 'auto' | 'overwrite';

/** The three ways out, for the refusal messages. */
function waysOut(out: string): string {
  return (
    `Either continue that run with --resume ${out} (or --resume --out ${out}), ` +
    `or start a new run there with --overwrite (the old run's files are moved into ${out}/previous-<timestamp>/, nothing is deleted), ` +
    'or give another --out'
  );
}

/**
 * Whether a run may start in `out` in `mode`, and as what: a new run or the continuation of the
 * run there. 'overwrite' answers 'new' (the caller moves the contents aside first, see
 * moveRunFolderAside).
 * @param opts.lockedByUs this process holds the folder's run lock (runTraining): a lock is not a refusal then
 * @throws TrainingError E_TRAIN_CONFIG naming the folder, what it holds and the ways out: a folder
 *   another live run holds the lock of (see lockRunFolder); a new
 *   run in a folder that holds another run; --resume without a checkpoint that verifies; --resume
 *   auto in a folder whose checkpoints all fail to verify, or that holds a finished run's files but
 *   no checkpoint; any run where a file stands in place of the folder
 */
export function checkRunFolder(out: string, mode: RunFolderMode, opts: { lockedByUs?: boolean } = {}): { start: 'new' | 'resume'; state: RunFolderState } {
  if (opts.lockedByUs !== true) refuseIfLocked(out);
  const state = inspectRunFolder(out);
  if (mode === 'overwrite') return { start: 'new', state };
  if (state.kind === 'file') {
    throw new TrainingError('E_TRAIN_CONFIG', `--out ${out} is a file, not a folder: give another --out (or --overwrite to move the file aside to ${out}.old-<timestamp>)`);
  }
  if (mode === 'resume') {
    if (state.newestGood !== null) return { start: 'resume', state };
    const fresh = 'Leave out --resume to start a new run there';
    throw new TrainingError(
      'E_TRAIN_CONFIG',
      state.kind === 'missing'
        ? `--resume: ${out} does not exist: nothing to resume. ${fresh}`
        : state.kind !== 'run'
          ? `--resume: ${out} holds no checkpoint: nothing to resume. ${fresh}`
          : `--resume: ${out} holds ${describeRunFolder(state)}, but no checkpoint that verifies: nothing to resume. ` +
            `Start a new run there with --overwrite (the old run's files are moved into ${out}/previous-<timestamp>/, nothing is deleted), or give another --out`,
    );
  }
  if (mode === 'auto') {
    if (state.newestGood !== null) return { start: 'resume', state };
    if (state.kind !== 'run') return { start: 'new', state };
    const what = describeRunFolder(state);
    throw new TrainingError(
      'E_TRAIN_CONFIG',
      `--resume auto: ${out} holds ${what}, but no checkpoint that verifies: there is nothing to continue, and a new run would mix with what is there. ` +
        `Start a new run there with --overwrite (the old run's files are moved into ${out}/previous-<timestamp>/, nothing is deleted), or give another --out`,
    );
  }
  if (state.kind !== 'run') return { start: 'new', state };
  throw new TrainingError('E_TRAIN_CONFIG', `--out ${out} already holds another run: ${describeRunFolder(state)}. A new run there would mix with it. ${waysOut(out)}`);
}

/** A timestamp for folder names: 2026-12-01T05-06-07-089Z. */
function stamp(now: Date): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

/** The first of `base`, `base-1`, `base-2`, … that does not exist. */
function freeName(base: string): string {
  let name = base;
  for (let i = 1; existsSync(name); i++) name = `${base}-${i}`;
  return name;
}

/**
 * Moves the old run aside, never deleting anything: the run's own entries in `out` (RUN_ENTRIES:
 * checkpoints, models, reports) move into `<out>/previous-<timestamp>/`; every other file there
 * is the user's and stays where it is. The folder itself is never renamed or replaced, so an
 * `--out` that is a symlink, a mount point or the working directory stays what it is. A file in
 * place of the folder is renamed to `<out>.old-<timestamp>` beside it, and a folder takes its place.
 * @returns where the old run's entries are now, or null when there was none to move
 */
export function moveRunFolderAside(out: string, now = new Date()): string | null {
  const state = inspectRunFolder(out);
  if (state.kind === 'file') {
    const aside = freeName(`${out.replace(/[/\\]+$/, '')}.old-${stamp(now)}`);
    renameSync(out, aside);
    mkdirSync(out, { recursive: true });
    return aside;
  }
  if (state.runEntries.length === 0) return null;
  const inside = freeName(path.join(out, `previous-${stamp(now)}`));
  mkdirSync(inside);
  for (const entry of state.runEntries) renameSync(path.join(out, entry), path.join(inside, entry));
  return inside;
}

/** The file a run holds in its folder while it runs (its process id), see lockRunFolder. */
export const RUN_LOCK = '.run.lock';

/** The process that holds `out`'s run lock, when one that is still alive does; else null. */
function lockHolder(out: string): number | null {
  let text: string;
  try {
    text = readFileSync(path.join(out, RUN_LOCK), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 && processAlive(pid) ? pid : null;
}

function refuseIfLocked(out: string): void {
  const holder = lockHolder(out);
  if (holder !== null) {
    throw new TrainingError(
      'E_TRAIN_CONFIG',
      `--out ${out} is in use by another run (process ${holder}${holder === process.pid ? ', this one' : ''}, ${path.join(out, RUN_LOCK)}): wait for it to end or stop it, or give another --out`,
    );
  }
}

/**
 * Takes `out`'s run lock for this process: `<out>/.run.lock`, created exclusively, holding the
 * process id, so that two runs never write one folder at once. A lock whose process is gone (a
 * run killed outright) is taken over. Released by the returned function, and at the latest when
 * this process exits.
 * @throws TrainingError E_TRAIN_CONFIG when a live process (this one included) holds it
 */
export function lockRunFolder(out: string): () => void {
  mkdirSync(out, { recursive: true });
  const file = path.join(out, RUN_LOCK);
  for (;;) {
    refuseIfLocked(out);
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A stale lock (its process is gone): take it over, unless another run just did.
      if (lockHolder(out) === null) unlinkSync(file);
    }
  }
  const release = (): void => {
    process.off('exit', release);
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  // First among the exit handlers: others (removing a run folder left empty) must find it gone.
  process.prependListener('exit', release);
  return release;
}
