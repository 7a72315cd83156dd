import { writeFile } from 'node:fs/promises';

/** Prints a bench's table on stdout and, with `out`, writes its figures there as JSON. */
export async function emitBench(table: string, figures: unknown, out: string | undefined, log: (msg: string) => void): Promise<void> {
  process.stdout.write(`${table}\n`);
  if (out) {
    await writeFile(out, `${JSON.stringify(figures, null, 2)}\n`);
    log(`figures written to ${out}`);
  }
}

/** Runs a bench's main and exits: 0 when it resolves, 1 with the error's stack on stderr. */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name}: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
