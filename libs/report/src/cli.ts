/**
 * Regenerates a run's human-facing files from its report.json:
 *   tsx --tsconfig libs/report/tsconfig.json libs/report/src/cli.ts <runDir> [--out <dir>]
 * writes <out>/report.html and <out>/history-<phase>.csv (out defaults to runDir) and prints the paths.
 * Exit status: 0 written, 1 failed (message on stderr), 2 bad usage (commander).
 */
import path from 'node:path';
import { Command } from 'commander';
import { writeRunArtifacts } from './artifacts.js';
import { readRunReport } from './read-report.js';

const program = new Command()
  .name('report')
  .description('write report.html and history-<phase>.csv from <runDir>/report.json')
  .argument('<runDir>', 'run directory holding report.json')
  .option('-o, --out <dir>', 'folder to write into (default: runDir)')
  .action(async (runDir: string, opts: { out?: string }) => {
    const report = await readRunReport(path.join(runDir, 'report.json'));
    const written = await writeRunArtifacts(opts.out ?? runDir, report);
    for (const file of written) process.stdout.write(`${file}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`report: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
