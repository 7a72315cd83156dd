import path from 'node:path';
import { writeFileAtomic, type RunReport } from '@cifar-dist/training';
import { ReportError } from './errors.js';
import { historyCsv } from './history-csv.js';
import { renderReportHtml } from './render-report.js';

/** The file a phase's history goes to: `history-<phase>.csv`. */
export function historyFileName(phaseName: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(phaseName) || phaseName === '.' || phaseName === '..') {
    throw new ReportError('E_REPORT_NAME', `phase name ${JSON.stringify(phaseName)} cannot be used in a file name`);
  }
  return `history-${phaseName}.csv`;
}

/**
 * Writes the human-facing files of a finished run into `out` (created if missing):
 * `report.html` (renderReportHtml) and `history-<phase>.csv` (historyCsv) per phase. Each file is
 * written atomically (temp file in `out`, fsync, rename), so a reader never sees a torn file.
 * @returns the paths written, report.html first, then the CSVs in phase order
 * @throws ReportError E_REPORT_NAME for a phase name unfit for a file name (before writing anything)
 */
export async function writeRunArtifacts(out: string, report: RunReport): Promise<string[]> {
  const csvs = report.phases.map((p) => ({ file: path.join(out, historyFileName(p.name)), text: historyCsv(p) }));
  const html = await renderReportHtml(report);
  const htmlFile = path.join(out, 'report.html');
  await writeFileAtomic(htmlFile, html);
  for (const { file, text } of csvs) await writeFileAtomic(file, text);
  return [htmlFile, ...csvs.map((c) => c.file)];
}
