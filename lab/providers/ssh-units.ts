/**
 * Supervision by systemd on an ssh host that has no lab (no Node: a broker-only Raspberry Pi) but has systemd:
 * a service runs as a transient unit made with `systemd-run` — restart policy, a start limit, its output appended
 * to its log file, its environment from a 0600 file (secrets never on a command line), LAB_PROCESS_TOKEN set so
 * anything that leaves the unit's cgroup is still found by token. Recorded in the ledger (kind 'systemd-unit')
 * before it is made; stopped with `systemctl stop` and forgotten with `systemctl reset-failed`.
 *
 * The command lines and the parsing of `systemctl show` are plain functions (unit-tested); SshUnits runs them.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { ProviderError } from '../errors.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import type { ProcessCheck } from '../topology/proc.js';
import { parseProcStat } from '../topology/proc.js';
import { DEFAULT_GRACE_MS, LAB_TOKEN_ENV, PROCESS_TOKEN_ENV } from './provider.js';
import type { ProcessRef, UnitOptions, UnitStatus } from './provider.js';
import { TOKEN_SCRIPT, parseTokenLeft, signalName, tenths } from './remote-scripts.js';
import { quoteArgv } from './shell-quote.js';
import { firstLine, parseKeyValues } from './ssh-hosts.js';
import type { SshHosts } from './ssh-hosts.js';

/** A unit name lab makes: lab-<lab>-<host>-<service>, in systemd's unit-name characters. */
export function unitName(lab: string, host: string, service: string): string {
  return `lab-${lab}-${host}-${service}`.replace(/[^A-Za-z0-9:_.-]/g, '_');
}

const UNIT_RE = /^lab-[A-Za-z0-9:_.-]+$/;

/** As root. Args: the log file, the supervise folder, the service's user ('' for root): folders made, the log created (and given to the user). */
const PREPARE_SCRIPT = ['set -e', 'mkdir -p -- "$(dirname -- "$1")" "$2"', ': >> "$1"', 'if [ -n "$3" ]; then chown -- "$3" "$1"; fi'].join('\n');

/** The environment file's text: one `NAME="value"` per line, quotes and backslashes escaped (systemd's syntax). */
export function environmentFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\n\r\0]/.test(v)) throw new ProviderError(`cannot pass environment variable ${JSON.stringify(k)} to a systemd unit`, { code: 'E_USAGE' });
      return `${k}="${v.replace(/[\\"]/g, (c) => `\\${c}`)}"\n`;
    })
    .join('');
}

/** `systemd-run …` for a service (run as root). */
export function systemdRunArgv(argv: readonly string[], o: UnitOptions & { token: string; envFile: string | null; labToken?: string }): string[] {
  const restart = o.restart === 'never' ? 'no' : o.restart;
  const grace = Math.max(1, Math.ceil((o.stopGraceMs ?? DEFAULT_GRACE_MS) / 1000));
  const out = [
    'systemd-run',
    `--unit=${o.unit}`,
    `--description=lab service ${o.key}`,
    `--property=Restart=${restart}`,
    '--property=RestartSec=1',
    '--property=StartLimitIntervalSec=60',
    `--property=StartLimitBurst=${o.maxRestarts + 1}`,
    `--property=StandardOutput=append:${o.logFile}`,
    `--property=StandardError=append:${o.logFile}`,
    `--property=TimeoutStopSec=${grace}`,
    `--setenv=${PROCESS_TOKEN_ENV}=${o.token}`,
  ];
  if (o.labToken) out.push(`--setenv=${LAB_TOKEN_ENV}=${o.labToken}`);
  if (o.umask !== undefined) out.push(`--property=UMask=${o.umask.toString(8).padStart(4, '0')}`);
  if (o.envFile) out.push(`--property=EnvironmentFile=${o.envFile}`);
  if (o.user !== undefined) out.push(`--uid=${o.user}`, `--gid=${o.user}`);
  if (o.cwd !== undefined) out.push(`--working-directory=${o.cwd}`);
  out.push('--', ...argv);
  return out;
}

export const SHOW_PROPERTIES = ['ActiveState', 'SubState', 'MainPID', 'NRestarts', 'ExecMainStartTimestamp', 'ExecMainExitTimestamp', 'ExecMainCode', 'ExecMainStatus', 'Result', 'LoadState'];

/** A `systemctl show` timestamp (`@<seconds>` with --timestamp=unix, else `Mon 2026-12-01 15:37:53 UTC`) as ISO; null when none. */
export function showTime(v: string | undefined): string | null {
  if (!v || v === 'n/a' || v === '0') return null;
  const unix = /^@(\d+)$/.exec(v);
  if (unix) return new Date(Number(unix[1]) * 1000).toISOString();
  const t = Date.parse(v.replace(/^[A-Z][a-z]{2} /, '').replace(/ ([A-Z]{3,4})$/, (_, z: string) => (z === 'UTC' ? 'Z' : ` ${z}`)).replace(' ', 'T'));
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };

/** The unit's state from `systemctl show -p …` output. */
export function parseShow(text: string): UnitStatus & { loaded: boolean } {
  const kv = parseKeyValues(text);
  const pid = Number(kv.get('MainPID'));
  const code = Number(kv.get('ExecMainCode'));
  const status = Number(kv.get('ExecMainStatus'));
  const exitedAt = showTime(kv.get('ExecMainExitTimestamp'));
  // ExecMainCode: 1 CLD_EXITED (status = exit code), 2 CLD_KILLED / 3 CLD_DUMPED (status = signal number)
  const lastExit = exitedAt || code > 0 ? { code: code === 1 ? status : null, signal: code === 2 || code === 3 ? (SIGNALS[status] ?? `SIG${status}`) : null, at: exitedAt } : null;
  return {
    loaded: kv.get('LoadState') === 'loaded',
    active: kv.get('ActiveState') ?? 'unknown',
    sub: kv.get('SubState') ?? '',
    mainPid: Number.isInteger(pid) && pid > 0 ? pid : null,
    restarts: Number(kv.get('NRestarts')) || 0,
    lastExit,
    startedAt: pid > 0 ? showTime(kv.get('ExecMainStartTimestamp')) : null,
    result: kv.get('Result') ?? '',
  };
}

/** The ledger data of a unit. */
interface UnitData {
  host: string;
  unit: string;
  command: string[];
  logFile: string;
  token: string;
  envFile?: string;
  pid?: number;
  startTime?: number;
  graceMs?: number;
}

export class SshUnits {
  constructor(
    private readonly hosts: SshHosts,
    private readonly ledger: Ledger,
    /** Write a file as root (the environment file), 0600. */
    private readonly writeRootFile: (host: string, path: string, content: string) => Promise<void>,
    private readonly tail: (host: string, path: string) => Promise<string>,
    /** LAB_LAB_TOKEN of every unit's processes (provider.ts labToken). */
    private readonly labToken?: string,
  ) {}

  private async systemctl(host: string, args: string[], timeoutMs = 30_000): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const prefix = await this.hosts.asRoot(host, 'systemctl');
    const r = await this.hosts.run(host, quoteArgv([...prefix, 'systemctl', ...args]), { timeoutMs });
    this.hosts.checkSudo(host, prefix, r);
    return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
  }

  async show(host: string, unit: string): Promise<UnitStatus & { loaded: boolean }> {
    const r = await this.systemctl(host, ['show', `${unit}.service`, '--timestamp=unix', ...SHOW_PROPERTIES.map((p) => `--property=${p}`)]);
    // systemd before 248 has no --timestamp: ask again without it
    if (r.exitCode !== 0 && /timestamp/i.test(r.stderr)) return parseShow((await this.systemctl(host, ['show', `${unit}.service`, ...SHOW_PROPERTIES.map((p) => `--property=${p}`)])).stdout);
    return parseShow(r.stdout);
  }

  async start(host: string, argv: string[], o: UnitOptions, workDir: string): Promise<ProcessRef> {
    if (!UNIT_RE.test(o.unit)) throw new ProviderError(`not a unit name lab makes: ${JSON.stringify(o.unit)}`, { host, code: 'E_USAGE' });
    const token = randomBytes(12).toString('hex');
    const envFile = o.env && Object.keys(o.env).length > 0 ? posix.join(workDir, 'supervise', `${o.unit}.env`) : null;
    const data: UnitData = { host, unit: o.unit, command: argv, logFile: o.logFile, token };
    if (envFile) data.envFile = envFile;
    const entry = await this.ledger.record('systemd-unit', o.key, data);
    // a unit of that name left from an earlier run (failed, or lab up interrupted) would make systemd-run refuse
    await this.systemctl(host, ['stop', `${o.unit}.service`]).catch(() => undefined);
    await this.systemctl(host, ['reset-failed', `${o.unit}.service`]).catch(() => undefined);
    const prefix = await this.hosts.asRoot(host, 'systemd-run');
    // systemd opens the log for appending but makes no folders; a service user must be able to reopen it
    const pre = await this.hosts.privileged(host, prefix, PREPARE_SCRIPT, [o.logFile, posix.join(workDir, 'supervise'), o.user ?? '']);
    if (pre.exitCode !== 0) throw new ProviderError(`cannot prepare ${o.logFile} for unit ${o.unit}: ${firstLine(pre.stderr)}`, { host, code: 'E_SPAWN' });
    if (envFile) await this.writeRootFile(host, envFile, environmentFile(o.env ?? {}));
    const r = await this.hosts.run(host, quoteArgv([...prefix, ...systemdRunArgv(argv, { ...o, token, envFile, labToken: this.labToken })]), { timeoutMs: 60_000 });
    this.hosts.checkSudo(host, prefix, r);
    if (r.exitCode !== 0) throw new ProviderError(`systemd-run ${argv[0]} failed: ${firstLine(r.stderr)}`, { host, code: 'E_SPAWN' });
    const st = await this.show(host, o.unit);
    const stat = st.mainPid ? parseProcStat((await this.hosts.run(host, quoteArgv(['cat', `/proc/${st.mainPid}/stat`]))).stdout.toString('utf8')) : null;
    if (!st.mainPid || !stat) {
      const tail = await this.tail(host, o.logFile).catch(() => '');
      throw new ProviderError(`${argv.join(' ')} exited at once (unit ${o.unit}: ${st.active}/${st.sub})${tail ? `:\n${tail}` : ''}`, { host, code: 'E_PROCESS_EXITED' });
    }
    await this.ledger.markDone(entry, { pid: st.mainPid, startTime: stat.startTime });
    return { key: o.key, host, pid: st.mainPid, startTime: stat.startTime, logFile: o.logFile, command: argv, unit: o.unit };
  }

  /** Running, or between two runs (systemd is restarting it). */
  async alive(ref: ProcessRef): Promise<boolean> {
    const st = await this.show(ref.host, ref.unit!);
    return ['active', 'activating', 'reloading'].includes(st.active);
  }

  async signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
    const name = signalName(signal);
    if (!name) throw new ProviderError(`not a signal: ${signal}`, { host: ref.host, code: 'E_USAGE' });
    if (!(await this.alive(ref))) return 'gone';
    const r = await this.systemctl(ref.host, ['kill', '--kill-who=main', `--signal=SIG${name}`, `${ref.unit}.service`]);
    if (r.exitCode !== 0) throw new ProviderError(`systemctl kill ${ref.unit}: ${firstLine(r.stderr)}`, { host: ref.host, code: 'E_SIGNAL' });
    return 'same';
  }

  async stop(ref: ProcessRef, graceMs = DEFAULT_GRACE_MS): Promise<ProcessCheck> {
    const r = await this.systemctl(ref.host, ['stop', `${ref.unit}.service`], graceMs + 30_000);
    if (r.exitCode !== 0 && !/not loaded/i.test(r.stderr)) throw new ProviderError(`systemctl stop ${ref.unit}: ${firstLine(r.stderr)}`, { host: ref.host, code: 'E_STOP' });
    return (await this.alive(ref)) ? 'same' : 'gone';
  }

  /** Stop and forget the unit, then anything still carrying its token; remove its environment file. */
  async undo(entry: LedgerEntry): Promise<void> {
    const d = entry.data as Partial<UnitData>;
    const host = this.hosts.spec(d.host ?? '').name;
    const unit = String(d.unit ?? '');
    if (!UNIT_RE.test(unit)) throw new ProviderError(`undo ${entry.key}: not a unit name lab makes: ${JSON.stringify(unit)}`, { host, code: 'E_UNDO_UNKNOWN' });
    const r = await this.systemctl(host, ['stop', `${unit}.service`], (d.graceMs ?? DEFAULT_GRACE_MS) + 30_000);
    if (r.exitCode !== 0 && !/not loaded|not found/i.test(r.stderr)) throw new ProviderError(`systemctl stop ${unit}: ${firstLine(r.stderr)}`, { host, code: 'E_STOP' });
    await this.systemctl(host, ['reset-failed', `${unit}.service`]).catch(() => undefined);
    if (d.token && /^[0-9a-f]+$/.test(d.token)) {
      const prefix = await this.hosts.rootIfPossible(host);
      const t = await this.hosts.privileged(host, prefix, TOKEN_SCRIPT, [`${PROCESS_TOKEN_ENV}=${d.token}`, 'stop', tenths(2000)], { timeoutMs: 40_000 });
      const left = parseTokenLeft(t.stdout.toString('utf8'));
      if (left.length > 0) throw new ProviderError(`process ${left.join(', ')} of unit ${unit} did not stop`, { host, code: 'E_STOP' });
    }
    if (d.envFile && d.envFile.startsWith('/') && d.envFile.endsWith('.env')) {
      const prefix = await this.hosts.rootIfPossible(host);
      await this.hosts.run(host, quoteArgv([...prefix, 'rm', '-f', '--', d.envFile]));
    }
  }
}
