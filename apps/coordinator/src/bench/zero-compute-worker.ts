/**
 * A worker process that skips the compute (ZeroComputeRuntime): started only by
 * `npm run bench -- --coordinator-only` (the coordinator alone) and `--two-hosts` (the network
 * alone). Never a training path.
 * Arguments: <coordinator url> <worker id> <seed> [--no-shm]; the token, when the coordinator
 * wants one, in env CIFAR_DIST_TOKEN.
 */
import { runSocketWorker, ZeroComputeRuntime } from '@cifar-dist/training';

const [url, workerId, seed, flag] = process.argv.slice(2);
if (url === undefined || workerId === undefined || seed === undefined) {
  process.stderr.write('usage: zero-compute-worker <url> <worker id> <seed> [--no-shm]\n');
  process.exit(2);
}
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(6);
}, 1000).unref();
const token = process.env['CIFAR_DIST_TOKEN'];
runSocketWorker({ url, workerId, ...(token ? { token } : {}), backend: 'zero-compute', device: 'none', runtime: new ZeroComputeRuntime(Number(seed)), shm: flag !== '--no-shm' }).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`zero-compute worker: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
