import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { assembleFrame, encodeFrameParts, ProtocolError, type Message, type Payload, type ShmRef } from '@cifar-dist/protocol';

/*
 * Shared-memory frames between a coordinator and the workers on its own machine, the way NCCL
 * and gloo use shared memory within a node. A 5 MB frame took 20-40 ms each way over socket.io
 * on loopback here (WebSocket framing, 64 KiB chunks, reassembly); written to a tmpfs file and
 * read back into a reused buffer it takes ~0.5 ms + ~1 ms, and only a few bytes ({ shm: length })
 * go over the socket. Each worker has two files, one per direction, that only the coordinator names, so a
 * peer never chooses a path. Order is guaranteed by the socket: a frame is fully written before
 * its reference is sent, and the next frame in that direction is written only after the answer.
 */

/** Frames at least this large travel through shared memory; smaller ones stay inline. */
export const SHM_MIN_BYTES = 64 * 1024;

const PREFIX = 'cifar-dist-';
/** The weights file's name inside a run's shared-memory folder. */
const WEIGHTS_FILE = 'weights.bin';
const PROBE_NAME = /^cifar-dist-probe-[0-9a-f]{32}$/;

/** The shared-memory folder of this machine (/dev/shm when it is a writable folder), else null. */
export function shmRoot(): string | null {
  const root = '/dev/shm';
  try {
    return statSync(root).isDirectory() ? root : null;
  } catch {
    return null;
  }
}

/** True for a `{ shm: bytes }` reference (as opposed to an inline frame). */
export function isShmRef(payload: unknown): payload is ShmRef {
  return typeof payload === 'object' && payload !== null && !(payload instanceof Uint8Array) && typeof (payload as ShmRef).shm === 'number';
}

/** One end of a link's two files: frames go out through `sendPath` and come in through `receivePath`. */
export class ShmChannel {
  private readonly sendFd: number;
  private readonly receiveFd: number;
  private closed = false;

  /**
   * Opens (creating when absent) both files.
   * @param receiveBuffers frames are read into a ring of this many buffers, each overwritten by
   *   the frame that many receives later: the arrays a decoded frame hands out stay valid that
   *   long. Fresh memory for every 5 MB frame would cost ~15-35 ms of page faults per step on a
   *   virtual machine (measured here); a worker, done with a request before the next, uses 1,
   *   the coordinator 2 (a reply is averaged before its worker's next request).
   * @throws the fs error when either file cannot be opened.
   */
  constructor(
    readonly sendPath: string,
    readonly receivePath: string,
    private readonly receiveBuffers = 2,
  ) {
    this.sendFd = openSync(sendPath, 'w+', 0o600);
    try {
      this.receiveFd = openSync(receivePath, existsSync(receivePath) ? 'r' : 'w+', 0o600);
    } catch (err) {
      closeSync(this.sendFd);
      throw err;
    }
    cleanUpAtExit();
    channelDirs.add(dirname(receivePath));
  }

  /** Why sending through the file stopped (e.g. ENOSPC: a small /dev/shm), once it has. */
  sendError: Error | null = null;

  /**
   * The message's frame inline when small, else written to the send file, piece by piece (no 5 MB
   * frame is assembled), and referenced. When the file cannot be written (a full /dev/shm: Docker
   * gives 64 MB by default) this frame and every later one go inline instead; `sendError` says why.
   */
  send(message: Message): Payload {
    const frame = encodeFrameParts(message);
    if (this.closed || this.sendError !== null || frame.byteLength < SHM_MIN_BYTES) return assembleFrame(frame);
    try {
      let end = 0;
      for (const { offset, bytes } of frame.parts) {
        this.write(bytes, offset);
        end = offset + bytes.byteLength;
      }
      // The frame ends with the last blob's alignment padding: write it too, so the file is never short.
      if (end < frame.byteLength) this.write(new Uint8Array(frame.byteLength - end), end);
    } catch (err) {
      this.sendError = err as Error;
      return assembleFrame(frame);
    }
    return { shm: frame.byteLength };
  }

  private write(bytes: Uint8Array, position: number): void {
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.sendFd, bytes, done, bytes.byteLength - done, position + done);
  }

  /**
   * The frame a payload stands for: inline frames as they are; a reference read from the
   * receive file into the next buffer of the ring (see the constructor).
   * @throws ProtocolError E_PROTO_SIZE over `maxBytes`, E_PROTO_DECODE when the file is shorter
   */
  receive(payload: unknown, maxBytes: number): unknown {
    if (!isShmRef(payload)) return payload;
    const bytes = payload.shm;
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ProtocolError('E_PROTO_DECODE', `shared-memory frame length ${bytes} is not a byte count`);
    if (bytes > maxBytes) throw new ProtocolError('E_PROTO_SIZE', `shared-memory frame of ${bytes} bytes exceeds the bound of ${maxBytes} bytes`);
    const frame = this.buffer(bytes);
    let done = 0;
    while (done < bytes) {
      const n = readSync(this.receiveFd, frame, done, bytes - done, done);
      if (n === 0) throw new ProtocolError('E_PROTO_DECODE', `shared-memory frame of ${bytes} bytes, but ${this.receivePath} holds ${done}`);
      done += n;
    }
    return new Uint8Array(frame.buffer, frame.byteOffset, bytes);
  }

  private readonly ring: Buffer[] = [];
  private next = 0;

  private buffer(bytes: number): Buffer {
    const k = this.next;
    this.next = (k + 1) % Math.max(1, this.receiveBuffers);
    const held = this.ring[k];
    if (held !== undefined && held.byteLength >= bytes) return held;
    const fresh = Buffer.allocUnsafeSlow(bytes);
    this.ring[k] = fresh;
    return fresh;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.sendFd);
    closeSync(this.receiveFd);
  }
}

/** Bytes of the weights file's header (and trailer): model id and weights version, two float64. */
const WEIGHTS_HEADER_BYTES = 16;

/**
 * Coordinator side: the run's one weights file. Every local worker used to be sent its own copy
 * of the new weights each step (N writes of 5 MB); they now read this file, written once per
 * weights version. Layout: [float64 model id, float64 version] [float32 weights] [the same 16
 * bytes again], so that a reader detects a torn or stale file (see readSharedWeights).
 */
export class SharedWeightsFile {
  private readonly fd: number;
  private modelId = -1;
  private version = -1;
  private bytes = 0;

  /** @throws the fs error when the file cannot be created */
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w+', 0o600);
  }

  /**
   * Makes the file hold `weights` as (modelId, version), writing only when it holds another.
   * @returns the file's byte length, for ComputeMessage.sharedWeights
   */
  publish(modelId: number, version: number, weights: Float32Array): number {
    if (modelId === this.modelId && version === this.version && this.bytes === weights.byteLength + 2 * WEIGHTS_HEADER_BYTES) return this.bytes;
    const key = new Uint8Array(new Float64Array([modelId, version]).buffer);
    const body = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
    this.modelId = -1; // torn until the header is written
    // Trailer first, header last (a reader reads header, body, trailer in that order): a read that
    // overlaps a write in any way sees a header and a trailer that disagree.
    writeAll(this.fd, key, WEIGHTS_HEADER_BYTES + body.byteLength);
    writeAll(this.fd, body, WEIGHTS_HEADER_BYTES);
    writeAll(this.fd, key, 0);
    this.modelId = modelId;
    this.version = version;
    this.bytes = body.byteLength + 2 * WEIGHTS_HEADER_BYTES;
    return this.bytes;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}

/** Worker side: reads the run's weights file into one reused buffer. */
export class SharedWeightsReader {
  private readonly fd: number;
  private buffer: Buffer | null = null;

  /** @throws the fs error when the file cannot be opened */
  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
  }

  /**
   * The weights of (modelId, version), `bytes` long with header and trailer. The array is
   * overwritten by the next read.
   * @throws ProtocolError E_PROTO_SIZE over `maxBytes`, E_PROTO_DECODE for a bad length or a
   *   short file, E_PROTO_STALE when header or trailer name other weights (torn or stale file)
   */
  read(bytes: number, modelId: number, version: number, maxBytes: number): Float32Array {
    if (!Number.isSafeInteger(bytes) || bytes < 2 * WEIGHTS_HEADER_BYTES || bytes % 4 !== 0) {
      throw new ProtocolError('E_PROTO_DECODE', `shared weights length ${bytes} is not a weights file length`);
    }
    if (bytes > maxBytes) throw new ProtocolError('E_PROTO_SIZE', `shared weights of ${bytes} bytes exceed the bound of ${maxBytes} bytes`);
    if (this.buffer === null || this.buffer.byteLength < bytes) this.buffer = Buffer.allocUnsafeSlow(bytes);
    const buf = this.buffer;
    let done = 0;
    while (done < bytes) {
      const n = readSync(this.fd, buf, done, bytes - done, done);
      if (n === 0) throw new ProtocolError('E_PROTO_DECODE', `shared weights of ${bytes} bytes, but ${this.path} holds ${done}`);
      done += n;
    }
    const head = new Float64Array(buf.buffer, buf.byteOffset, 2);
    const tail = new Float64Array(buf.buffer.slice(buf.byteOffset + bytes - WEIGHTS_HEADER_BYTES, buf.byteOffset + bytes));
    if (head[0] !== modelId || head[1] !== version || tail[0] !== modelId || tail[1] !== version) {
      throw new ProtocolError(
        'E_PROTO_STALE',
        `shared weights file holds model ${head[0]} version ${head[1]} (trailer ${tail[0]}/${tail[1]}), the request is for model ${modelId} version ${version}`,
      );
    }
    return new Float32Array(buf.buffer, buf.byteOffset + WEIGHTS_HEADER_BYTES, (bytes - 2 * WEIGHTS_HEADER_BYTES) / 4);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * A received payload when the link has no shared memory: inline frames pass, a reference is a
 * protocol violation.
 * @throws ProtocolError E_PROTO_DECODE for a reference
 */
export function inlineOnly(payload: unknown): unknown {
  if (isShmRef(payload)) throw new ProtocolError('E_PROTO_DECODE', 'a shared-memory frame reference on a link without shared memory');
  return payload;
}

/**
 * Worker side: true when `paths` (from a welcome) are the two files of one run folder inside
 * `root` as ShmRun names them, so that a coordinator can never make a worker open, let alone
 * truncate, any other file.
 */
export function isShmChannelPaths(root: string, paths: { down: string; up: string; weights?: string }): boolean {
  const folder = /^cifar-dist-\d+-[A-Za-z0-9]{6}$/;
  const check = (path: string, direction: 'down' | 'up'): string | null => {
    if (resolve(path) !== path || dirname(dirname(path)) !== root || !folder.test(basename(dirname(path)))) return null;
    const m = /^(\d+)-(down|up)\.bin$/.exec(basename(path));
    return m !== null && m[2] === direction ? `${dirname(path)}/${m[1]}` : null;
  };
  const down = check(paths.down, 'down');
  const weightsOk = paths.weights === undefined || paths.weights === null || (down !== null && paths.weights === join(dirname(down), WEIGHTS_FILE));
  return down !== null && down === check(paths.up, 'up') && weightsOk;
}

/** Worker side: a probe file with a random nonce, offered in hello. */
export function createShmProbe(root: string): { probe: string; nonce: string; remove(): void } {
  const probe = `${PREFIX}probe-${randomBytes(16).toString('hex')}`;
  const nonce = randomBytes(16).toString('hex');
  const path = join(root, probe);
  writeFileSync(path, nonce, { mode: 0o600 });
  return { probe, nonce, remove: () => rmSync(path, { force: true }) };
}

/**
 * Coordinator side: the shared-memory folder of one run. Accepts a worker's offer when its
 * probe (a bare name of the expected form, never a path) holds the nonce, and gives it a
 * channel of its own.
 */
export class ShmRun {
  readonly dir: string;
  private readonly channels = new Set<ShmChannel>();
  /** The run's weights file, read by every local worker. */
  readonly weights: SharedWeightsFile;

  constructor(readonly root: string) {
    removeStaleRuns(root);
    this.dir = mkdtempSync(join(root, `${PREFIX}${process.pid}-`));
    try {
      this.weights = new SharedWeightsFile(join(this.dir, WEIGHTS_FILE));
    } catch (err) {
      rmSync(this.dir, { recursive: true, force: true });
      throw err;
    }
    openRuns.add(this);
    cleanUpAtExit();
  }

  /** True when the probe file named in an offer holds the offered nonce (same machine, same folder). */
  verify(offer: { probe: string; nonce: string }): boolean {
    if (!PROBE_NAME.test(offer.probe)) return false;
    try {
      return readFileSync(join(this.root, offer.probe), 'utf8') === offer.nonce;
    } catch {
      return false;
    }
  }

  /** The coordinator's channel to worker `rank`, and the paths the worker opens (its down is our send). */
  channel(rank: number): { channel: ShmChannel; down: string; up: string } {
    const down = join(this.dir, `${rank}-down.bin`);
    const up = join(this.dir, `${rank}-up.bin`);
    const channel = new ShmChannel(down, up);
    this.channels.add(channel);
    return { channel, down, up };
  }

  /** Closes a worker's channel and deletes its files. */
  release(channel: ShmChannel): void {
    channel.close();
    this.channels.delete(channel);
    for (const path of [channel.sendPath, channel.receivePath]) rmSync(path, { force: true });
  }

  /** Closes every channel and deletes the folder. */
  close(): void {
    if (!openRuns.delete(this)) return;
    for (const c of this.channels) c.close();
    this.channels.clear();
    this.weights.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/*
 * Nothing of a run stays in /dev/shm (15-20 MB with two workers) once its processes are gone.
 * A coordinator that exits by any path that runs 'exit' listeners (a normal end, an error,
 * process.exit from a signal handler) deletes its folder. One that is killed outright (SIGKILL)
 * cannot: when it was the parent of its workers (npm run train, npm run node), they notice its
 * death within a second, exit, and delete its folder on their way out. Otherwise the next
 * coordinator on the machine deletes it when it starts (removeStaleRuns).
 */
const openRuns = new Set<ShmRun>();
/** Worker side: the run folders this process's channels are in. */
const channelDirs = new Set<string>();
/** This process's parent when it started: the coordinator, for a worker of a local launch. */
const parentAtStart = process.ppid;
let exitHookInstalled = false;

function cleanUpAtExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const run of [...openRuns]) {
      try {
        run.close();
      } catch {
        // best effort on the way out
      }
    }
    // Only the folder of our own parent, once it is gone (we were re-parented): never that of a
    // coordinator that may still run (a worker's own death is a fault the run survives).
    for (const dir of channelDirs) {
      const owner = Number(/^cifar-dist-(\d+)-/.exec(basename(dir))?.[1]);
      if (owner !== parentAtStart || process.ppid === parentAtStart || processAlive(owner)) continue;
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // already gone, or not ours to delete
      }
    }
  });
}

/** Deletes run folders and probes left in `root` by processes that no longer exist (killed runs). */
function removeStaleRuns(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^cifar-dist-(\d+)-/.exec(name);
    if (m === null || processAlive(Number(m[1]))) continue;
    try {
      rmSync(join(root, name), { recursive: true, force: true });
    } catch {
      // Another user's folder, or already gone: not ours to clean.
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (dead, not yet reaped by its parent) answers kill(0) but owns nothing any more.
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
