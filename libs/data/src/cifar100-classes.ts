/**
 * The coarse class (superclass) of each CIFAR-100 fine class, indexed by fine label: fixed by the
 * dataset's definition (Krizhevsky 2009, the superclass table on the CIFAR page); this array is
 * the widely used `sparse2coarse` table (github.com/ryanchankh/cifar100coarse), and the spec
 * checks it against the real fine_label_names.txt (e.g. 13 = crab, lobster, snail, spider, worm).
 *
 * Superclass membership comes from here rather than from whichever records a file holds, so
 * the fine-tune class list (and so the model's head size and label meaning) never depends on the
 * split, a subset or a `limit`.
 */
export const CIFAR100_FINE_TO_COARSE: readonly number[] = Object.freeze([
  4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12,
  14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17, 10, 3, 2, 12, 12, 16, 12, 1,
  9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]);

/** The fine classes of CIFAR-100 superclass `coarse` (0..19), ascending: always five. */
export function superclassMembers(coarse: number): number[] {
  const members: number[] = [];
  CIFAR100_FINE_TO_COARSE.forEach((c, fine) => {
    if (c === coarse) members.push(fine);
  });
  return members;
}
