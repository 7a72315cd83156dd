import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { CifarDataError } from '@cifar-dist/data';
import { TrainingError } from '@cifar-dist/training';
import { CliError, exitCodeFor } from './errors.js';
import { positiveInt } from './parse-args.js';

describe('exitCodeFor', () => {
  it('maps usage, data, model and image errors to 2, 3, 4, 5 and anything else to 1', () => {
    expect(exitCodeFor(new CliError('E_CLI_USAGE', 'x'))).toBe(2);
    expect(exitCodeFor(new CifarDataError('E_DATA_MISSING', 'x'))).toBe(3);
    expect(exitCodeFor(new CliError('E_CLI_DATA', 'x'))).toBe(3);
    expect(exitCodeFor(new TrainingError('E_TRAIN_CHECKPOINT', 'x'))).toBe(4);
    expect(exitCodeFor(new CliError('E_CLI_MODEL', 'x'))).toBe(4);
    expect(exitCodeFor(new CliError('E_CLI_IMAGE', 'x'))).toBe(5);
    expect(exitCodeFor(new Error('x'))).toBe(1);
    expect(exitCodeFor('x')).toBe(1);
  });
});

describe('positiveInt', () => {
  it('accepts positive integers and rejects the rest', () => {
    expect(positiveInt('200')).toBe(200);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) expect(() => positiveInt(bad)).toThrow(InvalidArgumentError);
  });
});
