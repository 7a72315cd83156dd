/**
 * The published figures we compare against: the reference lab report (Keras, 2020), as recorded in
 * shared/reference/reference-results.json. The project keeps its own copy of the numbers.
 */
export const REFERENCE = {
  cifar10: {
    test: { accuracy: 0.6789, loss: 0.91403, f1: 0.68, recall: 0.68, precision: 0.66 },
    train: { accuracy: 0.70837, loss: 0.84357, f1: 0.71, recall: 0.7, precision: 0.71 },
  },
  finetune: {
    test: { accuracy: 0.72769, loss: 0.7688, f1: 0.73, recall: 0.73, precision: 0.74 },
    train: { accuracy: 0.76542, loss: 0.67712, f1: 0.75, recall: 0.75, precision: 0.76 },
  },
} as const;
