import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketCoordinatorServer, WorkerPool } from '@cifar-dist/training';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const MAIN = path.join(REPO, 'apps/worker/src/main.ts');

/** Runs `npm run worker -- <args>` as a user would; resolves with exit code and output. */
function worker(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, ...args], {
      cwd: REPO,
      env: { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO, 'apps/worker/tsconfig.json'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

let server: SocketCoordinatorServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function coordinator(pool: WorkerPool, token?: string): Promise<string> {
  server = new SocketCoordinatorServer({
    host: '127.0.0.1', port: 0, maxMessageBytes: 16e6, requestTimeoutMs: 10_000, pool, runId: 'e2e',
    ...(token ? { token } : {}),
  });
  return `http://127.0.0.1:${await server.start()}`;
}

describe('npm run worker', () => {
  it('without the right token is refused and exits 1 naming the reason', async () => {
    const pool = new WorkerPool();
    const url = await coordinator(pool, 'right-token');
    const r = await worker(['--connect', url, '--backend', 'wasm', '--token', 'wrong-token']);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/coordinator refused this worker \(E_PROTO_TOKEN\)/);
    expect(pool.size).toBe(0);
  }, 60_000);

  it('logs each backend it could not use, joins with wasm, and exits 0 when told to shut down', async () => {
    const pool = new WorkerPool();
    const url = await coordinator(pool, 'tok');
    const run = worker(['--connect', url, '--worker-id', 'e2e-w'], { CIFAR_DIST_TOKEN: 'tok' });
    await pool.waitFor(1, 45_000);
    expect(pool.live()[0]?.info).toMatchObject({ workerId: 'e2e-w', backend: 'wasm' });
    await server?.close('test over');
    server = null;
    const r = await run;
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/backend tensorflow-gpu unavailable/);
    expect(r.output).toMatch(/backend tensorflow unavailable/);
    expect(r.output).toMatch(/coordinator says shutdown: test over/);
  }, 90_000);

  it('rejects an unknown backend name with a usage error', async () => {
    const r = await worker(['--connect', 'http://127.0.0.1:9', '--backend', 'tpu']);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/--backend <name>' argument 'tpu' is invalid/);
  }, 30_000);
});
