import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { selectBackend, type BackendName } from '@cifar-dist/model';
import { runSocketWorker } from '@cifar-dist/training';

interface WorkerOptions {
  connect: string;
  token?: string;
  backend?: BackendName;
  gpu?: string;
  workerId?: string;
}

/** `npm run worker -- --connect <url>`: one worker process; picks the fastest backend it has. */
async function main(argv: string[]): Promise<void> {
  const program = new Command('worker')
    .description('A data-parallel worker: computes gradients for the coordinator at --connect')
    .requiredOption('--connect <url>', 'coordinator URL, e.g. http://127.0.0.1:8080')
    .option('--token <secret>', 'shared secret the coordinator requires (else env CIFAR_DIST_TOKEN)')
    .addOption(new Option('--backend <name>', 'force one backend instead of the fastest available').choices(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']))
    .option('--gpu <index>', 'pin this worker to GPU <index> (sets CUDA_VISIBLE_DEVICES)')
    .option('--worker-id <id>', 'name in the coordinator\'s logs (default: random)');
  program.parse(argv);
  const o = program.opts<WorkerOptions>();
  const workerId = o.workerId ?? `w-${randomBytes(3).toString('hex')}`;
  const log = (msg: string): void => {
    process.stderr.write(`${new Date().toISOString()} [worker ${workerId}] ${msg}\n`);
  };
  const choice = await selectBackend({
    ...(o.backend ? { force: o.backend } : {}),
    ...(o.gpu !== undefined ? { gpuIndex: Number(o.gpu) } : {}),
    log,
  });
  log(`backend ${choice.name} (${choice.device})`);
  const token = o.token ?? process.env['CIFAR_DIST_TOKEN'];
  const reason = await runSocketWorker({
    url: o.connect,
    ...(token ? { token } : {}),
    workerId,
    backend: choice.name,
    device: choice.device,
    log,
  });
  log(`done: ${reason}`);
}

main(process.argv).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`worker: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
