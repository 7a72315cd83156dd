/**
 * Exact float64 summation (Shewchuk's non-overlapping partials, the algorithm behind Python's
 * `math.fsum`).
 *
 * Why: sharded evaluation adds per-sample losses in whatever order shards arrive. A plain running
 * sum depends on that order in its last bits, so two runs over the same data could report
 * different losses. Here the running state is an exact representation of the true sum, and
 * `value()` rounds it once (round-half-even), so the result depends only on the multiset of
 * values added — never on their order or grouping.
 *
 * Non-finite inputs propagate like IEEE addition (NaN wins; +Infinity plus -Infinity is NaN).
 * A sum of finite values whose exact total overflows float64 reports ±Infinity.
 */
export class ExactSum {
  /** Non-overlapping partials in increasing magnitude; their exact sum is the running total. */
  private partials: number[] = [];
  /** IEEE sum of the non-finite inputs (and of any overflowed intermediate), 0 while none. */
  private special = 0;
  private sawSpecial = false;

  /** Adds one value to the exact running total. */
  add(value: number): void {
    if (!Number.isFinite(value)) {
      this.special += value;
      this.sawSpecial = true;
      return;
    }
    let x = value;
    let kept = 0;
    for (const partial of this.partials) {
      let y = partial;
      if (Math.abs(x) < Math.abs(y)) {
        const swap = x;
        x = y;
        y = swap;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (!Number.isFinite(hi)) {
        // Overflow of an intermediate: the exact sum is beyond float64, as Python's fsum would
        // report with OverflowError; we report the signed infinity instead of throwing.
        this.special += hi;
        this.sawSpecial = true;
        return;
      }
      if (lo !== 0) this.partials[kept++] = lo;
      x = hi;
    }
    this.partials.length = kept;
    this.partials.push(x);
  }

  /** Adds every value of `values` (see `add`). */
  addAll(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.add(values[i]);
  }

  /** Adds another exact sum's total to this one, exactly (used to merge shard accumulators). */
  merge(other: ExactSum): void {
    if (other.sawSpecial) {
      this.special += other.special;
      this.sawSpecial = true;
    }
    for (const partial of other.partials) this.add(partial);
  }

  /** The exact total rounded once to the nearest float64 (ties to even); 0 when nothing was added. */
  value(): number {
    if (this.sawSpecial) return this.special;
    const p = this.partials;
    let n = p.length;
    if (n === 0) return 0;
    // Port of CPython's math_fsum tail: sum from the top until the sum becomes inexact.
    let hi = p[--n];
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n];
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo !== 0) break;
    }
    // Make half-even rounding work across multiple partials: if the first dropped remainder
    // and the next partial point the same way, the true sum lies beyond the halfway point.
    if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
      const y = lo * 2;
      const x = hi + y;
      const yr = x - hi;
      if (y === yr) hi = x;
    }
    return hi;
  }
}
