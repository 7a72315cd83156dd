import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, found from this file (libs/training/src). */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The real CIFAR data beside the repository (CI lays shared/ there). */
export const SHARED_DATA = path.resolve(REPO_ROOT, '../shared/data');
