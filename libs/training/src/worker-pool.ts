import { EventEmitter } from 'node:events';
import { TrainingError } from './errors.js';
import type { WorkerLink } from './worker-link.js';

export interface PoolEvents {
  join: [link: WorkerLink];
  leave: [link: WorkerLink, reason: string];
}

/**
 * The set of live workers in rank order (order of joining). The trainer takes a snapshot per step;
 * a worker that fails is dropped here, and the step is re-sharded over the others.
 */
export class WorkerPool extends EventEmitter<PoolEvents> {
  private readonly links: WorkerLink[] = [];
  /** Weights version each worker holds (-1: none since it joined). */
  private readonly versions = new Map<WorkerLink, number>();

  add(link: WorkerLink): void {
    this.links.push(link);
    this.versions.set(link, -1);
    this.emit('join', link);
  }

  /** Removes a worker (idempotent) and closes its link with the reason. */
  drop(link: WorkerLink, reason: string): void {
    const i = this.links.indexOf(link);
    if (i < 0) return;
    this.links.splice(i, 1);
    this.versions.delete(link);
    link.close(reason);
    this.emit('leave', link, reason);
  }

  /** Live workers now, in rank order. */
  live(): WorkerLink[] {
    return this.links.filter((l) => l.alive);
  }

  get size(): number {
    return this.live().length;
  }

  versionOf(link: WorkerLink): number {
    return this.versions.get(link) ?? -1;
  }

  setVersion(link: WorkerLink, version: number): void {
    if (this.versions.has(link)) this.versions.set(link, version);
  }

  /** Forget what every worker holds (a new model was sent or must be sent). */
  resetVersions(): void {
    for (const link of this.versions.keys()) this.versions.set(link, -1);
  }

  /**
   * Resolves once at least `min` workers are live. `onWait` is told at once when it must wait,
   * then again every `remindMs` while it still waits (a wait is never silent).
   * @throws TrainingError E_TRAIN_NO_WORKERS after `timeoutMs` (Infinity: wait forever)
   */
  async waitFor(min: number, timeoutMs = Number.POSITIVE_INFINITY, onWait?: (have: number, waitedMs: number) => void, remindMs = 60_000): Promise<void> {
    if (this.size >= min) return;
    const since = Date.now();
    onWait?.(this.size, 0);
    await new Promise<void>((resolve, reject) => {
      const remind = onWait ? setInterval(() => onWait(this.size, Date.now() - since), remindMs) : undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        if (remind) clearInterval(remind);
        this.off('join', check);
      };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            done();
            reject(new TrainingError('E_TRAIN_NO_WORKERS', `only ${this.size} of ${min} workers live after waiting ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
      const check = (): void => {
        if (this.size < min) return;
        done();
        resolve();
      };
      this.on('join', check);
    });
  }

  closeAll(reason: string): void {
    for (const link of [...this.links]) this.drop(link, reason);
  }
}
