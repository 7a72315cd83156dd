import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { afterAll } from 'vitest';
import { checkRunFolder, lockRunFolder, moveRunFolderAside, RUN_LOCK } from './run-folder.js';

const work = mkdtempSync(path.join(tmpdir(), 'cifar-dist-run-folder-faults-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const home = process.cwd();
afterEach(() => process.chdir(home));

/** A folder holding a finished run's report and the user's own files. */
function runWithUserFiles(dir: string): void {
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{}');
  writeFileSync(path.join(dir, 'src', 'notes.txt'), 'mine');
  writeFileSync(path.join(dir, 'report.json'), JSON.stringify({ runId: 'old', config: { seed: 1 } }));
}

/** Folder states found in review; each test failed before its fix. */
describe('--overwrite', () => {
  it("--out . --overwrite (the cwd, e.g. the repo root) leaves the user's own files where they are", () => {
    const dir = path.join(work, 'cwd');
    mkdirSync(dir);
    runWithUserFiles(dir);
    process.chdir(dir);
    const aside = moveRunFolderAside('.', new Date('2026-12-01T00:00:00Z'));
    console.log('moved aside to', aside, '; cwd now holds', readdirSync('.'));
    // Every entry of the working directory (here package.json and src/; in the repo: node_modules,
    // apps, libs, data) is moved into ./previous-<stamp>/ while the run is starting from it.
    expect(existsSync(path.join(dir, 'package.json'))).toBe(true);
    expect(existsSync(path.join(dir, 'src', 'notes.txt'))).toBe(true);
  });

  it('--out <symlink to a big disk> --overwrite: the new run still lands on the link target', () => {
    const target = path.join(work, 'scratch-disk', 'run');
    mkdirSync(target, { recursive: true });
    writeFileSync(path.join(target, 'report.json'), JSON.stringify({ runId: 'old' }));
    const link = path.join(work, 'run-link');
    symlinkSync(target, link);
    moveRunFolderAside(link, new Date('2026-12-01T00:00:00Z'));
    // The symlink itself is renamed to run-link.old-<stamp> and a plain folder on the local disk takes its place.
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(realpathSync(link)).toBe(realpathSync(target));
  });
});

describe('two runs started at once on one folder', () => {
  it('the second is refused while the first holds the run lock, before its first checkpoint; a lock whose process is gone is taken over', () => {
    const out = path.join(work, 'shared-out');
    expect(checkRunFolder(out, 'new').start).toBe('new'); // run A passes the gate ...
    const release = lockRunFolder(out); // ... and takes the lock (runTraining does, first thing)
    expect(readFileSync(path.join(out, RUN_LOCK), 'utf8')).toBe(`${process.pid}\n`);
    const inUse = `--out ${out} is in use by another run (process ${process.pid}, this one, ${path.join(out, RUN_LOCK)}): wait for it to end or stop it, or give another --out`;
    expect(() => checkRunFolder(out, 'new')).toThrow(inUse);
    expect(() => checkRunFolder(out, 'auto')).toThrow(inUse);
    expect(() => lockRunFolder(out)).toThrow(inUse);
    release();
    expect(existsSync(path.join(out, RUN_LOCK))).toBe(false);
    // a run killed outright left its lock: a process id that no longer exists
    writeFileSync(path.join(out, RUN_LOCK), '2147483646\n');
    expect(checkRunFolder(out, 'new').start).toBe('new');
    const again = lockRunFolder(out);
    expect(readFileSync(path.join(out, RUN_LOCK), 'utf8')).toBe(`${process.pid}\n`);
    again();
  });
});
