import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createModel } from '@cifar-dist/model';
import { defaultConfig, saveCheckpoint } from '@cifar-dist/training';

/** The run id finishedRun stamps. */
export const FINISHED_RUN_ID = 'a7e0c2d4-5b1f-4c3e-9d8a-0f1e2d3c4b5a';

/**
 * A finished run's folder, for the specs: its last checkpoint (a real one: fine-tune epoch 1 of 1,
 * seed 42, run FINISHED_RUN_ID) and its report.json.
 */
export async function finishedRun(out: string, runId = FINISHED_RUN_ID): Promise<void> {
  const config = defaultConfig({ finetuneEpochs: 1, epochs: 1 });
  const model = createModel({ numClasses: 14, dropout: false, seed: 1 });
  const phase = { name: 'finetune' as const, epoch: 1, step: 3, samplesSeen: 96, history: [] };
  await saveCheckpoint(
    path.join(out, 'checkpoints'),
    'ckpt-p2-e0001',
    model,
    { format: 1, createdAt: '2026-11-29T00:00:00.000Z', runId, config, phase, numClasses: 14, classNames: [], frozenLayers: 5, completed: [] },
    { name: 'sgd', iteration: 3, slots: [] },
  );
  model.dispose();
  writeFileSync(path.join(out, 'report.json'), JSON.stringify({ version: 1, runId, config, phases: [] }));
}

/** Every file under `dir` with its sha256, by relative path (libs/training's test support). */
export { fileTree as tree } from '../../../libs/training/src/test-support.js';
