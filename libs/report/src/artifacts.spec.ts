import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { historyFileName, writeRunArtifacts } from './artifacts.js';
import { ReportError } from './errors.js';
import { historyCsv } from './history-csv.js';
import { fixtureReport } from './test-fixtures.js';

describe('writeRunArtifacts', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'report-artifacts-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes report.html and one history CSV per phase, atomically (no temp files left), and returns the paths', async () => {
    const report = fixtureReport();
    const out = path.join(dir, 'nested', 'out');
    const written = await writeRunArtifacts(out, report);
    expect(written).toEqual([
      path.join(out, 'report.html'),
      path.join(out, 'history-cifar10.csv'),
      path.join(out, 'history-finetune.csv'),
    ]);
    expect((await readdir(out)).sort()).toEqual(['history-cifar10.csv', 'history-finetune.csv', 'report.html']);
    expect(await readFile(written[1]!, 'utf8')).toBe(historyCsv(report.phases[0]!));
    expect(await readFile(written[2]!, 'utf8')).toBe(historyCsv(report.phases[1]!));
    const html = await readFile(written[0]!, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('replaces files already there', async () => {
    await writeFile(path.join(dir, 'history-cifar10.csv'), 'old');
    await writeRunArtifacts(dir, fixtureReport());
    expect(await readFile(path.join(dir, 'history-cifar10.csv'), 'utf8')).toMatch(/^epoch,loss,/);
    expect((await readdir(dir)).sort()).toEqual(['history-cifar10.csv', 'history-finetune.csv', 'report.html']);
  });

  it('refuses a phase name unfit for a file name, before writing anything', async () => {
    const report = fixtureReport();
    (report.phases[1] as { name: string }).name = '../evil';
    await expect(writeRunArtifacts(dir, report)).rejects.toMatchObject({ name: 'ReportError', code: 'E_REPORT_NAME' });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('historyFileName', () => {
  it('maps a phase name to history-<name>.csv and rejects path-like names', () => {
    expect(historyFileName('cifar10')).toBe('history-cifar10.csv');
    for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'x y']) {
      expect(() => historyFileName(bad), bad).toThrow(ReportError);
    }
  });
});
