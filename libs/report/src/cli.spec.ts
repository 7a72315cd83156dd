import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { historyCsv } from './history-csv.js';
import { fixtureReport } from './test-fixtures.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const cli = ['--tsconfig', 'libs/report/tsconfig.json', 'libs/report/src/cli.ts'];

describe('cli', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'report-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('regenerates report.html and the CSVs from <runDir>/report.json and prints their paths', async () => {
    const report = fixtureReport();
    await writeFile(path.join(dir, 'report.json'), JSON.stringify(report));
    const { stdout } = await run(tsx, [...cli, dir], { cwd: root });
    expect(stdout.trim().split('\n')).toEqual(['report.html', 'history-cifar10.csv', 'history-finetune.csv'].map((f) => path.join(dir, f)));
    expect(await readFile(path.join(dir, 'history-finetune.csv'), 'utf8')).toBe(historyCsv(report.phases[1]!));
  });

  it('exits 1 with a message when report.json is missing, writing nothing', async () => {
    const err = await run(tsx, [...cli, dir], { cwd: root }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(/^report: ENOENT.*report\.json/m);
    expect(await readdir(dir)).toEqual([]);
  });
});
