/**
 * Processes on ssh hosts: commands run with their output collected or streamed (killable remotely: sshd passes no
 * signals to root sessions), and long-running services started detached with LAB_PROCESS_TOKEN=<token> in their
 * environment — the ledger entry written first — then found again by pid + start time (/proc read on the host) or
 * by that token, never by name. The POSIX scripts are remote-scripts.ts's, shared with the docker provider.
 */
import { randomBytes } from 'node:crypto';
import { ProviderError } from '../errors.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import type { ProcessCheck, ProcessIdentity } from '../topology/proc.js';
import { DEFAULT_GRACE_MS, LAB_TOKEN_ENV, PROCESS_TOKEN_ENV } from './provider.js';
import type { ExecOptions, ProcessRef, SpawnedData, SpawnOptions } from './provider.js';
import { NOT_FOUND_PREFIX, PROC_SCRIPT, SPAWN_SCRIPT, TOKEN_SCRIPT, parseCheck, parseSpawn, parseTokenLeft, parseTokenList, signalName, tenths } from './remote-scripts.js';
import { envArgv, quoteArgv } from './shell-quote.js';
import type { RunResult } from './ssh-connection.js';
import { firstLine } from './ssh-hosts.js';
import type { SshHosts } from './ssh-hosts.js';

/** Print the command's pid first (on stderr), then become the command (exec keeps the pid). */
const PID_WRAPPER = 'echo "LABPID=$$" >&2; exec "$@"';

/** Send signal $2 to the process group of pid $1 (or to the pid alone when that fails): a command being cancelled. */
const GROUP_KILL_SCRIPT = [
  'p=$1; sig=$2',
  's=$(cat "/proc/$p/stat" 2>/dev/null) || exit 0',
  'set -f',
  'set -- ${s##*\\)}',
  'kill -s "$sig" -- "-$3" 2>/dev/null || kill -s "$sig" "$p" 2>/dev/null',
  'exit 0',
].join('\n');

/** As root: make the log file of a service that runs as another user (who may not create files in our folders). */
const LOG_FOR_USER_SCRIPT = 'mkdir -p -- "$(dirname -- "$1")" && : >> "$1" && chown -- "$2" "$1"';

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface RemoteSpawnData extends SpawnedData {
  user?: string;
  sudo?: boolean;
}

export interface RunArgvOptions extends ExecOptions {
  signal?: AbortSignal;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export class SshProcesses {
  constructor(
    private readonly hosts: SshHosts,
    private readonly ledger: Ledger,
    /** The last bytes of a file on a host ('' when there is none), for "exited at once" messages. */
    private readonly tail: (host: string, path: string, sudo: boolean) => Promise<string>,
    /** LAB_LAB_TOKEN of every spawned process (provider.ts labToken): what `lab down --discover` finds them by. */
    private readonly labToken: string,
  ) {}

  /**
   * Run argv on a host: env through `env K=V`, cwd through a `cd`, root through `sudo -n --`, all quoted. With a
   * timeout or an abort signal the command first reports its pid (a `LABPID=<pid>` line on stderr, removed from
   * the output) so it can be killed remotely: SIGINT to its process group on abort (SIGKILL 2 s later), SIGKILL on
   * timeout — sshd does not pass signals to root sessions, so closing the channel alone would leave it running.
   */
  async run(host: string, argv: string[], options: RunArgvOptions): Promise<RunResult> {
    this.hosts.spec(host);
    if (argv.length === 0) throw new ProviderError('exec: empty command', { host, code: 'E_USAGE' });
    let inner = envArgv(options.env, argv);
    if (options.cwd) inner = ['sh', '-c', 'cd "$1" || exit 1; shift; exec "$@"', 'sh', options.cwd, ...inner];
    const prefix = options.sudo ? await this.hosts.asRoot(host, argv[0]!) : [];
    const onStdout = options.stdout ? (b: Buffer): void => void options.stdout!.write(b) : undefined;
    const killable = options.timeoutMs !== undefined || options.signal !== undefined;
    if (!killable) {
      const r = await this.hosts.run(host, quoteArgv([...prefix, ...inner]), { input: options.input, onStdout, onStderr: options.stderr ? (b) => void options.stderr!.write(b) : undefined });
      this.hosts.checkSudo(host, prefix, r);
      return r;
    }

    let pid: number | null = null;
    let head: Buffer | null = Buffer.alloc(0); // stderr until the pid line has been seen
    const errChunks: Buffer[] = [];
    const forward = (b: Buffer): void => {
      if (b.length === 0) return;
      if (options.stderr) options.stderr.write(b);
      else errChunks.push(b);
    };
    const onStderr = (chunk: Buffer): void => {
      if (head === null) return forward(chunk);
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(0x0a);
      if (nl < 0 && head.length < 64) return;
      const m = nl < 0 ? null : /^LABPID=(\d+)$/.exec(head.subarray(0, nl).toString('latin1'));
      if (m) {
        pid = Number(m[1]);
        forward(head.subarray(nl + 1));
      } else forward(head);
      head = null;
      // A timeout or Ctrl-C that came before the pid (a slow channel open on a loaded host) is sent now.
      for (const [sig, after] of pending.splice(0)) {
        interrupt(sig);
        after?.();
      }
    };
    const cancel = new AbortController();
    const timers: NodeJS.Timeout[] = [];
    let timedOut = false;
    // Closing the channel does not stop the command (sshd waits for it): only a signal to its pid does.
    const pending: [string, (() => void) | undefined][] = [];
    const interrupt = (sig: string, after?: () => void): void => {
      if (pid === null) {
        pending.push([sig, after]);
        return;
      }
      void this.hosts.script(host, GROUP_KILL_SCRIPT, [String(pid), sig], prefix).catch(() => undefined);
      after?.();
    };
    // If the pid never comes (the command never started), the channel is given up on anyway.
    const giveUpLater = (): void => void timers.push(setTimeout(() => cancel.abort(), 10_000));
    const onAbort = (): void => {
      interrupt('INT', () => timers.push(setTimeout(() => interrupt('KILL'), 2000), setTimeout(() => cancel.abort(), 3000)));
      giveUpLater();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      timers.push(
        setTimeout(() => {
          timedOut = true;
          interrupt('KILL', () => timers.push(setTimeout(() => cancel.abort(), 1000)));
          giveUpLater();
        }, options.timeoutMs),
      );
    }
    let r: RunResult;
    try {
      r = await this.hosts.run(host, quoteArgv([...prefix, 'sh', '-c', PID_WRAPPER, 'sh', ...inner]), { input: options.input, onStdout, onStderr, cancel: cancel.signal });
    } finally {
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (head !== null) forward(head);
    let stderr = Buffer.concat(errChunks);
    if (timedOut) stderr = Buffer.concat([stderr, Buffer.from(`\n(killed after ${options.timeoutMs} ms)`)]);
    const result: RunResult = { ...r, stderr, timedOut: r.timedOut || timedOut };
    this.hosts.checkSudo(host, prefix, result);
    return result;
  }

  /** Start a long-running process detached (its own session), its output appended to its log; recorded first. */
  async spawn(host: string, argv: string[], options: SpawnOptions): Promise<ProcessRef> {
    const h = this.hosts.spec(host);
    if (argv.length === 0) throw new ProviderError('spawn: empty command', { host: h.name, code: 'E_USAGE' });
    // The environment (the lab's URLs, with passwords) goes on stdin, never on a command line that `ps` shows.
    const envLines = Object.entries(options.env ?? {}).map(([k, v]) => {
      if (!ENV_NAME_RE.test(k) || /[\n\0]/.test(v)) throw new ProviderError(`spawn: cannot pass environment variable ${JSON.stringify(k)}`, { host: h.name, code: 'E_USAGE' });
      return `${k}=${v}`;
    });
    const prefix = options.user !== undefined ? await this.hosts.asUser(h.name, options.user) : options.sudo ? await this.hosts.asRoot(h.name, argv[0]!) : [];
    const token = randomBytes(12).toString('hex');
    const data: RemoteSpawnData = { ...options.ledgerData, host: h.name, command: argv, logFile: options.logFile, token };
    if (options.user !== undefined) data.user = options.user;
    if (prefix.length > 0) data.sudo = true;
    const entry = await this.ledger.record('remote-process', options.key, data);

    if (options.user !== undefined && prefix.length > 0) {
      const rootPrefix = (await this.hosts.hostFacts(h.name)).uid === 0 ? [] : ['sudo', '-n', '--'];
      const pre = await this.hosts.privileged(h.name, rootPrefix, LOG_FOR_USER_SCRIPT, [options.logFile, options.user]);
      if (pre.exitCode !== 0) throw new ProviderError(`cannot create the log file ${options.logFile} for ${options.user}: ${firstLine(pre.stderr)}`, { host: h.name, code: 'E_SPAWN' });
    }
    // The token is in the environment of the script's shell already, so every process from the first fork on
    // carries it (a process whose pid never reached the ledger is still found by it). The user switch is the
    // prefix's (sudo -u / runuser): the script gets no user of its own.
    const command = quoteArgv([...prefix, 'env', `${PROCESS_TOKEN_ENV}=${token}`, `${LAB_TOKEN_ENV}=${this.labToken}`, 'sh', '-c', SPAWN_SCRIPT, 'sh', options.logFile, '', options.cwd ?? '', ...argv]);
    const r = await this.hosts.run(h.name, command, { timeoutMs: 60_000, input: `${envLines.join('\n')}\n\n` });
    this.hosts.checkSudo(h.name, prefix, r);
    const err = r.stderr.toString('utf8');
    if (r.exitCode === 127 && err.includes(NOT_FOUND_PREFIX)) {
      throw new ProviderError(`command not found: ${argv[0]}${options.user ? ` (as ${options.user})` : ''}`, { host: h.name, code: 'E_COMMAND_NOT_FOUND' });
    }
    if (r.exitCode !== 0) throw new ProviderError(`cannot start ${argv[0]}: ${firstLine(err)}`, { host: h.name, code: 'E_SPAWN' });
    const { pid, stat } = parseSpawn(r.stdout.toString('utf8'));
    if (!Number.isInteger(pid)) throw new ProviderError(`cannot start ${argv[0]}: no pid reported`, { host: h.name, code: 'E_SPAWN' });
    if (!stat || stat.pid !== pid || stat.state === 'Z') {
      const tail = await this.tail(h.name, options.logFile, prefix.length > 0).catch(() => '');
      throw new ProviderError(`${argv.join(' ')} exited at once${tail ? `:\n${tail}` : ''}`, { host: h.name, code: 'E_PROCESS_EXITED' });
    }
    await this.ledger.markDone(entry, { pid, startTime: stat.startTime });
    return { key: options.key, host: h.name, pid, startTime: stat.startTime, logFile: options.logFile, command: argv };
  }

  /** PROC_SCRIPT on the process's host: check, signal or stop it only while it is the recorded one. */
  private async proc(ref: { host: string } & ProcessIdentity, op: 'check' | 'signal' | 'stop', arg: string, timeoutMs: number): Promise<ProcessCheck> {
    // reading /proc/<pid>/stat needs no rights; signalling a service user's process may need root
    const prefix = op === 'check' ? [] : await this.hosts.rootIfPossible(ref.host);
    const r = await this.hosts.privileged(ref.host, prefix, PROC_SCRIPT, [op, String(ref.pid), String(ref.startTime), arg], { timeoutMs });
    const verdict = parseCheck(r.stdout.toString('utf8'));
    if (r.exitCode === 0 && verdict) return verdict;
    throw new ProviderError(`cannot ${op} process ${ref.pid}: ${firstLine(r.stderr) || `exit ${r.exitCode}`}`, { host: ref.host, code: 'E_SIGNAL' });
  }

  check(ref: { host: string } & ProcessIdentity): Promise<ProcessCheck> {
    return this.proc(ref, 'check', '', 30_000);
  }

  signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
    const name = signalName(signal);
    if (!name) throw new ProviderError(`not a signal: ${signal}`, { host: ref.host, code: 'E_USAGE' });
    return this.proc(ref, 'signal', name, 30_000);
  }

  /** SIGTERM, up to graceMs, then SIGKILL — on the host, in one round trip; never a reused pid. */
  stop(ref: { host: string } & ProcessIdentity, graceMs = DEFAULT_GRACE_MS): Promise<ProcessCheck> {
    return this.proc(ref, 'stop', tenths(graceMs), graceMs + 30_000);
  }

  /** Processes on `host` whose environment holds exactly this token (never a name match). */
  async findByToken(host: string, token: string): Promise<ProcessIdentity[]> {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new ProviderError(`not a process token: ${JSON.stringify(token)}`, { host, code: 'E_USAGE' });
    const prefix = await this.hosts.rootIfPossible(host);
    const r = await this.hosts.privileged(host, prefix, TOKEN_SCRIPT, [`${PROCESS_TOKEN_ENV}=${token}`, 'list']);
    return parseTokenList(r.stdout.toString('utf8'));
  }

  /** Stop what a remote-process entry recorded: by pid + start time (its group), then whatever still has its token. */
  async undo(entry: LedgerEntry): Promise<void> {
    const d = entry.data as Partial<RemoteSpawnData>;
    const host = this.hosts.spec(d.host ?? '').name;
    const graceMs = d.graceMs ?? DEFAULT_GRACE_MS;
    const known = typeof d.pid === 'number' && typeof d.startTime === 'number';
    if (known && (await this.stop({ host, pid: d.pid!, startTime: d.startTime! }, graceMs)) === 'same') {
      throw new ProviderError(`process ${d.pid} (${(d.command ?? []).join(' ')}) did not stop`, { host, code: 'E_STOP' });
    }
    if (!d.token) return;
    // Found by the token: a process whose pid never reached the ledger, or group members that outlived the leader
    // (a pool child) — those get a short grace only.
    const grace = known ? 2000 : graceMs;
    const prefix = await this.hosts.rootIfPossible(host);
    const r = await this.hosts.privileged(host, prefix, TOKEN_SCRIPT, [`${PROCESS_TOKEN_ENV}=${d.token}`, 'stop', tenths(grace)], { timeoutMs: grace + 30_000 });
    const left = parseTokenLeft(r.stdout.toString('utf8'));
    if (r.exitCode !== 0 || left.length > 0) {
      throw new ProviderError(`process ${left.join(', ') || '?'} (${(d.command ?? []).join(' ')}) did not stop${r.exitCode !== 0 ? `: ${firstLine(r.stderr)}` : ''}`, { host, code: 'E_STOP' });
    }
  }
}
