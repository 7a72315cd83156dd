import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../../../bench/peer_torch.py', import.meta.url));
/** The folder lookup needs no torch: any python3 will do. */
const PYTHON = spawnSync('python3', ['--version']).status === 0 ? 'python3' : null;

const root = mkdtempSync(path.join(tmpdir(), 'cifar-dist-blas-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder tree under `root`/`name`: each path a file (a link when it has `-> target`). */
function tree(name: string, files: string[]): string {
  const dir = path.join(root, name);
  for (const f of files) {
    const [file, target] = f.split(' -> ') as [string, string | undefined];
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    if (target) symlinkSync(target, path.join(dir, file));
    else writeFileSync(path.join(dir, file), '');
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** resolve_blas_dir of bench/peer_torch.py for each folder (null: no libblas.so.3 found). */
function resolve(dirs: string[]): Array<string | null> {
  const code = [
    'import importlib.util, json, sys',
    `spec = importlib.util.spec_from_file_location("peer_torch", ${JSON.stringify(SCRIPT)})`,
    'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
    'print(json.dumps([m.resolve_blas_dir(d) for d in sys.argv[1:]]))',
  ].join('\n');
  const r = spawnSync(PYTHON!, ['-c', code, ...dirs], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Array<string | null>;
}

const LIB = 'usr/lib/x86_64-linux-gnu';

describe.skipIf(PYTHON === null)('bench/peer_torch.py --blas-dir', () => {
  it('finds libblas.so.3 in the dpkg -x tree of libopenblas0-pthread, -openmp and -serial, any triplet', () => {
    const pthread = tree('pthread', [`${LIB}/openblas-pthread/libopenblasp-r0.3.21.so`, `${LIB}/openblas-pthread/libblas.so.3 -> libopenblasp-r0.3.21.so`]);
    const openmp = tree('openmp', [`${LIB}/openblas-openmp/libblas.so.3`]);
    const serial = tree('serial-arm', ['usr/lib/aarch64-linux-gnu/openblas-serial/libblas.so.3']);
    const flat = tree('flat', ['libblas.so.3']);
    expect(resolve([pthread, openmp, serial, flat, path.join(pthread, LIB, 'openblas-pthread'), path.join(pthread, 'usr')])).toEqual([
      path.join(pthread, LIB, 'openblas-pthread'),
      path.join(openmp, LIB, 'openblas-openmp'),
      path.join(serial, 'usr/lib/aarch64-linux-gnu/openblas-serial'),
      flat,
      path.join(pthread, LIB, 'openblas-pthread'),
      path.join(pthread, LIB, 'openblas-pthread'), // the root's usr/
    ]);
  });

  it('prefers openmp when a root holds both, and refuses the 64-bit-index build and an empty tree', () => {
    const both = tree('both', [`${LIB}/openblas-pthread/libblas.so.3`, `${LIB}/openblas-openmp/libblas.so.3`]);
    // libopenblas64-0-pthread: libblas64.so.3, an interface torch does not link
    const blas64 = tree('blas64', [`${LIB}/openblas64-pthread/libblas64.so.3`]);
    const dangling = tree('dangling', [`${LIB}/openblas-pthread/libblas.so.3 -> libopenblasp-missing.so`]);
    const empty = tree('empty', []);
    expect(resolve([both, blas64, dangling, empty])).toEqual([path.join(both, LIB, 'openblas-openmp'), null, null, null]);
  });

  it('exits 2 naming the layouts it looked for when the folder holds none (before importing torch)', () => {
    const empty = tree('empty-cli', []);
    const r = spawnSync(PYTHON!, [SCRIPT, '--blas-dir', empty], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({
      error: `--blas-dir ${empty} holds no libblas.so.3 (nor usr/lib/<triplet>/{openblas-openmp,openblas-pthread,openblas-serial}/libblas.so.3)`,
    });
  });
});
