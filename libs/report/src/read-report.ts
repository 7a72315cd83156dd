import { readFile } from 'node:fs/promises';
import type { RunReport } from '@cifar-dist/training';
import { ReportError } from './errors.js';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Reads a run's report.json. Checks the shape the renderers rely on (version 1, header strings,
 * workers, config, and per phase a name, class names, history and a test report with a square
 * confusion matrix); the rest is trusted as written by runTraining.
 * @throws ReportError E_REPORT_INPUT when the file is not JSON or not such a report (the message
 *         names the field); the fs error (ENOENT, …) when it cannot be read
 */
export async function readRunReport(file: string): Promise<RunReport> {
  const text = await readFile(file, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ReportError('E_REPORT_INPUT', `${file}: not JSON`, { cause: err });
  }
  const fail = (what: string): never => {
    throw new ReportError('E_REPORT_INPUT', `${file}: ${what}`);
  };
  if (!isObject(data)) return fail('not an object');
  if (data.version !== 1) fail(`version ${JSON.stringify(data.version)}, expected 1`);
  for (const key of ['startedAt', 'finishedAt', 'backend'] as const) {
    if (typeof data[key] !== 'string') fail(`${key} is not a string`);
  }
  if (!Array.isArray(data.workers)) fail('workers is not an array');
  if (!isObject(data.config)) fail('config is not an object');
  if (!Array.isArray(data.phases)) return fail('phases is not an array');
  data.phases.forEach((p: unknown, i) => {
    if (!isObject(p)) return fail(`phases[${i}] is not an object`);
    if (typeof p.name !== 'string') fail(`phases[${i}].name is not a string`);
    if (!Array.isArray(p.classNames)) fail(`phases[${i}].classNames is not an array`);
    if (!Array.isArray(p.history)) fail(`phases[${i}].history is not an array`);
    const test = p.test;
    if (!isObject(test) || !Array.isArray(test.confusionMatrix) || !Array.isArray(test.perClass)) {
      fail(`phases[${i}].test is not a classification report`);
    }
  });
  return data as unknown as RunReport;
}
