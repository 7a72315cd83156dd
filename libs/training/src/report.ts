import { formatClassificationReport, type ClassificationReport } from '@cifar-dist/metrics';
import type { AdapterInfo } from '@cifar-dist/protocol';
import type { TrainConfig } from './config.js';
import type { EpochRecord, PhaseName } from './phase-runner.js';
import { COMPARED_METRICS, REFERENCE } from './reference.js';

/** One phase of report.json. */
export interface PhaseReport {
  name: PhaseName;
  numClasses: number;
  classNames: string[];
  params: number;
  trainableParams: number;
  frozenLayers: number;
  epochs: number;
  steps: number;
  samplesSeen: number;
  history: EpochRecord[];
  train: ClassificationReport | null;
  test: ClassificationReport;
  /** Fine-tune only: the frozen layers' weights are bit-identical to phase 1's. */
  frozenWeightsUnchanged?: boolean;
  seconds: number;
}

export interface RunReport {
  version: 1;
  /** The run's id, also in each of its checkpoints (absent in reports written before run ids). */
  runId?: string;
  startedAt: string;
  finishedAt: string;
  backend: string;
  /** The live workers at the end; `adapter` is the GPU adapter of a webgpu worker. */
  workers: Array<{ workerId: string; backend: string; device: string; hostname: string; pid: number; adapter?: AdapterInfo }>;
  config: TrainConfig;
  phases: PhaseReport[];
}

const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '   -  ' : x.toFixed(4));

/** The end-of-run text: per phase, our figures beside the reference's, then sklearn-style tables. */
export function formatRunReport(report: RunReport): string {
  const lines: string[] = [];
  for (const phase of report.phases) {
    const ref = REFERENCE[phase.name];
    lines.push(
      `== ${phase.name}: ${phase.numClasses} classes, ${phase.params.toLocaleString('en-US')} params ` +
        `(${phase.trainableParams.toLocaleString('en-US')} trainable, first ${phase.frozenLayers} layers frozen), ` +
        `${phase.epochs} epochs, ${phase.steps} steps, ${phase.seconds.toFixed(0)} s`,
    );
    lines.push('                       ours(test)  reference(test)  ours(train)  reference(train)');
    const t = phase.test;
    const tr = phase.train ?? undefined;
    for (const m of COMPARED_METRICS) {
      const oursTrain = tr === undefined ? undefined : m.ours(tr);
      lines.push(
        `  ${m.label.padEnd(20)} ${pct(m.ours(t)).padStart(10)} ${pct(m.reference(ref.test)).padStart(16)} ${pct(oursTrain).padStart(12)} ${pct(m.reference(ref.train)).padStart(17)}`,
      );
    }
    if (phase.frozenWeightsUnchanged !== undefined) {
      lines.push(`  frozen layers bit-identical to phase 1: ${phase.frozenWeightsUnchanged ? 'yes' : 'NO'}`);
    }
    lines.push('', report.config.holdout === undefined ? 'test set:' : `held-out set (--holdout ${report.config.holdout}; the reference's columns are its test set):`, formatClassificationReport(t), '');
  }
  return lines.join('\n');
}
