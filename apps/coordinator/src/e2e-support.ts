import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const DATA = path.resolve(REPO, '../shared/data');
const LAUNCH = path.join(REPO, 'apps/coordinator/src/launch.ts');

/** A running `npm run train` (as a user starts it: tsx, real processes, real sockets). */
export interface TrainProcess {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal) once the launcher exits. */
  exited: Promise<number | null>;
  /** Resolves with the first match of `re` in the output (rejects after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** Starts the launcher with `args`. */
export function startTrain(args: string[]): TrainProcess {
  return startEntry(LAUNCH, args);
}

/**
 * Starts one of the coordinator app's entry points (`src/<name>.ts`: main = `npm run coordinator`,
 * node = `npm run node`) with `args`, as npm would (tsx, real processes and sockets).
 */
export function startApp(name: 'main' | 'node' | 'launch', args: string[], env: NodeJS.ProcessEnv = {}): TrainProcess {
  return startEntry(path.join(REPO, `apps/coordinator/src/${name}.ts`), args, env);
}

function startEntry(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): TrainProcess {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), entry, ...args], {
    cwd: REPO,
    env: { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO, 'apps/coordinator/tsconfig.json'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watchProcess(child, path.basename(entry));
}

/** Collects a started process's stdout and stderr, and lets a test wait for its lines and its exit. */
export function watchProcess(child: ChildProcess, name: string): TrainProcess {
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    output += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    waitFor: (re, timeoutMs = 300_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = output.match(re);
          if (!m) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${name}: no ${re} in the output within ${timeoutMs} ms:\n${output.slice(-3000)}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}

/** Runs the launcher to completion. */
export async function train(args: string[]): Promise<{ code: number | null; output: string }> {
  const p = startTrain(args);
  const code = await p.exited;
  return { code, output: p.output() };
}
