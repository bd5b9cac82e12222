/**
 * How a service is started on a host, by what keeps it running there (HostInfo.supervisor, decided per provider —
 * docs/architecture.md "Supervision"):
 *
 *   lab      `lab supervise <spec>` (supervisor.ts) through the provider's spawn: the ledger entry is the supervisor,
 *            the service its children; its spec and status live in <work directory>/supervise/.
 *   systemd  a transient unit (`systemd-run`, ssh hosts without lab but with systemd): the ledger entry is the unit.
 *   none     the command itself through the provider's spawn, as before supervision: nothing restarts it.
 *
 * And what is known of a supervised service afterwards (`lab status`, the faults): one `Supervision` shape for all three.
 */
import { posix } from 'node:path';
import { ServiceError } from '../errors.js';
import type { ProcessRef, Provider, SupervisionMode } from '../providers/provider.js';
import type { HostCheck } from '../providers/host-check.js';
import type { LedgerEntry } from '../topology/ledger.js';
import type { RestartPolicy } from '../topology/topology.js';
import { SUPERVISOR_SPEC_VERSION, instanceLogFile } from './supervisor.js';
import type { InstanceStatus, RestartEvent, SupervisorSpec, SupervisorStatus } from './supervisor.js';

export type { SupervisionMode };

/** One service to start on a host. */
export interface ServiceRun {
  /** Ledger key (proc:<HOST>:<name>). */
  key: string;
  /** rabbitmq, redis, quotes, workers, or a service of the host's `services:`. */
  name: string;
  host: string;
  command: string[];
  /** Instances (lab's supervisor only; unsupervised hosts start each with a key of its own — see startUserService). */
  count?: number;
  cwd?: string;
  /** The whole environment the service adds (the lab's URLs included): through the spawn's environment, never argv. */
  env?: Record<string, string>;
  user?: string;
  sudo?: boolean;
  /** The service's umask (RabbitMQ, Redis: 0o077 — their data files 0600, folders 0700). */
  umask?: number;
  logFile: string;
  ready?: { port?: number; addresses?: string[]; log?: string };
  restart: RestartPolicy;
  maxRestarts: number;
  stopGraceMs?: number;
}

/** Where a service's supervisor keeps its spec and status on the host. */
export function supervisePaths(workDir: string, name: string): { dir: string; spec: string; status: string } {
  const dir = posix.join(workDir, 'supervise');
  return { dir, spec: posix.join(dir, `${name}.json`), status: posix.join(dir, `${name}.status.json`) };
}

/** The systemd unit of a service: lab-<lab>-<HOST>-<name>. */
export function serviceUnit(lab: string, host: string, name: string): string {
  return `lab-${lab}-${host}-${name}`.replace(/[^A-Za-z0-9:_.-]/g, '_');
}

/** Wrap a command so it starts with a umask (exec keeps the pid): for the hosts without a supervisor to set it. */
function withUmask(argv: string[], umask: number | undefined): string[] {
  if (umask === undefined) return argv;
  return ['sh', '-c', `umask ${umask.toString(8).padStart(3, '0')} && exec "$@"`, 'sh', ...argv];
}

/**
 * Start a service the way its host supervises services; resolves with what the ledger recorded (the supervisor,
 * the unit, or the process) as soon as it runs — readiness is the caller's.
 */
export async function startService(provider: Provider, lab: string, run: ServiceRun): Promise<ProcessRef> {
  const info = provider.host(run.host);
  switch (info.supervisor) {
    case 'lab': {
      const paths = supervisePaths(info.workDir, run.name);
      const spec: SupervisorSpec = {
        version: SUPERVISOR_SPEC_VERSION,
        service: run.name,
        host: run.host,
        command: run.command,
        count: run.count ?? 1,
        logFile: run.logFile,
        statusFile: paths.status,
        restart: run.restart,
        maxRestarts: run.maxRestarts,
      };
      if (run.cwd !== undefined) spec.cwd = run.cwd;
      if (run.user !== undefined) spec.user = run.user;
      if (run.umask !== undefined) spec.umask = run.umask;
      if (run.ready) spec.ready = run.ready;
      if (run.stopGraceMs !== undefined) spec.stopGraceMs = run.stopGraceMs;
      const sudo = run.sudo === true || run.user !== undefined;
      const mk = await provider.exec(run.host, ['mkdir', '-p', paths.dir], { sudo });
      if (mk.exitCode !== 0) throw new ServiceError(`mkdir -p ${paths.dir} failed: ${mk.stderr.trim().split('\n')[0] ?? ''}`, { host: run.host, code: 'E_SETUP' });
      await provider.writeFile(run.host, paths.spec, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600, sudo });
      // a status left by an earlier supervisor of this service must not be read as this one's
      await provider.exec(run.host, ['rm', '-f', paths.status], { sudo });
      return provider.spawn(run.host, [info.node, `${info.labRoot}/bin/lab.js`, 'supervise', paths.spec], {
        key: run.key,
        logFile: run.logFile,
        env: run.env,
        sudo,
        ledgerData: { supervisor: 'lab', service: run.name, status: paths.status },
      });
    }
    case 'systemd': {
      if (!provider.startUnit) throw new ServiceError(`the ${provider.kind} provider cannot make systemd units`, { host: run.host, code: 'E_SERVICE' });
      const o: Parameters<NonNullable<Provider['startUnit']>>[2] = { key: run.key, unit: serviceUnit(lab, run.host, run.name), logFile: run.logFile, restart: run.restart, maxRestarts: run.maxRestarts };
      if (run.env) o.env = run.env;
      if (run.cwd !== undefined) o.cwd = run.cwd;
      if (run.user !== undefined) o.user = run.user;
      if (run.umask !== undefined) o.umask = run.umask;
      if (run.stopGraceMs !== undefined) o.stopGraceMs = run.stopGraceMs;
      return provider.startUnit(run.host, run.command, o);
    }
    case 'none':
      return provider.spawn(run.host, withUmask(run.command, run.umask), { key: run.key, logFile: run.logFile, env: run.env, cwd: run.cwd, user: run.user, sudo: run.sudo, ledgerData: { supervisor: 'none', service: run.name } });
  }
}

/** What is known of a running (or stopped) service's supervision: the same shape whatever supervises it. */
export interface Supervision {
  mode: SupervisionMode;
  /** lab: the supervisor process runs · systemd: the unit is active or restarting · none: the process runs. */
  supervisorRunning: boolean;
  /** starting | ready | backoff | failed | exited | stopping | stopped (lab); systemd's ActiveState/SubState; running | not running. */
  state: string;
  /** Restarts so far (all instances). */
  restarts: number;
  /** The service's processes now (lab: its instances; others: the one process). */
  pids: number[];
  lastExit: { code: number | null; signal: string | null; at: string | null } | null;
  /** lab: why it gave up, when it did. */
  reason?: string;
  instances?: InstanceStatus[];
  /** lab: every restart with its time to recover. */
  history?: RestartEvent[];
  /** Set when the status could not be read. */
  error?: string;
}

/** The mode a ledger entry was started under (entries from before supervision: none). */
export function entryMode(entry: LedgerEntry): SupervisionMode {
  if (entry.kind === 'systemd-unit') return 'systemd';
  return (entry.data as { supervisor?: unknown }).supervisor === 'lab' ? 'lab' : 'none';
}

/** The supervisor's status file on the host, or null when there is none (yet). */
export async function readSupervisorStatus(provider: Provider, host: string, path: string): Promise<SupervisorStatus | null> {
  return parseSupervisorStatus((await provider.readFile(host, path, { tailBytes: 1 << 20 }).catch(() => Buffer.alloc(0))).toString('utf8'));
}

/** A status file's text as the supervisor wrote it, or null when empty or not (yet) whole. */
export function parseSupervisorStatus(text: string): SupervisorStatus | null {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as SupervisorStatus;
  } catch {
    return null;
  }
}

/** Where a lab-supervised entry's supervisor writes its status ('' when the entry says nothing). */
export function statusPathOf(entry: LedgerEntry): string {
  return entryMode(entry) === 'lab' ? String((entry.data as { status?: unknown }).status ?? '') : '';
}

/** The supervision of a recorded service (its ledger entry and the process the entry names, if any). */
export async function supervisionOf(provider: Provider, entry: LedgerEntry, ref: ProcessRef | null, check?: Pick<HostCheck, 'alive' | 'file'>): Promise<Supervision> {
  const mode = entryMode(entry);
  const host = (entry.data as { host?: string }).host ?? ref?.host ?? '';
  // one host's batched check answers what it was asked (host-check.ts); else the provider, one call each
  const running = ref ? await (check ? check.alive(ref) : provider.alive(ref)).catch(() => false) : false;
  if (mode === 'lab') {
    const path = statusPathOf(entry);
    const st = path ? (check ? parseSupervisorStatus(await check.file(path)) : await readSupervisorStatus(provider, host, path)) : null;
    if (!st) return { mode, supervisorRunning: running, state: running ? 'starting' : 'not running', restarts: 0, pids: [], lastExit: null, error: 'no status file yet' };
    const exits = st.instances.map((i) => i.lastExit).filter((x): x is NonNullable<typeof x> => x !== null);
    const last = exits.sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0] ?? null;
    const out: Supervision = {
      mode,
      supervisorRunning: running,
      // a supervisor killed with -9 never wrote its end: say what is known
      state: running ? st.state : ['failed', 'exited', 'stopped'].includes(st.state) ? st.state : 'supervisor gone',
      restarts: st.instances.reduce((n, i) => n + i.restarts, 0),
      pids: st.instances.flatMap((i) => (i.pid !== null ? [i.pid] : [])),
      lastExit: last,
      instances: st.instances,
      history: st.history,
    };
    if (st.reason !== undefined) out.reason = st.reason;
    return out;
  }
  if (mode === 'systemd' && ref?.unit && provider.unitStatus) {
    try {
      const u = await provider.unitStatus(ref);
      return { mode, supervisorRunning: running, state: `${u.active}/${u.sub}`, restarts: u.restarts, pids: u.mainPid ? [u.mainPid] : [], lastExit: u.lastExit };
    } catch (err) {
      return { mode, supervisorRunning: running, state: 'unknown', restarts: 0, pids: [], lastExit: null, error: err instanceof Error ? err.message : String(err) };
    }
  }
  return { mode: 'none', supervisorRunning: running, state: running ? 'running' : 'not running', restarts: 0, pids: running && ref ? [ref.pid] : [], lastExit: null };
}

/** One line for a message: "restarted 3 times; last exit code 1 at …; gave up: …". */
export function supervisionLine(s: Supervision): string {
  const parts: string[] = [];
  if (s.mode === 'none') return 'unsupervised (nothing restarts it on this host)';
  parts.push(`${s.mode === 'lab' ? 'lab supervisor' : 'systemd'}: ${s.state}`);
  parts.push(`restarted ${s.restarts} time${s.restarts === 1 ? '' : 's'}`);
  if (s.lastExit) parts.push(`last exit ${s.lastExit.signal ? `by ${s.lastExit.signal}` : `code ${s.lastExit.code}`}${s.lastExit.at ? ` at ${s.lastExit.at}` : ''}`);
  if (s.reason) parts.push(s.reason);
  return parts.join('; ');
}

/** The log files of a service started by `startService` (one per instance when several). */
export function serviceLogFiles(run: Pick<ServiceRun, 'logFile' | 'count'>): string[] {
  const n = run.count ?? 1;
  return n <= 1 ? [run.logFile] : Array.from({ length: n }, (_, i) => instanceLogFile(run.logFile, n, i));
}
