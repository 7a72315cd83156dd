import { describe, expect, it } from 'vitest';
import { createModel } from './architecture.js';
import { getWeightsFlat, setWeightsFlat, weightSpecs } from './flat-weights.js';
import { freezeLayers } from './freeze.js';
import { replaceHead } from './head.js';
import { countParams } from './param-count.js';
import { randomFloats } from './spec-helpers.js';

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const HEAD_10 = 512 * 10 + 10;

describe('replaceHead', () => {
  it('keeps every other weight bit-identical and adds a fresh Dense(14) named dense_2', () => {
    const old = createModel({ numClasses: 10, seed: 5 });
    setWeightsFlat(old, randomFloats(1250858, 11, 0.1), 'all'); // "trained" weights
    const oldFlat = getWeightsFlat(old, 'all');
    const next = replaceHead(old, 14, { seed: 9 });

    expect(next).not.toBe(old);
    expect(next.layers.map((l) => l.name)).toEqual(old.layers.map((l) => l.name));
    expect(countParams(next).total).toBe(1252910);
    const specs = weightSpecs(next, 'all');
    expect(specs.slice(-2).map((s) => [s.name, s.shape])).toEqual([
      ['dense_2/kernel', [512, 14]],
      ['dense_2/bias', [14]],
    ]);
    const nextFlat = getWeightsFlat(next, 'all');
    const body = 1250858 - HEAD_10;
    expect(bytes(nextFlat.subarray(0, body)).equals(bytes(oldFlat.subarray(0, body)))).toBe(true);
    // Fresh head: glorot_uniform kernel (not the old one, not zeros), zero bias.
    const kernel = nextFlat.subarray(body, body + 512 * 14);
    const limit = Math.sqrt(6 / (512 + 14));
    expect(kernel.every((v) => Math.abs(v) <= limit)).toBe(true);
    expect(kernel.some((v) => v !== 0)).toBe(true);
    expect(nextFlat.subarray(body + 512 * 14).every((v) => v === 0)).toBe(true);
    expect(next.layers[next.layers.length - 1].getConfig()['activation']).toBe('softmax');
    expect(next.getLayer('dense_2').getConfig()['units']).toBe(14);

    // The old model is untouched and still usable.
    expect(bytes(getWeightsFlat(old, 'all')).equals(bytes(oldFlat))).toBe(true);
    // The two models do not share storage: writing one leaves the other alone.
    setWeightsFlat(next, new Float32Array(1252910), 'all');
    expect(bytes(getWeightsFlat(old, 'all')).equals(bytes(oldFlat))).toBe(true);
    old.dispose();
    expect(getWeightsFlat(next, 'all').every((v) => v === 0)).toBe(true);
    next.dispose();
  });

  it('is deterministic for a head seed', () => {
    const old = createModel({ numClasses: 10, seed: 1 });
    const a = getWeightsFlat(replaceHead(old, 14, { seed: 3 }), 'all');
    const b = getWeightsFlat(replaceHead(old, 14, { seed: 3 }), 'all');
    expect(bytes(a).equals(bytes(b))).toBe(true);
    const c = getWeightsFlat(replaceHead(old, 14, { seed: 4 }), 'all');
    expect(bytes(c).equals(bytes(a))).toBe(false);
  });

  it('keeps trainable flags, and dropout rates unless told otherwise', () => {
    const old = createModel({ numClasses: 10, dropout: false });
    freezeLayers(old, 5);
    const rates = (m: ReturnType<typeof createModel>) =>
      m.layers.filter((l) => l.getClassName() === 'Dropout').map((l) => l.getConfig()['rate']);
    const same = replaceHead(old, 14);
    expect(same.layers.map((l) => l.trainable)).toEqual(old.layers.map((l) => l.trainable));
    expect(countParams(same).trainable).toBe(1252910 - 896 - 9248);
    expect(rates(same)).toEqual([0, 0, 0]);
    expect(rates(replaceHead(old, 14, { dropout: true }))).toEqual([0.25, 0.25, 0.5]);
    expect(rates(replaceHead(createModel({ numClasses: 10 }), 14, { dropout: false }))).toEqual([0, 0, 0]);
  });

  it('rejects a bad class count', () => {
    const old = createModel({ numClasses: 10 });
    expect(() => replaceHead(old, 1)).toThrow(expect.objectContaining({ code: 'E_MODEL_OPTIONS' }));
  });
});
