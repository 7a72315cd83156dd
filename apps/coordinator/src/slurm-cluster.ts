/**
 * A throwaway one-node Slurm cluster for tests: munged, slurmctld and slurmd of Debian's
 * `slurm-wlm` and `munge`, run as root in the foreground from a temp dir that holds everything
 * (key, sockets, conf, state, spool, logs, pid files), on ports of their own. A system Slurm or
 * munge on the machine is never touched: every client command gets SLURM_CONF, and the conf names
 * this cluster's munge socket (AuthInfo=socket=...).
 *
 * Things the daemons insist on (seen on Debian 12, Slurm 22.05, munge 0.5.15):
 * - munged wants execute permission for everyone on every directory above its socket (so the
 *   temp dir is chmod 0755) and a key file readable by its owner only.
 * - slurmctld only runs where the host's short name is the SlurmctldHost; slurmd registers as the
 *   node named after the host. Both reach each other at 127.0.0.1 (no DNS needed).
 * - gres/gpu accepts only character or block devices as GPU files: the fake GPUs are symlinks to
 *   /dev/null named nvidia<i>, enough for Slurm to assign them and set CUDA_VISIBLE_DEVICES.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, hostname, tmpdir, totalmem } from 'node:os';
import path from 'node:path';

/** The daemons and client commands the cluster needs. */
const DAEMONS = ['munged', 'slurmctld', 'slurmd'] as const;
const CLIENTS = ['sbatch', 'srun', 'scontrol', 'sinfo', 'squeue', 'scancel'] as const;

/** Options of {@link startSlurmCluster}. */
export interface SlurmClusterOptions {
  /** Fake GPUs on the node (GresTypes=gpu; File= symlinks to /dev/null). Default 0: none. */
  gpus?: number;
  /** How long to wait for the node to show up idle (default 60 s). */
  readyTimeoutMs?: number;
}

/** What a finished (or vanished) job ended as. */
export interface JobResult {
  id: string;
  /** JobState, e.g. COMPLETED, FAILED, CANCELLED, TIMEOUT. */
  state: string;
  /** The job's exit code (the batch script's), null when Slurm did not report one. */
  exitCode: number | null;
}

/** A running one-node cluster. */
export interface SlurmCluster {
  /** Temp dir holding all of the cluster's files; removed by stop(). */
  readonly dir: string;
  /** The node's name: this host's short name. */
  readonly node: string;
  /** process.env plus SLURM_CONF: the environment for Slurm commands against this cluster. */
  readonly env: NodeJS.ProcessEnv;
  /** Runs a Slurm client command (sbatch, scontrol, ...) against this cluster. */
  run(command: string, args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CommandResult>;
  /** Submits a batch script (`sbatch --parsable ...args`) from `cwd`; resolves with the job id. */
  submit(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<string>;
  /** Polls the controller every second until the job has ended; rejects after `timeoutMs`. */
  waitForJob(id: string, timeoutMs: number): Promise<JobResult>;
  /** The last lines of the daemons' logs, for failure messages. */
  logs(lines?: number): Promise<string>;
  /** Cancels every job, stops the daemons and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Result of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Finds an executable on PATH or in the sbin directories (which a non-login PATH may lack). */
function findExecutable(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Why a test cluster cannot run here (not root, or a daemon or client missing), or null when it
 * can. Install with `apt-get install slurm-wlm munge`.
 */
export function slurmUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the Slurm test cluster needs root (slurmd runs jobs as root here)';
  const missing = [...DAEMONS, ...CLIENTS].filter((n) => findExecutable(n) === null);
  if (missing.length > 0) return `missing ${missing.join(', ')} (apt-get install slurm-wlm munge)`;
  return null;
}

function exec(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
      },
    );
  });
}

/** A TCP port free on every interface right now (for the daemons, or a job's coordinator). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Pids of every process (but this one) whose environment holds `entry`. Linux /proc only. */
function processesWith(entry: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  return pids.map(Number).filter((pid) => {
    if (pid === process.pid) return false;
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(entry);
    } catch {
      return false;
    }
  });
}

/** SIGKILLs every process whose environment holds `entry`; returns how many it signalled. */
function sweepProcesses(entry: string): number {
  let n = 0;
  for (const pid of processesWith(entry)) {
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // exited meanwhile
    }
  }
  return n;
}

/** One line per process: pid, state and parent (from /proc/<pid>/stat), command line. */
function describeProcesses(pids: number[]): string {
  return pids
    .map((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
        return `${stat.split(' ').slice(0, 4).join(' ')}  ${cmdline.slice(0, 200)}`;
      } catch {
        return `${pid} (gone)`;
      }
    })
    .join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for a child to exit, sending SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * The node's hardware line as slurmd itself reports it (`slurmd -C`: CPUs, sockets, cores,
 * threads, RealMemory), so that the node registers without being drained; a plain CPUs/memory
 * line when that fails.
 */
async function nodeHardware(slurmd: string): Promise<string> {
  const r = await exec(slurmd, ['-C']);
  const line = r.stdout.split('\n').find((l) => l.startsWith('NodeName='));
  if (r.code === 0 && line) return line.replace(/^NodeName=\S+/, '').trim();
  return `CPUs=${availableParallelism()} RealMemory=${Math.floor(totalmem() / 2 ** 20)}`;
}

/**
 * Brings up munged, slurmctld and slurmd for a one-node cluster in a fresh temp dir and waits
 * until `sinfo` shows the node idle. Needs root and the binaries ({@link slurmUnavailable}).
 * On any failure the daemons are stopped and the dir removed before the error is thrown.
 */
export async function startSlurmCluster(opts: SlurmClusterOptions = {}): Promise<SlurmCluster> {
  const reason = slurmUnavailable();
  if (reason !== null) throw new Error(reason);
  const bin = (name: string): string => findExecutable(name) as string;
  const node = hostname().split('.')[0] as string;
  const dir = await mkdtemp(path.join(tmpdir(), 'cifar-slurm-'));
  // munged: every directory above its socket must be searchable by all.
  await chmod(dir, 0o755);
  const p = (...parts: string[]): string => path.join(dir, ...parts);
  const children: ChildProcess[] = [];
  let ctld: ChildProcess | undefined;
  const conf = p('slurm.conf');
  // Nothing of an enclosing Slurm job (should the tests themselves run under Slurm) leaks in.
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(SLURM|SBATCH|SALLOC|SRUN)_/.test(k)),
  );
  env['SLURM_CONF'] = conf;
  let stopped = false;

  const logs = async (lines = 30): Promise<string> => {
    const parts: string[] = [];
    for (const f of ['munged.stderr', 'slurmctld.stderr', 'slurmctld.log', 'slurmd.stderr', `slurmd-${node}.log`]) {
      const text = await readFile(p('log', f), 'utf8').catch(() => '(none)');
      parts.push(`== ${f}\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`);
    }
    parts.push(`== processes of this cluster (pid (comm) state ppid  command line)\n${describeProcesses(processesWith(`SLURM_CONF=${conf}`))}`);
    return parts.join('\n');
  };

  const run = (command: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> =>
    exec(bin(command), args, { ...o, env: { ...(o.env ?? env), SLURM_CONF: conf } });

  // Every process of this cluster (daemons, slurmstepd, job tasks and what they start) carries
  // SLURM_CONF=<this conf> in its environment: the sweep that leaves nothing behind.
  const sweep = (): number => sweepProcesses(`SLURM_CONF=${conf}`);
  const onExit = (): void => {
    sweep();
  };
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    if (ctld && ctld.exitCode === null && ctld.signalCode === null) {
      // End the jobs first, so that their steps end the way Slurm ends them.
      await run('scancel', ['--quiet', '--user', 'root'], { timeoutMs: 10_000 });
      for (let i = 0; i < 40; i++) {
        const q = await run('squeue', ['-h', '-o', '%i'], { timeoutMs: 5_000 });
        if (q.code !== 0 || q.stdout.trim() === '') break;
        await sleep(250);
      }
    }
    for (const child of [...children].reverse()) await stopChild(child);
    // A slurmstepd that hung (seen when a step is cancelled while its tasks start) and its tasks.
    for (let i = 0; i < 5 && sweep() > 0; i++) await sleep(200);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const d of ['munge', 'state', 'spool', 'log', 'run', 'dev']) await mkdir(p(d), { mode: 0o755 });
    await writeFile(p('munge', 'munge.key'), randomBytes(1024), { mode: 0o600 });
    await writeFile(p('plugstack.conf'), '');
    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    const gpus = opts.gpus ?? 0;
    const hardware = await nodeHardware(bin('slurmd'));
    const lines = [
      '# One-node test cluster (apps/coordinator/src/slurm-cluster.ts).',
      `ClusterName=cifartest`,
      `SlurmctldHost=${node}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${p('munge', 'munge.socket')}`,
      `StateSaveLocation=${p('state')}`,
      `SlurmdSpoolDir=${p('spool')}`,
      `SlurmctldPidFile=${p('run', 'slurmctld.pid')}`,
      `SlurmdPidFile=${p('run', 'slurmd.pid')}`,
      `SlurmctldLogFile=${p('log', 'slurmctld.log')}`,
      `SlurmdLogFile=${p('log', `slurmd-${node}.log`)}`,
      `PlugStackConfig=${p('plugstack.conf')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'SchedulerType=sched/backfill',
      'MpiDefault=none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      // A node with less memory or fewer cores than slurmd -C said is not drained for it.
      'SlurmdParameters=config_overrides',
      'ReturnToService=2',
      'KillWait=5',
      'InactiveLimit=0',
      'MinJobAge=600',
      ...(gpus > 0 ? ['GresTypes=gpu'] : []),
      `NodeName=${node} NodeAddr=127.0.0.1 ${hardware}${gpus > 0 ? ` Gres=gpu:${gpus}` : ''} State=UNKNOWN`,
      'PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
    ];
    await writeFile(conf, `${lines.join('\n')}\n`);
    if (gpus > 0) {
      for (let i = 0; i < gpus; i++) await symlink('/dev/null', p('dev', `nvidia${i}`));
      await writeFile(p('gres.conf'), `NodeName=${node} Name=gpu File=${p('dev', `nvidia[0-${gpus - 1}]`)}\n`);
    }

    const daemon = (name: string, args: string[]): ChildProcess => {
      // Foreground daemons: what they print (munged's whole log) goes to log/<name>.stderr.
      const fd = openSync(p('log', `${name}.stderr`), 'a');
      const child = spawn(bin(name), args, { env, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      child.once('exit', (code, signal) => {
        if (!stopped) console.warn(`slurm test cluster: ${name} exited (${signal ?? code}); see ${p('log')}`);
      });
      children.push(child);
      return child;
    };
    const munged = daemon('munged', [
      '--foreground',
      `--key-file=${p('munge', 'munge.key')}`,
      `--socket=${p('munge', 'munge.socket')}`,
      `--pid-file=${p('munge', 'munged.pid')}`,
      `--log-file=${p('log', 'munged.log')}`,
      `--seed-file=${p('munge', 'munged.seed')}`,
    ]);
    // munged is ready once its socket exists.
    for (let i = 0; !existsSync(p('munge', 'munge.socket')); i++) {
      if (munged.exitCode !== null || i > 100) throw new Error(`munged did not start\n${await logs()}`);
      await sleep(100);
    }
    ctld = daemon('slurmctld', ['-D', '-i', '-f', conf]);
    daemon('slurmd', ['-D', '-f', conf, '-N', node]);

    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      const s = await run('sinfo', ['-h', '-N', '-n', node, '-o', '%T'], { timeoutMs: 5_000 });
      if (s.code === 0 && s.stdout.trim() === 'idle') break;
      const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (dead || Date.now() > deadline) {
        throw new Error(`the Slurm test cluster did not come up (sinfo: ${s.stdout.trim() || s.stderr.trim()})\n${await logs()}`);
      }
      await sleep(250);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const submit = async (args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> => {
    const r = await run('sbatch', ['--parsable', ...args], o);
    const id = r.stdout.trim().split(';')[0] ?? '';
    if (r.code !== 0 || !/^\d+$/.test(id)) throw new Error(`sbatch failed (${r.code}): ${r.stderr.trim()}\n${await logs()}`);
    return id;
  };

  const waitForJob = async (id: string, timeoutMs: number): Promise<JobResult> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await run('scontrol', ['show', 'job', '-o', id], { timeoutMs: 10_000 });
      const state = /\bJobState=(\S+)/.exec(r.stdout)?.[1];
      const exit = /\bExitCode=(\d+):(\d+)/.exec(r.stdout);
      if (state && !['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'REQUEUED'].includes(state)) {
        return { id, state, exitCode: exit ? Number(exit[1]) : null };
      }
      if (r.code !== 0) return { id, state: `unknown (${r.stderr.trim()})`, exitCode: null };
      if (Date.now() > deadline) {
        const steps = await run('squeue', ['-s', '-j', id], { timeoutMs: 5_000 });
        throw new Error(`job ${id} still ${state ?? 'unknown'} after ${timeoutMs} ms\n${r.stdout}\n${steps.stdout}\n${await logs()}`);
      }
      await sleep(1_000);
    }
  };

  return { dir, node, env, run, submit, waitForJob, logs, stop };
}
