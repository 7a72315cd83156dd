import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { mkdir, rename, rm, open } from 'node:fs/promises';
import path from 'node:path';

/** sha256 of bytes, hex. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes `data` to `file` and fsyncs it before returning. */
async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `file` atomically: a temp file in the same folder, fsync, then rename over the target,
 * so a crash leaves either the old content or the new one, never a torn file.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await inFlight({ target: file, tmp, old: null, moved: false }, async () => {
    await writeSynced(tmp, data);
    await rename(tmp, file);
  });
}

/**
 * Writes a folder of files atomically: into `<dir>.tmp-*`, then one rename. An existing `dir` is
 * replaced (moved aside first, removed after the rename succeeded).
 */
export async function writeDirAtomic(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  const write: PendingWrite = { target: dir, tmp, old: `${dir}.old-${process.pid}-${Date.now()}`, moved: false };
  await inFlight(write, async () => {
    await mkdir(tmp, { recursive: true });
    for (const [name, data] of Object.entries(files)) await writeSynced(path.join(tmp, name), data);
    const old = write.old as string;
    try {
      await rename(dir, old);
      write.moved = true;
    } catch {
      // no previous folder
    }
    await rename(tmp, dir);
    if (write.moved) await rm(old, { recursive: true, force: true });
  });
}

/*
 * Interrupted writes. A process that exits (a signal, a fatal error, process.exit anywhere) in the
 * middle of a write leaves no temp file or folder behind: the 'exit' hook below removes them and
 * puts back a folder that was moved aside to be replaced. One that is killed outright (SIGKILL, a
 * crash, power) leaves them; the next run in that folder removes them (removeInterruptedWrites).
 * Either way the target is the old version or the new one, never a torn one.
 */

interface PendingWrite {
  target: string;
  tmp: string;
  /** writeDirAtomic: where the previous folder is moved while the new one is renamed in. */
  old: string | null;
  moved: boolean;
}

const pendingWrites = new Map<PendingWrite, Promise<unknown>>();
let exitHookInstalled = false;

async function inFlight(write: PendingWrite, body: () => Promise<void>): Promise<void> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // First of the 'exit' listeners: those that follow (a run folder left empty) see the result.
    process.prependListener('exit', abandonAtomicWrites);
  }
  const done = body();
  pendingWrites.set(write, done.catch(() => undefined));
  try {
    await done;
  } finally {
    pendingWrites.delete(write);
  }
}

/**
 * Resolves once every atomic write now in flight has ended (renamed into place or failed), or
 * after `timeoutMs`: a process about to stop lets a checkpoint save that is nearly done finish.
 */
export async function settleAtomicWrites(timeoutMs: number): Promise<void> {
  if (pendingWrites.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(pendingWrites.values()),
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}

/** Synchronously undoes every write in flight: removes its temp, puts back what it moved aside. */
export function abandonAtomicWrites(): void {
  for (const write of pendingWrites.keys()) {
    try {
      if (write.old !== null && write.moved) {
        if (existsSync(write.target)) rmSync(write.old, { recursive: true, force: true });
        else renameSync(write.old, write.target);
      }
      rmSync(write.tmp, { recursive: true, force: true });
    } catch {
      // Best effort on the way out: what is left is removed at the next start in that folder.
    }
  }
  pendingWrites.clear();
}

/** `<name>.tmp-<pid>-<ms>` and `<name>.old-<pid>-<ms>`, as the writers above name their temps. */
const TEMP_NAME = /^(.+)\.(tmp|old)-(\d{1,10})-(\d{10,15})$/;

/**
 * Removes from `dir` (not below it) the temp files and folders of writes that were interrupted
 * before they finished, as the writers above name them, for targets that `isOurs` accepts (a
 * run folder passes the names it writes; nothing else in the folder is touched). A folder moved
 * aside to be replaced (`.old-`) is put back when its target is missing, else removed. Temps of
 * another live process are left alone (it may be writing); ones named with this process's id are
 * stale when this process is not writing them (a pid reused, as after a container restart).
 * @returns what was done, one line each
 */
export function removeInterruptedWrites(dir: string, isOurs: (target: string) => boolean): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const mine = new Set([...pendingWrites.keys()].flatMap((w) => [w.tmp, w.old]));
  const stale = names
    .map((name) => ({ name, m: TEMP_NAME.exec(name) }))
    .filter(({ name, m }) => m !== null && isOurs(m[1] as string) && !mine.has(path.join(dir, name)))
    .filter(({ m }) => {
      const pid = Number(m?.[3]);
      return pid === process.pid || !processAlive(pid);
    });
  const done: string[] = [];
  // Folders moved aside first: one may have to go back in place of its target.
  for (const { name, m } of [...stale].sort((a, b) => (a.m?.[2] === 'old' ? 0 : 1) - (b.m?.[2] === 'old' ? 0 : 1))) {
    const file = path.join(dir, name);
    const target = path.join(dir, m?.[1] as string);
    try {
      if (m?.[2] === 'old' && !existsSync(target)) {
        renameSync(file, target);
        done.push(`put back ${target} (moved aside by an interrupted save)`);
      } else {
        rmSync(file, { recursive: true, force: true });
        done.push(`removed ${file} (left by an interrupted save)`);
      }
    } catch (err) {
      done.push(`could not remove ${file}: ${(err as Error).message}`);
    }
  }
  return done;
}

/** True while `pid` is a running process (a zombie, dead but not yet reaped, is not). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(0) said it exists
  }
}

