import { Command } from 'commander';
import { addTrainOptions, configFromOptions, defaultRunDir, explicitConfigKeys, type CoordinatorOptions } from './options.js';
import { startCoordinator } from './coordinator.js';
import { exitCodeFor } from './exit-codes.js';
import { createLog } from './log.js';

/** `npm run coordinator -- [options]`: the coordinator alone; workers connect with `npm run worker`. */
async function main(argv: string[]): Promise<void> {
  const program = addTrainOptions(
    new Command('coordinator').description('Coordinator of a synchronous data-parallel CIFAR training run: start workers with `npm run worker -- --connect <url>`'),
  );
  program.parse(argv);
  const o = program.opts<CoordinatorOptions>();
  const log = createLog('coordinator', o.logLevel);
  const out = typeof o.resume === 'string' ? o.resume : o.out ?? defaultRunDir();
  const run = await startCoordinator({
    config: configFromOptions(o),
    out,
    host: o.host,
    port: o.port,
    ...(o.token ?? process.env['CIFAR_DIST_TOKEN'] ? { token: o.token ?? process.env['CIFAR_DIST_TOKEN'] } : {}),
    resume: Boolean(o.resume),
    explicit: explicitConfigKeys(program),
    requestTimeoutMs: o.requestTimeout,
    ...(o.dashboardPort !== undefined ? { dashboardPort: o.dashboardPort } : {}),
    log,
  });
  log(`workers connect with: npm run worker -- --connect http://${o.host}:${run.port}`);
  await run.done;
}

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`coordinator: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(exitCodeFor(err));
});
