/**
 * `npm run bench -- --two-hosts`: step times when the workers are on other "hosts". A lab of
 * network namespaces (../netns.ts: needs root) stands in for the machines: the coordinator in the
 * hub namespace, the workers in two host namespaces, each host joined to the hub by its own veth
 * pair, shaped with tbf at 10 Gbit/s, then at 1 Gbit/s. The workers are zero-compute
 * (zero-compute-worker.ts), so what is timed is the network and the coordinator; each host
 * namespace has its own /dev/shm, so no frame takes the shared-memory shortcut.
 *
 * Layouts: 'flat' (every worker is its own member of the coordinator's pool: one 5 MB gradient
 * per worker per step crosses the link) and 'per-node' (one per-node stage per host reduces its
 * workers' gradients through its own shared memory and sends one: `npm run node`).
 *
 * Reported per (rate, layout): the mean and median step wall time, the gradient bytes the
 * coordinator received per step (StepInfo.gradientBytes), and the bytes each link carried per
 * step (veth counters on the hub's side, both directions). A measuring tool: it asserts nothing.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { stopChildren } from '../shutdown.js';
import { createLab, measureLink, TBF_10GBIT, TBF_1GBIT, type NetnsLab, type TbfShape } from '../netns.js';
import { median } from './stats.js';

export type TwoHostsLayout = 'flat' | 'per-node';

/** Both layouts, in the order measured. */
export const TWO_HOSTS_LAYOUTS: readonly TwoHostsLayout[] = ['flat', 'per-node'];

/** The link rates measured, fastest first. */
export const TWO_HOSTS_RATES: ReadonlyArray<{ name: string; tbf: TbfShape }> = [
  { name: '10 Gbit/s', tbf: TBF_10GBIT },
  { name: '1 Gbit/s', tbf: TBF_1GBIT },
];

const HOSTS = ['host1', 'host2'] as const;

/** What two-hosts-coordinator.ts is given (as JSON in its argv). */
export interface TwoHostsCoordinatorConfig {
  /** The hub's address: where it listens. */
  host: string;
  token: string;
  /** Pool members to wait for: workers (flat) or per-node stages (per-node). */
  members: number;
  /** Images per synchronous step, over every worker. */
  globalBatch: number;
  warmup: number;
  windows: number;
  windowSteps: number;
  /** The hub-side interface of each host's link. */
  links: Array<{ host: string; hubIf: string }>;
}

/** One timed step, as the coordinator saw it. */
export interface TwoHostsStep {
  window: number;
  /** Wall time from the previous step's end to this one's, ms. */
  ms: number;
  /** StepInfo.timings.wireMs: the slowest member's round trip minus its compute. */
  wireMs: number;
  workers: number;
  /** Gradient bytes the coordinator received in this step. */
  gradientBytes: number;
  /** Bytes each link carried in this step: to the host (weights, shards) and from it (gradients). */
  links: Array<{ host: string; toHost: number; fromHost: number }>;
}

/** What two-hosts-coordinator.ts prints after `result `. */
export interface TwoHostsCoordinatorResult {
  members: Array<{ workerId: string; sharedMemory: boolean }>;
  steps: TwoHostsStep[];
}

/** One (rate, layout) measurement. */
export interface TwoHostsRow {
  rate: string;
  tbf: TbfShape;
  /** TCP payload rate one connection reached through a link just before (measureLink), Gbit/s. */
  measuredGbit: number;
  layout: TwoHostsLayout;
  hosts: number;
  workers: number;
  /** Members of the coordinator's pool (workers, or per-node stages). */
  members: number;
  globalBatch: number;
  steps: number;
  meanStepMs: number;
  medianStepMs: number;
  medianWireMs: number;
  /** Median gradient bytes the coordinator received per step. */
  gradientBytesPerStep: number;
  /** Per link, the median bytes per step to the host and from it. */
  links: Array<{ host: string; toHostBytesPerStep: number; fromHostBytesPerStep: number }>;
}

export interface TwoHostsFigures {
  hosts: number;
  workersPerHost: number;
  perWorkerBatch: number;
  /** The unshaped veth's rate at the start, Gbit/s (this machine's ceiling). */
  unshapedGbit: number;
  rows: TwoHostsRow[];
}

export interface TwoHostsOptions {
  layouts?: readonly TwoHostsLayout[];
  /** Worker processes per host namespace (default 2). */
  workersPerHost?: number;
  perWorkerBatch: number;
  warmup: number;
  windows: number;
  windowSteps: number;
  log: (msg: string) => void;
}

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const COORDINATOR_TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));
const COORDINATOR_SIDE = fileURLToPath(new URL('./two-hosts-coordinator.ts', import.meta.url));
const ZERO_COMPUTE_WORKER = fileURLToPath(new URL('./zero-compute-worker.ts', import.meta.url));
const NODE_STAGE = fileURLToPath(new URL('../node.ts', import.meta.url));

/** node + tsx, with the coordinator's tsconfig (as `npm run bench` runs). */
function tsx(script: string, args: string[]): string[] {
  return [process.execPath, '--import', import.meta.resolve('tsx'), script, ...args];
}

/** Pool members one host contributes in `layout`. */
function membersPerHost(layout: TwoHostsLayout, workersPerHost: number): number {
  return layout === 'flat' ? workersPerHost : 1;
}

/**
 * Starts what runs in host namespace `host` for `layout`, connecting to `url` with `token`.
 * flat: `workersPerHost` zero-compute worker processes, each a pool member; per-node: one
 * per-node stage that starts `workersPerHost` zero-compute workers and is one pool member.
 */
function startHost(layout: TwoHostsLayout, lab: NetnsLab, host: string, url: string, token: string, workersPerHost: number, env: NodeJS.ProcessEnv): ChildProcess[] {
  switch (layout) {
    case 'flat':
      return Array.from({ length: workersPerHost }, (_, i) =>
        lab.spawn(host, tsx(ZERO_COMPUTE_WORKER, [url, `${host}-w${i}`, String(HOSTS.indexOf(host as (typeof HOSTS)[number]) * 100 + i + 1)]), { cwd: REPO, env }),
      );
    case 'per-node':
      // One per-node stage (npm run node) per host: it starts the host's workers itself, on its
      // own loopback server with shared memory, and is one pool member of the coordinator.
      return [
        lab.spawn(host, tsx(NODE_STAGE, ['--connect', url, '--workers', String(workersPerHost), '--node-id', `${host}-node`, '--zero-compute', '--log-level', 'warn']), { cwd: REPO, env }),
      ];
  }
}

/** Collects the last `limit` characters a child writes on stdout and stderr. */
function tail(child: ChildProcess, limit = 4000): () => string {
  let text = '';
  const keep = (d: Buffer): void => {
    text = (text + d.toString()).slice(-limit);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

/** One (rate, layout) run: the coordinator side in the hub, `layout`'s processes in each host. */
async function measure(lab: NetnsLab, layout: TwoHostsLayout, opts: TwoHostsOptions, workersPerHost: number): Promise<TwoHostsCoordinatorResult> {
  const token = randomBytes(16).toString('hex');
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: COORDINATOR_TSCONFIG, CIFAR_DIST_TOKEN: token };
  const config: TwoHostsCoordinatorConfig = {
    host: lab.address('hub'),
    token,
    members: HOSTS.length * membersPerHost(layout, workersPerHost),
    globalBatch: opts.perWorkerBatch * HOSTS.length * workersPerHost,
    warmup: opts.warmup,
    windows: opts.windows,
    windowSteps: opts.windowSteps,
    links: HOSTS.map((host) => ({ host, hubIf: lab.link(host).hubIf })),
  };
  const coordinator = lab.spawn('hub', tsx(COORDINATOR_SIDE, [JSON.stringify(config)]), { cwd: REPO, env });
  const coordinatorTail = tail(coordinator);
  let stdout = '';
  coordinator.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => coordinator.once('exit', (code) => resolve(code)));
  const hostProcs: ChildProcess[] = [];
  const hostTails: Array<() => string> = [];
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /listening (\S+)\n/.exec(stdout);
        if (m) {
          clearInterval(timer);
          resolve(m[1] as string);
        }
      }, 50);
      exited.then((code) => {
        clearInterval(timer);
        reject(new Error(`the coordinator side exited (${code}) before listening: ${coordinatorTail()}`));
      }, () => undefined);
    });
    for (const host of HOSTS) {
      for (const child of startHost(layout, lab, host, url, token, workersPerHost, env)) {
        hostProcs.push(child);
        hostTails.push(tail(child));
      }
    }
    const code = await exited;
    const m = /result (\{.*\})\n/.exec(stdout);
    if (code !== 0 || !m) {
      throw new Error(`the coordinator side failed (${code}): ${coordinatorTail()}\nhost processes: ${hostTails.map((t) => t().trim().split('\n').slice(-2).join(' | ')).join('\n')}`);
    }
    return JSON.parse(m[1] as string) as TwoHostsCoordinatorResult;
  } finally {
    if (coordinator.exitCode === null && coordinator.signalCode === null) coordinator.kill('SIGKILL');
    // they exit on the coordinator's shutdown; what is left after 10 s is killed
    await stopChildren(hostProcs, 10_000, { terminate: false });
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Creates the lab (hub + 2 host namespaces), then for each rate in TWO_HOSTS_RATES and each
 * layout: shapes both links, measures the rate one TCP connection really gets, and times
 * `windows` × `windowSteps` steps (after `warmup` per window) with 2 × `workersPerHost`
 * zero-compute workers. Deletes the lab afterwards, also on failure.
 * @throws Error when namespaces cannot be made here (not root, no `ip netns`)
 */
export async function benchTwoHosts(opts: TwoHostsOptions): Promise<TwoHostsFigures> {
  const layouts = opts.layouts ?? TWO_HOSTS_LAYOUTS;
  const workersPerHost = opts.workersPerHost ?? 2;
  const lab = await createLab({ hub: 'hub', hosts: [...HOSTS] });
  try {
    const unshapedGbit = await measureLink(lab, HOSTS[0], 400e6);
    opts.log(`two hosts: lab ${lab.id} up (hub ${lab.address('hub')}); unshaped veth ${unshapedGbit.toFixed(2)} Gbit/s`);
    const rows: TwoHostsRow[] = [];
    for (const rate of TWO_HOSTS_RATES) {
      for (const host of HOSTS) await lab.shape(host, rate.tbf);
      // ~0.3-0.8 s of traffic: enough to see the shaped rate through the bucket
      const measuredGbit = await measureLink(lab, HOSTS[0], rate.tbf === TBF_1GBIT ? 100e6 : 400e6);
      for (const layout of layouts) {
        opts.log(`two hosts: ${rate.name} (tbf rate ${rate.tbf.rate} burst ${rate.tbf.burst}; one connection gets ${measuredGbit.toFixed(2)} Gbit/s), ${layout}, ${HOSTS.length} × ${workersPerHost} workers`);
        const r = await measure(lab, layout, opts, workersPerHost);
        const steps = r.steps;
        if (steps.length === 0) throw new Error('two-hosts: no timed steps');
        rows.push({
          rate: rate.name,
          tbf: rate.tbf,
          measuredGbit,
          layout,
          hosts: HOSTS.length,
          workers: HOSTS.length * workersPerHost,
          members: r.members.length,
          globalBatch: opts.perWorkerBatch * HOSTS.length * workersPerHost,
          steps: steps.length,
          meanStepMs: mean(steps.map((s) => s.ms)),
          medianStepMs: median(steps.map((s) => s.ms)),
          medianWireMs: median(steps.map((s) => s.wireMs)),
          gradientBytesPerStep: median(steps.map((s) => s.gradientBytes)),
          links: HOSTS.map((host) => {
            const per = steps.map((s) => s.links.find((l) => l.host === host) ?? { toHost: 0, fromHost: 0 });
            return { host, toHostBytesPerStep: median(per.map((l) => l.toHost)), fromHostBytesPerStep: median(per.map((l) => l.fromHost)) };
          }),
        });
      }
    }
    return { hosts: HOSTS.length, workersPerHost, perWorkerBatch: opts.perWorkerBatch, unshapedGbit, rows };
  } finally {
    await lab.teardown();
  }
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

/** The rows as a table: rate (and what one connection got), layout, step ms, coordinator-received and per-link MB per step. */
export function formatTwoHosts(fig: TwoHostsFigures, header: string): string {
  const lines = [
    header,
    `${fig.hosts} host namespaces × ${fig.workersPerHost} zero-compute workers, ${fig.perWorkerBatch} images per worker per step; unshaped veth: ${fig.unshapedGbit.toFixed(2)} Gbit/s`,
    'link MB/step: to host / from host, per host link (veth counters, hub side)',
    'rate (measured)         layout    members  step ms mean  median  wire ms  coord grad MB/step  link MB/step',
  ];
  for (const r of fig.rows) {
    lines.push(
      `${`${r.rate} (${r.measuredGbit.toFixed(2)})`.padEnd(23)} ${r.layout.padEnd(9)} ${String(r.members).padStart(7)}  ${r.meanStepMs.toFixed(1).padStart(12)}  ${r.medianStepMs.toFixed(1).padStart(6)}  ${r.medianWireMs.toFixed(1).padStart(7)}  ${mb(r.gradientBytesPerStep).padStart(18)}  ` +
        r.links.map((l) => `${l.host} ${mb(l.toHostBytesPerStep)} / ${mb(l.fromHostBytesPerStep)}`).join(', '),
    );
  }
  return lines.join('\n');
}
