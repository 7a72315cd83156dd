import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '@cifar-dist/model';

/** Marks the probe's answer line among whatever else a backend prints. */
export const BACKEND_PROBE_MARK = '@@cifar-dist-backend-probe ';

const PROBE_MAIN = fileURLToPath(new URL('./backend-probe-main.ts', import.meta.url));
const COORDINATOR_TSCONFIG = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

/** What a forced backend does on this machine: usable (on which device), or why not. */
export type BackendProbe = { ok: true; device: string } | { ok: false; reason: string };

/**
 * Tries `backend` the way a worker forced to it would (selectBackend in a child process, about a
 * second), so that the launcher refuses a backend its workers cannot start before anything runs.
 * @returns null when it could not tell: a bundled build (no TypeScript loader to run the probe
 *   with; the workers then report it), or no answer within `timeoutMs`
 */
export function probeBackend(backend: BackendName, opts: { gpu?: number; timeoutMs?: number } = {}): Promise<BackendProbe | null> {
  if (process.env['CIFAR_DIST_WORKER_BUNDLE']) return Promise.resolve(null);
  const args = ['--import', import.meta.resolve('tsx'), PROBE_MAIN, backend, ...(opts.gpu !== undefined ? [String(opts.gpu)] : [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, TSX_TSCONFIG_PATH: COORDINATOR_TSCONFIG } });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
    child.on('close', () => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(BACKEND_PROBE_MARK));
      if (line === undefined) return resolve(null);
      try {
        resolve(JSON.parse(line.slice(BACKEND_PROBE_MARK.length)) as BackendProbe);
      } catch {
        resolve(null);
      }
    });
  });
}
