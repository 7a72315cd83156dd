import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addTrainOptions, configFromOptions, runFolder, type CoordinatorOptions } from './options.js';

function parse(args: string[]): CoordinatorOptions {
  const cmd = addTrainOptions(new Command('t').exitOverride());
  cmd.parse(args, { from: 'user' });
  return cmd.opts<CoordinatorOptions>();
}

describe('training options', () => {
  it('defaults are the recipe: SGD, global batch 128, augmentation and dropout on, 5 frozen layers', () => {
    const c = configFromOptions(parse([]), {});
    expect(c.batchSize).toBe(128);
    expect(c.optimizer.name).toBe('sgd');
    expect(c.augment).toBe(true);
    expect(c.dropout).toBe(true);
    expect(c.frozenLayers).toBe(5);
    expect(c.finetune).toEqual({});
    expect(c.dataDir).toMatch(/\/data$/);
  });

  it('maps every flag onto the config', () => {
    const c = configFromOptions(
      parse(['--data-dir', '/d', '--epochs', '2', '--finetune-epochs', '1', '--batch-size', '100', '--lr', '0.2',
        '--optimizer', 'adam', '--seed', '7', '--no-augment', '--no-dropout', '--train-limit', '500', '--test-limit', '50',
        '--superclass', '13', '--frozen-layers', '3']),
      {},
    );
    expect(c).toMatchObject({ dataDir: '/d', epochs: 2, finetuneEpochs: 1, batchSize: 100, seed: 7, augment: false, dropout: false,
      trainLimit: 500, testLimit: 50, frozenLayers: 3, finetune: { superclass: 13 } });
    expect(c.optimizer.name).toBe('adam');
    expect(c.schedule.lr).toBe(0.2);
    expect(configFromOptions(parse(['--finetune-classes', 'crab', 'worm']), {}).finetune).toEqual({ classes: ['crab', 'worm'] });
    expect(configFromOptions(parse([]), { CIFAR_DATA_DIR: '/env/data' }).dataDir).toBe('/env/data');
  });

  it('refuses bad numbers with a clear message', () => {
    expect(() => parse(['--batch-size', '0'])).toThrow(/--batch-size must be a positive integer/);
    expect(() => parse(['--lr', '-1'])).toThrow(/--lr must be a positive number/);
    expect(() => parse(['--optimizer', 'rmsprop'])).toThrow(/Allowed choices are sgd, adam/);
  });
});

describe('explicitConfigKeys', () => {
  it('names the config fields given on the command line, not the defaults', async () => {
    const { Command } = await import('commander');
    const { addTrainOptions, explicitConfigKeys } = await import('./options.js');
    const cmd = addTrainOptions(new Command('t'));
    cmd.parse(['node', 't', '--epochs', '3', '--finetune-lr', '0.01', '--no-augment', '--superclass', '13'], { from: 'node' });
    const saved = process.env['CIFAR_DATA_DIR'];
    delete process.env['CIFAR_DATA_DIR'];
    try {
      expect([...explicitConfigKeys(cmd)].sort()).toEqual(['augment', 'epochs', 'finetune', 'finetuneSchedule']);
    } finally {
      if (saved !== undefined) process.env['CIFAR_DATA_DIR'] = saved;
    }
  });

  it('--resume [dir|auto] picks the run folder and the mode', () => {
    const now = new Date('2026-12-01T05:06:07.089Z');
    expect(runFolder(parse([]), now)).toEqual({ out: 'runs/2026-12-01T05-06-07-089Z', resume: false });
    expect(runFolder(parse(['--out', 'r1']), now)).toEqual({ out: 'r1', resume: false });
    expect(runFolder(parse(['--out', 'r1', '--resume']), now)).toEqual({ out: 'r1', resume: true });
    expect(runFolder(parse(['--resume', 'r2']), now)).toEqual({ out: 'r2', resume: true });
    expect(runFolder(parse(['--resume', './auto']), now)).toEqual({ out: './auto', resume: true });
    expect(runFolder(parse(['--out', 'r3', '--resume', 'auto']), now)).toEqual({ out: 'r3', resume: 'auto' });
    expect(() => runFolder(parse(['--resume', 'auto']), now)).toThrow(/--resume auto needs --out/);
  });
});
