import type {
  AdapterInfo,
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
  /** The GPU adapter the worker reported (webgpu backend). */
  adapter?: AdapterInfo;
  /** Large frames go through shared memory (a worker on the coordinator's machine). */
  sharedMemory?: boolean;
}

/**
 * The coordinator's handle on one worker, whatever carries the messages (socket.io between
 * processes, or a direct call in tests). Each method resolves with the validated reply or rejects
 * (timeout, disconnect, an error reply, a malformed reply). A reply's typed arrays may be reused
 * by the link for a later reply (the socket link reads shared-memory frames into a ring of two
 * buffers): use them before sending the same link its second-next request, or copy them.
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
