/**
 * lab's supervisor (the chapter's supervisord tip): `lab supervise <spec>` runs one service — RabbitMQ, Redis, the
 * quote server, the workers, or a process of the user's from the inventory's `services:`, `count` instances of it —
 * as its children, and keeps it running:
 *
 * - A child that exits is started again by the restart policy (always | on-failure | never), after a delay from
 *   lab's one backoff policy (lab/backoff.ts). A start counts as good once the instance is ready — its port accepts
 *   connections, a line of its log matches, or (with no check) it has run for a second; an instance that exits
 *   before that is a failed start, and after `maxRestarts` failed starts in a row the supervisor gives up (as
 *   supervisord's startretries): it stops the other instances and exits 1. A ready instance that dies is always
 *   restarted (by its policy), however often.
 * - Its status — per instance: pid and start time, starts, restarts, last exit (code or signal, and when), and for
 *   each restart when the instance died, came back and was ready again (the time to recover) — is written to the
 *   status file after every change, atomically (lab/atomic-write.ts), for `lab status` and the faults to read.
 * - On abort (the CLI turns SIGTERM/SIGINT into it) it stops its children — SIGTERM, up to the grace period,
 *   SIGKILL — writes its last status and returns.
 *
 * The children stay in the supervisor's process group and inherit its environment, so a provider's stop of the
 * supervisor's group reaches them too, and LAB_PROCESS_TOKEN finds them after a supervisor was killed with -9.
 * Nothing here is secret: the lab's URLs reach the children through the supervisor's environment, never the spec.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { backoffDelay } from '../backoff.js';
import type { BackoffPolicy } from '../backoff.js';
import { ServiceError } from '../errors.js';
import { findByEnv, localUser } from '../providers/local-process.js';
import { processStartTime, stopRecorded } from '../topology/proc.js';
import type { RestartPolicy } from '../topology/topology.js';

export const SUPERVISOR_SPEC_VERSION = 1;

/** What `lab supervise` runs: written by `lab up` (services/supervision.ts) next to the status file. */
export interface SupervisorSpec {
  version: typeof SUPERVISOR_SPEC_VERSION;
  service: string;
  host: string;
  /** argv, program first (never through a shell). */
  command: string[];
  count: number;
  cwd?: string;
  /** Added to the supervisor's own environment (which carries the lab's URLs and LAB_PROCESS_TOKEN). */
  env?: Record<string, string>;
  /** Run the children as this user (the supervisor runs as root then); unknown here: a note, and as the supervisor. */
  user?: string;
  /** The children's umask (e.g. 0o077: their files 0600, their folders 0700). */
  umask?: number;
  /** The supervisor's own log (its output): an only instance writes here too; instance i of several to `<log>-<i>.log`. */
  logFile: string;
  statusFile: string;
  restart: RestartPolicy;
  maxRestarts: number;
  ready?: {
    /** Instance i is ready when port + i accepts connections on one of these addresses. */
    port?: number;
    addresses?: string[];
    /** A regular expression matched against each new line of the instance's log. */
    log?: string;
  };
  /** With no readiness check, an instance is ready once it has run this long (default 1000 ms). */
  startMs?: number;
  /** SIGTERM → SIGKILL when stopping (default 5000 ms). */
  stopGraceMs?: number;
  backoff?: BackoffPolicy;
}

export type InstanceState = 'starting' | 'ready' | 'backoff' | 'exited' | 'failed' | 'stopping' | 'stopped';
export type SupervisorState = 'starting' | 'ready' | 'backoff' | 'exited' | 'failed' | 'stopping' | 'stopped';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  at: string;
}

/** One restart: when the instance died, when it was started again, when it was ready again (the time to recover). */
export interface RestartEvent {
  index: number;
  exitedAt: string;
  code: number | null;
  signal: string | null;
  /** Null while waiting out the backoff (or when the supervisor gave up or was stopped meanwhile). */
  restartedAt: string | null;
  readyAt: string | null;
  /** exitedAt → readyAt, in milliseconds. */
  recoveryMs: number | null;
}

export interface InstanceStatus {
  index: number;
  state: InstanceState;
  pid: number | null;
  /** /proc starttime of pid: signal it only while both match (lab/topology/proc.ts). */
  startTime: number | null;
  startedAt: string | null;
  readyAt: string | null;
  starts: number;
  restarts: number;
  /** Failed starts in a row (reset once ready). */
  failedStarts: number;
  lastExit: ExitInfo | null;
  logFile: string;
}

export interface SupervisorStatus {
  version: 1;
  service: string;
  host: string;
  supervisor: { pid: number; startedAt: string };
  restart: RestartPolicy;
  maxRestarts: number;
  state: SupervisorState;
  /** Why it gave up, when it did. */
  reason?: string;
  instances: InstanceStatus[];
  /** Every restart, oldest first (the last 100). */
  history: RestartEvent[];
  updatedAt: string;
}

/** The log of instance `index` of a service (its only instance writes to the service's log itself). */
export function instanceLogFile(logFile: string, count: number, index: number): string {
  if (count <= 1) return logFile;
  return logFile.endsWith('.log') ? `${logFile.slice(0, -4)}-${index}.log` : `${logFile}-${index}`;
}

/** The prefix of the supervisor's own lines in a log (readiness by log line never matches them). */
export const SUPERVISOR_LINE = 'lab supervise:';

/**
 * A fresh marker in the environment of each run of an instance: when the run's process exits, what it left behind
 * (RabbitMQ's script killed -9 leaves its Erlang VM holding the port; a daemon it forked) is found by exactly this
 * marker and stopped before the next run starts — as systemd stops a unit's whole cgroup. Never by name.
 */
export const INSTANCE_TOKEN_ENV = 'LAB_INSTANCE_TOKEN';

const HISTORY_MAX = 100;
const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, capMs: 5_000 };

/** Read and check a spec file: a ServiceError naming the file when it is not one. */
export async function readSupervisorSpec(path: string): Promise<SupervisorSpec> {
  let spec: SupervisorSpec;
  try {
    spec = JSON.parse(await readFile(path, 'utf8')) as SupervisorSpec;
  } catch (err) {
    throw new ServiceError(`cannot read the supervisor spec ${path}: ${err instanceof Error ? err.message : String(err)}`, { code: 'E_SERVICE' });
  }
  const ok =
    spec?.version === SUPERVISOR_SPEC_VERSION &&
    Array.isArray(spec.command) &&
    spec.command.length > 0 &&
    spec.command.every((w) => typeof w === 'string') &&
    Number.isInteger(spec.count) &&
    spec.count >= 1 &&
    typeof spec.logFile === 'string' &&
    typeof spec.statusFile === 'string' &&
    ['always', 'on-failure', 'never'].includes(spec.restart) &&
    Number.isInteger(spec.maxRestarts);
  if (!ok) throw new ServiceError(`${path} is not a supervisor spec of version ${SUPERVISOR_SPEC_VERSION}`, { code: 'E_SERVICE' });
  return spec;
}

interface Instance {
  status: InstanceStatus;
  child: ChildProcess | null;
  /** Pending restart or readiness probe timers. */
  timer: NodeJS.Timeout | null;
  /** The restart event waiting for this instance to be ready again. */
  recovering: RestartEvent | null;
  /** Bumped at every start: a probe of an earlier run stops. */
  run: number;
  /** INSTANCE_TOKEN_ENV of the current (or last) run. */
  token: string;
  log: FileHandle | null;
}

export interface SupervisorOptions {
  signal?: AbortSignal;
  /** Where the supervisor's own lines go (default: stdout, which the provider points at the service's log). */
  write?: (line: string) => void;
}

/** Supervise the spec's service until aborted (→ 0), until it gave up (→ 1), or until every instance ended for good. */
export async function runSupervisor(spec: SupervisorSpec, options: SupervisorOptions = {}): Promise<number> {
  return new Supervisor(spec, options).run();
}

class Supervisor {
  private readonly instances: Instance[] = [];
  private readonly history: RestartEvent[] = [];
  private readonly startedAt = new Date().toISOString();
  private state: SupervisorState = 'starting';
  private reason: string | undefined;
  private stopping = false;
  private writing: Promise<void> = Promise.resolve();
  private finish!: (code: number) => void;
  private readonly finished = new Promise<number>((resolve) => (this.finish = resolve));
  private uid: number | undefined;
  private gid: number | undefined;
  private readonly write: (line: string) => void;
  private readonly backoff: BackoffPolicy;
  private readonly readyRe: RegExp | null;

  constructor(
    private readonly spec: SupervisorSpec,
    private readonly options: SupervisorOptions,
  ) {
    this.write = options.write ?? ((l) => void process.stdout.write(l));
    this.backoff = spec.backoff ?? DEFAULT_BACKOFF;
    this.readyRe = spec.ready?.log !== undefined ? new RegExp(spec.ready.log) : null;
    for (let index = 0; index < spec.count; index++) {
      this.instances.push({
        status: { index, state: 'starting', pid: null, startTime: null, startedAt: null, readyAt: null, starts: 0, restarts: 0, failedStarts: 0, lastExit: null, logFile: instanceLogFile(spec.logFile, spec.count, index) },
        child: null,
        timer: null,
        recovering: null,
        run: 0,
        token: '',
        log: null,
      });
    }
  }

  private say(message: string, inst?: Instance): void {
    const who = inst && this.spec.count > 1 ? `${this.spec.service}#${inst.status.index}` : this.spec.service;
    this.write(`${SUPERVISOR_LINE} ${new Date().toISOString()} ${who}: ${message}\n`);
  }

  async run(): Promise<number> {
    if (this.spec.umask !== undefined) process.umask(this.spec.umask);
    if (this.spec.user !== undefined) {
      try {
        const u = await localUser(this.spec.user, this.spec.host);
        if (u.uid !== process.getuid?.()) ({ uid: this.uid, gid: this.gid } = u);
      } catch {
        this.say(`no user ${this.spec.user} here: running ${this.spec.command[0]} as ${process.getuid?.() === 0 ? 'root' : 'this user'}`);
      }
    }
    await mkdir(dirname(this.spec.statusFile), { recursive: true });
    const onAbort = (): void => void this.stop('stopped');
    if (this.options.signal?.aborted) return this.stopBeforeStart();
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    this.say(`supervising ${this.spec.count > 1 ? `${this.spec.count} × ` : ''}${this.spec.command.join(' ')} (restart ${this.spec.restart}, at most ${this.spec.maxRestarts} failed starts in a row)`);
    try {
      for (const inst of this.instances) await this.start(inst);
      await this.save();
      const code = await this.finished;
      await this.save();
      return code;
    } finally {
      this.options.signal?.removeEventListener('abort', onAbort);
      for (const inst of this.instances) await inst.log?.close().catch(() => undefined);
    }
  }

  private async stopBeforeStart(): Promise<number> {
    this.state = 'stopped';
    for (const inst of this.instances) inst.status.state = 'stopped';
    await this.save();
    return 0;
  }

  // ---- one instance

  private async start(inst: Instance): Promise<void> {
    if (this.stopping) return;
    const st = inst.status;
    const run = ++inst.run;
    st.state = 'starting';
    st.starts++;
    st.pid = null;
    st.startTime = null;
    st.readyAt = null;
    st.startedAt = new Date().toISOString();
    if (inst.recovering) inst.recovering.restartedAt = st.startedAt;
    // The log: an only instance shares the supervisor's output; several have a file each.
    let out: number | 'inherit' = 'inherit';
    if (this.spec.count > 1) {
      inst.log ??= await open(st.logFile, 'a', 0o640);
      out = inst.log.fd;
    }
    const offset = await stat(st.logFile).then((s) => s.size, () => 0);
    inst.token = randomBytes(9).toString('hex');
    const env: NodeJS.ProcessEnv = { ...process.env, ...(this.spec.env ?? {}), LAB_SERVICE_NAME: this.spec.service, LAB_SERVICE_INDEX: String(st.index), [INSTANCE_TOKEN_ENV]: inst.token };
    if (this.spec.ready?.port !== undefined) env.LAB_SERVICE_PORT = String(this.spec.ready.port + st.index);
    const opts: SpawnOptions = { cwd: this.spec.cwd, env, stdio: ['ignore', out, out] };
    if (this.uid !== undefined) opts.uid = this.uid;
    if (this.gid !== undefined) opts.gid = this.gid;
    const [cmd, ...args] = this.spec.command as [string, ...string[]];
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, opts);
    } catch (err) {
      this.say(`cannot start ${cmd}: ${err instanceof Error ? err.message : String(err)}`, inst);
      this.exited(inst, run, 127, null);
      return;
    }
    inst.child = child;
    child.once('error', (err: NodeJS.ErrnoException) => {
      // no 'exit' follows an error to spawn (ENOENT, EACCES): it ends the run here
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) return;
      this.say(`cannot start ${cmd}: ${err.code === 'ENOENT' ? 'command not found' : err.message}`, inst);
      this.exited(inst, run, err.code === 'ENOENT' ? 127 : 126, null);
    });
    child.once('exit', (code, signal) => this.exited(inst, run, code, signal));
    if (child.pid === undefined) return; // the 'error' handler takes it from here
    st.pid = child.pid;
    this.say(`started ${cmd} (pid ${child.pid}${st.starts > 1 ? `, start ${st.starts}` : ''})`, inst);
    const startTime = await processStartTime(child.pid);
    if (inst.run !== run) return; // it exited meanwhile
    st.startTime = startTime;
    this.refresh();
    await this.save();
    this.watchReady(inst, run, offset);
  }

  /** Mark an instance ready once its check passes (probing until its run ends). */
  private watchReady(inst: Instance, run: number, offset: number): void {
    const ready = this.spec.ready;
    const current = (): boolean => inst.run === run && inst.status.state === 'starting' && !this.stopping;
    if (ready?.port !== undefined) {
      const port = ready.port + inst.status.index;
      const addresses = ready.addresses?.length ? ready.addresses : ['127.0.0.1'];
      let attempt = 0;
      const probe = async (): Promise<void> => {
        if (!current()) return;
        for (const a of addresses) {
          if (await portOpen(a, port)) {
            if (current()) this.ready(inst, `port ${port} accepts connections`);
            return;
          }
        }
        if (current()) inst.timer = setTimeout(() => void probe(), backoffDelay(attempt++, { baseMs: 50, capMs: 500 }));
      };
      void probe();
    } else if (this.readyRe) {
      const re = this.readyRe;
      let pos = offset;
      let partial = '';
      const poll = async (): Promise<void> => {
        if (!current()) return;
        const chunk = await readFrom(inst.status.logFile, pos).catch(() => Buffer.alloc(0));
        pos += chunk.length;
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = (lines.pop() ?? '').slice(-65_536);
        const hit = lines.find((l) => !l.startsWith(SUPERVISOR_LINE) && re.test(l));
        if (hit !== undefined) {
          if (current()) this.ready(inst, `log line ${JSON.stringify(hit.length > 120 ? `${hit.slice(0, 117)}...` : hit)}`);
          return;
        }
        if (current()) inst.timer = setTimeout(() => void poll(), 100);
      };
      void poll();
    } else {
      inst.timer = setTimeout(() => {
        if (current()) this.ready(inst, `running for ${this.spec.startMs ?? 1000} ms`);
      }, this.spec.startMs ?? 1000);
    }
  }

  private ready(inst: Instance, why: string): void {
    const st = inst.status;
    st.state = 'ready';
    st.readyAt = new Date().toISOString();
    st.failedStarts = 0;
    const ev = inst.recovering;
    if (ev) {
      ev.readyAt = st.readyAt;
      ev.recoveryMs = Date.parse(st.readyAt) - Date.parse(ev.exitedAt);
      inst.recovering = null;
    }
    this.say(`ready: ${why}${ev ? ` (${ev.recoveryMs} ms after it exited)` : ''}`, inst);
    this.refresh();
    void this.save();
  }

  private exited(inst: Instance, run: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (inst.run !== run) return; // this run's end was reported already ('error' and 'exit' both came)
    const st = inst.status;
    if (inst.timer) clearTimeout(inst.timer);
    inst.timer = null;
    inst.child = null;
    inst.run++; // ends this run's readiness probe
    const wasReady = st.state === 'ready';
    const at = new Date().toISOString();
    st.lastExit = { code, signal, at };
    st.pid = null;
    st.startTime = null;
    const what = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const ran = st.startedAt ? ` after ${((Date.parse(at) - Date.parse(st.startedAt)) / 1000).toFixed(1)} s` : '';
    if (this.stopping) {
      st.state = 'stopped';
      this.say(`${what}${ran}`, inst);
      this.refresh();
      return;
    }
    const failure = signal !== null || code !== 0;
    const again = this.spec.restart === 'always' || (this.spec.restart === 'on-failure' && failure);
    if (!again) {
      st.state = failure ? 'failed' : 'exited';
      this.say(`${what}${ran}; restart ${this.spec.restart}: not started again`, inst);
      if (failure) this.reason = `${what}${ran} (restart ${this.spec.restart})`;
      void this.reap(inst, inst.token).then(() => this.settle());
      return;
    }
    if (!wasReady) {
      st.failedStarts++;
      if (st.failedStarts > this.spec.maxRestarts) {
        st.state = 'failed';
        this.reason = `${what}${ran} before it was ready, ${st.failedStarts} time${st.failedStarts === 1 ? '' : 's'} in a row: gave up after ${st.restarts} restart${st.restarts === 1 ? '' : 's'} (maxRestarts ${this.spec.maxRestarts})`;
        this.say(this.reason, inst);
        void this.reap(inst, inst.token).then(() => this.settle());
        return;
      }
    }
    const delay = Math.round(backoffDelay(wasReady ? 0 : st.failedStarts - 1, this.backoff));
    const ev: RestartEvent = { index: st.index, exitedAt: at, code, signal, restartedAt: null, readyAt: null, recoveryMs: null };
    // a run that never got ready keeps the first exit's event: recovery counts from the first death
    if (!inst.recovering) {
      inst.recovering = ev;
      this.history.push(ev);
      if (this.history.length > HISTORY_MAX) this.history.splice(0, this.history.length - HISTORY_MAX);
    }
    st.state = 'backoff';
    this.say(`${what}${ran}${wasReady ? '' : ' before it was ready'}; restarting in ${delay} ms`, inst);
    this.refresh();
    void this.save();
    const t0 = Date.now();
    const token = inst.token;
    void this.reap(inst, token).then(() => {
      if (this.stopping) return;
      inst.timer = setTimeout(() => {
        inst.timer = null;
        if (this.stopping) return;
        st.restarts++;
        void this.start(inst).catch((err: unknown) => {
          this.say(`cannot start: ${err instanceof Error ? err.message : String(err)}`, inst);
          this.exited(inst, inst.run, 126, null);
        });
      }, Math.max(0, delay - (Date.now() - t0)));
    });
  }

  /** Stop what an ended run left running (found by its instance token): SIGTERM, 3 s, SIGKILL. */
  private async reap(inst: Instance, token: string): Promise<void> {
    if (!token) return;
    const pids = await findByEnv(INSTANCE_TOKEN_ENV, token).catch(() => [] as number[]);
    const left = (await Promise.all(pids.map(async (pid) => ({ pid, startTime: await processStartTime(pid) })))).filter((p): p is { pid: number; startTime: number } => p.startTime !== null);
    if (left.length === 0) return;
    this.say(`stopping what the ended run left running: pid ${left.map((p) => p.pid).join(', ')}`, inst);
    await Promise.all(left.map((p) => stopRecorded(p, 3000).catch(() => undefined)));
  }

  /** After an instance ended for good: give up (and stop the rest) when one failed; end when all ended. */
  private settle(): void {
    const states = this.instances.map((i) => i.status.state);
    if (states.includes('failed')) {
      void this.stop('failed');
      return;
    }
    this.refresh();
    if (states.every((s) => s === 'exited')) {
      this.state = 'exited';
      this.finish(0);
    }
    void this.save();
  }

  /** Stop every child: SIGTERM, up to the grace period, SIGKILL. `failed`: the supervisor gave up. */
  private async stop(end: 'stopped' | 'failed'): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.state = 'stopping';
    for (const inst of this.instances) {
      if (inst.timer) clearTimeout(inst.timer);
      inst.timer = null;
      if (inst.status.state !== 'failed' && inst.status.state !== 'exited') inst.status.state = inst.child ? 'stopping' : 'stopped';
    }
    await this.save();
    const running = this.instances.filter((i) => i.child !== null);
    if (running.length > 0) this.say(end === 'failed' ? `stopping the other instance${running.length === 1 ? '' : 's'}` : 'stopping');
    const gone = running.map((i) => new Promise<void>((resolve) => (i.child!.exitCode !== null || i.child!.signalCode !== null ? resolve() : i.child!.once('exit', () => resolve()))));
    for (const i of running) i.child!.kill('SIGTERM');
    const grace = this.spec.stopGraceMs ?? 5_000;
    const all = Promise.all(gone);
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), grace).unref())]);
    if (timedOut) {
      for (const i of running) if (i.child) i.child.kill('SIGKILL');
      await Promise.race([all, new Promise((r) => setTimeout(r, 2_000).unref())]);
    }
    // what the runs forked off their process group (a daemon) goes too
    await Promise.all(this.instances.map((i) => this.reap(i, i.token)));
    this.state = end;
    if (end === 'stopped') this.say('stopped');
    this.finish(end === 'failed' ? 1 : 0);
  }

  /** The service's state from its instances'. */
  private refresh(): void {
    if (this.stopping) return;
    const s = this.instances.map((i) => i.status.state);
    this.state = s.includes('failed') ? 'failed' : s.includes('backoff') ? 'backoff' : s.includes('starting') ? 'starting' : s.every((x) => x === 'exited') ? 'exited' : 'ready';
  }

  private status(): SupervisorStatus {
    const out: SupervisorStatus = {
      version: 1,
      service: this.spec.service,
      host: this.spec.host,
      supervisor: { pid: process.pid, startedAt: this.startedAt },
      restart: this.spec.restart,
      maxRestarts: this.spec.maxRestarts,
      state: this.state,
      instances: this.instances.map((i) => ({ ...i.status, lastExit: i.status.lastExit && { ...i.status.lastExit } })),
      history: this.history.map((e) => ({ ...e })),
      updatedAt: new Date().toISOString(),
    };
    if (this.reason !== undefined) out.reason = this.reason;
    return out;
  }

  /** Write the status file (atomically; writes queue up, so the file never goes back in time). */
  private save(): Promise<void> {
    const snapshot = `${JSON.stringify(this.status(), null, 2)}\n`;
    const next = this.writing.then(() => writeFileAtomic(this.spec.statusFile, snapshot, { mode: 0o644 }));
    this.writing = next.catch((err: unknown) => this.say(`cannot write ${this.spec.statusFile}: ${err instanceof Error ? err.message : String(err)}`));
    return this.writing;
  }
}

/** Does address:port accept a TCP connection (within a second)? */
function portOpen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The bytes of a file from `pos` on (at most 1 MiB at a time). */
async function readFrom(path: string, pos: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size <= pos) return Buffer.alloc(0);
    const buf = Buffer.alloc(Math.min(size - pos, 1 << 20));
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
