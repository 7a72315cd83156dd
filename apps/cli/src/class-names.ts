import { DEFAULT_FINETUNE_CLASSES } from '@cifar-dist/data';
import type { RunReport } from '@cifar-dist/training';

/** CIFAR-10's class names in label order (batches.meta.txt). */
export const CIFAR10_NAMES: readonly string[] = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** Where {@link classNamesFor} found the names. */
export type ClassNamesSource = 'report' | 'cifar10' | 'finetune-default' | 'generic';

/**
 * Display names for the outputs of a model with `numClasses` classes saved as `model-<phase>`
 * (`modelDirName`), in this order of preference:
 * 1. the run's report.json (`report`, read next to the model folder): the phase named after the
 *    folder (`model-finetune` -> phase 'finetune') if its numClasses matches, else the first phase
 *    with a matching numClasses;
 * 2. 10 classes: CIFAR-10's names;
 * 3. 14 classes: CIFAR-10's names + the default fine-tune classes (lobster, snail, spider, worm);
 * 4. otherwise 'class 0', 'class 1', ...
 * (The training code saves no class list in the model folder itself, see libs/training model-files.ts.)
 */
export function classNamesFor(
  numClasses: number,
  modelDirName: string,
  report: RunReport | null,
): { names: string[]; source: ClassNamesSource } {
  const phases = report?.phases ?? [];
  const matching = phases.filter((p) => p.numClasses === numClasses && p.classNames?.length === numClasses);
  const phase = matching.find((p) => `model-${p.name}` === modelDirName) ?? matching[0];
  if (phase) return { names: [...phase.classNames], source: 'report' };
  if (numClasses === CIFAR10_NAMES.length) return { names: [...CIFAR10_NAMES], source: 'cifar10' };
  if (numClasses === CIFAR10_NAMES.length + DEFAULT_FINETUNE_CLASSES.length) {
    return { names: [...CIFAR10_NAMES, ...DEFAULT_FINETUNE_CLASSES], source: 'finetune-default' };
  }
  return { names: Array.from({ length: numClasses }, (_, i) => `class ${i}`), source: 'generic' };
}
