/**
 * Measures one training step (computeGradients: forward + backward, dropout on) on the wasm
 * backend for a batch of 64 CIFAR-shaped images (random data: timing does not depend on values).
 *
 *   npx tsx --tsconfig libs/model/tsconfig.json libs/model/src/bench-step.ts [--batch 64] [--steps 5] [--profile]
 *
 * Prints the median of `steps` timed steps after 2 warm-up steps, images/s, and the forward-only
 * time; --profile adds the slowest kernels of one step. A benchmark, not a test: it asserts nothing
 * and its numbers depend on the machine's load.
 */
import { parseArgs } from 'node:util';
import { computeGradients, createModel, evaluateBatch, selectBackend, tf } from './index.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function randomBatch(count: number): { xs: Float32Array; labels: Uint8Array } {
  const xs = new Float32Array(count * 3072);
  for (let i = 0; i < xs.length; i++) xs[i] = Math.random() * 2 - 1;
  return { xs, labels: Uint8Array.from({ length: count }, (_, i) => i % 10) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      batch: { type: 'string', default: '64' },
      steps: { type: 'string', default: '5' },
      profile: { type: 'boolean', default: false },
    },
  });
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  const choice = await selectBackend({ force: 'wasm' });
  const model = createModel({ numClasses: 10, seed: 1 });
  const { xs, labels } = randomBatch(batch);

  for (let i = 0; i < 2; i++) await computeGradients(model, xs, labels, batch);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await computeGradients(model, xs, labels, batch);
    times.push(performance.now() - t0);
  }
  await evaluateBatch(model, xs, labels, batch, { batchSize: batch });
  const fwd: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await evaluateBatch(model, xs, labels, batch, { batchSize: batch });
    fwd.push(performance.now() - t0);
  }

  const step = median(times);
  console.log(`backend: ${choice.tfBackend} (${choice.device}), batch ${batch}`);
  console.log(`training step (computeGradients): median ${step.toFixed(1)} ms over ${steps} [${times.map((t) => t.toFixed(0)).join(', ')}]`);
  console.log(`  = ${((batch * 1000) / step).toFixed(1)} images/s per process`);
  console.log(`forward only (evaluateBatch): median ${median(fwd).toFixed(1)} ms`);

  if (values.profile) {
    const info = await tf.profile(async () => {
      await computeGradients(model, xs, labels, batch);
    });
    const byKernel = new Map<string, number>();
    for (const k of info.kernels) {
      // Op-level wrappers (name__op) enclose their kernels' time: count kernels only.
      if (k.name.includes('__op')) continue;
      const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
      byKernel.set(key, (byKernel.get(key) ?? 0) + (k.kernelTimeMs as number));
    }
    const rows = [...byKernel.entries()].sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((s, [, v]) => s + v, 0);
    console.log(`kernel time in one profiled step: ${total.toFixed(1)} ms; slowest:`);
    for (const [k, v] of rows.slice(0, 15)) console.log(`${v.toFixed(1).padStart(8)} ms  ${k}`);
  }
  model.dispose();
}

await main();
