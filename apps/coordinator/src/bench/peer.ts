import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What bench/peer_torch.py reports (the same network in PyTorch, 1 thread per process). */
export interface PeerFigures {
  torch: string;
  /** The BLAS of a CPU run ('openblas', 'reference'). */
  blas?: string;
  /** 'cuda' with `--device cuda` (single only: multi and allreduceMs are null). */
  device?: string;
  /** With `--device cuda`: the GPU's name and torch's CUDA version. */
  gpu?: string;
  cuda?: string;
  single: { imagesPerSecond: number };
  multi: { workers: number; imagesPerSecond: number } | null;
  allreduceMs: number | null;
  /** With `--coordinator-peer`: all_reduce + average + SGD step per process count, median ms. */
  coordinatorPeer?: Array<{ workers: number; allreduceMs: number; optimizerMs: number; totalMs: number }>;
}

export type PeerResult = { ok: true; figures: PeerFigures } | { ok: false; reason: string };

const PEER_SCRIPT = fileURLToPath(new URL('../../../../bench/peer_torch.py', import.meta.url));

/**
 * Debian's python3-torch is visible only to /usr/bin/python3; elsewhere the first python3 on PATH
 * is the one a user's pip installed torch into.
 */
export function defaultPython(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/**
 * Runs the PyTorch peer benchmark (bench/peer_torch.py) and returns its figures, or why there are
 * none (no python, no torch: exit code 3, or a failure).
 */
export async function runPeer(opts: {
  python: string;
  workers: number;
  quick: boolean;
  blasDir?: string;
  log: (m: string) => void;
  /** bench/peer_torch.py elsewhere (a bundled build ships it beside the bundle). */
  script?: string;
  /** Further arguments, e.g. ['--device', 'cuda', '--batch', '256']. */
  extraArgs?: string[];
}): Promise<PeerResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cifar-dist-peer-'));
  const json = path.join(dir, 'peer.json');
  const script = opts.script ?? PEER_SCRIPT;
  const args = [script, '--workers', String(opts.workers), '--json', json, ...(opts.extraArgs ?? [])];
  if (opts.quick) args.push('--quick');
  if (opts.blasDir) args.push('--blas-dir', opts.blasDir);
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(opts.python, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.on('error', (e) => resolve({ code: null, stderr: e.message }));
      child.on('exit', (c) => resolve({ code: c, stderr: err }));
    });
    if (code === 3) return { ok: false, reason: `torch is not importable by ${opts.python}` };
    if (code === 4) return { ok: false, reason: `torch sees no CUDA device (${opts.python})` };
    if (code !== 0) return { ok: false, reason: `${opts.python} ${path.basename(script)} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}` };
    return { ok: true, figures: JSON.parse(await readFile(json, 'utf8')) as PeerFigures };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
