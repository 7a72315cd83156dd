/**
 * Vitest global setup of the CLI specs: a trained run for the tests that load real models.
 * runs/full-2 (a full default run) when this machine has one, else a short run trained here
 * once for all spec files (1 + 1 epochs on 2,000 images, ~30 s), removed afterwards.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A finished run folder: report.json, model-cifar10/, model-finetune/. */
    trainedRunDir: string;
  }
}

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FULL_RUN_DIR = path.join(REPO_ROOT, 'runs/full-2');
const SHARED_DATA_DIR = path.resolve(REPO_ROOT, '../shared/data');

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (['report.json', 'model-cifar10', 'model-finetune'].every((f) => existsSync(path.join(FULL_RUN_DIR, f)))) {
    project.provide('trainedRunDir', FULL_RUN_DIR);
    return undefined;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cifar-cli-run-'));
  const args = [
    '--import', 'tsx', path.join(REPO_ROOT, 'apps/coordinator/src/launch.ts'),
    '--workers', '1', '--backend', 'wasm', '--data-dir', SHARED_DATA_DIR, '--out', dir, '--epochs', '1', '--finetune-epochs', '1',
    '--train-limit', '2000', '--test-limit', '200', '--no-eval-train',
  ];
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO_ROOT, 'apps/coordinator/tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.on('exit', resolve);
  });
  if (code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`training the CLI specs' run failed (exit ${code}): ${output.join('').slice(-2000)}`);
  }
  project.provide('trainedRunDir', dir);
  return () => rm(dir, { recursive: true, force: true });
}
