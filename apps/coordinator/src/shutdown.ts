import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';

/*
 * Stopping a run. `npm run train` is a chain of processes: npm -> sh -c -> tsx -> node (the
 * launcher and the coordinator) -> the workers. A stop request reaches the node process in one of
 * two ways, and both end the same way: the workers are stopped, a checkpoint save that is under way
 * is let finish (briefly), the shared-memory folder is deleted, and the process exits with 128 + the
 * signal's number.
 * - A signal to it: SIGINT, SIGTERM, SIGHUP (tsx relays SIGINT and SIGTERM that it receives; npm
 *   forwards them to its child).
 * - Its lifeline: the wrappers it was started through (tsx, sh -c, npm) are watched, and if one of
 *   them is gone (killed, or died of a signal it does not pass on, such as SIGHUP to npm or to tsx)
 *   the run stops as on SIGHUP. Node has no prctl(PR_SET_PDEATHSIG); a poll of /proc is its stand-in.
 */

/** Exit codes of a stopped run: 128 + the signal's number, as a shell reports a death by that signal. */
export const STOP_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof STOP_EXIT_CODES;
const STOP_SIGNALS = Object.keys(STOP_EXIT_CODES) as StopSignal[];

export interface StopRequest {
  /** The signal received, or SIGHUP when the lifeline was cut. */
  signal: StopSignal;
  /** What happened, for the log: "SIGTERM", "its parent tsx (pid 123) is gone". */
  cause: string;
  /** The exit code the process will end with. */
  code: number;
}

export interface StopHandling {
  /** The request being handled, once one came. */
  readonly requested: StopRequest | null;
  /** Removes the handlers and stops watching (for a process that has finished on its own). */
  dispose(): void;
}

export interface OnStopOptions {
  log: (msg: string) => void;
  /**
   * Brings the process's work to an end (stops children, lets a save finish). The process exits
   * with the request's code when it resolves, or after `graceMs` at the latest.
   */
  stop: (request: StopRequest) => Promise<void> | void;
  /** Longest wait for `stop` (default 8 s): a stop always ends within a few seconds. */
  graceMs?: number;
  /** Watch the processes this one was started through (default true). */
  lifeline?: boolean;
  /** Lifeline poll period (default 500 ms). */
  pollMs?: number;
}

/**
 * Handles SIGINT, SIGTERM and SIGHUP, and the loss of the processes this one was started through
 * (see lifelineOf): on the first, calls `stop` and then exits with 128 + the signal's number; a
 * second one while stopping (Ctrl-C twice; the same signal within a second counts once) exits at
 * once, with the first one's code. Exits run the process's 'exit'
 * listeners, which delete temp files and shared memory (see atomic-files.ts and shm.ts).
 */
export function onStop(opts: OnStopOptions): StopHandling {
  let requested: StopRequest | null = null;
  let requestedAt = 0;
  const request = (r: StopRequest): void => {
    if (requested !== null) {
      // Ctrl-C reaches this process from the terminal and, a few ms later, relayed by tsx (which
      // missed this process's acknowledgement): one request, not two.
      if (r.signal === requested.signal && Date.now() - requestedAt < REPEAT_MS) return;
      opts.log(`${r.cause} while stopping: exiting now`);
      exit(requested.code);
    }
    requested = r;
    requestedAt = Date.now();
    const deadline = setTimeout(() => {
      opts.log(`stopping took more than ${(opts.graceMs ?? 8_000) / 1000} s: exiting now`);
      exit(r.code);
    }, opts.graceMs ?? 8_000);
    Promise.resolve()
      .then(() => opts.stop(r))
      .catch((err: unknown) => opts.log(`while stopping: ${(err as Error)?.message ?? String(err)}`))
      .finally(() => {
        clearTimeout(deadline);
        exit(r.code);
      });
  };
  const handlers = STOP_SIGNALS.map((signal) => {
    const handler = (): void => request({ signal, cause: signal, code: STOP_EXIT_CODES[signal] });
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const watch = opts.lifeline === false ? null : watchLifeline((lost) => request({ signal: 'SIGHUP', cause: lost, code: STOP_EXIT_CODES.SIGHUP }), opts.pollMs);
  return {
    get requested() {
      return requested;
    },
    dispose() {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      watch?.stop();
    },
  };
}

/** Exits with `code`, giving a terminal its cursor back (the progress bar hides it while it draws). */
function exit(code: number): never {
  if (process.stderr.isTTY) process.stderr.write('\x1b[?25h');
  return process.exit(code);
}

/** The same signal again within this is the same request (see onStop). */
const REPEAT_MS = 1_000;

/** One process this one was started through. */
export interface Ancestor {
  pid: number;
  kind: 'npm' | 'sh' | 'tsx';
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): a reused pid has another. */
  start: string;
}

interface ProcStat {
  ppid: number;
  state: string;
  start: string;
}

function procStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] as string, ppid: Number(fields[1]), start: fields[19] as string };
  } catch {
    return null;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return [];
  }
}

/** What kind of launch wrapper a command line is, if any. */
export function wrapperKind(argv: readonly string[]): Ancestor['kind'] | null {
  const first = argv[0] ?? '';
  // npm rewrites its title: /proc shows "npm run train" (also "npm exec …" for npx).
  if (/^(npm|npx)( |$)/.test(first) || argv.slice(0, 2).some((a) => /(^|\/)(npm|npx)(-cli\.js)?$/.test(a))) return 'npm';
  if (argv.slice(0, 3).some((a) => /(^|\/)(\.bin\/tsx|tsx\/dist\/cli\.[cm]?js)$/.test(a))) return 'tsx';
  if (/(^|\/)(sh|bash|dash|zsh)$/.test(first) && argv[1] === '-c') return 'sh';
  return null;
}

/**
 * The launch wrappers this process was started through, from its parent up: tsx, sh -c, npm (npx),
 * up to and including npm. Not above npm, nor past the first process that is none of these (a
 * shell, systemd, a scheduler, a test runner): those outlive a run by design (nohup, tmux, a
 * login shell that exits). Empty when the parent is no wrapper, and without /proc (not Linux).
 */
export function lifelineOf(pid = process.pid): Ancestor[] {
  const chain: Ancestor[] = [];
  let next = procStat(pid)?.ppid ?? 0;
  for (let depth = 0; depth < 8 && next > 1; depth += 1) {
    const stat = procStat(next);
    const kind = stat === null ? null : wrapperKind(cmdline(next));
    if (stat === null || kind === null) break;
    chain.push({ pid: next, kind, start: stat.start });
    if (kind === 'npm') break;
    next = stat.ppid;
  }
  return chain;
}

/** True while `a` runs: same pid, same start time, not a zombie. */
function stillThere(a: Ancestor): boolean {
  const stat = procStat(a.pid);
  return stat !== null && stat.start === a.start && stat.state !== 'Z';
}

/**
 * Calls `onLost` once when a process of this one's lifeline (lifelineOf) is gone, or this
 * process has been re-parented. Polls every `pollMs` (an unref'd timer: it keeps nothing alive).
 * Watches nothing when the lifeline is empty.
 */
export function watchLifeline(onLost: (why: string) => void, pollMs = 500): { chain: Ancestor[]; stop(): void } {
  const chain = lifelineOf();
  const first = chain[0];
  if (first === undefined) return { chain, stop: () => undefined };
  const timer = setInterval(() => {
    const lost = process.ppid !== first.pid ? first : chain.find((a) => !stillThere(a));
    if (lost === undefined) return;
    clearInterval(timer);
    onLost(`its ${lost.kind} parent (pid ${lost.pid}) is gone`);
  }, pollMs);
  timer.unref();
  return { chain, stop: () => clearInterval(timer) };
}

/**
 * Stops child processes: SIGTERM (unless `opts.terminate` is false: they are expected to exit by
 * themselves, e.g. on the coordinator's shutdown), then SIGKILL to those still running after
 * `graceMs`. Resolves once all have exited.
 */
export async function stopChildren(children: readonly ChildProcess[], graceMs = 3_000, opts: { terminate?: boolean } = {}): Promise<void> {
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = running.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve();
    else c.once('exit', () => resolve());
  }));
  if (opts.terminate !== false) for (const c of running) c.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  if ((await Promise.race([Promise.all(exited), late])) === 'late') {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(exited);
  }
  clearTimeout(timer);
}

/** True when `dir` holds no file at any depth (only empty folders, or nothing). */
function holdsNoFile(dir: string): boolean {
  return readdirSync(dir, { withFileTypes: true }).every((e) => e.isDirectory() && holdsNoFile(path.join(dir, e.name)));
}

/**
 * For a run folder that this process is about to create (`out` does not exist yet): a function
 * that removes it if the run wrote nothing into it (no file at any depth), with the empty folders
 * above it that were created for it (runs/ in a fresh clone), and says whether it did. Null when
 * `out` exists already: a folder that was there before is never removed.
 */
export function emptyRunFolderRemover(out: string): (() => boolean) | null {
  const target = path.resolve(out);
  const created: string[] = [];
  for (let dir = target; !existsSync(dir); dir = path.dirname(dir)) {
    created.push(dir);
    if (path.dirname(dir) === dir) break;
  }
  if (created.length === 0) return null;
  return () => {
    try {
      if (!existsSync(target) || !holdsNoFile(target)) return false;
      removeEmptyTree(target);
    } catch {
      return false; // written meanwhile (rmdir refuses a folder that is not empty), or gone
    }
    for (const dir of created.slice(1)) {
      try {
        rmdirSync(dir);
      } catch {
        break; // holds something else: it stays, and so do the folders above it
      }
    }
    return true;
  };
}

/**
 * At exit, removes the run folder `out` if this process created it and the run wrote nothing
 * into it (it failed or was stopped first); see emptyRunFolderRemover.
 */
export function removeIfLeftEmpty(out: string, log?: (msg: string) => void): void {
  const remove = emptyRunFolderRemover(out);
  if (remove === null) return;
  process.on('exit', () => {
    if (remove()) log?.(`the run wrote nothing: removed its empty folder ${out}`);
  });
}

function removeEmptyTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeEmptyTree(path.join(dir, e.name));
  rmdirSync(dir);
}
