/** One part of a step's reduction that the guard rejects, with the figures that condemn it. */
export interface RejectedPart {
  index: number;
  /** The part's gradient L2 norm (+Infinity: its sum of squares overflowed float32). */
  norm: number;
  /** What it was compared with: the median accepted norm of recent steps, or of this step's other parts. */
  reference: number;
  /** 'history' or 'step': where the reference came from (absent for an overflowing or zero norm). */
  against?: 'history' | 'step';
}

/** A step's parts judged: those rejected, and whether every part with samples was (the model's doing, not a worker's). */
export interface GuardVerdict {
  rejected: RejectedPart[];
  every: boolean;
}

/**
 * Checks each worker's gradient before it counts, against a bound that works with any number of
 * workers: a part is an outlier when its L2 norm is more than `factor` times the median norm of
 * the parts accepted in the last `historySteps` steps (once `minHistory` steps are known), else
 * than `factor` times the median of the step's other parts, or when its sum of squares overflows
 * float32 (values around 1e19 or more: never a gradient of this network). Normal training moves
 * gradient norms by a few times over a run, not by a thousand, so honest workers are never near the
 * bound; a worker that sends absurd values (1e30 everywhere, a gradient scaled by 1e6) is.
 * A part of zero norm is rejected too (the gradient of a cross-entropy loss over real samples is
 * never all zeros), and never serves as a reference. What the history records moves by at most
 * 10× per step against its own median, so a worker that stays just under the bound cannot ramp
 * the bound up (or down) within a few steps.
 * When every part is an outlier the workers agree: the model's gradient really jumped (the caller
 * decides: clip it, or stop the run as diverged).
 *
 * What it is for: broken workers (a backend fault, a bit flip, a bug) and absurd values. It does
 * not make a peer that holds the run's token harmless: under the bound it can still push the
 * model off course; --clip-norm bounds every step.
 */
export class GradientGuard {
  private readonly history: number[] = [];

  constructor(
    readonly factor = 1000,
    readonly historySteps = 50,
    readonly minHistory = 5,
  ) {}

  /**
   * Judges one step's parts.
   * @param norms each part's gradient norm (NaN parts are left to the finiteness check)
   * @param counts each part's samples (parts of 0 samples are not judged)
   */
  judge(norms: readonly number[], counts: readonly number[]): GuardVerdict {
    const live = norms.map((n, i) => ({ n, i })).filter(({ n, i }) => (counts[i] ?? 0) > 0 && !Number.isNaN(n));
    const recent = this.history.length >= this.minHistory ? median(this.history) : null;
    const rejected: RejectedPart[] = [];
    for (const { n, i } of live) {
      if (n === Number.POSITIVE_INFINITY || n === 0) {
        rejected.push({ index: i, norm: n, reference: recent ?? Number.NaN });
        continue;
      }
      if (recent !== null) {
        if (n > this.factor * recent) rejected.push({ index: i, norm: n, reference: recent, against: 'history' });
        continue;
      }
      const others = live.filter((o) => o.i !== i && Number.isFinite(o.n) && o.n > 0).map((o) => o.n);
      if (others.length === 0) continue;
      const reference = median(others);
      if (n > this.factor * reference) rejected.push({ index: i, norm: n, reference, against: 'step' });
    }
    return { rejected, every: live.length > 0 && rejected.length === live.length };
  }

  /** Records the norms of a step whose gradients were applied (finite ones of parts with samples). */
  accept(norms: readonly number[], counts: readonly number[]): void {
    const good = norms.filter((n, i) => (counts[i] ?? 0) > 0 && Number.isFinite(n) && n > 0);
    if (good.length === 0) return;
    let value = median(good);
    if (this.history.length >= this.minHistory) {
      const m = median(this.history);
      value = Math.min(10 * m, Math.max(m / 10, value));
    }
    this.history.push(value);
    if (this.history.length > this.historySteps) this.history.shift();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
