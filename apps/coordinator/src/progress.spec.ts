import { WorkerPool, type StepInfo, type WorkerLink } from '@cifar-dist/training';
import { describe, expect, it } from 'vitest';
import { createProgress, type ProgressStream } from './progress.js';

/**
 * A terminal as far as cli-progress and a log line use one: a screen of lines and a cursor that
 * follows \r, \n, the DEC save/restore cursor, CSI n G (column), CSI K (erase in line), cursor
 * moves, and ignores the private modes (cursor visibility, line wrapping).
 */
class FakeTerminal implements Pick<ProgressStream, 'isTTY' | 'columns'> {
  readonly isTTY = true;
  readonly columns = 200;
  readonly screen: string[] = [''];
  private row = 0;
  private col = 0;
  private saved = { row: 0, col: 0 };

  write(chunk: string | Uint8Array): boolean {
    const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    for (let i = 0; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '\r') this.col = 0;
      else if (ch === '\n') this.moveTo(this.row + 1, 0);
      else if (ch === '\x1b') {
        if (s[i + 1] === '7') {
          this.saved = { row: this.row, col: this.col };
          i += 1;
        } else if (s[i + 1] === '8') {
          this.moveTo(this.saved.row, this.saved.col);
          i += 1;
        } else if (s[i + 1] === '[') {
          const m = /^\[(\??)(\d*)([A-Za-z])/.exec(s.slice(i + 1));
          if (!m) throw new Error(`unknown escape ${JSON.stringify(s.slice(i, i + 8))}`);
          i += m[0].length;
          this.csi(m[1] === '?', m[2] === '' ? undefined : Number(m[2]), m[3]!);
        } else throw new Error(`unknown escape ${JSON.stringify(s.slice(i, i + 4))}`);
      } else {
        const line = (this.screen[this.row] ?? '').padEnd(this.col, ' ');
        this.screen[this.row] = line.slice(0, this.col) + ch + line.slice(this.col + 1);
        this.col += 1;
      }
    }
    return true;
  }

  /** The screen's lines, trailing blanks removed, the empty last line (the cursor's) dropped. */
  lines(): string[] {
    const out = this.screen.map((l) => l.trimEnd());
    while (out.length > 0 && out.at(-1) === '') out.pop();
    return out;
  }

  private moveTo(row: number, col: number): void {
    this.row = Math.max(0, row);
    this.col = Math.max(0, col);
    while (this.screen.length <= this.row) this.screen.push('');
  }

  private csi(priv: boolean, n: number | undefined, cmd: string): void {
    if (priv) return; // ?25l/h cursor visibility, ?7l/h line wrapping
    const line = this.screen[this.row] ?? '';
    switch (cmd) {
      case 'G':
        return this.moveTo(this.row, (n ?? 1) - 1);
      case 'K':
        if ((n ?? 0) === 0) this.screen[this.row] = line.slice(0, this.col);
        else if (n === 1) this.screen[this.row] = ' '.repeat(this.col + 1) + line.slice(this.col + 1);
        else this.screen[this.row] = '';
        return;
      case 'A':
        return this.moveTo(this.row - (n ?? 1), this.col);
      case 'B':
        return this.moveTo(this.row + (n ?? 1), this.col);
      case 'C':
        return this.moveTo(this.row, this.col + (n ?? 1));
      case 'D':
        return this.moveTo(this.row, this.col - (n ?? 1));
      default:
        throw new Error(`unknown CSI ${cmd}`);
    }
  }
}

function link(workerId: string): WorkerLink {
  const l = {
    info: { workerId, backend: 'wasm', device: 'cpu', hostname: 'h', pid: 1 },
    alive: true,
    close: () => {
      l.alive = false;
    },
    setModel: () => Promise.reject(new Error('not in this test')),
    compute: () => Promise.reject(new Error('not in this test')),
    evaluate: () => Promise.reject(new Error('not in this test')),
  };
  return l;
}

function step(stepInEpoch: number, workers: number): StepInfo {
  const zero = { prepareMs: 0, computeMs: 0, wireMs: 0, averageMs: 0, optimizerMs: 0, stepMs: 0 };
  return {
    phase: 'cifar10', epoch: 0, step: stepInEpoch - 1, stepInEpoch, stepsPerEpoch: 10,
    loss: 2 - stepInEpoch / 10, accuracy: stepInEpoch / 20, samples: 128 * stepInEpoch, workers, lr: 0.05, timings: zero, gradientBytes: 0,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A bar line of cifar10 epoch `e` at `value`/10 with `workers` workers. */
const barLine = (e: number, value: number, workers: number): RegExp =>
  new RegExp(`^cifar10 epoch ${e} \\[[█░]{40}\\] ${value}/10 \\| loss \\S+ acc \\S+ \\| \\S+ img/s \\| ETA \\S+ \\| ${workers} workers$`);

describe('createProgress on a terminal', () => {
  it('prints log lines above the bar, which keeps drawing with its step and worker counts', async () => {
    const term = new FakeTerminal();
    const log = (msg: string): void => {
      term.write(`LOG ${msg}\n`);
    };
    const pool = new WorkerPool();
    // As the coordinator does: joins and leaves are logged by a listener registered first.
    pool.on('join', (l) => log(`worker ${l.info.workerId} joined; ${pool.size} live`));
    pool.on('leave', (l) => log(`worker ${l.info.workerId} left; ${pool.size} live`));
    const progress = createProgress(pool, log, { stream: term as unknown as ProgressStream });

    // The first epoch starts before any worker joined (the bar's first frame says 0 workers).
    progress.onEpochStart('cifar10', 0, 10);
    expect(term.lines()).toEqual([expect.stringMatching(barLine(1, 0, 0))]);
    progress.log('step 0: waiting for workers: 0 live, need 1');
    const w0 = link('w0');
    pool.add(w0);
    pool.add(link('w1'));
    await sleep(0);
    for (let s = 1; s <= 3; s++) progress.onStep(step(s, 2));
    await sleep(250); // a frame (100 ms) at least
    expect(term.lines()).toEqual([
      'LOG step 0: waiting for workers: 0 live, need 1',
      'LOG worker w0 joined; 1 live',
      'LOG worker w1 joined; 2 live',
      expect.stringMatching(barLine(1, 3, 2)),
    ]);

    // A worker leaves mid-epoch: its line above, the bar at once with 1 worker, still at step 3.
    pool.drop(w0, 'killed');
    await sleep(0);
    expect(term.lines().slice(3)).toEqual(['LOG worker w0 left; 1 live', expect.stringMatching(barLine(1, 3, 1))]);

    // The epoch's last step, then its summary: the full bar stays above the summary, the next bar below.
    for (let s = 4; s <= 10; s++) progress.onStep(step(s, 1));
    progress.log('cifar10 epoch 1/2: loss 1.0000');
    progress.onEpochStart('cifar10', 1, 10);
    progress.onStep({ ...step(1, 1), epoch: 1 });
    progress.stop();
    expect(term.lines().slice(4)).toEqual([
      expect.stringMatching(barLine(1, 10, 1)),
      'LOG cifar10 epoch 1/2: loss 1.0000',
      expect.stringMatching(barLine(2, 1, 1)),
    ]);
  });

  it('writes plain log lines only, no bar and no escape codes, when not on a terminal', () => {
    const term = new FakeTerminal();
    const written: string[] = [];
    const pool = new WorkerPool();
    const progress = createProgress(pool, (m) => written.push(m), { stream: term as unknown as ProgressStream, tty: false });
    progress.onEpochStart('cifar10', 0, 10);
    progress.onStep(step(1, 2));
    progress.log('epoch summary');
    pool.add(link('w0'));
    progress.stop();
    expect(written).toEqual(['epoch summary']);
    expect(term.screen).toEqual(['']);
  });
});
