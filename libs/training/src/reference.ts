import { classificationReport, type ClassificationReport } from '@cifar-dist/metrics';

/**
 * The published figures we compare against: the reference lab report (Keras, 2020), as recorded in
 * shared/reference/reference-results.json and lab-report-ru.txt. The project keeps its own copy of
 * the numbers. Accuracy and loss are as published; precision, recall and F1 were published
 * rounded to two decimals, so they are recomputed exactly from the report's confusion matrices
 * (rows = true class, columns = predicted), which it gives for both splits of both phases.
 *
 * The CIFAR-10 training matrix gives 35,419 / 50,000 = 0.70838 where the report prints 0.70837.
 * The fine-tune's training matrix is printed with one stray 0 in each added-class row (15 numbers);
 * dropping it gives rows of 500, the report's 52,000 images and its accuracy 0.76542.
 */
const CONFUSION = {
  cifar10: {
    test: [
      [737, 16, 82, 9, 31, 8, 9, 16, 71, 21],
      [45, 771, 13, 10, 11, 3, 11, 11, 35, 90],
      [62, 3, 573, 57, 144, 58, 48, 35, 16, 4],
      [16, 2, 126, 460, 107, 149, 58, 53, 20, 9],
      [21, 2, 84, 45, 681, 19, 37, 97, 13, 1],
      [13, 2, 107, 166, 65, 555, 19, 68, 3, 2],
      [5, 3, 70, 58, 92, 25, 732, 10, 4, 1],
      [14, 1, 53, 31, 86, 57, 2, 750, 3, 3],
      [87, 27, 24, 13, 15, 5, 8, 3, 802, 16],
      [49, 82, 12, 18, 15, 7, 18, 34, 37, 728],
    ],
    train: [
      [3756, 74, 395, 52, 142, 28, 22, 72, 357, 102],
      [159, 4061, 64, 34, 56, 12, 49, 42, 162, 361],
      [259, 15, 3125, 237, 664, 223, 209, 174, 75, 19],
      [88, 14, 571, 2558, 460, 705, 286, 213, 71, 34],
      [123, 5, 377, 169, 3612, 101, 145, 429, 31, 8],
      [32, 6, 470, 778, 371, 2879, 94, 332, 22, 16],
      [28, 20, 359, 292, 443, 84, 3685, 36, 33, 20],
      [47, 8, 193, 176, 448, 218, 25, 3828, 29, 28],
      [346, 112, 135, 48, 58, 25, 25, 26, 4137, 88],
      [217, 415, 68, 86, 61, 24, 55, 154, 142, 3778],
    ],
  },
  finetune: {
    test: [
      [756, 26, 66, 21, 9, 12, 9, 12, 55, 34, 0, 0, 0, 0],
      [12, 872, 6, 15, 1, 6, 10, 2, 15, 61, 0, 0, 0, 0],
      [67, 8, 604, 68, 73, 80, 55, 31, 8, 6, 0, 0, 0, 0],
      [12, 3, 77, 560, 32, 217, 60, 19, 9, 11, 0, 0, 0, 0],
      [21, 5, 84, 79, 614, 76, 39, 70, 11, 1, 0, 0, 0, 0],
      [8, 3, 51, 160, 29, 701, 8, 37, 3, 0, 0, 0, 0, 0],
      [4, 5, 50, 70, 26, 40, 794, 7, 2, 2, 0, 0, 0, 0],
      [13, 1, 46, 30, 38, 101, 3, 765, 1, 2, 0, 0, 0, 0],
      [63, 41, 14, 21, 0, 10, 6, 2, 819, 24, 0, 0, 0, 0],
      [26, 88, 9, 25, 4, 12, 9, 7, 21, 799, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 71, 27, 1, 1],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 18, 78, 2, 2],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 7, 83, 6],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 17, 24, 52],
    ],
    train: [
      [3969, 119, 311, 85, 48, 38, 23, 51, 225, 131, 0, 0, 0, 0],
      [59, 4552, 34, 34, 10, 30, 16, 17, 53, 195, 0, 0, 0, 0],
      [273, 16, 3300, 339, 304, 336, 254, 121, 41, 16, 0, 0, 0, 0],
      [66, 15, 284, 3083, 126, 1052, 225, 86, 42, 21, 0, 0, 0, 0],
      [118, 8, 367, 312, 3336, 303, 192, 324, 29, 11, 0, 0, 0, 0],
      [19, 5, 174, 652, 141, 3775, 72, 140, 11, 11, 0, 0, 0, 0],
      [21, 28, 245, 311, 109, 157, 4088, 13, 14, 14, 0, 0, 0, 0],
      [34, 11, 153, 211, 184, 444, 14, 3910, 14, 25, 0, 0, 0, 0],
      [263, 148, 88, 89, 17, 32, 24, 14, 4235, 90, 0, 0, 0, 0],
      [119, 398, 31, 88, 4, 55, 24, 57, 73, 4151, 0, 0, 0, 0],
      [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 375, 104, 5, 15],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 84, 400, 4, 12],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 47, 45, 372, 36],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 66, 75, 103, 256],
    ],
  },
} as const;

/** One split of one phase: accuracy and loss as published, the rest from its confusion matrix. */
export interface ReferenceSplit {
  accuracy: number;
  loss: number;
  /** The published (rounded) figures. */
  published: { f1: number; recall: number; precision: number };
  /** scikit-learn's figures of the reference's confusion matrix: per class, macro and weighted. */
  report: ClassificationReport;
}

const split = (accuracy: number, loss: number, published: ReferenceSplit['published'], cm: readonly (readonly number[])[]): ReferenceSplit => ({
  accuracy,
  loss,
  published,
  report: classificationReport(cm.map((r) => [...r])),
});

export const REFERENCE: Readonly<Record<'cifar10' | 'finetune', { test: ReferenceSplit; train: ReferenceSplit }>> = {
  cifar10: {
    test: split(0.6789, 0.91403, { f1: 0.68, recall: 0.68, precision: 0.66 }, CONFUSION.cifar10.test),
    train: split(0.70837, 0.84357, { f1: 0.71, recall: 0.7, precision: 0.71 }, CONFUSION.cifar10.train),
  },
  finetune: {
    test: split(0.72769, 0.7688, { f1: 0.73, recall: 0.73, precision: 0.74 }, CONFUSION.finetune.test),
    train: split(0.76542, 0.67712, { f1: 0.75, recall: 0.75, precision: 0.76 }, CONFUSION.finetune.train),
  },
};

/** One figure of the comparison with the reference: how to read it from ours and from theirs. */
export interface ComparedMetric {
  label: string;
  ours: (r: ClassificationReport) => number | undefined;
  reference: (s: ReferenceSplit) => number;
  /** false for the loss: lower is better. */
  higherIsBetter: boolean;
}

/** Every figure of the reference's tables, in the order our reports list them. */
export const COMPARED_METRICS: readonly ComparedMetric[] = [
  { label: 'accuracy', ours: (r) => r.accuracy, reference: (s) => s.accuracy, higherIsBetter: true },
  { label: 'loss', ours: (r) => r.loss, reference: (s) => s.loss, higherIsBetter: false },
  { label: 'precision (macro)', ours: (r) => r.precisionMacro, reference: (s) => s.report.precisionMacro, higherIsBetter: true },
  { label: 'recall (macro)', ours: (r) => r.recallMacro, reference: (s) => s.report.recallMacro, higherIsBetter: true },
  { label: 'F1 (macro)', ours: (r) => r.f1Macro, reference: (s) => s.report.f1Macro, higherIsBetter: true },
  { label: 'precision (weighted)', ours: (r) => r.precisionWeighted, reference: (s) => s.report.precisionWeighted, higherIsBetter: true },
  { label: 'recall (weighted)', ours: (r) => r.recallWeighted, reference: (s) => s.report.recallWeighted, higherIsBetter: true },
  { label: 'F1 (weighted)', ours: (r) => r.f1Weighted, reference: (s) => s.report.f1Weighted, higherIsBetter: true },
];
