/**
 * Bounded, evenly thinned history of a stream of points (the page mirrors the same rule in
 * page.html so that both keep identical points).
 */

/**
 * Keeps the points whose 0-based arrival index is a multiple of `stride`. When a kept point would
 * exceed `max`, every other stored point is dropped and the stride doubles, so the stored points
 * always sit at arrival indices 0, stride, 2·stride, … and never number more than `max`.
 */
export class StepHistory<T> {
  private items: T[] = [];
  private seenCount = 0;
  private strideValue = 1;

  /** @throws RangeError unless `max` is an integer ≥ 2 */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 2) throw new RangeError(`maxSteps must be an integer >= 2, got ${max}`);
  }

  /** Offers the next point of the stream; returns whether it was stored. */
  push(item: T): boolean {
    const index = this.seenCount++;
    if (index % this.strideValue !== 0) return false;
    if (this.items.length >= this.max) {
      this.items = this.items.filter((_, i) => i % 2 === 0);
      this.strideValue *= 2;
      if (index % this.strideValue !== 0) return false;
    }
    this.items.push(item);
    return true;
  }

  /** The stored points, oldest first (a copy). */
  points(): T[] {
    return this.items.slice();
  }

  /** Points offered so far. */
  get seen(): number {
    return this.seenCount;
  }

  get stride(): number {
    return this.strideValue;
  }
}
