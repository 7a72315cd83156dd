import { networkInterfaces } from 'node:os';
import { Command } from 'commander';
import { addTrainOptions, configFromOptions, explicitConfigKeys, runFolder, type CoordinatorOptions } from './options.js';
import { settleSaves } from '@cifar-dist/training';
import { startCoordinator, type CoordinatorRun } from './coordinator.js';
import { exitCodeFor } from './exit-codes.js';
import { createLog } from './log.js';
import { onStop, removeIfLeftEmpty, type StopHandling } from './shutdown.js';

/** Set once SIGINT/SIGTERM/SIGHUP or the loss of npm/tsx asked the run to stop (see shutdown.ts). */
let stopping: StopHandling | null = null;

/** `npm run coordinator -- [options]`: the coordinator alone; workers connect with `npm run worker`. */
async function main(argv: string[]): Promise<void> {
  const program = addTrainOptions(
    new Command('coordinator').description('Coordinator of a synchronous data-parallel CIFAR training run: start workers with `npm run worker -- --connect <url>`'),
  );
  program.parse(argv);
  const o = program.opts<CoordinatorOptions>();
  const log = createLog('coordinator', o.logLevel);
  // A signal, or npm/tsx gone: the workers are told to shut down, a checkpoint save in flight may
  // finish, the shared memory is deleted, and the process exits 128 + signal (see shutdown.ts).
  let run: CoordinatorRun | null = null;
  stopping = onStop({
    log,
    stop: async ({ cause }) => {
      log(`${cause}: stopping the coordinator; its workers are told to shut down`);
      await Promise.all([settleSaves(3_000), Promise.race([run?.close(`the coordinator was stopped (${cause})`), new Promise((r) => setTimeout(r, 3_000))])]);
    },
  });
  const { out, resume } = runFolder(o);
  // A run folder created for this run and left empty is removed at exit (never one that existed).
  removeIfLeftEmpty(out, log);
  run = await startCoordinator({
    config: configFromOptions(o),
    out,
    host: o.host,
    port: o.port,
    ...(o.token ?? process.env['CIFAR_DIST_TOKEN'] ? { token: o.token ?? process.env['CIFAR_DIST_TOKEN'] } : {}),
    resume,
    explicit: explicitConfigKeys(program),
    requestTimeoutMs: o.requestTimeout,
    shm: o.shm,
    ...(o.dashboardPort !== undefined ? { dashboardPort: o.dashboardPort } : {}),
    log,
  });
  // 0.0.0.0 / :: listen everywhere: name the addresses another host can actually reach.
  const hosts = o.host === '0.0.0.0' || o.host === '::'
    ? Object.values(networkInterfaces()).flat().filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal).map((a) => a?.address as string)
    : [o.host];
  const token = o.token ?? process.env['CIFAR_DIST_TOKEN'] ? ' --token <the token> (or set CIFAR_DIST_TOKEN)' : '';
  for (const host of hosts.length > 0 ? hosts : ['127.0.0.1']) {
    log(`workers connect with: npm run worker -- --connect http://${host}:${run.port}${token}`);
  }
  await run.done;
}

main(process.argv).catch((err: unknown) => {
  if (stopping?.requested) return; // a stop under way exits with its own code
  process.stderr.write(`coordinator: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(exitCodeFor(err));
});
