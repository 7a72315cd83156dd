import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readRunReport } from './read-report.js';
import { fixtureReport } from './test-fixtures.js';

describe('readRunReport', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'report-read-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back a report written as JSON, value for value', async () => {
    const file = path.join(dir, 'report.json');
    await writeFile(file, JSON.stringify(fixtureReport(), null, 1));
    expect(await readRunReport(file)).toEqual(fixtureReport());
  });

  it.each([
    ['not JSON', '{"version":1,', /not JSON/],
    ['another version', JSON.stringify({ ...fixtureReport(), version: 2 }), /version 2, expected 1/],
    ['a phase without a test report', JSON.stringify({ ...fixtureReport(), phases: [{ name: 'cifar10', classNames: [], history: [] }] }), /phases\[0\]\.test/],
    ['phases not an array', JSON.stringify({ ...fixtureReport(), phases: {} }), /phases is not an array/],
  ])('rejects %s with E_REPORT_INPUT', async (_label, text, message) => {
    const file = path.join(dir, 'report.json');
    await writeFile(file, text);
    const err = await readRunReport(file).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ReportError', code: 'E_REPORT_INPUT' });
    expect((err as Error).message).toMatch(message);
  });
});
