import type {
  ComputeMessage,
  EvaluateMessage,
  EvaluationMessage,
  GradientMessage,
  SetModelMessage,
} from '@cifar-dist/protocol';

/** What the coordinator knows of a connected worker. */
export interface WorkerInfo {
  workerId: string;
  backend: string;
  device: string;
  hostname: string;
  pid: number;
}

/**
 * The coordinator's handle on one worker, whatever carries the messages (socket.io between
 * processes, or a direct call in tests). Each method resolves with the validated reply or rejects
 * (timeout, disconnect, an error reply, a malformed reply).
 */
export interface WorkerLink {
  readonly info: WorkerInfo;
  setModel(msg: SetModelMessage): Promise<void>;
  compute(msg: ComputeMessage): Promise<GradientMessage>;
  evaluate(msg: EvaluateMessage): Promise<EvaluationMessage>;
  /** Tells the worker to exit and forgets it. */
  close(reason: string): void;
  /** True until the link failed or was closed. */
  readonly alive: boolean;
}
