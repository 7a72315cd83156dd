import { describe, expect, it } from 'vitest';
import { historyCsv, HISTORY_COLUMNS } from './history-csv.js';
import { fixtureReport } from './test-fixtures.js';

describe('historyCsv', () => {
  it('writes a header and one row per epoch, numbers at full precision (known answer)', () => {
    const phase = fixtureReport().phases[0]!;
    phase.history = [
      { epoch: 1, loss: 1.5, accuracy: 0.1 + 0.2, testLoss: 1.25, testAccuracy: 0.4, lr: 5e-7, seconds: 12.5, imagesPerSecond: 200, workers: 2 },
      { epoch: 2, loss: 0.75, accuracy: 0.5, testLoss: 1, testAccuracy: 0.625, lr: 0.001, seconds: 10, imagesPerSecond: 250.25, workers: 1 },
    ];
    expect(historyCsv(phase)).toBe(
      'epoch,loss,accuracy,testLoss,testAccuracy,lr,seconds,imagesPerSecond,workers\n' +
        '1,1.5,0.30000000000000004,1.25,0.4,5e-7,12.5,200,2\n' +
        '2,0.75,0.5,1,0.625,0.001,10,250.25,1\n',
    );
  });

  it('round-trips every value of the fixture history', () => {
    const phase = fixtureReport().phases[1]!;
    const [head, ...rows] = historyCsv(phase).trimEnd().split('\n');
    expect(head!.split(',')).toEqual([...HISTORY_COLUMNS]);
    const parsed = rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [HISTORY_COLUMNS[i]!, Number(v)])));
    expect(parsed).toEqual(phase.history);
  });

  it('writes only the header for an empty history', () => {
    const phase = fixtureReport().phases[0]!;
    phase.history = [];
    expect(historyCsv(phase)).toBe('epoch,loss,accuracy,testLoss,testAccuracy,lr,seconds,imagesPerSecond,workers\n');
  });

  it('labels the fine-tune\'s figures before the logit adjustment in their own columns (known answer)', () => {
    const phase = fixtureReport().phases[1]!;
    phase.history = [
      { epoch: 1, loss: 1.5, accuracy: 0.5, testLoss: 1.25, testAccuracy: 0.75, lr: 0.02, seconds: 10, imagesPerSecond: 200, workers: 2, testLossUnadjusted: 1.5, testAccuracyUnadjusted: 0.625 },
      { epoch: 2, loss: 1, accuracy: 0.6, testLoss: 1, testAccuracy: 0.8, lr: 0.01, seconds: 10, imagesPerSecond: 200, workers: 2, testLossUnadjusted: 1.125, testAccuracyUnadjusted: 0.7 },
    ];
    expect(historyCsv(phase)).toBe(
      'epoch,loss,accuracy,testLoss,testAccuracy,lr,seconds,imagesPerSecond,workers,testLossUnadjusted,testAccuracyUnadjusted\n' +
        '1,1.5,0.5,1.25,0.75,0.02,10,200,2,1.5,0.625\n' +
        '2,1,0.6,1,0.8,0.01,10,200,2,1.125,0.7\n',
    );
  });
});
