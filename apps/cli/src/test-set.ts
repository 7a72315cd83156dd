import { loadCifar10, loadFinetuneDataset, type FinetuneSpec, type ImageSet } from '@cifar-dist/data';
import { CliError } from './errors.js';

/** Which test set a model is evaluated on, and how it was chosen. */
export interface TestSetChoice {
  set: ImageSet;
  /** 'CIFAR-10 test set' or 'fine-tune test set (CIFAR-10 + lobster, snail, ...)'. */
  description: string;
}

/**
 * The test split a model with `numClasses` outputs was trained for: 10 classes -> the CIFAR-10
 * test set; otherwise the fine-tune test set (CIFAR-10 test + the CIFAR-100 test records of the
 * fine-tune classes `finetune`, relabelled 10, 11, ...), as the training run loads it.
 *
 * @param limit first N records of each source file, like the training run's --test-limit
 * @throws CifarDataError when the data cannot be read; CliError E_CLI_DATA when the set's class
 *   count differs from the model's
 */
export async function loadTestSet(dataDir: string, numClasses: number, finetune: FinetuneSpec, limit?: number): Promise<TestSetChoice> {
  const opts = limit === undefined ? {} : { limit };
  if (numClasses === 10) {
    return { set: await loadCifar10(dataDir, 'test', opts), description: 'CIFAR-10 test set' };
  }
  const set = await loadFinetuneDataset(dataDir, 'test', finetune, opts);
  if (set.classNames.length !== numClasses) {
    throw new CliError(
      'E_CLI_DATA',
      `the model has ${numClasses} classes but the fine-tune test set (${set.classNames.join(', ')}) has ${set.classNames.length}` +
        ' — pass the run folder\'s model (its report.json names the fine-tune classes)',
    );
  }
  return { set, description: `fine-tune test set (CIFAR-10 + ${set.classNames.slice(10).join(', ')})` };
}
