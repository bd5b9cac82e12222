/**
 * A provider makes the lab's hosts exist and lets the orchestrator act on them: run a command, write a file,
 * start a long-running process with its log in a file, make host names resolvable, and undo what it made.
 * Implementations: local (this machine), netns (network namespaces), ssh (ssh2), docker (dockerode).
 * Nothing outside an implementation sees ssh2 or dockerode types.
 *
 * A provider is constructed with the lab's ledger and is usable at once (up, or acting on a lab that is already
 * up). Every argv element is passed as one argument — never joined into a shell string unquoted. Anything a
 * provider creates is recorded in that ledger BEFORE it is created, and `undo` removes exactly one recorded thing.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { LedgerEntry } from '../topology/ledger.js';
import type { ProcessCheck } from '../topology/proc.js';
import type { LabState } from '../topology/state.js';
import type { ProviderKind, Topology } from '../topology/topology.js';
import type { HostModules } from './user-modules.js';

export interface ExecOptions {
  env?: Record<string, string>;
  /** Bytes for the command's stdin. */
  input?: string | Buffer;
  timeoutMs?: number;
  /** Run as root (ssh: `sudo -n`; elsewhere lab already runs with the rights it needs). */
  sudo?: boolean;
  cwd?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface StreamOptions extends ExecOptions {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Abort = stop the remote command (SIGINT first, as Ctrl-C would). */
  signal?: AbortSignal;
}

export interface SpawnOptions {
  /** Ledger key of the process, e.g. `proc:HOST1:rabbitmq`. Recorded (with `token`) before the spawn. */
  key: string;
  /** File on the host that receives stdout and stderr (created, appended). */
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Run as this local user on the host (e.g. `rabbitmq`), without a wrapper process in between. */
  user?: string;
  sudo?: boolean;
  /** Extra facts for the ledger entry (e.g. that the process is a supervisor, and where its status file is). */
  ledgerData?: Record<string, string | number | boolean>;
}

/**
 * What keeps a host's services running (docs/architecture.md, "Supervision"): lab's supervisor (`lab supervise`,
 * hosts with lab's Node), systemd units (`systemd-run`, an ssh host without Node but with systemd), or nothing.
 */
export type SupervisionMode = 'lab' | 'systemd' | 'none';

/** A systemd unit (`systemd-run`) for a service on a host without lab's Node: ssh only. */
export interface UnitOptions {
  /** Ledger key, as for spawn. */
  key: string;
  /** The unit's name without `.service` (lab-<lab>-<host>-<service>). */
  unit: string;
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  /** systemd's Restart= (never → no). */
  restart: 'always' | 'on-failure' | 'never';
  /** Failed starts allowed in a row (StartLimitBurst = maxRestarts + 1 within a minute). */
  maxRestarts: number;
  umask?: number;
  stopGraceMs?: number;
}

/** What `systemctl show` says about a unit lab started. */
export interface UnitStatus {
  /** ActiveState: active, activating, deactivating, failed, inactive. */
  active: string;
  sub: string;
  mainPid: number | null;
  /** NRestarts: how often systemd restarted it. */
  restarts: number;
  /** ExecMainStatus / the signal of the last exit, when it exited. */
  lastExit: { code: number | null; signal: string | null; at: string | null } | null;
  /** When the current main process started (ISO), if it runs. */
  startedAt: string | null;
  result: string;
}

/** A process a provider started: found again by pid AND start time, never by name. */
export interface ProcessRef {
  key: string;
  host: string;
  pid: number;
  /** /proc/<pid>/stat starttime (clock ticks since boot) on the host it runs on. */
  startTime: number;
  logFile: string;
  command: string[];
  /** A systemd unit (ssh): alive, stop and signal act on the unit, whose main pid changes with every restart. */
  unit?: string;
}

/** Per-host facts the services need. */
export interface HostInfo {
  name: string;
  /** The address services on this host bind to and other hosts connect to. */
  address: string;
  /** Directory on the host holding this lab's data and logs (created by up, removed by down). */
  workDir: string;
  /** Where lab itself is on the host (bin/lab.js inside), for worker / master / quotes hosts. */
  labRoot: string;
  /** The node binary to run lab with on the host. */
  node: string;
  /**
   * workers hosts with an inventory `tasks:` / `config:`: the user's modules as paths on the host (by path on
   * local and netns; shipped into the work directory by ssh and docker — user-modules.ts). Absent when none.
   */
  modules?: HostModules;
  /** What keeps the host's services running (docs/architecture.md, "Supervision"). */
  supervisor: SupervisionMode;
}

export interface HostsEntry {
  address: string;
  names: string[];
}

export type ProgressStatus = 'start' | 'done' | 'skip' | 'fail' | 'info';

export interface ProgressEvent {
  host?: string;
  step: string;
  status: ProgressStatus;
  detail?: string;
  /** Something the user should see even without --verbose (an 'info' event that warns). */
  warning?: boolean;
}

export type Progress = (e: ProgressEvent) => void;

export interface UpContext {
  state: LabState;
  progress: Progress;
  signal?: AbortSignal;
}

/** What `up` did. */
export interface UpOutcome {
  /** Something was created or repaired; false when everything was already there as recorded. */
  changed: boolean;
}

export interface PlanStep {
  host?: string;
  step: string;
  detail: string;
}

export interface Provider {
  readonly kind: ProviderKind;
  /**
   * The hosts' processes and files are this machine's (local, netns): `alive` and `readFile` read /proc and the files
   * directly, with no command run — cheaper than asking the host, which a batched check then does not.
   */
  readonly localFiles?: boolean;
  readonly topology: Topology;
  /** What `up` would create or check, in order (for --dry-run). Reads nothing, changes nothing. */
  plan(): PlanStep[];
  /**
   * Make the hosts exist and be reachable (netns: bridge, namespaces, veths, addresses; ssh: connect, pin host
   * keys, preflight, ship lab; docker: network, containers). Idempotent: what already exists as recorded is left
   * alone (and reported as 'skip'), and the outcome says whether anything had to be made.
   */
  up(ctx: UpContext): Promise<UpOutcome>;
  host(name: string): HostInfo;
  exec(host: string, argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * One command on each of several hosts, all at once, results in the jobs' order — where the provider can do it in
   * fewer round trips than `exec` each (netns: one spawn for all). Absent: callers run `exec` for each. A job that
   * `exec` would have thrown for is its error in the list.
   */
  execEach?(jobs: readonly { host: string; argv: string[] }[], options?: Pick<ExecOptions, 'timeoutMs'>): Promise<(ExecResult | Error)[]>;
  /** Run a command with its output streamed; resolves with its exit code. */
  stream(host: string, argv: string[], options: StreamOptions): Promise<number>;
  writeFile(host: string, path: string, content: string | Buffer, options?: { mode?: number; sudo?: boolean; owner?: string }): Promise<void>;
  /** The file's bytes; with `tailBytes`, its last bytes as text without trailing whitespace ('' for a file not there). */
  readFile(host: string, path: string, options?: { sudo?: boolean; tailBytes?: number }): Promise<Buffer>;
  /** Make every entry resolvable on `host`, keeping localhost; never maps the host's own name to 127.x. */
  writeHosts(host: string, entries: HostsEntry[]): Promise<void>;
  /** Start a long-running process, detached, its output appended to `logFile`; recorded in the ledger. */
  spawn(host: string, argv: string[], options: SpawnOptions): Promise<ProcessRef>;
  /** Signal a recorded process only if it is still the same process (pid + start time). */
  signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck>;
  /** SIGTERM, wait up to graceMs, then SIGKILL; never a reused pid. Resolves with the final check. */
  stop(ref: ProcessRef, graceMs?: number): Promise<ProcessCheck>;
  alive(ref: ProcessRef): Promise<boolean>;
  /** ssh hosts with systemd but no lab: start a service as a transient systemd unit, recorded (kind 'systemd-unit') first. */
  startUnit?(host: string, argv: string[], options: UnitOptions): Promise<ProcessRef>;
  /** The state of a unit `startUnit` started (ref.unit set). */
  unitStatus?(ref: ProcessRef): Promise<UnitStatus>;
  /** Undo one ledger entry this provider created. Already gone is success. Throws ProviderError on failure. */
  undo(entry: LedgerEntry): Promise<void>;
  close(): Promise<void>;
}

/** The ledger data of a spawned process (kind 'process'). */
export interface SpawnedData {
  host: string;
  command: string[];
  logFile: string;
  /** Unique marker put in the process environment (LAB_PROCESS_TOKEN) before the spawn, so a process whose pid
   * was never recorded (lab up killed right after the spawn) can still be found — by this exact token, not a name. */
  token: string;
  pid?: number;
  startTime?: number;
  /**
   * How long undo waits after SIGTERM before SIGKILL (default 8 s). `lab down` shortens it: the lab's queues and
   * results are discarded with it, so there is nothing to shut down gracefully for.
   */
  graceMs?: number;
}

/** Default wait between SIGTERM and SIGKILL when a process entry is undone. */
export const DEFAULT_GRACE_MS = 8000;

export const PROCESS_TOKEN_ENV = 'LAB_PROCESS_TOKEN';

/**
 * The lab-wide mark, beside each process's own token: every process lab spawns on an ssh host carries
 * LAB_LAB_TOKEN=<labToken>, and its work directory a `.lab-token` file with it, so `lab down --discover` finds what
 * the lab made when its ledger is gone — by this exact value, never by a name. Derived from the lab's name and its
 * state directory (which the state's loss does not change), so a lab of the same name from another home differs.
 */
export const LAB_TOKEN_ENV = 'LAB_LAB_TOKEN';

export function labToken(lab: string, stateDir: string): string {
  return `${lab.replace(/[^A-Za-z0-9_-]/g, '_')}-${createHash('sha256').update(`${lab}\0${resolve(stateDir)}`).digest('hex').slice(0, 24)}`;
}

/** The process a 'process' / 'remote-process' / 'systemd-unit' ledger entry records, once its pid and start time are known. */
export function refOf(entry: LedgerEntry): ProcessRef | null {
  const d = entry.data as Partial<SpawnedData> & { unit?: string };
  if (typeof d.pid !== 'number' || typeof d.startTime !== 'number') return null;
  const ref: ProcessRef = { key: entry.key, host: d.host ?? '', pid: d.pid, startTime: d.startTime, logFile: d.logFile ?? '', command: d.command ?? [] };
  if (entry.kind === 'systemd-unit' && typeof d.unit === 'string') ref.unit = d.unit;
  return ref;
}

/** Ledger kinds of the long-running things a service is (stopped first, all at once, by `lab down`). */
export const PROCESS_KINDS: readonly string[] = ['process', 'remote-process', 'systemd-unit'];
