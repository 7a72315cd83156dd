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
 * Appended to HISTORY_COLUMNS in a phase whose epochs recorded them (a fine-tune that ends with the
 * logit adjustment): its testLoss/testAccuracy are then taken with the adjustment applied, as the
 * phase's final figures are, and these with the output bias as trained.
 */
export const UNADJUSTED_COLUMNS = ['testLossUnadjusted', 'testAccuracyUnadjusted'] as const satisfies ReadonlyArray<keyof EpochRecord>;

/** The columns of a phase's CSV: HISTORY_COLUMNS, plus UNADJUSTED_COLUMNS when its epochs have them. */
export function historyColumns(phase: PhaseReport): Array<keyof EpochRecord> {
  const unadjusted = phase.history.some((h) => h.testAccuracyUnadjusted !== undefined);
  return [...HISTORY_COLUMNS, ...(unadjusted ? UNADJUSTED_COLUMNS : [])];
}

/**
 * A phase's per-epoch history as CSV (csv-stringify): a header row of `historyColumns(phase)`,
 * then one row per epoch in history order; numbers written as JavaScript prints them (shortest
 * round-trip form, full precision), `\n` line ends, a trailing newline. Units: loss = mean
 * cross-entropy, accuracy in [0, 1], lr = the learning rate at the epoch's last step, seconds =
 * wall time of the epoch, imagesPerSecond = training throughput, workers = workers at the epoch's
 * end; testLossUnadjusted/testAccuracyUnadjusted: see UNADJUSTED_COLUMNS.
 */
export function historyCsv(phase: PhaseReport): string {
  return stringify(phase.history, { header: true, columns: historyColumns(phase) });
}
