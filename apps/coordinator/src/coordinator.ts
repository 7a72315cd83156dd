import { randomUUID } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ensureDataset } from '@cifar-dist/data';
import { formatAdapter, tf } from '@cifar-dist/model';
import {
  MAX_MESSAGE_BYTES,
  SocketCoordinatorServer,
  inspectRunFolder,
  WorkerPool,
  formatRunReport,
  removeInterruptedSaves,
  runTraining,
  type RunReport,
  type TrainConfig,
} from '@cifar-dist/training';
import { startDashboard } from '@cifar-dist/dashboard';
import { writeRunArtifacts } from '@cifar-dist/report';
import { feedDashboard } from './dashboard-feed.js';
import { createProgress } from './progress.js';

export interface CoordinatorRun {
  port: number;
  out: string;
  /** Resolves with the report when both phases are done; rejects on a failed run. */
  done: Promise<RunReport>;
  /** Stops serving (workers are told to shut down, with `reason`) and deletes the shared memory. */
  close(reason?: string): Promise<void>;
  /** True once training has ended (successfully or not) and workers are being let go. */
  readonly finishing: boolean;
}

export interface StartOptions {
  config: TrainConfig;
  out: string;
  host: string;
  port: number;
  token?: string;
  /** true: continue the run in `out`; 'auto': continue it when it holds a checkpoint (see runTraining). */
  resume: boolean | 'auto';
  /** Config fields given explicitly: on resume they override the checkpoint's (see runTraining). */
  explicit?: ReadonlySet<keyof TrainConfig>;
  requestTimeoutMs: number;
  /** Frames to workers on this machine through /dev/shm (default true). */
  shm?: boolean;
  log: (msg: string) => void;
  /** Serve the live run page on this port (loopback); absent: no page. */
  dashboardPort?: number;
  /** Print the end-of-run text report on stdout. */
  printReport?: boolean;
}

/** True when `dir` holds a checkpoint folder (ckpt-*), good or not. */
async function holdsCheckpoints(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((name) => name.startsWith('ckpt-'));
  } catch {
    return false;
  }
}


/**
 * Starts the coordinator: makes sure the data is there (downloading it when the directory is
 * empty), opens the socket.io endpoint, and runs both phases as soon as workers join.
 */
export async function startCoordinator(opts: StartOptions): Promise<CoordinatorRun> {
  const { config, log } = opts;
  // The coordinator only builds, averages and saves: the cpu backend is enough and always there.
  // Prod mode also silences tfjs's "install tfjs-node" banner, which does not apply to us.
  tf.enableProdMode();
  await tf.setBackend('cpu');
  // A resumed run reads the data directory saved in its checkpoint unless one is given: then there
  // is nothing to fetch here (and no default ./data to fill by mistake).
  // (--resume auto resumes when the folder holds a checkpoint: then likewise.)
  const resumes = opts.resume === true || (opts.resume === 'auto' && (await holdsCheckpoints(path.join(opts.out, 'checkpoints'))));
  if (!resumes || opts.explicit === undefined || opts.explicit.has('dataDir')) {
    await ensureDataset(config.dataDir, 'cifar10', { log });
    await ensureDataset(config.dataDir, 'cifar100', { log });
  }
  await mkdir(opts.out, { recursive: true });
  // Temp folders of saves a killed run left half-written here (checkpoints, models, the report).
  removeInterruptedSaves(opts.out, log);
  const pool = new WorkerPool();
  // The run's id, as its checkpoints and report carry it: a resumed run keeps its checkpoint's, so
  // that the workers' logs and the live page name the same run as the run folder.
  const runId = (resumes ? inspectRunFolder(opts.out).newestGood?.runId : undefined) ?? randomUUID();
  pool.on('join', (link) => {
    log(`worker ${link.info.workerId} joined (${link.info.backend}, ${link.info.device}${formatAdapter(link.info.adapter)}, pid ${link.info.pid}); ${pool.size} live`);
    // Bit-identical results hold for one backend and device kind: float sums differ across them.
    const kinds = new Set(pool.live().map((l) => `${l.info.backend} on ${l.info.device}`));
    if (config.deterministic && kinds.size > 1) {
      log(`warning: --deterministic with workers on different backends or devices (${[...kinds].join('; ')}): the weights are bit-identical only when every worker computes on one backend and device kind`);
    }
  });
  pool.on('leave', (link, reason) => log(`worker ${link.info.workerId} left: ${reason}; ${pool.size} live`));
  const server = new SocketCoordinatorServer({
    host: opts.host,
    port: opts.port,
    ...(opts.token ? { token: opts.token } : {}),
    maxMessageBytes: MAX_MESSAGE_BYTES,
    requestTimeoutMs: opts.requestTimeoutMs,
    ...(opts.shm === false ? { shm: false } : {}),
    pool,
    runId,
    log,
  });
  const port = await server.start();
  log(`coordinator listening on ${opts.host}:${port}, run directory ${path.resolve(opts.out)}`);
  const progress = createProgress(pool, log);
  const dashboard = opts.dashboardPort !== undefined ? await startDashboard({ port: opts.dashboardPort }) : null;
  const feed = dashboard ? feedDashboard(dashboard, pool, { runId, config }) : null;
  if (dashboard) log(`live run page: ${dashboard.url}`);
  let finishing = false;
  const done = (async () => {
    try {
      const report = await runTraining({
        config,
        pool,
        out: opts.out,
        resume: opts.resume,
        runId,
        ...(opts.explicit ? { explicit: opts.explicit } : {}),
        hooks: {
          log: progress.log,
          onStep: (info) => {
            progress.onStep(info);
            feed?.onStep(info);
          },
          onEpochStart: progress.onEpochStart,
          ...(feed ? { onPhaseStart: feed.onPhaseStart, onEpochEnd: async (r, record) => feed.onEpoch(r.opts.name, record) } : {}),
        },
      });
      progress.stop();
      try {
        const artifacts = await writeRunArtifacts(opts.out, report);
        log(`report pages written: ${artifacts.join(', ')}`);
      } catch (err) {
        // report.json is already saved; the pages can be regenerated with `npm run report -- <run>`.
        log(`could not write report.html / history CSVs: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (opts.printReport !== false) process.stdout.write(`${formatRunReport(report)}\n`);
      log(`report written to ${path.join(opts.out, 'report.json')}`);
      feed?.finished();
      return report;
    } catch (err) {
      feed?.finished(err);
      throw err;
    } finally {
      finishing = true;
      progress.stop();
      await server.close();
      await dashboard?.close();
    }
  })();
  return {
    port,
    out: opts.out,
    done,
    close: (reason?: string) => server.close(reason),
    get finishing() {
      return finishing;
    },
  };
}
