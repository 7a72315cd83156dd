// The data library's only public door: CIFAR loading (folder or .tar.gz), download, the
// fine-tune dataset, the input normalisation, and the seeded sampling / augmentation helpers.
export { CifarDataError, isCifarDataError, type CifarDataErrorCode, type CifarDataErrorDetails } from './errors';
export { IMAGE_SIZE, CHANNELS, IMAGE_BYTES, PLANE_BYTES, planarToNhwc, nhwcToPlanar } from './layout';
export type { ImageSet, Cifar100Set, Split, FinetuneSpec, LoadOptions } from './types';
export { resolveDataDir, DEFAULT_DATA_DIR } from './data-dir';
export {
  loadCifar10,
  CIFAR10_RECORD_BYTES,
  CIFAR10_RECORDS_PER_BATCH,
  CIFAR10_CLASSES,
  CIFAR10_BATCH_FILES,
  CIFAR10_META_FILE,
} from './cifar10';
export {
  loadCifar100,
  CIFAR100_RECORD_BYTES,
  CIFAR100_FINE_CLASSES,
  CIFAR100_COARSE_CLASSES,
  CIFAR100_SPLIT_FILES,
  CIFAR100_FINE_NAMES_FILE,
  CIFAR100_COARSE_NAMES_FILE,
} from './cifar100';
export { CIFAR100_FINE_TO_COARSE, superclassMembers } from './cifar100-classes';
export { encodeCifar10Records, encodeCifar100Records } from './encode';
export { readArchiveEntries, type ArchiveEntry } from './archive';
export { DATASET_LAYOUT, locateDataset, type DatasetName } from './dataset-files';
export {
  selectFinetuneClasses,
  loadFinetuneDataset,
  mergeFinetune,
  deriveFineToCoarse,
  requireFinetuneRecords,
  DEFAULT_FINETUNE_CLASSES,
} from './finetune';
export { ensureDataset, CIFAR_DOWNLOADS, type EnsureDatasetOptions } from './download';
export { CIFAR10_MEAN, CIFAR10_STD, normalizeImages } from './normalize';
export { createRng, createStreamRng, type Rng, type Sfc32Rng } from './rng';
export { epochPermutation, oversampledIndices } from './permutation';
export { splitHoldout, loadHoldoutSplit } from './holdout';
export { shardRanges, weightedShardRanges } from './shard';
export { gatherBatch } from './batch';
export { augmentBatch, cutoutBatch } from './augment';
