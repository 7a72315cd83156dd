import { describe, expect, it } from 'vitest';
import { InProcessLink } from './in-process-link.js';
import { WorkerPool } from './worker-pool.js';

describe('WorkerPool.waitFor', () => {
  it('says at once that it waits, then again every remindMs while it still does', async () => {
    const pool = new WorkerPool();
    const said: Array<[number, number]> = [];
    const waiting = pool.waitFor(1, Number.POSITIVE_INFINITY, (have, ms) => said.push([have, ms]), 40);
    await new Promise((r) => setTimeout(r, 130));
    pool.add(new InProcessLink('late'));
    await waiting;
    expect(said[0]).toEqual([0, 0]);
    expect(said.length).toBeGreaterThanOrEqual(3);
    expect(said.slice(1).every(([have, ms]) => have === 0 && ms >= 40)).toBe(true);
    const count = said.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(said.length).toBe(count); // no reminder after the wait ended
  });
});
