import {
  decodeMessage,
  encodeMessage,
  type ComputeMessage,
  type EvaluateMessage,
  type EvaluationMessage,
  type GradientMessage,
  type SetModelMessage,
} from '@cifar-dist/protocol';
import type { WorkerInfo, WorkerLink } from './worker-link.js';
import { WorkerRuntime } from './worker-runtime.js';

/**
 * A worker in the coordinator's own process, for tests: every message still goes through the
 * codec (encode, decode, guards), so tests exercise the same bytes as the socket transport.
 */
export class InProcessLink implements WorkerLink {
  readonly info: WorkerInfo;
  alive = true;

  /** @param runtime what serves the requests (default: a WorkerRuntime; a NodeRuntime stands for a per-node stage) */
  constructor(
    workerId: string,
    readonly runtime: Pick<WorkerRuntime, 'setModel' | 'compute' | 'evaluate' | 'dispose'> = new WorkerRuntime(),
  ) {
    this.info = { workerId, backend: 'in-process', device: 'cpu', hostname: 'localhost', pid: process.pid };
  }

  async setModel(msg: SetModelMessage): Promise<void> {
    decodeMessage(encodeMessage(await this.runtime.setModel(decodeMessage(encodeMessage(msg), 'set-model'))), 'ready');
  }

  async compute(msg: ComputeMessage): Promise<GradientMessage> {
    const reply = await this.runtime.compute(decodeMessage(encodeMessage(msg), 'compute'));
    return decodeMessage(encodeMessage(reply), 'gradient');
  }

  async evaluate(msg: EvaluateMessage): Promise<EvaluationMessage> {
    const reply = await this.runtime.evaluate(decodeMessage(encodeMessage(msg), 'evaluate'));
    return decodeMessage(encodeMessage(reply), 'evaluation');
  }

  close(): void {
    this.alive = false;
    this.runtime.dispose();
  }
}
