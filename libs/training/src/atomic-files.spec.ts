import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive, removeInterruptedWrites, writeDirAtomic } from './atomic-files.js';
import { removeInterruptedSaves } from './checkpoint.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'cifar-dist-atomic-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A pid that ran and is gone. */
const deadPid = (): number => spawnSync('true').pid as number;

async function folder(dir: string, content = '{"torn":'): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'manifest.json'), content);
  return dir;
}

describe('temp folders of interrupted saves', () => {
  it('removes our own stale temps, puts back a folder moved aside, and touches nothing else', async () => {
    const root = await tempDir();
    const dead = deadPid();
    const ms = Date.now();
    const sleeper = spawn('sleep', ['30']);
    try {
      const live = sleeper.pid as number;
      await folder(path.join(root, 'ckpt-p1-e0001'), 'good');
      await folder(path.join(root, 'ckpt-p1-e0002'), 'good');
      const removed = [
        await folder(path.join(root, `ckpt-p1-e0003.tmp-${dead}-${ms}`)), // killed while writing
        await folder(path.join(root, `ckpt-p1-e0002.old-${dead}-${ms}`)), // replaced, old copy not yet deleted
        await folder(path.join(root, `ckpt-p1-e0005.tmp-${process.pid}-${ms}`)), // our pid, reused: not ours now
      ];
      const putBack = await folder(path.join(root, `ckpt-p1-e0004.old-${dead}-${ms}`), 'previous'); // killed between the renames
      const kept = [
        await folder(path.join(root, `ckpt-p1-e0006.tmp-${live}-${ms}`)), // a live process may be writing it
        await folder(path.join(root, `backup.tmp-${dead}-${ms}`)), // not a name the caller writes
        await folder(path.join(root, 'ckpt-p1-e0007.tmp')), // not our pattern
        await folder(path.join(root, `ckpt-p1-e0008.tmp-abc-${ms}`)),
      ];
      const done = removeInterruptedWrites(root, (name) => /^ckpt-p\d+-e\d+$/.test(name));
      for (const d of removed) expect(existsSync(d), d).toBe(false);
      for (const d of kept) expect(existsSync(d), d).toBe(true);
      expect(existsSync(putBack)).toBe(false);
      expect(await readFile(path.join(root, 'ckpt-p1-e0004', 'manifest.json'), 'utf8')).toBe('previous');
      expect(await readFile(path.join(root, 'ckpt-p1-e0002', 'manifest.json'), 'utf8')).toBe('good');
      expect(done).toHaveLength(4);
      expect(done.join('\n')).toMatch(/put back .*ckpt-p1-e0004/);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('removeInterruptedSaves cleans a run folder and its checkpoints/, for the names a run writes only', async () => {
    const out = await tempDir();
    const dead = deadPid();
    const gone = [
      await folder(path.join(out, 'checkpoints', `ckpt-p2-e0001.tmp-${dead}-1700000000000`)),
      await folder(path.join(out, `model-finetune.tmp-${dead}-1700000000000`)),
    ];
    const file = path.join(out, `report.json.tmp-${dead}-1700000000000`);
    await writeFile(file, '{');
    const mine = [await folder(path.join(out, `notes.tmp-${dead}-1700000000000`)), await folder(path.join(out, 'checkpoints', `mine.old-${dead}-1700000000000`))];
    const lines: string[] = [];
    removeInterruptedSaves(out, (l) => lines.push(l));
    for (const d of [...gone, file]) expect(existsSync(d), d).toBe(false);
    for (const d of mine) expect(existsSync(d), d).toBe(true);
    expect(lines).toHaveLength(3);
    // A folder without checkpoints/ (a new run) is fine.
    expect(() => removeInterruptedSaves(path.join(out, 'nothing-here'))).not.toThrow();
  });

  it('a process that exits in the middle of a save leaves no temp folder, and the previous version in place', async () => {
    const root = await tempDir();
    const target = path.join(root, 'ckpt-p1-e0001');
    await folder(target, 'previous');
    // Forty 1 MB files, each fsynced: the exit comes while they are being written.
    const script = path.join(root, 'exit-mid-save.ts');
    await writeFile(
      script,
      `import { existsSync, readdirSync } from 'node:fs';
import { writeDirAtomic } from ${JSON.stringify(fileURLToPath(new URL('./atomic-files.ts', import.meta.url)))};
const files = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [\`f\${i}.bin\`, new Uint8Array(1 << 20).fill(i)]));
void writeDirAtomic(${JSON.stringify(target)}, files);
const wait = setInterval(() => {
  const tmp = readdirSync(${JSON.stringify(root)}).find((n) => n.includes('.tmp-'));
  if (tmp !== undefined && readdirSync(${JSON.stringify(root)} + '/' + tmp).length > 1) { clearInterval(wait); console.log('mid-save'); process.exit(3); }
}, 1);
`,
    );
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), script], { encoding: 'utf8' });
    expect(r.stdout, r.stderr).toContain('mid-save');
    expect(r.status).toBe(3);
    expect((await readdir(root)).filter((n) => n.startsWith('ckpt-'))).toEqual(['ckpt-p1-e0001']);
    expect(await readFile(path.join(target, 'manifest.json'), 'utf8')).toBe('previous');
    // And a save left to finish replaces it.
    await writeDirAtomic(target, { 'manifest.json': 'next' });
    expect(await readFile(path.join(target, 'manifest.json'), 'utf8')).toBe('next');
    expect(await readdir(root)).toEqual(['ckpt-p1-e0001', 'exit-mid-save.ts']);
  });

  it('processAlive: a zombie is not alive', async () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(deadPid())).toBe(false);
    expect(processAlive(0)).toBe(false);
    // A zombie: `sleep 0` exits at once, and its parent (sh, then exec'd into `sleep 2`) never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 2'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout?.once('data', (d: Buffer) => resolve(d.toString()))));
      await new Promise((r) => setTimeout(r, 200));
      expect(spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim()).toMatch(/^Z/);
      expect(processAlive(pid)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
