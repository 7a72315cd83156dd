import type { TrainConfig } from './config.js';
import { DEFAULT_FINETUNE_CLASSES, loadCifar100, selectFinetuneClasses } from '@cifar-dist/data';
import { TrainingError } from './errors.js';

/**
 * Post-hoc logit adjustment (Menon et al. 2021, "Long-tail learning via logit adjustment", eq. 5
 * with a target prior): a model trained on a set where class c has n_c images, each seen
 * repeats_c times per epoch, learned the prior n_c * repeats_c. To predict under the target prior
 * n_c^(1 - tau) instead, class c's logit (output bias) is lowered by
 *
 *   ln(repeats_c) + tau * ln(n_c / n_max)
 *
 * (the shared constant is chosen so that the largest classes, never oversampled, keep their
 * bias). tau = 0 restores the natural prior, which maximises accuracy; tau = 1 gives a uniform
 * prior, which maximises balanced (macro) recall.
 *
 * @param labels the phase's training labels (natural counts, before oversampling)
 * @param repeats times each class's images are seen per epoch (one entry per class; missing = 1)
 * @param tau in [0, 1]
 * @returns the amount to subtract from each class's output bias (nats), length repeats.length
 * @throws RangeError when tau is outside [0, 1] or a class has no training image
 */
export function logitAdjustment(labels: Uint8Array, repeats: readonly number[], tau: number): number[] {
  if (!(tau >= 0 && tau <= 1)) throw new RangeError(`the logit adjustment's tau must be in [0, 1], got ${tau}`);
  const counts = new Array<number>(repeats.length).fill(0);
  for (const l of labels) if (l < counts.length) counts[l] += 1;
  const max = Math.max(...counts);
  return counts.map((n, c) => {
    if (n === 0) throw new RangeError(`class ${c} has no training image: its prior is undefined`);
    return Math.log(repeats[c] ?? 1) + tau * Math.log(n / max);
  });
}

/**
 * The fine-tune's class repeats (the added classes, past CIFAR-10's ten, `finetuneOversample`
 * times; the others once) and the amount its run subtracts from each class's output bias at the
 * end: the logit adjustment of `finetuneLogitTau` less the `finetuneClassBias` of each added class;
 * null when it changes nothing (adjustment off, or no oversampling, tau 0 and no bias).
 * @param trainLabels the fine-tune's training labels, classes 0..classNames.length-1
 * @param classNames the fine-tune's class names (label order; the added ones from index 10)
 * @throws TrainingError E_TRAIN_CONFIG when the class bias names a class that is not one of the
 *   added classes, or holds a value that is not a finite number
 */
export function finetunePrior(
  config: Pick<TrainConfig, 'finetuneOversample' | 'finetuneLogitAdjust' | 'finetuneLogitTau' | 'finetuneClassBias'>,
  trainLabels: Uint8Array,
  classNames: readonly string[],
): { repeats: number[]; adjust: number[] | null } {
  const numClasses = classNames.length;
  const repeats = Array.from({ length: numClasses }, (_, c) => (c >= 10 ? config.finetuneOversample : 1));
  const bias = classBiasVector(config.finetuneClassBias ?? {}, classNames);
  const shift = config.finetuneLogitAdjust
    ? logitAdjustment(trainLabels, repeats, config.finetuneLogitTau ?? 0).map((a, c) => a - (bias[c] as number))
    : [];
  return { repeats, adjust: shift.some((a) => a !== 0) ? shift : null };
}

/**
 * The class bias as one entry (nats) per class of `classNames`, 0 where none is given.
 * @throws TrainingError E_TRAIN_CONFIG for a name that is not an added class (index >= 10) or a
 *   value that is not finite
 */
export function classBiasVector(bias: Readonly<Record<string, number>>, classNames: readonly string[]): number[] {
  const out = new Array<number>(classNames.length).fill(0);
  for (const [c, value] of addedClassBias(bias, classNames.slice(10))) out[c + 10] = value;
  return out;
}

/**
 * Each bias entry as [index among `added`, nats].
 * @throws TrainingError E_TRAIN_CONFIG as classBiasVector
 */
function addedClassBias(bias: Readonly<Record<string, number>>, added: readonly string[]): Array<[number, number]> {
  return Object.entries(bias).map(([name, value]) => {
    const c = added.indexOf(name);
    if (c < 0) {
      throw new TrainingError('E_TRAIN_CONFIG', `--class-bias names '${name}', which is not an added class of this fine-tune (${added.join(', ')})`);
    }
    if (!Number.isFinite(value)) throw new TrainingError('E_TRAIN_CONFIG', `--class-bias gives ${name} the value ${value}, not a finite number of nats`);
    return [c, value];
  });
}

/**
 * Checks the class bias before the run starts, not after the CIFAR-10 phase: its names against the
 * fine-tune's added classes (the config's list, the default one, or a superclass's members, read
 * from CIFAR-100's train.bin and fine_label_names.txt only when there is a bias to check), and that
 * the logit adjustment it rides on is on.
 * @throws TrainingError E_TRAIN_CONFIG as classBiasVector, or for a bias with the adjustment off;
 *   CifarDataError when a superclass's data cannot be read
 */
export async function checkClassBias(config: Pick<TrainConfig, 'dataDir' | 'finetune' | 'finetuneClassBias' | 'finetuneLogitAdjust'>): Promise<void> {
  const bias = config.finetuneClassBias ?? {};
  if (Object.keys(bias).length === 0) return;
  if (!config.finetuneLogitAdjust) {
    throw new TrainingError('E_TRAIN_CONFIG', '--class-bias is applied with the logit adjustment, which --no-logit-adjust turns off: give one or the other');
  }
  let added: readonly string[];
  if (config.finetune.superclass !== undefined) {
    const cifar100 = await loadCifar100(config.dataDir, 'train');
    added = selectFinetuneClasses(config.finetune, cifar100).map((f) => cifar100.fineClassNames[f] as string);
  } else {
    added = (config.finetune.classes ?? DEFAULT_FINETUNE_CLASSES).map((a) => a.trim());
  }
  addedClassBias(bias, added);
}

/** A class bias as `--class-bias` takes it: `name=nats,...` in insertion order, or `none`. */
export function formatClassBias(bias: Readonly<Record<string, number>> | undefined): string {
  const items = Object.entries(bias ?? {});
  return items.length === 0 ? 'none' : items.map(([k, v]) => `${k}=${v}`).join(',');
}
