/**
 * Test and bench support: network namespaces standing in for separate hosts on one Linux machine.
 *
 * A lab is a star: one hub namespace (the coordinator's "host") holding a bridge, and one
 * namespace per further host, each joined to the bridge by a veth pair, on a private /24
 * (10.231.<random>.0/24; the hub is .1, host i is .(i + 2)). Every namespace also gets its own
 * mount namespace with a private tmpfs on /dev/shm, held open by a `sleep` process: processes
 * started in the same namespace share that /dev/shm (as processes on one host do), processes in
 * different namespaces do not, so a worker in a host namespace cannot take the coordinator's
 * shared-memory shortcut. Links can be shaped with `tc … tbf` on both ends (netem does not exist
 * in every kernel; tbf does).
 *
 * Nothing is added to the root namespace: the veth ends are created directly inside the lab's
 * namespaces, and addresses and routes live only there. teardown() kills every process still in
 * the lab's namespaces and deletes them (which deletes the links); it runs on process exit and on
 * SIGINT/SIGTERM/SIGHUP too, and labs left behind by a process that died (SIGKILL) are swept when
 * the next lab is created. Linux, root, iproute2 (ip, tc) and util-linux (unshare, nsenter) only.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Every namespace a lab creates is named `cdist-<pid of its creator>-<lab id>-<role>`. */
const NAME_PREFIX = 'cdist-';
const STALE_NAME = /^cdist-(\d+)-[0-9a-f]+-/;

/** A token bucket (`tc qdisc … tbf`) applied to the egress of both ends of a link. */
export interface TbfShape {
  /** tc rate, e.g. '1gbit'. */
  rate: string;
  /** Bucket size, e.g. '128kb' (tc units: kb = kilobytes). */
  burst: string;
  /** Longest a packet may wait in the queue (sets the queue limit), e.g. '50ms'. */
  latency: string;
}

/**
 * ~1 Gbit/s: 0.94–0.95 Gbit/s of TCP payload through a lab link on this machine (150 MB over one
 * node socket, measureLink), i.e. ~1 Gbit/s on the wire with TCP/IP framing. The bucket is about
 * 1 ms at the rate: a 5 MB frame is shaped, not let through in one burst.
 */
export const TBF_1GBIT: TbfShape = { rate: '1gbit', burst: '128kb', latency: '50ms' };
/**
 * ~10 Gbit/s: 7.6–9.5 Gbit/s of TCP payload on this 2-core machine, while the unshaped veth gave
 * 8.4–14.4 at the same moments: here the CPU, as much as the bucket, sets the rate. The bucket is
 * about 1 ms at the rate (at least a few 64 KiB GSO packets, which tbf needs to keep up).
 */
export const TBF_10GBIT: TbfShape = { rate: '10gbit', burst: '1250kb', latency: '50ms' };

/** The namespaces of a lab: `hub` (e.g. the coordinator's) and the hosts joined to it. */
export interface LabSpec {
  hub: string;
  hosts: string[];
  /** Size of each namespace's private /dev/shm (default 512m). */
  shmSize?: string;
}

/** One namespace of a lab. */
export interface LabNamespace {
  /** The name given in LabSpec (hub or host). */
  role: string;
  /** The `ip netns` name. */
  name: string;
  /** Its address on the lab's /24. */
  address: string;
  /** Pid of the process holding its private mount namespace (/dev/shm); processes enter through it. */
  holderPid: number;
}

/** The veth pair joining a host to the hub's bridge. */
export interface LabLink {
  host: string;
  /** Interface name in the host's namespace. */
  hostIf: string;
  /** Interface name in the hub's namespace (a bridge port). */
  hubIf: string;
}

/** Byte counters of an interface (/sys/class/net/<if>/statistics, read with `ip -s -j`). */
export interface IfCounters {
  rxBytes: number;
  txBytes: number;
}

/** Options for a process started in a lab namespace. */
export interface LabSpawnOptions {
  /** Working directory (default: this process's). */
  cwd?: string;
  /** Environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Default: stdin ignored, stdout and stderr piped. */
  stdio?: StdioOptions;
}

/** Whether labs can be created here; when not, why. */
export type NetnsSupport = { ok: true } | { ok: false; reason: string };

/**
 * Checks what a lab needs before any test relies on it: Linux, root, and a working `ip netns`
 * (a probe namespace is created and deleted). Only those make the answer "no": a missing tc,
 * unshare or nsenter then fails createLab() instead of quietly skipping.
 */
export async function netnsSupport(): Promise<NetnsSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { ok: false, reason: 'network namespaces need root' };
  const probe = `${NAME_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}-probe`;
  try {
    await execFileAsync('ip', ['netns', 'add', probe]);
  } catch (err) {
    return { ok: false, reason: `\`ip netns add\` failed: ${firstLine(err)}` };
  }
  try {
    await execFileAsync('ip', ['netns', 'del', probe]);
  } catch (err) {
    return { ok: false, reason: `\`ip netns del\` failed: ${firstLine(err)}` };
  }
  return { ok: true };
}

const liveLabs = new Set<NetnsLab>();
let handlersInstalled = false;

/** Tears down every live lab synchronously at exit and on SIGINT/SIGTERM/SIGHUP (then re-raises the signal when nobody else handles it). */
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.teardownSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      for (const lab of liveLabs) lab.teardownSync();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Creates the namespaces of `spec`, joined as a star (hub bridge, one veth pair per host), with
 * `lo` up, an address in each, and a private /dev/shm in each. On any failure what was created
 * is torn down before the error is thrown.
 */
export async function createLab(spec: LabSpec): Promise<NetnsLab> {
  const roles = [spec.hub, ...spec.hosts];
  if (new Set(roles).size !== roles.length || roles.some((r) => !/^[a-z0-9]{1,12}$/.test(r))) {
    throw new Error(`lab roles must be distinct, 1-12 characters of [a-z0-9]: ${roles.join(', ')}`);
  }
  if (spec.hosts.length === 0 || spec.hosts.length > 200) throw new Error('a lab has 1 to 200 hosts');
  await sweepStaleLabs();
  installExitHandlers();
  const lab = new NetnsLab(spec);
  liveLabs.add(lab);
  try {
    await lab.setUp();
  } catch (err) {
    await lab.teardown();
    throw err;
  }
  return lab;
}

/** A running lab: see createLab(). */
export class NetnsLab {
  /** Random per lab: namespace and interface names. */
  readonly id = randomBytes(3).toString('hex');
  /** Third octet of the lab's 10.231.x.0/24. */
  private readonly octet = randomInt(0, 256);
  private readonly namespaces = new Map<string, LabNamespace>();
  private readonly links = new Map<string, LabLink>();
  /** Namespaces created so far, in order (teardown deletes exactly these). */
  private readonly created: string[] = [];
  private readonly holders: ChildProcess[] = [];
  private tornDown = false;

  constructor(readonly spec: LabSpec) {}

  /** The namespace of `role` (hub or host). */
  ns(role: string): LabNamespace {
    const ns = this.namespaces.get(role);
    if (!ns) throw new Error(`no namespace '${role}' in this lab`);
    return ns;
  }

  /** The address of `role` on the lab's network. */
  address(role: string): string {
    return this.ns(role).address;
  }

  /** The veth pair joining `host` to the hub. */
  link(host: string): LabLink {
    const link = this.links.get(host);
    if (!link) throw new Error(`no host '${host}' in this lab`);
    return link;
  }

  /** @internal Creates the namespaces, links, addresses and /dev/shm holders (createLab() calls it). */
  async setUp(): Promise<void> {
    const roles = [this.spec.hub, ...this.spec.hosts];
    for (const [i, role] of roles.entries()) {
      const name = `${NAME_PREFIX}${process.pid}-${this.id}-${role}`;
      await ip(['netns', 'add', name]);
      this.created.push(name);
      await ip(['-n', name, 'link', 'set', 'lo', 'up']);
      this.namespaces.set(role, { role, name, address: `10.231.${this.octet}.${i + 1}`, holderPid: 0 });
    }
    const hub = this.ns(this.spec.hub);
    await ip(['-n', hub.name, 'link', 'add', 'cdbr0', 'type', 'bridge']);
    await ip(['-n', hub.name, 'addr', 'add', `${hub.address}/24`, 'dev', 'cdbr0']);
    await ip(['-n', hub.name, 'link', 'set', 'cdbr0', 'up']);
    for (const [i, host] of this.spec.hosts.entries()) {
      const ns = this.ns(host);
      // Interface names: at most 15 characters, unique inside their namespace.
      const link: LabLink = { host, hostIf: `cd${this.id}h${i}`, hubIf: `cd${this.id}b${i}` };
      // Both ends are created directly inside the lab's namespaces, never in the root one.
      await ip(['link', 'add', link.hubIf, 'netns', hub.name, 'type', 'veth', 'peer', 'name', link.hostIf, 'netns', ns.name]);
      this.links.set(host, link);
      await ip(['-n', hub.name, 'link', 'set', link.hubIf, 'master', 'cdbr0']);
      await ip(['-n', hub.name, 'link', 'set', link.hubIf, 'up']);
      await ip(['-n', ns.name, 'addr', 'add', `${ns.address}/24`, 'dev', link.hostIf]);
      await ip(['-n', ns.name, 'link', 'set', link.hostIf, 'up']);
    }
    for (const role of roles) await this.startHolder(this.ns(role));
  }

  /** Starts the `sleep` that holds `ns`'s private mount namespace with a fresh tmpfs on /dev/shm. */
  private async startHolder(ns: LabNamespace): Promise<void> {
    const size = this.spec.shmSize ?? '512m';
    const child = spawn(
      'ip',
      ['netns', 'exec', ns.name, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
        `mount -t tmpfs -o size=${size},mode=1777 cdist-shm /dev/shm && echo ready && exec sleep infinity`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.holders.push(child);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${ns.name}: /dev/shm holder not ready within 10 s: ${out}`)), 10_000);
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${ns.name}: /dev/shm holder exited (${signal ?? code}): ${out.trim()}`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    // `ip netns exec`, unshare (without --fork) and sh's exec keep one pid: the sleep's.
    ns.holderPid = child.pid as number;
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.unref();
  }

  /** argv that runs `argv` inside `role`'s network and mount namespaces, in `cwd`. */
  commandIn(role: string, argv: string[], cwd = process.cwd()): string[] {
    const ns = this.ns(role);
    if (ns.holderPid === 0) throw new Error(`${ns.name} is not set up`);
    return ['nsenter', `--target=${ns.holderPid}`, '--mount', '--net', `--wd=${cwd}`, '--', ...argv];
  }

  /**
   * Starts `argv` inside `role`'s namespace (its network and its private /dev/shm). nsenter
   * execs the command: the child's pid is the command's.
   */
  spawn(role: string, argv: string[], opts: LabSpawnOptions = {}): ChildProcess {
    const [cmd, ...args] = this.commandIn(role, argv, opts.cwd);
    return spawn(cmd as string, args, { env: opts.env ?? process.env, stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'] });
  }

  /** Runs `argv` inside `role`'s namespace to completion; resolves with its stdout (rejects on a non-zero exit). */
  async exec(role: string, argv: string[]): Promise<string> {
    const [cmd, ...args] = this.commandIn(role, argv);
    const { stdout } = await execFileAsync(cmd as string, args);
    return stdout;
  }

  /**
   * Shapes the link of `host` with a tbf on the egress of both ends (null: removes it, back to
   * the veth's own speed).
   */
  async shape(host: string, tbf: TbfShape | null): Promise<void> {
    const link = this.link(host);
    const ends: Array<[string, string]> = [[this.ns(this.spec.hub).name, link.hubIf], [this.ns(host).name, link.hostIf]];
    for (const [ns, dev] of ends) {
      if (tbf === null) {
        await execFileAsync('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined);
      } else {
        await execFileAsync('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', tbf.rate, 'burst', tbf.burst, 'latency', tbf.latency]);
      }
    }
  }

  /** Byte counters of `host`'s link: its end in the host's namespace and its end in the hub's. */
  async counters(host: string): Promise<{ host: IfCounters; hub: IfCounters }> {
    const link = this.link(host);
    return {
      host: await ifCounters(this.ns(host).name, link.hostIf),
      hub: await ifCounters(this.ns(this.spec.hub).name, link.hubIf),
    };
  }

  /**
   * Kills every process still in the lab's namespaces and deletes the namespaces (and with them
   * the links and private /dev/shm mounts). Idempotent, and tolerant of a partial setup.
   */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const name of [...this.created].reverse()) {
      await killInside(name);
      await execFileAsync('ip', ['netns', 'del', name]).catch(() => undefined);
    }
    for (const h of this.holders) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    liveLabs.delete(this);
  }

  /** teardown() for process exit and signal handlers, where nothing asynchronous runs. */
  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const name of [...this.created].reverse()) {
      killInsideSync(name);
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    liveLabs.delete(this);
  }
}

/** Runs `ip args`; the error names the command and ip's message. */
async function ip(args: string[]): Promise<void> {
  try {
    await execFileAsync('ip', args);
  } catch (err) {
    throw new Error(`ip ${args.join(' ')}: ${firstLine(err)}`);
  }
}

/** Counters of `dev` in namespace `ns` (`ip -s -j`: the same numbers as /sys/class/net/<dev>/statistics there). */
async function ifCounters(ns: string, dev: string): Promise<IfCounters> {
  const { stdout } = await execFileAsync('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', dev]);
  const [entry] = JSON.parse(stdout) as Array<{ stats64?: { rx?: { bytes?: number }; tx?: { bytes?: number } } }>;
  const rx = entry?.stats64?.rx?.bytes;
  const tx = entry?.stats64?.tx?.bytes;
  if (typeof rx !== 'number' || typeof tx !== 'number') throw new Error(`no byte counters for ${dev} in ${ns}: ${stdout.slice(0, 200)}`);
  return { rxBytes: rx, txBytes: tx };
}

/** Pids of processes in namespace `name` (`ip netns pids`), none when it is gone. */
async function pidsInside(name: string): Promise<number[]> {
  try {
    const { stdout } = await execFileAsync('ip', ['netns', 'pids', name]);
    return parsePids(stdout);
  } catch {
    return [];
  }
}

function parsePids(text: string): number[] {
  return text.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number).filter((p) => p !== process.pid);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** SIGKILLs every process in namespace `name` and waits (up to 5 s) until none is left. */
async function killInside(name: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = await pidsInside(name);
    if (pids.length === 0) return;
    for (const pid of pids) killQuietly(pid);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function killInsideSync(name: string): void {
  try {
    for (const pid of parsePids(execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))) killQuietly(pid);
  } catch {
    // gone, or ip failed: deleting the namespace is still worth a try
  }
}

/** Tears down the namespaces of labs whose creating process no longer exists (it was SIGKILLed). */
async function sweepStaleLabs(): Promise<void> {
  let list = '';
  try {
    list = (await execFileAsync('ip', ['netns', 'list'])).stdout;
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = STALE_NAME.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    await killInside(name);
    await execFileAsync('ip', ['netns', 'del', name]).catch(() => undefined);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: unknown; message?: unknown };
  const text = typeof e.stderr === 'string' && e.stderr.trim() !== '' ? e.stderr : String(e.message ?? err);
  return text.trim().split('\n')[0] ?? '';
}

const SINK = `
const net = require('node:net');
const s = net.createServer((c) => {
  let n = 0; let t0 = 0;
  c.on('data', (d) => { if (n === 0) t0 = performance.now(); n += d.length; });
  c.on('end', () => { process.stdout.write(JSON.stringify({ bytes: n, ms: performance.now() - t0 }) + '\\n'); c.end(); s.close(); });
});
s.listen(0, process.argv[1], () => process.stdout.write('port ' + s.address().port + '\\n'));
`;
const SOURCE = `
const net = require('node:net');
const [host, port, total] = process.argv.slice(1);
const chunk = Buffer.alloc(1 << 20, 7); let sent = 0;
const c = net.connect(Number(port), host, () => {
  const write = () => { while (sent < Number(total)) { sent += chunk.length; if (!c.write(chunk)) { c.once('drain', write); return; } } c.end(); };
  write();
});
c.resume();
`;

/**
 * Pushes `bytes` (rounded up to MiB) over TCP from `host` to the hub (node net sockets, one
 * connection) and returns the payload rate the hub received, Gbit/s: what a tbf shape really
 * delivers, or what the unshaped veth does on this machine.
 */
export async function measureLink(lab: NetnsLab, host: string, bytes: number): Promise<number> {
  const sink = lab.spawn(lab.spec.hub, [process.execPath, '-e', SINK, lab.address(lab.spec.hub)]);
  let out = '';
  const done = new Promise<string>((resolve, reject) => {
    sink.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/\{.*\}\n/.test(out)) resolve(out);
    });
    sink.once('exit', (code) => reject(new Error(`link sink exited (${code}): ${out}`)));
  });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`link sink did not listen: ${out}`)), 10_000);
      const check = (): void => {
        const m = /port (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      };
      sink.stdout?.on('data', check);
      check();
    });
    await lab.exec(host, [process.execPath, '-e', SOURCE, lab.address(lab.spec.hub), port, String(bytes)]);
    const m = /(\{.*\})\n/.exec(await done);
    const r = JSON.parse(m?.[1] ?? '{}') as { bytes?: number; ms?: number };
    if (typeof r.bytes !== 'number' || typeof r.ms !== 'number') throw new Error(`link sink said ${out}`);
    return (r.bytes * 8) / (r.ms * 1e6);
  } finally {
    if (sink.exitCode === null && sink.signalCode === null) sink.kill('SIGKILL');
  }
}
