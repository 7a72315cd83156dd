import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { addTrainOptions, checkStart, configFromOptions, runFolder, type CoordinatorOptions } from './options.js';
import { finishedRun, tree } from './run-folder-fixtures.js';
import { DEFAULT_CLASS_BIAS } from '@cifar-dist/training';

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

  it('--wait-timeout bounds the wait for --min-workers (a duration; default 30 minutes)', () => {
    expect(configFromOptions(parse([]), {}).workerWaitMs).toBe(30 * 60_000);
    expect(configFromOptions(parse(['--wait-timeout', '90s']), {}).workerWaitMs).toBe(90_000);
    expect(configFromOptions(parse(['--wait-timeout', '5']), {}).workerWaitMs).toBe(5_000);
  });

  it('--clip-norm sets global-norm clipping; absent, none', () => {
    expect(configFromOptions(parse(['--clip-norm', '5']), {}).clipNorm).toBe(5);
    expect(configFromOptions(parse([]), {}).clipNorm).toBeUndefined();
    expect(() => parse(['--clip-norm', '0'])).toThrow(/--clip-norm must be a positive number/);
  });

  it('--logit-tau, --holdout and label smoothing map onto the config and are range-checked', () => {
    const c = configFromOptions(parse(['--logit-tau', '0.6', '--holdout', '0.2', '--label-smoothing', '0.05', '--finetune-label-smoothing', '0.1']), {});
    expect(c).toMatchObject({ finetuneLogitTau: 0.6, holdout: 0.2, labelSmoothing: 0.05, finetuneLabelSmoothing: 0.1 });
    expect(configFromOptions(parse([]), {}).holdout).toBeUndefined();
    expect(() => parse(['--logit-tau', '1.5'])).toThrow('--logit-tau must be a number from 0 to 1');
    expect(() => parse(['--logit-tau', ''])).toThrow('--logit-tau must be a number from 0 to 1');
    expect(() => parse(['--holdout', '1'])).toThrow('--holdout must be a number between 0 and 1 (exclusive)');
    expect(() => parse(['--holdout', '0'])).toThrow('--holdout must be a number between 0 and 1 (exclusive)');
    expect(configFromOptions(parse(['--finetune-cutout', '16']), {}).finetuneCutout).toBe(16);
    expect(configFromOptions(parse([]), {}).finetuneCutout).toBe(0);
    expect(() => parse(['--finetune-cutout', '33'])).toThrow('--finetune-cutout must be 0 to 32 pixels (the images are 32 x 32)');
    expect(() => parse(['--finetune-label-smoothing', '1'])).toThrow('--finetune-label-smoothing must be a number from 0 up to (not including) 1');
  });

  it('--class-bias parses name=nats lists or none; the default bias goes with the default classes only', () => {
    expect(configFromOptions(parse(['--class-bias', 'snail=0.9, worm=-0.25']), {}).finetuneClassBias).toEqual({ snail: 0.9, worm: -0.25 });
    expect(configFromOptions(parse(['--class-bias', 'none']), {}).finetuneClassBias).toEqual({});
    expect(configFromOptions(parse([]), {}).finetuneClassBias).toEqual(DEFAULT_CLASS_BIAS);
    expect(configFromOptions(parse(['--finetune-classes', 'crab', 'worm']), {}).finetuneClassBias).toEqual({});
    expect(configFromOptions(parse(['--superclass', '13', '--class-bias', 'crab=1']), {}).finetuneClassBias).toEqual({ crab: 1 });
    expect(() => parse(['--class-bias', 'snail'])).toThrow("--class-bias: 'snail' is not name=nats (e.g. snail=0.9); give a comma-separated list, or none");
    expect(() => parse(['--class-bias', 'snail=x'])).toThrow("--class-bias: 'snail=x' is not name=nats");
    expect(() => parse(['--class-bias', 'snail=Infinity'])).toThrow("--class-bias: 'snail=Infinity' is not name=nats");
    expect(() => parse(['--class-bias', 'snail=1,snail=2'])).toThrow('--class-bias gives snail twice');
    expect(() => parse(['--class-bias', 'snail=1', '--class-bias', 'worm=1'])).toThrow('--class-bias is given more than once: give one comma-separated list');
    expect(() => parse(['--class-bias', ''])).toThrow("--class-bias: '' is not name=nats");
    // an own property, which the run then refuses as no added class (not a silently dropped prototype)
    expect(Object.keys(configFromOptions(parse(['--class-bias', '__proto__=1']), {}).finetuneClassBias ?? {})).toEqual(['__proto__']);
    expect(configFromOptions(parse(['--no-logit-adjust']), {}).finetuneClassBias).toEqual({});
    expect(configFromOptions(parse(['--finetune-classes', 'worm', 'spider', 'snail', 'lobster']), {}).finetuneClassBias).toEqual(DEFAULT_CLASS_BIAS);
  });

  it('--resume [dir|auto] picks the run folder and the mode', async () => {
    const now = new Date('2026-12-01T05:06:07.089Z');
    const [r1, r2, auto] = [path.join(work, 'r1'), path.join(work, 'r2'), path.join(work, 'auto')];
    for (const dir of [r1, r2, auto]) await finishedRun(dir);
    expect(runFolder(parse([]), now, {})).toEqual({ out: 'runs/2026-12-01T05-06-07-089Z', resume: false });
    expect(runFolder(parse(['--out', path.join(work, 'r0')]), now, {})).toEqual({ out: path.join(work, 'r0'), resume: false });
    expect(runFolder(parse(['--out', r1, '--resume']), now, {})).toEqual({ out: r1, resume: true });
    expect(runFolder(parse(['--resume', r2]), now, {})).toEqual({ out: r2, resume: true });
    // a folder literally named auto
    expect(runFolder(parse(['--resume', auto]), now, {})).toEqual({ out: auto, resume: true });
    expect(runFolder(parse(['--out', path.join(work, 'r3'), '--resume', 'auto']), now, {})).toEqual({ out: path.join(work, 'r3'), resume: 'auto' });
    expect(runFolder(parse(['--out', r1, '--resume', 'auto']), now, {})).toEqual({ out: r1, resume: 'auto' });
    expect(() => runFolder(parse(['--resume', 'auto']), now, {})).toThrow(/--resume auto needs --out/);
  });
});

const work = mkdtempSync(path.join(tmpdir(), 'cifar-dist-options-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(work, `out-${++n}`);

describe('the start gate (runFolder): what is refused before anything starts', () => {
  it("the issue's example: a finished run's folder as --out without --resume is refused, naming the folder, what it holds and the three ways out", async () => {
    const out = fresh();
    await finishedRun(out);
    const before = tree(out);
    const expected =
      `--out ${out} already holds another run: a checkpoint of run a7e0c2d4-5b1f-4c3e-9d8a-0f1e2d3c4b5a at finetune epoch 1 of 1, seed 42 (checkpoints/ckpt-p2-e0001); ` +
      'the report.json of a finished run (run a7e0c2d4-5b1f-4c3e-9d8a-0f1e2d3c4b5a, seed 42). A new run there would mix with it. ' +
      `Either continue that run with --resume ${out} (or --resume --out ${out}), ` +
      `or start a new run there with --overwrite (the old run's files are moved into ${out}/previous-<timestamp>/, nothing is deleted), or give another --out`;
    expect(() => runFolder(parse(['--out', out, '--seed', '7', '--train-limit', '500']), new Date(), {})).toThrow(expected);
    expect(() => checkStart(parse(['--out', out]), new Date(), {})).toThrow(expected);
    try {
      runFolder(parse(['--out', out]), new Date(), {});
    } catch (err) {
      expect((err as { code?: string }).code).toBe('E_TRAIN_CONFIG');
    }
    expect(tree(out)).toEqual(before);
    // --resume, --resume <dir> and --resume auto continue it
    expect(runFolder(parse(['--out', out, '--resume']), new Date(), {})).toEqual({ out, resume: true });
    expect(runFolder(parse(['--resume', out]), new Date(), {})).toEqual({ out, resume: true });
    expect(runFolder(parse(['--out', out, '--resume', 'auto']), new Date(), {})).toEqual({ out, resume: 'auto' });
  });

  it('--overwrite moves the old contents aside, byte-identical, says where, and starts a new run in the emptied folder', async () => {
    const out = fresh();
    await finishedRun(out);
    writeFileSync(path.join(out, 'notes.txt'), 'mine\n');
    const before = tree(out);
    const logs: string[] = [];
    const now = new Date('2026-12-01T05:06:07.089Z');
    expect(checkStart(parse(['--out', out, '--overwrite']), now, {})).toEqual({ out, resume: false });
    expect(tree(out)).toEqual(before); // checking moves nothing
    expect(runFolder(parse(['--out', out, '--overwrite']), now, {}, (m) => logs.push(m))).toEqual({ out, resume: false });
    const aside = path.join(out, 'previous-2026-12-01T05-06-07-089Z');
    expect(logs).toEqual([`--overwrite: the old run's files in ${out} were moved to ${aside} (nothing deleted); a new run starts there`]);
    const { 'notes.txt': notes, ...runFiles } = before;
    expect(tree(aside)).toEqual(runFiles);
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'previous-2026-12-01T05-06-07-089Z']);
    expect(tree(out)['notes.txt']).toBe(notes);
    // nothing to move in an empty or missing folder
    expect(runFolder(parse(['--out', out, '--overwrite']), now, {}, (m) => logs.push(m))).toEqual({ out, resume: false });
    expect(logs).toHaveLength(1);
  });

  it('--overwrite with --resume, and --resume with nothing to continue, are refused', async () => {
    const out = fresh();
    await finishedRun(out);
    for (const args of [['--out', out, '--resume', '--overwrite'], ['--resume', out, '--overwrite'], ['--out', out, '--resume', 'auto', '--overwrite']]) {
      expect(() => runFolder(parse(args), new Date(), {})).toThrow(`--overwrite starts a new run in ${out} and --resume continues the one there: give one of them`);
    }
    const empty = fresh();
    expect(() => runFolder(parse(['--resume', empty]), new Date(), {})).toThrow(`--resume: ${empty} does not exist: nothing to resume. Leave out --resume to start a new run there`);
  });

  it('a --data-dir or CIFAR_DATA_DIR that does not exist is refused (no folder is created, nothing downloaded); an existing empty one and the default are not', () => {
    const missing = path.join(work, 'no-such-data');
    const out = fresh();
    expect(() => runFolder(parse(['--data-dir', missing, '--out', out]), new Date(), {})).toThrow(
      `--data-dir ${missing}: ${missing} does not exist. Give the folder that holds cifar-10-batches-bin/ and cifar-100-binary/ ` +
        '(or cifar-10-binary.tar.gz and cifar-100-binary.tar.gz), or create it empty to have the archives downloaded into it ' +
        '(without --data-dir and CIFAR_DATA_DIR, ./data is used and created)',
    );
    expect(() => runFolder(parse(['--out', out]), new Date(), { CIFAR_DATA_DIR: missing })).toThrow(`CIFAR_DATA_DIR=${missing}: ${missing} does not exist.`);
    try {
      runFolder(parse(['--data-dir', missing, '--out', out]), new Date(), {});
    } catch (err) {
      expect((err as { code?: string }).code).toBe('E_DATA_MISSING');
    }
    const file = path.join(work, 'data-file');
    writeFileSync(file, '');
    expect(() => runFolder(parse(['--data-dir', file, '--out', out]), new Date(), {})).toThrow(`--data-dir ${file}: ${file} is a file, not a folder`);
    expect(readdirSync(work)).not.toContain('no-such-data');
    const empty = path.join(work, 'empty-data');
    mkdirSync(empty);
    expect(runFolder(parse(['--data-dir', empty, '--out', out]), new Date(), {})).toEqual({ out, resume: false });
    expect(runFolder(parse(['--out', out]), new Date(), {})).toEqual({ out, resume: false });
  });

  it("the issue's example: --deterministic --micro-batch 1 --batch-size 16 is refused, naming the options, the frame and the limit", () => {
    const out = fresh();
    expect(() => runFolder(parse(['--deterministic', '--micro-batch', '1', '--batch-size', '16', '--out', out]), new Date(), {})).toThrow(
      '--deterministic --micro-batch 1 --batch-size 16 --grad-dtype float32: a worker that is given the whole global batch (the only one left, or the fastest) ' +
        'answers with 16 micro-batch gradients of 1,250,858 float32 values (cifar10, 10 classes), a frame of 80,055,100 bytes, above the message limit of 67,108,864 bytes (64 MiB)',
    );
    expect(runFolder(parse(['--deterministic', '--micro-batch', '1', '--batch-size', '13', '--out', out]), new Date(), {})).toEqual({ out, resume: false });
    expect(runFolder(parse(['--deterministic', '--micro-batch', '1', '--batch-size', '16', '--grad-dtype', 'bfloat16', '--out', out]), new Date(), {})).toEqual({ out, resume: false });
    expect(() => runFolder(parse(['--batch-size', '30000', '--out', out]), new Date(), {})).toThrow(/^--batch-size 30000: a worker that is given the whole global batch .* is sent 30,000 images .* What fits: --batch-size 20209 or less\.$/);
  });
});

describe('durations and ranges', () => {
  it('--request-timeout takes a duration; a bare number is milliseconds, as before; the help states the rule and the default', () => {
    expect(parse([]).requestTimeout).toBe(120_000);
    expect(parse(['--request-timeout', '30s']).requestTimeout).toBe(30_000);
    expect(parse(['--request-timeout', '2m']).requestTimeout).toBe(120_000);
    expect(parse(['--request-timeout', '1m30s']).requestTimeout).toBe(90_000);
    expect(parse(['--request-timeout', '30000']).requestTimeout).toBe(30_000);
    expect(() => parse(['--request-timeout', '30x'])).toThrow(
      "option '--request-timeout <duration>' argument '30x' is invalid. --request-timeout: '30x' is not a duration (a duration: 500ms, 30s, 2m, 1h or 1m30s; a bare number is milliseconds)",
    );
    const help = addTrainOptions(new Command('t')).helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('--request-timeout <duration> a worker that does not answer a request within this is dropped (a duration: 500ms, 30s, 2m, 1h or 1m30s; a bare number is milliseconds) (default: 2m)');
    expect(help).toContain("--overwrite start a new run in an --out that holds another run: the old run's files are first moved into <out>/previous-<timestamp>/ (never deleted)");
  });

  it('ports and --frozen-layers are checked against their ranges when parsed', () => {
    expect(() => parse(['--port', '70000'])).toThrow('--port must be a port number, 0 to 65535 (0: any free port)');
    expect(() => parse(['--dashboard-port', '65536'])).toThrow('--dashboard-port must be a port number, 0 to 65535 (0: any free port)');
    expect(parse(['--port', '65535']).port).toBe(65_535);
    expect(() => parse(['--frozen-layers', '19'])).toThrow('--frozen-layers must be 0 to 18: the network has 18 layers');
    expect(parse(['--frozen-layers', '18']).frozenLayers).toBe(18);
  });
});
