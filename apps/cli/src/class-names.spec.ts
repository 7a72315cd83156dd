import { describe, expect, it } from 'vitest';
import type { RunReport } from '@cifar-dist/training';
import { CIFAR10_NAMES, classNamesFor } from './class-names.js';

function report(phases: Array<{ name: 'cifar10' | 'finetune'; classNames: string[] }>): RunReport {
  return { phases: phases.map((p) => ({ ...p, numClasses: p.classNames.length })) } as unknown as RunReport;
}

const extra = ['w', 'x', 'y', 'z'];

describe('classNamesFor', () => {
  it('takes the phase named after the model folder from report.json', () => {
    const r = report([
      { name: 'cifar10', classNames: CIFAR10_NAMES.map((n) => `c10-${n}`) },
      { name: 'finetune', classNames: [...CIFAR10_NAMES, ...extra] },
    ]);
    expect(classNamesFor(14, 'model-finetune', r)).toEqual({ names: [...CIFAR10_NAMES, ...extra], source: 'report' });
    expect(classNamesFor(10, 'model-cifar10', r).names[0]).toBe('c10-airplane');
  });

  it('falls back to the first phase with the same number of classes when the folder was renamed', () => {
    const r = report([{ name: 'finetune', classNames: [...CIFAR10_NAMES, ...extra] }]);
    expect(classNamesFor(14, 'my-model', r).names.slice(10)).toEqual(extra);
  });

  it('without a matching phase: CIFAR-10 names, CIFAR-10 + default fine-tune classes, or class i', () => {
    const r = report([{ name: 'finetune', classNames: [...CIFAR10_NAMES, ...extra] }]);
    expect(classNamesFor(10, 'model-cifar10', r)).toEqual({ names: CIFAR10_NAMES, source: 'cifar10' });
    expect(classNamesFor(14, 'model-finetune', null)).toEqual({
      names: [...CIFAR10_NAMES, 'lobster', 'snail', 'spider', 'worm'],
      source: 'finetune-default',
    });
    expect(classNamesFor(3, 'm', null)).toEqual({ names: ['class 0', 'class 1', 'class 2'], source: 'generic' });
  });
});
