import { selectBackend, type BackendName } from '@cifar-dist/model';
import { BACKEND_PROBE_MARK } from './backend-probe.js';

/**
 * `backend-probe-main.ts <backend> [gpu]`: selects the forced backend exactly as a worker would
 * (a process of its own: the launcher never loads a native backend itself) and prints one line,
 * BACKEND_PROBE_MARK + JSON { ok, device } or { ok: false, reason }.
 */
const [name, gpu] = process.argv.slice(2);
try {
  const choice = await selectBackend({ force: name as BackendName, ...(gpu !== undefined ? { gpuIndex: Number(gpu) } : {}) });
  process.stdout.write(`${BACKEND_PROBE_MARK}${JSON.stringify({ ok: true, device: choice.device })}\n`);
} catch (err) {
  process.stdout.write(`${BACKEND_PROBE_MARK}${JSON.stringify({ ok: false, reason: (err as Error)?.message ?? String(err) })}\n`);
}
process.exit(0);
