/**
 * Every message of the coordinator <-> worker protocol, as one discriminated union on `type`.
 * Wire form: one socket.io event `msg` whose single argument is the msgpackr encoding of one of
 * these objects (see codec.ts); requests are answered through the socket.io acknowledgement.
 */

/** Bumped whenever a message's meaning or fields change; the handshake refuses a mismatch. */
export const PROTOCOL_VERSION = 3;

/** socket.io `auth` payload of a worker's handshake. */
export interface HandshakeAuth {
  protocolVersion: number;
  token?: string;
}

/** The GPU adapter a worker computes on (WebGPU's GPUAdapterInfo), absent on CPU backends. */
export interface AdapterInfo {
  /** e.g. 'nvidia', 'google'. */
  vendor: string;
  /** e.g. 'hopper', 'swiftshader'. */
  architecture: string;
  /** Device name, e.g. 'NVIDIA H200'. */
  device: string;
  /** Driver description, e.g. 'SwiftShader driver 5.0.0'. */
  driver: string;
  /** A GPU emulated on the CPU (SwiftShader, llvmpipe). */
  emulated: boolean;
  /** Position among the adapters the worker's GPU API lists. */
  index: number;
}

/** Worker -> coordinator, first message after connecting. */
export interface HelloMessage {
  type: 'hello';
  protocolVersion: number;
  workerId: string;
  backend: string;
  device: string;
  hostname: string;
  pid: number;
  /** The GPU adapter, on the webgpu backend. */
  adapter?: AdapterInfo;
  /**
   * Offer of shared memory: the worker wrote `nonce` into the file `probe` (a bare name in the
   * shared-memory folder, /dev/shm). A coordinator that reads the same nonce there shares that
   * folder, and moves large frames through it (see ShmRef).
   */
  shmProbe?: { probe: string; nonce: string };
}

/** Coordinator -> worker, answer to hello. */
export interface WelcomeMessage {
  type: 'welcome';
  rank: number;
  runId: string;
  /**
   * Present when the coordinator accepted the shared-memory offer: large frames to the worker
   * are written to `down`, and the worker writes its large replies to `up` (absolute paths);
   * `weights` is the run's one weights file, written once per weights version for every local
   * worker (see ComputeMessage.sharedWeights).
   */
  shm?: { down: string; up: string; weights?: string };
  /**
   * The coordinator's request timeout, ms: a per-node stage keeps its own workers' timeout well
   * inside it, so that it drops a hung worker of its own before the coordinator drops the node.
   */
  requestTimeoutMs?: number;
}

/** Coordinator -> worker: build the network and load these weights (all of them, model order). */
export interface SetModelMessage {
  type: 'set-model';
  modelId: number;
  numClasses: number;
  frozenLayers: number;
  dropout: boolean;
  /**
   * Label smoothing of the training loss, in [0, 1): the one-hot target becomes
   * (1 - labelSmoothing) * onehot + labelSmoothing / numClasses. Absent: 0.
   */
  labelSmoothing?: number;
  /** Every weight of the model, flat, in `model.weights` order. */
  weights: Float32Array;
  /** The coordinator's version of these weights (see ComputeMessage.weightsVersion). */
  weightsVersion: number;
}

/** Worker -> coordinator, answer to set-model: the model is built and loaded. */
export interface ReadyMessage {
  type: 'ready';
  modelId: number;
  /** CRC-32 of the trainable weights as loaded. */
  weightsCrc: number;
}

/** Coordinator -> worker: compute the gradient of the mean loss over one shard of a global batch. */
export interface ComputeMessage {
  type: 'compute';
  modelId: number;
  step: number;
  /** Trainable weights after the last optimizer step, when they changed since the worker last got them. */
  weights?: Float32Array;
  /**
   * The coordinator's version of the trainable weights, raised by every change: the worker must
   * compute at exactly this version and says so in its reply. Identity by version, not by a
   * checksum of 5 MB each step; the worker checks a CRC every WorkerRuntime.VERIFY_EVERY loads.
   */
  weightsVersion: number;
  /**
   * Instead of `weights`: the new weights are in the run's shared weights file (welcome.shm.weights),
   * this many bytes: a header of two float64 (model id, weights version), the float32 weights, the
   * same header again as a trailer. The worker checks both against the request (torn or stale reads).
   */
  sharedWeights?: number;
  /** Send the gradient in this dtype (absent: float32). */
  gradDtype?: 'float16' | 'bfloat16';
  /** uint8 NHWC pixels, count * 3072 bytes (already augmented by the coordinator). */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  /**
   * Deterministic mode: compute the shard as consecutive micro-batches of this many samples (the
   * last may be shorter) and return their gradients one after another, each the gradient of its
   * micro-batch's mean loss; the coordinator sums them in a fixed order. Absent: one gradient.
   */
  microBatch?: number;
  /** Deterministic mode: dropout masks of sample i are keyed by (dropoutSeed, sampleOffset + i). */
  dropoutSeed?: number;
  /** Position of the shard's first sample within the epoch (deterministic mode). */
  sampleOffset?: number;
}

/** Worker -> coordinator, answer to compute. */
export interface GradientMessage {
  type: 'gradient';
  step: number;
  /** Mean loss over the shard. */
  loss: number;
  correct: number;
  count: number;
  /**
   * Gradient of the shard's mean loss w.r.t. the trainable weights, flat; in deterministic mode the
   * micro-batches' gradients concatenated (ceil(count / microBatch) × trainable length). float32,
   * or the 16-bit bit patterns of `gradDtype` (half.ts).
   */
  gradients: Float32Array | Uint16Array;
  /** The dtype of `gradients` when 16-bit (absent: float32). */
  gradDtype?: 'float16' | 'bfloat16';
  /** float16: the power-of-two scale of each block of HALF_BLOCK values (half.ts). */
  gradScales?: Float32Array;
  /** The weights version the gradient was computed at. */
  weightsVersion: number;
  /**
   * CRC-32 of the trainable weights as read back from the worker's model, on the requests where
   * the worker verified them (every WorkerRuntime.VERIFY_EVERY loads): the coordinator compares it
   * with its own weights (bit identity, end to end).
   */
  weightsCrc?: number;
  computeMs: number;
}

/** Coordinator -> worker: forward pass only, per-sample predictions and losses. */
export interface EvaluateMessage {
  type: 'evaluate';
  modelId: number;
  requestId: number;
  weights?: Float32Array;
  weightsVersion: number;
  sharedWeights?: number;
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** Worker -> coordinator, answer to evaluate. */
export interface EvaluationMessage {
  type: 'evaluation';
  requestId: number;
  predictions: Uint8Array;
  losses: Float32Array;
}

/** Either side: the request could not be served. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

/** Coordinator -> worker: the run is over, exit cleanly; or (dropped) this worker is out of it. */
export interface ShutdownMessage {
  type: 'shutdown';
  reason: string;
  /** The coordinator dropped this worker (a fault, `reason`), while the run goes on. */
  dropped?: boolean;
}

export type Message =
  | HelloMessage
  | WelcomeMessage
  | SetModelMessage
  | ReadyMessage
  | ComputeMessage
  | GradientMessage
  | EvaluateMessage
  | EvaluationMessage
  | ErrorMessage
  | ShutdownMessage;

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/**
 * Stands for a frame in place of its bytes, between a coordinator and a worker that share memory
 * (agreed in hello/welcome): the frame's `shm` bytes are at the start of the sender's file.
 */
export interface ShmRef {
  shm: number;
}

/** A frame, inline or in shared memory. */
export type Payload = Uint8Array | ShmRef;

/** socket.io event maps: one event, a frame, optionally acknowledged with a frame. */
export interface ServerToClientEvents {
  msg: (payload: Payload, ack: (reply: Payload) => void) => void;
}
export interface ClientToServerEvents {
  msg: (payload: Payload, ack: (reply: Payload) => void) => void;
}
