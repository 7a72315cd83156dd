import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyRunFolderRemover, lifelineOf, wrapperKind } from './shutdown.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cifar-dist-shutdown-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('launch wrappers', () => {
  it('tells npm, sh -c and tsx from anything else, by their command lines in /proc', () => {
    expect(wrapperKind(['npm run train'])).toBe('npm'); // npm rewrites its title
    expect(wrapperKind(['npm exec tsx x.ts'])).toBe('npm');
    expect(wrapperKind(['node', '/usr/lib/node_modules/npm/bin/npm-cli.js', 'run', 'train'])).toBe('npm');
    expect(wrapperKind(['sh', '-c', 'tsx --tsconfig a.json launch.ts'])).toBe('sh');
    expect(wrapperKind(['/bin/bash', '-c', 'exec tsx launch.ts'])).toBe('sh');
    expect(wrapperKind(['node', '/work/main/node_modules/.bin/tsx', '--tsconfig', 'a.json', 'launch.ts'])).toBe('tsx');
    expect(wrapperKind(['node', '/x/node_modules/tsx/dist/cli.mjs', 'launch.ts'])).toBe('tsx');
    expect(wrapperKind(['-bash'])).toBeNull();
    expect(wrapperKind(['bash'])).toBeNull(); // an interactive shell: outlives runs by design
    expect(wrapperKind(['/usr/bin/node', '--import', 'tsx', 'launch.ts'])).toBeNull();
    expect(wrapperKind(['/lib/systemd/systemd', '--user'])).toBeNull();
  });

  it('a process whose parent is no wrapper (a test runner, a shell) has no lifeline: it may outlive its parent', () => {
    expect(lifelineOf()).toEqual([]);
  });
});

/** Runs `script` (TypeScript) under `sh -c 'sh -c "node script"'`: node's parent and grandparent are shells. */
function underTwoShells(script: string): { output: () => string; exited: Promise<number | null>; pid: number } {
  const node = `${process.execPath} --import ${import.meta.resolve('tsx')} ${script}`;
  // "; true" keeps each sh from exec'ing its command: the chain stays sh -> sh -> node.
  const child = spawn('sh', ['-c', `sh -c '${node}; true'; true`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return { output: () => output, exited: new Promise((r) => child.on('exit', (code) => r(code))), pid: child.pid as number };
}

async function until(test: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!test()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('onStop', () => {
  const SHUTDOWN = JSON.stringify(fileURLToPath(new URL('./shutdown.ts', import.meta.url)));

  it('stops with 129 when a wrapper above the parent is killed (SIGTERM to npm kills sh, not tsx)', async () => {
    const dir = await tempDir();
    const script = path.join(dir, 'watch.ts');
    await writeFile(
      script,
      `import { onStop, lifelineOf } from ${SHUTDOWN};
console.log('chain ' + lifelineOf().map((a) => a.kind).join(','));
onStop({ log: (m) => console.log(m), stop: async (r) => console.log('stop: ' + r.cause), pollMs: 100 });
setInterval(() => undefined, 1000);
`,
    );
    const run = underTwoShells(script);
    await until(() => run.output().includes('chain '), 20_000);
    // sh (outer) -> sh (inner) -> node: the outer one is killed, the inner one lives on, orphaned.
    expect(run.output()).toMatch(/chain sh,sh/);
    const t0 = Date.now();
    process.kill(run.pid, 'SIGKILL');
    await until(() => /stop: its sh parent \(pid \d+\) is gone/.test(run.output()), 3_000);
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('SIGTERM: stop runs, then the process exits 143; a second signal exits at once', async () => {
    const dir = await tempDir();
    const script = path.join(dir, 'signal.ts');
    await writeFile(
      script,
      `import { onStop } from ${SHUTDOWN};
onStop({ log: (m) => console.log(m), stop: async (r) => { console.log('stopping on ' + r.signal); await new Promise((x) => setTimeout(x, process.argv[2] === 'slow' ? 60_000 : 100)); }, lifeline: false });
console.log('ready');
setInterval(() => undefined, 1000);
`,
    );
    const start = (arg: string) => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), script, arg], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      return { child, out: () => out, code: new Promise<number | null>((r) => child.on('exit', (c) => r(c))) };
    };
    const fast = start('fast');
    const slow = start('slow');
    await until(() => fast.out().includes('ready') && slow.out().includes('ready'), 20_000);
    fast.child.kill('SIGTERM');
    expect(await fast.code).toBe(143);
    expect(fast.out()).toContain('stopping on SIGTERM');
    slow.child.kill('SIGHUP');
    await until(() => slow.out().includes('stopping on SIGHUP'), 3_000);
    slow.child.kill('SIGHUP'); // the same signal at once (tsx relaying a Ctrl-C): the same request
    await new Promise((r) => setTimeout(r, 300));
    expect(slow.child.exitCode).toBeNull();
    slow.child.kill('SIGINT');
    expect(await slow.code).toBe(129);
    expect(slow.out()).toMatch(/SIGINT while stopping: exiting now/);
  });
});

describe('run folders left empty', () => {
  it('removes a folder it created when nothing was written, with the empty parents it created', async () => {
    const root = await tempDir();
    const out = path.join(root, 'runs', '2026-12-01T00-00-00-000Z');
    const remove = emptyRunFolderRemover(out);
    expect(remove).not.toBeNull();
    await mkdir(path.join(out, 'checkpoints'), { recursive: true }); // the run made its folders, wrote no file
    expect(remove?.()).toBe(true);
    expect(existsSync(path.join(root, 'runs'))).toBe(false);
    expect(existsSync(root)).toBe(true);
  });

  it('keeps a folder that holds a file, and leaves parents that hold something else', async () => {
    const root = await tempDir();
    const out = path.join(root, 'runs', 'a');
    const remove = emptyRunFolderRemover(out);
    await mkdir(path.join(out, 'checkpoints', 'ckpt-p1-e0001'), { recursive: true });
    await writeFile(path.join(out, 'checkpoints', 'ckpt-p1-e0001', 'manifest.json'), '{}');
    expect(remove?.()).toBe(false);
    expect(existsSync(path.join(out, 'checkpoints', 'ckpt-p1-e0001', 'manifest.json'))).toBe(true);
    // runs/ holds another run's folder: the empty one goes, runs/ stays.
    const other = path.join(root, 'runs2', 'b');
    const removeOther = emptyRunFolderRemover(other);
    await mkdir(other, { recursive: true });
    await mkdir(path.join(root, 'runs2', 'earlier-run'));
    expect(removeOther?.()).toBe(true);
    expect(existsSync(other)).toBe(false);
    expect(existsSync(path.join(root, 'runs2', 'earlier-run'))).toBe(true);
  });

  it('never removes a folder that existed before the run, even empty', async () => {
    const out = await tempDir();
    expect(emptyRunFolderRemover(out)).toBeNull();
  });
});
