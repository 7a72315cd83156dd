/**
 * Child process of the bench's compute-only ceiling (see ceiling.ts): one worker's training step
 * (computeGradients on the wasm backend) in a loop with no coordinator and no exchange. Prints one
 * JSON line: { "stepMs": [ ... ] } (each timed step, ms).
 *
 *   tsx compute-only.ts <batch> <warmupSteps> <timedSteps>
 */
import { computeGradients, createModel, selectBackend } from '@cifar-dist/model';

const [batch, warmup, steps] = process.argv.slice(2).map(Number) as [number, number, number];
await selectBackend({ force: 'wasm' });
const model = createModel({ numClasses: 10, seed: 1 });
const xs = new Float32Array(batch * 3072).map((_, i) => ((i * 2654435761) >>> 24) / 128 - 1);
const labels = Uint8Array.from({ length: batch }, (_, i) => i % 10);
const out = new Float32Array(1_250_858);
const stepMs: number[] = [];
for (let i = 0; i < warmup + steps; i++) {
  const t0 = performance.now();
  await computeGradients(model, xs, labels, batch, { out });
  if (i >= warmup) stepMs.push(performance.now() - t0);
}
process.stdout.write(`${JSON.stringify({ stepMs })}\n`);
