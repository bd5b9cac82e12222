/**
 * Processes on this machine, for the providers whose hosts live here (local, netns): run a command and collect
 * its output, stream one, start a long-running one detached with its log in a file and its identity (pid + start
 * time) in the ledger, and find one again only by that identity or by the unique token put in its environment.
 */
import { spawn } from 'node:child_process';
import type { SpawnOptions as NodeSpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ProviderError } from '../errors.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import { processStartTime, stopRecorded, checkProcess } from '../topology/proc.js';
import type { ProcessCheck } from '../topology/proc.js';
import { DEFAULT_GRACE_MS, PROCESS_TOKEN_ENV, refOf } from './provider.js';
import type { ExecOptions, ExecResult, ProcessRef, SpawnedData, StreamOptions } from './provider.js';
import { quoteArgv } from './shell-quote.js';

/** Debian packages that provide the commands lab runs, for "command not found" messages. */
const PACKAGES: Record<string, string> = {
  'rabbitmq-server': 'rabbitmq-server',
  rabbitmqctl: 'rabbitmq-server',
  epmd: 'erlang-base',
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  ip: 'iproute2',
  iptables: 'iptables',
  setpriv: 'util-linux',
  sshd: 'openssh-server',
  getent: 'libc-bin',
};

/** The error for a command that does not exist on a host (naming the Debian package that provides it). */
export function notFound(command: string, host: string): ProviderError {
  const base = command.split('/').pop() ?? command;
  const pkg = PACKAGES[base];
  return new ProviderError(`command not found: ${command}${pkg ? ` (install the Debian package ${pkg})` : ''}`, { host, code: 'E_COMMAND_NOT_FOUND' });
}

function childEnv(env: Record<string, string> | undefined): NodeJS.ProcessEnv {
  return env ? { ...process.env, ...env } : process.env;
}

/** Run a command (argv, no shell) and collect its output. A non-zero exit is a result, not an error. */
export function execLocal(host: string, argv: string[], options: ExecOptions & { uid?: number; gid?: number } = {}): Promise<ExecResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const opts: NodeSpawnOptions = { env: childEnv(options.env), cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] };
    if (options.uid !== undefined) opts.uid = options.uid;
    if (options.gid !== undefined) opts.gid = options.gid;
    const child = spawn(argv[0], argv.slice(1), opts);
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(err.code === 'ENOENT' ? notFound(argv[0], host) : new ProviderError(`cannot run ${argv[0]}: ${err.message}`, { host, cause: err }));
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ exitCode: code ?? (signal ? 128 + 15 : 1), stdout, stderr: timer && signal === 'SIGKILL' ? `${stderr}\n(killed after ${options.timeoutMs} ms)` : stderr, durationMs: performance.now() - t0 });
    });
    if (options.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdin!.on('error', () => undefined); // a command that does not read its input is not an error
    child.stdin!.end(options.input ?? '');
  });
}

/**
 * Run several commands at once from ONE spawn: a small shell starts each in the background and waits for them all.
 * A spawn from this process (a large heap, its environment copied) costs far more than a fork from that shell —
 * about 20 ms each on a loaded 2-core machine, against ~1 ms — and `lab status` on 12 namespaces ran 12.
 * Each command's output and exit code go to files in a private temporary directory, read back here; every argv is
 * quoted (quoteArgv), never interpolated; a job's `input`, if any, is its stdin (else none). A command over
 * `timeoutMs` is killed (coreutils `timeout`, exit 137).
 */
export async function execLocalEach(jobs: readonly { host: string; argv: readonly string[]; input?: string }[], options: Pick<ExecOptions, 'timeoutMs' | 'env'> = {}): Promise<ExecResult[]> {
  if (jobs.length === 0) return [];
  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'lab-exec-'));
  try {
    const limit = options.timeoutMs ? `timeout -s KILL ${Math.max(0.001, options.timeoutMs / 1000).toFixed(3)} ` : '';
    // a job's input from a file of its own (no `sh -c 'printf … | cmd'` wrapper: one process fewer per job)
    await Promise.all(jobs.map((j, i) => (j.input === undefined ? null : writeFile(join(dir, `${i}.in`), j.input, { mode: 0o600 }))));
    const lines = jobs.map((j, i) => `( ${limit}${quoteArgv(j.argv)} <${j.input === undefined ? '/dev/null' : `${i}.in`} >${i}.out 2>${i}.err; echo $? >${i}.rc ) &`);
    const script = [`cd ${quoteArgv([dir])} || exit 1`, ...lines, 'wait'].join('\n');
    // the script on stdin: one argv word holds at most 128 KiB, and a check script per host soon passes that
    const r = await execLocal(jobs[0]!.host, ['sh', '-s'], { env: options.env, input: script });
    if (r.exitCode !== 0) throw new ProviderError(`cannot run ${jobs.length} commands at once: exit ${r.exitCode} ${r.stderr.trim()}`, { host: jobs[0]!.host });
    const durationMs = performance.now() - t0;
    return await Promise.all(
      jobs.map(async (_, i) => {
        const [stdout, stderr, rc] = await Promise.all(['out', 'err', 'rc'].map((ext) => readFile(join(dir, `${i}.${ext}`), 'utf8').catch(() => '')));
        const exitCode = /^\d+\s*$/.test(rc!) ? Number(rc) : 1;
        return { exitCode, stdout: stdout!, stderr: exitCode === 137 && limit ? `${stderr}\n(killed after ${options.timeoutMs} ms)` : stderr!, durationMs };
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run a command with its output streamed; Ctrl-C (the signal) is passed on as SIGINT. Resolves with the exit code. */
export function streamLocal(host: string, argv: string[], options: StreamOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env: childEnv(options.env), cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout!.pipe(options.stdout, { end: false });
    child.stderr!.pipe(options.stderr, { end: false });
    const onAbort = (): void => void child.kill('SIGINT');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? notFound(argv[0], host) : new ProviderError(`cannot run ${argv[0]}: ${err.message}`, { host, cause: err })));
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(options.input ?? '');
  });
}

export interface LocalSpawn {
  key: string;
  host: string;
  /** What actually runs (e.g. wrapped in `ip netns exec`). */
  argv: string[];
  /** What to show and record (the service's own command). */
  command: string[];
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Extra facts for the ledger entry (SpawnOptions.ledgerData). */
  data?: Record<string, string | number | boolean>;
}

/**
 * Start a detached process (its own process group) whose output goes to logFile. The ledger entry — with a
 * fresh token that also goes into the process environment — is durable before the process exists.
 */
export async function spawnRecorded(ledger: Ledger, s: LocalSpawn): Promise<ProcessRef> {
  const token = randomBytes(12).toString('hex');
  const data: SpawnedData = { ...s.data, host: s.host, command: s.command, logFile: s.logFile, token };
  const entry = await ledger.record('process', s.key, data);
  await mkdir(dirname(s.logFile), { recursive: true });
  const log = await open(s.logFile, 'a', 0o640);
  try {
    const opts: NodeSpawnOptions = { detached: true, stdio: ['ignore', log.fd, log.fd], env: { ...childEnv(s.env), [PROCESS_TOKEN_ENV]: token }, cwd: s.cwd };
    if (s.uid !== undefined) opts.uid = s.uid;
    if (s.gid !== undefined) opts.gid = s.gid;
    const child = spawn(s.argv[0], s.argv.slice(1), opts);
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? notFound(s.argv[0], s.host) : new ProviderError(`cannot start ${s.command[0]}: ${err.message}`, { host: s.host, cause: err })));
    });
    child.unref();
    const startTime = await processStartTime(pid);
    if (startTime === null) {
      // It exited at once: the log says why.
      const tail = await tailFile(s.logFile, 2000);
      throw new ProviderError(`${s.command.join(' ')} exited at once${tail ? `:\n${tail}` : ''}`, { host: s.host, code: 'E_PROCESS_EXITED' });
    }
    await ledger.markDone(entry, { pid, startTime });
    return { key: s.key, host: s.host, pid, startTime, logFile: s.logFile, command: s.command };
  } finally {
    await log.close();
  }
}

/** The last `bytes` of a file as text ('' if it does not exist). */
export async function tailFile(path: string, bytes: number): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8').trimEnd();
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/** Pids whose environment holds exactly this token (never a name match). */
export function findByToken(token: string): Promise<number[]> {
  return findByEnv(PROCESS_TOKEN_ENV, token);
}

/** Pids (but this process) whose environment holds exactly NAME=value: a marker lab put there, never a name match. */
export async function findByEnv(name: string, value: string): Promise<number[]> {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const first = Buffer.from(`${name}=${value}\0`);
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = await readFile(`/proc/${entry}/environ`);
      if (env.indexOf(needle) >= 0 || env.subarray(0, first.length).equals(first)) out.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Stop what a process entry recorded: by pid + start time (its whole group), else by its environment token. */
export async function undoProcess(entry: LedgerEntry): Promise<void> {
  const d = entry.data as Partial<SpawnedData>;
  const graceMs = d.graceMs ?? DEFAULT_GRACE_MS;
  const ref = refOf(entry);
  const targets: { pid: number; startTime: number }[] = [];
  if (ref) targets.push(ref);
  else if (d.token) {
    for (const pid of await findByToken(d.token)) {
      const startTime = await processStartTime(pid);
      if (startTime !== null) targets.push({ pid, startTime });
    }
  }
  for (const t of targets) {
    const result: ProcessCheck = await stopRecorded(t, graceMs, { group: true });
    if (result === 'same') throw new ProviderError(`process ${t.pid} (${(d.command ?? []).join(' ')}) did not stop`, { host: d.host, code: 'E_STOP' });
  }
  // Group members that outlived the leader (a pool child) still carry the token.
  if (d.token) {
    for (const pid of await findByToken(d.token)) {
      const startTime = await processStartTime(pid);
      if (startTime !== null && (await stopRecorded({ pid, startTime }, 2000)) === 'same') throw new ProviderError(`process ${pid} did not stop`, { host: d.host, code: 'E_STOP' });
    }
  }
}

/** Signal a recorded process's group, only if it is still the same process (pid + start time). */
export async function signalLocal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
  const found = await checkProcess(ref);
  if (found === 'same') process.kill(-ref.pid, signal);
  return found;
}

/** SIGTERM the recorded process's group, wait up to graceMs, then SIGKILL; never a reused pid. */
export function stopLocal(ref: ProcessRef, graceMs = DEFAULT_GRACE_MS): Promise<ProcessCheck> {
  return stopRecorded(ref, graceMs, { group: true });
}

export async function aliveLocal(ref: ProcessRef): Promise<boolean> {
  return (await checkProcess(ref)) === 'same';
}

export interface LocalUser {
  name: string;
  uid: number;
  /** The user's primary group. */
  gid: number;
  home: string;
}

/** A user of this machine by name (through NSS: `getent passwd`). Throws ProviderError E_NO_USER when there is none. */
export async function localUser(name: string, host = ''): Promise<LocalUser> {
  const r = await execLocal(host, ['getent', 'passwd', name]);
  const f = r.stdout.split('\n')[0]?.split(':') ?? [];
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (r.exitCode !== 0 || f.length < 7 || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new ProviderError(`no user ${JSON.stringify(name)} on this machine (getent passwd ${name} exited ${r.exitCode})`, { host, code: 'E_NO_USER' });
  }
  return { name, uid, gid, home: f[5] ?? '' };
}
