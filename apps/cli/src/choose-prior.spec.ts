import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHoldoutSplit } from '@cifar-dist/data';
import { defaultConfig, InProcessLink, runTraining, WorkerPool, type RunReport, type TrainConfig } from '@cifar-dist/training';
import { useBackend } from './backend.js';
import { ADDED_RECALL_GOAL, choosePriorCommand, REFERENCE_MACRO_PRECISION, SWEEP_TAUS, type ChoosePriorResult } from './choose-prior-command.js';
import { captureIo, makeTempDir, removeDir, SHARED_DATA_DIR } from './spec-helpers.js';

let dir: string;
let trainOnly: string;

function pool(n: number): WorkerPool {
  const p = new WorkerPool();
  for (let i = 0; i < n; i++) p.add(new InProcessLink(`w${i}`));
  return p;
}

const config = (dataDir: string, holdout?: number): TrainConfig =>
  defaultConfig({
    dataDir,
    ...(holdout === undefined ? {} : { holdout }),
    epochs: 1,
    finetuneEpochs: 1,
    batchSize: 32,
    trainLimit: 300,
    evaluateTrain: false,
    evalChunk: 64,
    dropout: false,
    balanceShards: false,
    // No class bias: the sweep's rows (tau alone) then reproduce the run's own figures exactly.
    finetuneClassBias: {},
    // A tau that moves the prior (the default, 0, would leave only the oversampling to undo).
    finetuneLogitTau: 0.2,
  });

beforeAll(async () => {
  await useBackend('wasm');
  dir = await makeTempDir();
  // The real data folder without its test files: the recipe-selection path must never need them.
  trainOnly = path.join(dir, 'data');
  const c10 = path.join(trainOnly, 'cifar-10-batches-bin');
  const c100 = path.join(trainOnly, 'cifar-100-binary');
  await mkdir(c10, { recursive: true });
  await mkdir(c100, { recursive: true });
  for (const f of ['batches.meta.txt', 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin']) {
    await symlink(path.join(SHARED_DATA_DIR, 'cifar-10-batches-bin', f), path.join(c10, f));
  }
  for (const f of ['coarse_label_names.txt', 'fine_label_names.txt', 'train.bin']) {
    await symlink(path.join(SHARED_DATA_DIR, 'cifar-100-binary', f), path.join(c100, f));
  }
});

afterAll(async () => removeDir(dir));

/**
 * Checks a default floor search against its definition: the floors k / fewest for the image
 * counts k from the goal plus one standard error to plus 2 sqrt 2 of them, tried going up, the
 * last one kept whose bias reaches it at macro precision >= the bar, the first that fails ending
 * the search.
 */
function expectFloorSearch(result: ChoosePriorResult | null, fewest: number, precisionFloor: number): void {
  const se = Math.sqrt((ADDED_RECALL_GOAL * (1 - ADDED_RECALL_GOAL)) / fewest);
  const search = result?.floorSearch;
  expect(search?.lowest).toBeCloseTo(ADDED_RECALL_GOAL + se, 12);
  expect(search?.highest).toBeCloseTo(Math.min(1, ADDED_RECALL_GOAL + 2 * Math.SQRT2 * se), 12);
  expect(search?.images).toBe(fewest);
  expect(search?.precisionFloor).toBe(precisionFloor);
  const first = Math.ceil((ADDED_RECALL_GOAL + se) * fewest - 1e-9);
  const last = Math.ceil(Math.min(1, ADDED_RECALL_GOAL + 2 * Math.SQRT2 * se) * fewest - 1e-9);
  expect(search?.floors).toEqual(Array.from({ length: last - first + 1 }, (_, i) => (first + i) / fewest));
  const tried = search?.tried ?? [];
  expect(tried.map((t) => t.floor)).toEqual(search?.floors.slice(0, tried.length));
  const ok = tried.map((t) => t.reached && t.precisionMacro >= precisionFloor);
  // Every floor before the last tried passed; the last tried failed, or was the grid's top.
  expect(ok.slice(0, -1).every(Boolean)).toBe(true);
  if (ok.at(-1)) {
    expect(tried).toHaveLength(search?.floors.length as number);
    expect(result?.recallFloor).toBe(tried.at(-1)?.floor);
  } else {
    expect(result?.recallFloor).toBe(tried.length > 1 ? tried.at(-2)?.floor : search?.floors[0]);
  }
  // The chosen tau's class bias is the one that search found: its precision is the one tried.
  const atChosen = result?.withFloor.find((c) => c.tau === result.chosen);
  expect(atChosen?.report.precisionMacro).toBe(tried.find((t) => t.floor === result?.recallFloor)?.precisionMacro);
  expect(search?.precisionKept).toBe((atChosen?.report.precisionMacro as number) >= precisionFloor);
}

describe('recipe selection never reads the test files', () => {
  it('control: a normal run in that folder fails on the missing test file', async () => {
    await expect(runTraining({ config: config(trainOnly), pool: pool(1), out: path.join(dir, 'normal') })).rejects.toThrow(/test_batch\.bin/);
  });

  let report: RunReport;
  const run = (): string => path.join(dir, 'holdout');

  it('a --holdout run trains and evaluates both phases on the held-out split', async () => {
    report = await runTraining({ config: config(trainOnly, 0.2), pool: pool(2), out: run() });
    const heldOut = await loadHoldoutSplit(trainOnly, 'finetune', {}, 0.2, { limit: 300 });
    const finetune = report.phases[1];
    expect(finetune?.test.samples).toBe(heldOut.heldOut.count);
    expect(finetune?.samplesSeen).toBeGreaterThan(0);
    expect(report.config.holdout).toBe(0.2);
  });

  it('choose-prior sweeps tau on the same held-out split; at the run\'s own tau (0.2 here) it agrees with report.json', async () => {
    const io = captureIo();
    const result = await choosePriorCommand(['node', 'choose-prior', '--run', run(), '--json'], io);
    expect(result?.rows.map((r) => r.tau)).toEqual(SWEEP_TAUS);
    expect(SWEEP_TAUS).toContain(result?.chosen);
    const test = report.phases[1]?.test;
    expect(report.config.finetuneLogitTau).toBe(0.2);
    const atRunTau = result?.rows.find((r) => r.tau === report.config.finetuneLogitTau)?.report;
    expect(atRunTau?.confusionMatrix).toEqual(test?.confusionMatrix);
    expect(atRunTau?.loss).toBeCloseTo(test?.loss as number, 4);
    expect(JSON.parse(io.stdout()).chosen).toBe(result?.chosen);
    // The default floor: searched from the goal plus one standard error at the smallest added
    // class's held-out count, under the reference's macro precision.
    const fewest = await fewestHeldOut();
    // This small fixture holds out fewer than 30 images of some added class: the floor comes with a warning.
    expect(fewest).toBeGreaterThan(0);
    expect(fewest).toBeLessThan(30);
    expect(io.stderr()).toContain(`warning: an added class has only ${fewest} held-out images`);
    expect(REFERENCE_MACRO_PRECISION).toBeCloseTo(0.7341, 4);
    expectFloorSearch(result, fewest, REFERENCE_MACRO_PRECISION);
    // One epoch on 240 images is far below that precision: the lowest floor, with a warning.
    expect(result?.floorSearch?.precisionKept).toBe(false);
    expect(result?.recallFloor).toBe(result?.floorSearch?.floors[0]);
    expect(io.stderr()).toContain(`warning: even the lowest recall floor, ${(result?.recallFloor as number).toFixed(3)}, brings the held-out macro precision below 0.7341`);
    // The class bias at each tau: on the 0.05-nat grid, each added class either at the floor or at the 3-nat ceiling.
    expect(result?.withFloor.map((c) => c.tau)).toEqual(SWEEP_TAUS);
    for (const choice of result?.withFloor ?? []) {
      expect(choice.bias.slice(0, 10)).toEqual(new Array(10).fill(0));
      for (const [c, b] of choice.bias.entries()) {
        expect(Math.abs(b / 0.05 - Math.round(b / 0.05))).toBeLessThan(1e-9);
        if (c >= 10) expect((choice.report.perClass[c]?.recall ?? 0) >= (result?.recallFloor as number) || b === 3).toBe(true);
      }
      expect(choice.reached).toBe(choice.report.perClass.slice(10).every((m) => m.recall >= (result?.recallFloor as number)));
    }
  });

  it('choose-prior --precision-floor sets the bar of the default floor search; beside --recall-floor it is a usage error', async () => {
    const io = captureIo();
    const result = await choosePriorCommand(['node', 'choose-prior', '--run', run(), '--precision-floor', '0'], io);
    expectFloorSearch(result, await fewestHeldOut(), 0);
    expect(result?.floorSearch?.precisionKept).toBe(true);
    expect(io.stderr()).not.toContain('brings the held-out macro precision below');
    // This weak fixture model may not reach even the lowest floor within 3 nats: a warning says so.
    const atChosen = result?.withFloor.find((c) => c.tau === result.chosen);
    expect(io.stderr().includes(`warning: even the lowest recall floor, ${(result?.recallFloor as number).toFixed(3)}, is out of reach`)).toBe(atChosen?.reached === false);
    expect(io.stdout()).toContain(`${(result?.recallFloor as number).toFixed(3)}  `);
    expect(io.stdout()).toContain('<- chosen');
    for (const bad of ['1.5', '-0.1']) {
      await expect(choosePriorCommand(['node', 'choose-prior', '--run', run(), '--precision-floor', bad], captureIo())).rejects.toThrow(`expected a number from 0 to 1, got '${bad}'`);
    }
    await expect(choosePriorCommand(['node', 'choose-prior', '--run', run(), '--recall-floor', '0.7', '--precision-floor', '0.7'], captureIo())).rejects.toThrow(
      "option '--precision-floor <precision>' cannot be used with option '--recall-floor <recall>'",
    );
  });

  it('choose-prior --recall-floor sets the held-out recall the class bias aims at; a value outside [0, 1] is a usage error', async () => {
    const io = captureIo();
    const result = await choosePriorCommand(['node', 'choose-prior', '--run', run(), '--recall-floor', '0.7'], io);
    expect(result?.recallFloor).toBe(0.7);
    expect(result?.floorSearch).toBeUndefined();
    expect(io.stdout()).not.toContain('recall floor, at the chosen tau');
    expect(io.stdout()).toContain('lifts every added class to held-out recall 0.700');
    expect(io.stderr()).not.toContain('warning');
    for (const choice of result?.withFloor ?? []) {
      for (const c of [10, 11, 12, 13]) expect((choice.report.perClass[c]?.recall ?? 0) >= 0.7 || choice.bias[c] === 3).toBe(true);
      expect(choice.reached).toBe(choice.report.perClass.slice(10).every((m) => m.recall >= 0.7));
    }
    // Floor 0 needs no bias at any tau.
    const none = await choosePriorCommand(['node', 'choose-prior', '--run', run(), '--recall-floor', '0', '--json'], captureIo());
    expect(none?.withFloor.every((c) => c.bias.every((b) => b === 0) && c.reached)).toBe(true);
    expect(JSON.parse(JSON.stringify(none)).recallFloor).toBe(0);
    for (const bad of ['1.5', '-0.1', 'NaN', '']) {
      await expect(choosePriorCommand(['node', 'choose-prior', '--run', run(), '--recall-floor', bad], captureIo())).rejects.toThrow(`expected a number from 0 to 1, got '${bad}'`);
    }
  });

  it('choose-prior refuses a run evaluated on the test set', async () => {
    const io = captureIo();
    const normal = path.join(dir, 'normal-run');
    await runTraining({ config: { ...config(SHARED_DATA_DIR), epochs: 0, finetuneEpochs: 0, testLimit: 64 }, pool: pool(1), out: normal });
    await expect(choosePriorCommand(['node', 'choose-prior', '--run', normal], io)).rejects.toThrow(/was not trained with --holdout/);
  });
});

/** Held-out images of the smallest added class in the fixture's split. */
async function fewestHeldOut(): Promise<number> {
  const { heldOut } = await loadHoldoutSplit(trainOnly, 'finetune', {}, 0.2, { limit: 300 });
  return Math.min(...[10, 11, 12, 13].map((c) => heldOut.labels.subarray(0, heldOut.count).filter((l) => l === c).length));
}
