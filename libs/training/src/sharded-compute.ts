import { shardRanges, weightedShardRanges } from '@cifar-dist/data';
import { allFinite, weightsCrc, type GradDtype, type GradientMessage, type SetModelMessage } from '@cifar-dist/protocol';
import { TrainingError } from './errors.js';
import { GradientGuard } from './gradient-guard.js';
import { halfBlocks, type ArrivedGradient } from './streaming-average.js';
import type { WorkerLink } from './worker-link.js';
import type { WorkerPool } from './worker-pool.js';

/** The weights a group of workers computes at: what the coordinator holds, or what a node was sent. */
export interface ModelSource {
  readonly modelId: number;
  readonly numClasses: number;
  /** Trainable weights now, flat (model layout, see flatLength(model, 'trainable')). */
  readonly weights: Float32Array;
  /** Raised by every change of `weights`; workers must compute at exactly this version. */
  readonly version: number;
  /** The set-model request for a worker that holds nothing yet: every weight, at `version`. */
  setModelMessage(): SetModelMessage;
}

/** Where a step's gradients go, part by part (StreamingAverage: the weighted mean; PartCollector: concatenated). */
export interface Reduction {
  /** Starts over parts of these sample counts, in order. */
  begin(counts: readonly number[]): void;
  add(index: number, part: ArrivedGradient): void;
  /** Parts found not all finite, by index. */
  readonly nonFinite: ReadonlySet<number>;
  /** Each part's gradient L2 norm as added (NaN: not finite or not in; +Infinity: past float32), by index. */
  readonly norms: readonly number[];
  readonly complete: boolean;
  /** Time spent reducing since `begin`, ms. */
  readonly busyMs: number;
}

/** One synchronous step's batch for a group of workers. */
export interface ShardedBatch {
  step: number;
  /** uint8 NHWC pixels, count × 3072 bytes. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  /**
   * Deterministic mode: shard whole micro-batches of `size` samples (one reduction part per
   * micro-batch, in order); dropout masks keyed by `dropoutSeed` and the sample's position in
   * the epoch, `sampleOffset` being that of the batch's first sample.
   */
  micro?: { size: number; dropoutSeed: number; sampleOffset: number };
  /** Ask the workers for 16-bit gradients (absent: float32). */
  gradDtype?: Exclude<GradDtype, 'float32'>;
}

/** What a step's workers did. */
export interface ShardedResult {
  /** Mean loss over the batch. */
  loss: number;
  correct: number;
  /** Workers that were asked in the attempt that succeeded (empty shards included). */
  workers: number;
  /** The slowest worker's request (the critical path): its compute and round trip, ms. */
  critical: { computeMs: number; roundTripMs: number };
  /** Gradient bytes received, as encoded on the wire. */
  gradientBytes: number;
}

export interface ShardedComputeOptions {
  pool: WorkerPool;
  source: ModelSource;
  /** Shards sized by each worker's measured speed (default), or equal. */
  balance: boolean;
  /** Wait for this many live workers before each attempt. */
  minWorkers: number;
  /**
   * How long to wait for them, ms (default: without end, saying so in the log); past it the step
   * or evaluation rejects with E_TRAIN_NO_WORKERS.
   */
  waitTimeoutMs?: number;
  log: (msg: string) => void;
  /**
   * When every worker's gradient is an outlier of the GradientGuard at once, the workers agree and
   * the model's gradient really jumped: 'accept' it (a per-node stage leaves the verdict to the
   * coordinator; a coordinator that clips the norm), or 'diverged' (stop the run; the default).
   */
  everyOutlier?: 'accept' | 'diverged';
}

/** Sample counts of consecutive micro-batches of `size` over `count` samples (the last may be shorter). */
export function microBatchCounts(count: number, size: number): number[] {
  const counts: number[] = [];
  for (let left = count; left > 0; left -= size) counts.push(Math.min(size, left));
  return counts;
}

interface Served {
  count: number;
  loss: number;
  correct: number;
  computeMs: number;
  roundTripMs: number;
  bytes: number;
}

/**
 * A synchronous step over a group of workers, and sharded evaluation: the part of data-parallel
 * SGD that the coordinator (over its workers, or over per-node stages) and a per-node stage (over
 * the workers of its host) share. Splits a batch into one shard per live worker, sized by each
 * worker's measured speed; makes sure each worker holds the current model and weights (piggybacked
 * on its request when they changed); checks every reply against its request; hands the gradients
 * to a Reduction in rank order; drops a worker that fails and re-shards the same batch over the
 * others, so a batch is reduced exactly once.
 */
export class ShardedCompute {
  /** Samples per ms of compute of each worker (moving average): shard sizes follow it. */
  private readonly speed = new WeakMap<WorkerLink, number>();
  /** CRC of the source's weights at `crcVersion`, computed only when a worker reports one. */
  private crc = 0;
  private crcVersion = -1;
  private crcModel = -1;
  private requestId = 0;
  /** Bounds each worker's gradient norm before it counts. */
  readonly guard = new GradientGuard();

  constructor(readonly opts: ShardedComputeOptions) {}

  private get waitMs(): number {
    return this.opts.waitTimeoutMs ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Computes `batch` over the live workers into `reduction`. `dispatched` runs once the first
   * attempt's requests are out (the caller prepares its next batch meanwhile).
   * A worker whose reply is malformed, non-finite, or whose gradient norm the GradientGuard
   * rejects (logged with the figures) is dropped and the batch re-sharded over the others.
   * @throws TrainingError E_TRAIN_NONFINITE when every serving worker's loss or gradient is
   *   non-finite at the same weights, or (everyOutlier 'diverged') every gradient norm jumped
   *   past the guard's bound: the model diverged, not a worker; `diverged(why)` names it
   */
  async step(batch: ShardedBatch, reduction: Reduction, diverged: (why: string) => TrainingError, dispatched?: () => void): Promise<ShardedResult> {
    const { pool, source } = this.opts;
    const { step, images } = batch;
    const length = source.weights.length;
    let first = true;
    for (;;) {
      const min = Math.max(1, this.opts.minWorkers);
      await pool.waitFor(min, this.waitMs, (have, ms) => this.opts.log(`step ${step}: waiting for workers: ${have} live, need ${min}${ms > 0 ? ` (for ${Math.round(ms / 1000)} s)` : ''}`));
      const links = pool.live();
      // Deterministic mode shards whole micro-batches, so each is computed alike on any worker.
      const micro = batch.micro?.size ?? 0;
      const split = (units: number) => (this.opts.balance ? weightedShardRanges(units, this.speeds(links)) : shardRanges(units, links.length));
      const ranges = micro
        ? split(Math.ceil(batch.count / micro)).map((r) => ({ start: Math.min(batch.count, r.start * micro), end: Math.min(batch.count, r.end * micro) }))
        : split(batch.count);
      // Parts of the reduction in order: one per rank, or in deterministic mode one per micro-batch.
      const partCounts = ranges.map(({ start, end }) => (micro ? microBatchCounts(end - start, micro) : [end - start]));
      let offset = 0;
      const firstPart = partCounts.map((c) => (offset += c.length) - c.length);
      reduction.begin(partCounts.flat());
      const settled = Promise.allSettled(
        links.map(async (link, rank): Promise<Served> => {
          const { start, end } = ranges[rank] as { start: number; end: number };
          const counts = partCounts[rank] as number[];
          const base = firstPart[rank] as number;
          if (end === start) {
            // An empty shard: in deterministic mode it has no parts at all, else one of 0 samples.
            counts.forEach((count, j) => reduction.add(base + j, { gradients: new Float32Array(0), count }));
            return { count: 0, loss: 0, correct: 0, computeMs: 0, roundTripMs: 0, bytes: 0 };
          }
          await this.ensureModel(link);
          const weights = this.weightsFor(link);
          const version = source.version;
          const sent = performance.now();
          const reply = await link.compute({
            type: 'compute',
            modelId: source.modelId,
            step,
            ...(weights ? { weights } : {}),
            weightsVersion: version,
            ...(batch.gradDtype ? { gradDtype: batch.gradDtype } : {}),
            images: images.subarray(start * 3072, end * 3072),
            labels: batch.labels.subarray(start, end),
            count: end - start,
            ...(batch.micro ? { microBatch: micro, dropoutSeed: batch.micro.dropoutSeed, sampleOffset: batch.micro.sampleOffset + start } : {}),
          });
          if (weights) pool.setVersion(link, version);
          this.validate(reply, step, end - start, link, counts.length, batch.gradDtype);
          counts.forEach((count, j) =>
            reduction.add(base + j, {
              gradients: reply.gradients.subarray(j * length, (j + 1) * length),
              ...(reply.gradDtype ? { gradDtype: reply.gradDtype } : {}),
              ...(reply.gradScales ? { gradScales: reply.gradScales.subarray(j * halfBlocks(length), (j + 1) * halfBlocks(length)) } : {}),
              count,
            }),
          );
          return { count: reply.count, loss: reply.loss, correct: reply.correct, computeMs: reply.computeMs, roundTripMs: performance.now() - sent, bytes: reply.gradients.byteLength };
        }),
      );
      if (first) {
        first = false;
        dispatched?.();
      }
      const raw = await settled;
      // Gradient norms are judged once every part is in (a failed attempt is re-sharded anyway).
      const counts = partCounts.flat();
      const verdict = raw.every((r) => r.status === 'fulfilled') && reduction.nonFinite.size === 0 ? this.guard.judge(reduction.norms, counts) : { rejected: [], every: false };
      if (verdict.every && (this.opts.everyOutlier ?? 'diverged') === 'diverged') {
        const worst = verdict.rejected.reduce((a, b) => (b.norm > a.norm ? b : a));
        throw diverged(
          worst.norm === 0
            ? 'the gradient is all zeros'
            : `the gradient norm jumped to ${worst.norm.toPrecision(3)}${worst.against !== undefined ? `, over ${this.guard.factor}× the recent median ${worst.reference.toPrecision(3)},` : ' (past float32)'}`,
        );
      }
      const outliers = verdict.every ? [] : verdict.rejected;
      if (verdict.every) this.opts.log(`step ${step}: every worker's gradient norm jumped past ${this.guard.factor}× the recent median (${verdict.rejected.map((p) => p.norm.toPrecision(3)).join(', ')}): accepted as the model's`);
      const results = raw.map((r, rank): PromiseSettledResult<Served> => {
        if (r.status !== 'fulfilled') return r;
        const parts = (partCounts[rank] as number[]).map((_, j) => (firstPart[rank] as number) + j);
        const who = `worker ${(links[rank] as WorkerLink).info.workerId}`;
        // A part found non-finite while reducing fails its worker like any other bad reply.
        if (parts.some((p) => reduction.nonFinite.has(p))) return { status: 'rejected', reason: new TrainingError('E_TRAIN_NONFINITE', `${who} sent a non-finite gradient at step ${step}`) };
        const outlier = outliers.find((o) => parts.includes(o.index));
        if (outlier) {
          const bound =
            outlier.norm === 0
              ? 'all zeros: no real gradient'
              : outlier.against !== undefined
                ? `more than ${this.guard.factor}× the median ${outlier.reference.toPrecision(3)} of ${outlier.against === 'history' ? 'recent steps' : "this step's other workers"}`
                : 'its sum of squares overflows float32';
          return { status: 'rejected', reason: new TrainingError('E_TRAIN_GRADIENT', `${who} sent a gradient of norm ${outlier.norm === 0 ? '0' : outlier.norm.toPrecision(3)} at step ${step}, ${bound}: rejected`) };
        }
        return r;
      });
      const failed = results
        .map((r, rank) => ({ r, link: links[rank] as WorkerLink }))
        .filter((x): x is { r: PromiseRejectedResult; link: WorkerLink } => x.r.status === 'rejected');
      if (failed.length > 0) {
        // Every serving worker's loss or gradient non-finite at the same weights: the model
        // diverged, not a worker.
        const nonFinite = failed.filter(({ r }) => (r.reason as { code?: string } | undefined)?.code === 'E_TRAIN_NONFINITE');
        const serving = ranges.filter(({ start, end }) => end > start).length;
        if (nonFinite.length === serving) throw diverged('the loss became non-finite');
        for (const { r, link } of failed) {
          const reason = r.reason instanceof Error ? r.reason.message : String(r.reason);
          this.opts.log(`step ${step}: dropping worker ${link.info.workerId}: ${reason}; re-sharding the batch`);
          pool.drop(link, reason);
        }
        continue;
      }
      const replies = results.map((r) => (r as PromiseFulfilledResult<Served>).value);
      const critical = replies.reduce((a, b) => (b.roundTripMs > a.roundTripMs ? b : a));
      replies.forEach((r, rank) => this.recordSpeed(links[rank] as WorkerLink, r.count, r.computeMs));
      if (!reduction.complete) throw new TrainingError('E_TRAIN_GRADIENT', `step ${step}: the reduction is missing parts`);
      this.guard.accept(reduction.norms, counts);
      let lossSum = 0;
      let correct = 0;
      for (const r of replies) {
        lossSum += r.loss * r.count;
        correct += r.correct;
      }
      return {
        loss: lossSum / batch.count,
        correct,
        workers: links.length,
        critical: { computeMs: critical.computeMs, roundTripMs: critical.roundTripMs },
        gradientBytes: replies.reduce((sum, r) => sum + r.bytes, 0),
      };
    }
  }

  /**
   * Forward pass over `count` samples, sharded across the live workers in chunks of `chunk`
   * samples (each worker pulls the next chunk when it is done). A chunk that fails goes back in
   * the queue and its worker is dropped. A chunk whose losses a worker finds non-finite goes to
   * another worker: if one evaluates it finitely, the workers that did not are dropped as faulty;
   * if every live worker finds it non-finite at the same weights, the model is at fault, not the
   * workers. Every sample is counted exactly once.
   * @returns per-sample predicted class and loss, in data order
   * @throws TrainingError E_TRAIN_NONFINITE when every live worker finds some chunk's loss non-finite (the model diverged)
   */
  async predict(set: { images: Uint8Array; labels: Uint8Array; count: number }, chunk: number): Promise<{ predictions: Uint8Array; losses: Float32Array }> {
    const { pool, source } = this.opts;
    const predictions = new Uint8Array(set.count);
    const losses = new Float32Array(set.count);
    type Chunk = { start: number; end: number };
    const queue: Chunk[] = [];
    for (let start = 0; start < set.count; start += chunk) queue.push({ start, end: Math.min(set.count, start + chunk) });
    /** Workers that found a chunk's losses non-finite. */
    const nonFinite = new Map<Chunk, Set<WorkerLink>>();
    const samples = (c: Chunk): string => `samples ${c.start}..${c.end - 1}`;
    while (queue.length > 0) {
      await pool.waitFor(1, this.waitMs, (_have, ms) => this.opts.log(`evaluation: waiting for a worker: none live${ms > 0 ? ` (for ${Math.round(ms / 1000)} s)` : ''}`));
      const links = pool.live();
      await Promise.all(
        links.map(async (link) => {
          for (;;) {
            const k = queue.findIndex((c) => !nonFinite.get(c)?.has(link));
            if (k < 0) return;
            const c = queue.splice(k, 1)[0] as Chunk;
            const who = `worker ${link.info.workerId}`;
            try {
              await this.ensureModel(link);
              const weights = this.weightsFor(link);
              const version = source.version;
              const requestId = ++this.requestId;
              const n = c.end - c.start;
              const reply = await link.evaluate({
                type: 'evaluate',
                modelId: source.modelId,
                requestId,
                ...(weights ? { weights } : {}),
                weightsVersion: version,
                images: set.images.subarray(c.start * 3072, c.end * 3072),
                labels: set.labels.subarray(c.start, c.end),
                count: n,
              });
              if (weights) pool.setVersion(link, version);
              if (reply.requestId !== requestId) throw new TrainingError('E_TRAIN_WORKER', `${who} answered request ${reply.requestId} instead of ${requestId}`);
              if (reply.predictions.length !== n || reply.losses.length !== n) {
                throw new TrainingError('E_TRAIN_WORKER', `${who} returned ${reply.predictions.length} predictions and ${reply.losses.length} losses for ${n} samples`);
              }
              if (!allFinite(reply.losses)) {
                // Not yet a fault of this worker: another one decides (see above).
                const reporters = nonFinite.get(c) ?? new Set<WorkerLink>();
                reporters.add(link);
                nonFinite.set(c, reporters);
                queue.push(c);
                this.opts.log(`evaluation: ${who} finds the loss non-finite for ${samples(c)}; asking another worker`);
                continue;
              }
              if (reply.predictions.some((p) => p >= source.numClasses)) throw new TrainingError('E_TRAIN_WORKER', `${who} predicted a class outside 0..${source.numClasses - 1}`);
              predictions.set(reply.predictions, c.start);
              losses.set(reply.losses, c.start);
              for (const bad of nonFinite.get(c) ?? []) {
                const reason = `returned non-finite losses for ${samples(c)}, which ${who} evaluated finitely at the same weights`;
                this.opts.log(`evaluation: dropping worker ${bad.info.workerId}: ${reason}`);
                pool.drop(bad, reason);
              }
              nonFinite.delete(c);
            } catch (err) {
              queue.push(c);
              const reason = err instanceof Error ? err.message : String(err);
              this.opts.log(`evaluation: dropping worker ${link.info.workerId}: ${reason}`);
              pool.drop(link, reason);
              return;
            }
          }
        }),
      );
      const live = pool.live();
      const stuck = live.length > 0 ? queue.find((c) => live.every((l) => nonFinite.get(c)?.has(l))) : undefined;
      if (stuck !== undefined) {
        throw new TrainingError(
          'E_TRAIN_NONFINITE',
          `evaluation: every worker (${live.length}) finds the loss non-finite for ${samples(stuck)} at the same weights: the model diverged, not a worker`,
        );
      }
    }
    return { predictions, losses };
  }

  /** Makes sure `link` holds the current model; new or restarted workers get every weight. */
  async ensureModel(link: WorkerLink): Promise<void> {
    if (this.opts.pool.versionOf(link) >= 0) return;
    const msg = this.opts.source.setModelMessage();
    await link.setModel(msg);
    this.opts.pool.setVersion(link, msg.weightsVersion);
  }

  private weightsFor(link: WorkerLink): Float32Array | undefined {
    const { pool, source } = this.opts;
    return pool.versionOf(link) === source.version ? undefined : source.weights;
  }

  /**
   * Checks a gradient reply against its request (finiteness is checked while reducing); throws a
   * TrainingError naming what is wrong.
   */
  private validate(reply: GradientMessage, step: number, count: number, link: WorkerLink, parts: number, gradDtype: GradDtype | undefined): void {
    const { source } = this.opts;
    const length = source.weights.length;
    const who = `worker ${link.info.workerId}`;
    const fail = (why: string): never => {
      throw new TrainingError('E_TRAIN_GRADIENT', `${who} ${why}`);
    };
    if (reply.step !== step) fail(`answered for step ${reply.step}, current step is ${step}`);
    if (reply.count !== count) fail(`reports ${reply.count} samples for a shard of ${count}`);
    if (reply.gradients.length !== length * parts) fail(`sent a gradient of ${reply.gradients.length} values, expected ${length * parts}`);
    if ((reply.gradDtype ?? undefined) !== gradDtype) fail(`sent ${reply.gradDtype ?? 'float32'} gradients, ${gradDtype ?? 'float32'} were asked for`);
    if (gradDtype === 'float16' && reply.gradScales?.length !== halfBlocks(length) * parts) {
      fail(`sent ${reply.gradScales?.length ?? 0} float16 block scales, expected ${halfBlocks(length) * parts}`);
    }
    if (!Number.isFinite(reply.loss)) throw new TrainingError('E_TRAIN_NONFINITE', `${who} sent a non-finite loss at step ${step}`);
    if (reply.weightsVersion !== source.version) fail(`computed at weights version ${reply.weightsVersion}, the current version is ${source.version}`);
    if (reply.weightsCrc !== undefined && reply.weightsCrc !== null) {
      if (this.crcVersion !== source.version || this.crcModel !== source.modelId) {
        this.crc = weightsCrc(source.weights);
        this.crcVersion = source.version;
        this.crcModel = source.modelId;
      }
      if (reply.weightsCrc !== this.crc) fail(`holds weights with CRC ${reply.weightsCrc.toString(16)}, the expected ones have ${this.crc.toString(16)}`);
    }
  }

  /**
   * Relative speed of each link for sizing its shard: its measured samples per ms of compute
   * (exponential moving average); links not yet measured count as the mean of the measured
   * ones, or 1 when none is.
   */
  private speeds(links: readonly WorkerLink[]): number[] {
    const known = links.map((l) => this.speed.get(l)).filter((v): v is number => v !== undefined);
    const fallback = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 1;
    return links.map((l) => this.speed.get(l) ?? fallback);
  }

  private recordSpeed(link: WorkerLink, count: number, computeMs: number): void {
    if (count === 0 || !(computeMs > 0) || !Number.isFinite(computeMs)) return;
    const rate = count / computeMs;
    const old = this.speed.get(link);
    this.speed.set(link, old === undefined ? rate : 0.7 * old + 0.3 * rate);
  }
}
