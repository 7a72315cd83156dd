import type { EpochRecord, PhaseReport } from '@cifar-dist/training';
import { stringify } from 'csv-stringify/sync';

/** The CSV columns, in order; each is a field of EpochRecord. */
export const HISTORY_COLUMNS = [
  'epoch',
  'loss',
  'accuracy',
  'testLoss',
  'testAccuracy',
  'lr',
  'seconds',
  'imagesPerSecond',
  'workers',
] as const satisfies ReadonlyArray<keyof EpochRecord>;

/**
 * A phase's per-epoch history as CSV (csv-stringify): a header row of HISTORY_COLUMNS, then one row
 * per epoch in history order; numbers written as JavaScript prints them (shortest round-trip
 * form, full precision), `\n` line ends, a trailing newline. Units: loss = mean cross-entropy,
 * accuracy in [0, 1], lr = the learning rate at the epoch's last step, seconds = wall time of the
 * epoch, imagesPerSecond = training throughput, workers = workers at the epoch's end.
 */
export function historyCsv(phase: PhaseReport): string {
  return stringify(phase.history, { header: true, columns: [...HISTORY_COLUMNS] });
}
