import { createModel, freezeLayers, modelSummary, replaceHead, tf } from '@cifar-dist/model';

/** `npm run summary`: the Keras-style table of both reference models. */
async function main(): Promise<void> {
  tf.enableProdMode();
  await tf.setBackend('cpu');
  const base = createModel({ numClasses: 10, seed: 1 });
  process.stdout.write(`${modelSummary(base, 'cifar10 (phase 1)')}\n\n`);
  const finetune = replaceHead(base, 14, { seed: 2 });
  freezeLayers(finetune, 5);
  process.stdout.write(`${modelSummary(finetune, 'finetune (phase 2, first 5 layers frozen)')}\n`);
  base.dispose();
  finetune.dispose();
}

main().catch((err: unknown) => {
  process.stderr.write(`summary: ${(err as Error).message}\n`);
  process.exit(1);
});
