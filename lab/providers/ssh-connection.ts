/**
 * The ssh2 adapter: the ONLY module of lab that imports ssh2. One authenticated connection to one host, with
 * the host key checked against the lab's pinned known_hosts, commands run over exec channels (a command string —
 * built by the provider with shell-quote.ts) and files moved over one SFTP session.
 *
 * Nothing ssh2-typed leaves this file: callers see SshConnection, RunResult and ProviderError.
 */
import { readFile } from 'node:fs/promises';
import { homedir, constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { ProviderError } from '../errors.js';
import type { LabErrorCode } from '../errors.js';
import { KnownHosts, algorithmsForKeyType, knownHostsPattern } from './ssh-known-hosts.js';
import type { HostKeyInfo } from './ssh-known-hosts.js';

const { Client, utils } = ssh2;

/** Where and how to log in. */
export interface SshTarget {
  /** Lab host name (HOST3), for messages. */
  name: string;
  /** What to connect to: the inventory's DNS name, else its address. */
  host: string;
  port: number;
  user: string;
  keyPath?: string;
  /** From the inventory; only ever handed to ssh2. */
  password?: string;
  /** ssh-agent socket (SSH_AUTH_SOCK), if any. */
  agent?: string;
}

export interface ConnectOptions {
  knownHosts: KnownHosts;
  /** TCP connect + handshake + authentication (default 10 s). */
  timeoutMs?: number;
  /** Keepalive interval (default 15 s; 4 unanswered → the connection is dropped). */
  keepaliveMs?: number;
  /** Called when a host key is seen for the first time and pinned. */
  onNewHostKey?: (info: HostKeyInfo) => void;
  /** Where to look for default keys when the inventory names none (default ~/.ssh). */
  defaultKeyDir?: string | null;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  /** Receive output as it comes instead of collecting it. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /**
   * Cancel: ask sshd to SIGKILL the command and close the channel at once. (sshd honours signal requests only for
   * privilege-separated sessions — not for root logins — so the provider also kills the command remotely, by pid.)
   */
  cancel?: AbortSignal;
}

export interface RunResult {
  /** The exit status; 128 + n when killed by signal n (as a shell reports it). */
  exitCode: number;
  /** Signal name (INT, TERM, KILL…) when the remote command was killed by one. */
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
  timedOut: boolean;
  aborted: boolean;
}

/** A ProviderError whose message already names the host (so it is not prefixed with it a second time). */
export function hostError(host: string, message: string, options: { code?: LabErrorCode; cause?: unknown } = {}): ProviderError {
  const e = new ProviderError(message, { host, code: options.code, cause: options.cause });
  e.message = message;
  return e;
}

/** `HOST3 (pi@192.168.1.13:22)` */
export function targetLabel(t: Pick<SshTarget, 'name' | 'user' | 'host' | 'port'>): string {
  return `${t.name} (${t.user}@${t.host}:${t.port})`;
}

/** OpenSSH's default MaxSessions is 10 per connection; the SFTP session takes one. */
const MAX_CHANNELS = 8;

class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async acquire(): Promise<void> {
    if (this.used < this.max) {
      this.used++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
}

function signalNumber(name: string | undefined): number {
  if (!name) return 0;
  const n = (osConstants.signals as Record<string, number>)[`SIG${name.replace(/^SIG/, '')}`];
  return typeof n === 'number' ? n : 0;
}

interface AuthPlan {
  methods: AnyAuthMethod[];
  /** What will be tried, for "authentication failed (tried: …)". */
  tried: string[];
  /** Why some configured credential could not be used (an encrypted key…). */
  notes: string[];
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

async function authPlan(t: SshTarget, defaultKeyDir: string | null): Promise<AuthPlan> {
  const plan: AuthPlan = { methods: [], tried: [], notes: [] };
  const addKey = (path: string, text: Buffer, explicit: boolean): void => {
    const parsed = utils.parseKey(text);
    if (parsed instanceof Error) {
      if (/encrypted|passphrase/i.test(parsed.message)) {
        plan.notes.push(`key ${path} is encrypted: add it to ssh-agent (ssh-add ${path}); lab does not ask for passphrases`);
      } else if (explicit) {
        throw hostError(t.name, `${targetLabel(t)}: cannot use the key ${path}: ${parsed.message}`, { code: 'E_SSH_KEY' });
      }
      return;
    }
    plan.methods.push({ type: 'publickey', username: t.user, key: text });
    plan.tried.push(`key ${path}`);
  };
  if (t.keyPath) {
    let text: Buffer;
    try {
      text = await readFile(t.keyPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
      throw hostError(t.name, `${targetLabel(t)}: cannot read the key ${t.keyPath}: ${why}`, { code: 'E_SSH_KEY' });
    }
    addKey(t.keyPath, text, true);
  }
  if (t.agent) {
    plan.methods.push({ type: 'agent', username: t.user, agent: t.agent });
    plan.tried.push('agent');
  }
  if (!t.keyPath && defaultKeyDir) {
    // Like ssh: the usual key files when the inventory names none.
    for (const name of DEFAULT_KEYS) {
      const path = join(defaultKeyDir, name);
      const text = await readFile(path).catch(() => null);
      if (text) addKey(path, text, false);
    }
  }
  if (t.password !== undefined) {
    const password = t.password;
    plan.methods.push({ type: 'password', username: t.user, password });
    plan.methods.push({
      type: 'keyboard-interactive',
      username: t.user,
      prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)),
    });
    plan.tried.push('password');
  }
  return plan;
}

function describeConnectError(err: Error & { code?: string; level?: string }, timeoutMs: number, plan: AuthPlan): { what: string; code: LabErrorCode } {
  const code = err.code ?? '';
  if (err.level === 'client-authentication') {
    const tried = plan.tried.length > 0 ? plan.tried.join(', ') : 'nothing';
    const notes = plan.notes.length > 0 ? `; ${plan.notes.join('; ')}` : '';
    return { what: `authentication failed (tried: ${tried})${notes}`, code: 'E_SSH_AUTH' };
  }
  if (code === 'ECONNREFUSED') return { what: 'connection refused (is sshd running and listening on that port?)', code: 'E_SSH_REFUSED' };
  if (err.level === 'client-timeout' || code === 'ETIMEDOUT') {
    const after = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`;
    return { what: `timed out after ${after} (host down, wrong address, or a firewall)`, code: 'E_SSH_TIMEOUT' };
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { what: 'no route to host (host down or wrong address)', code: 'E_SSH_UNREACHABLE' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { what: 'cannot resolve the host name', code: 'E_SSH_RESOLVE' };
  if (code === 'ECONNRESET') return { what: 'connection reset during the handshake (sshd refused us: MaxStartups, tcp wrappers or a firewall?)', code: 'E_SSH_RESET' };
  return { what: err.message.split('\n')[0] ?? String(err), code: 'E_SSH_CONNECT' };
}

export class SshConnection {
  private readonly slots = new Slots(MAX_CHANNELS);
  private sftpP: Promise<SFTPWrapper> | null = null;
  private ended = false;
  /** How long connecting (TCP + handshake + auth) took, ms. */
  connectMs = 0;

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly target: SshTarget,
    /** The host key the server proved it holds. */
    readonly hostKey: HostKeyInfo,
  ) {
    const mark = (): void => {
      this.ended = true;
    };
    client.on('close', mark);
    client.on('end', mark);
    client.on('error', mark); // after ready: the connection is gone; the next use reconnects
  }

  get closed(): boolean {
    return this.ended;
  }

  get label(): string {
    return targetLabel(this.target);
  }

  /** Connect and authenticate, checking (or, on first contact, pinning) the host key. */
  static async connect(t: SshTarget, options: ConnectOptions): Promise<SshConnection> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const plan = await authPlan(t, options.defaultKeyDir === undefined ? join(homedir(), '.ssh') : options.defaultKeyDir);
    if (plan.methods.length === 0) {
      const notes = plan.notes.length > 0 ? ` (${plan.notes.join('; ')})` : '';
      throw hostError(t.name, `${targetLabel(t)}: no way to log in${notes}: give a key (key: in the inventory), run an ssh-agent (SSH_AUTH_SOCK), or give a password`, { code: 'E_SSH_AUTH' });
    }
    const known = options.knownHosts;
    await known.tighten();
    const pinnedTypes = await known.pinnedTypes(t.host, t.port);
    let verdict: Awaited<ReturnType<KnownHosts['check']>> | null = null;
    let verifyError: unknown = null;

    const config: ConnectConfig = {
      host: t.host,
      port: t.port,
      username: t.user,
      readyTimeout: timeoutMs,
      keepaliveInterval: options.keepaliveMs ?? 15_000,
      keepaliveCountMax: 4,
      authHandler: plan.methods,
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void): void => {
        known
          .check(t.host, t.port, key)
          .then(async (v) => {
            verdict = v;
            if (v.status === 'new') {
              await known.pin(t.host, t.port, key);
              options.onNewHostKey?.(v.offered);
            }
            verify(v.status !== 'changed');
          })
          .catch((err: unknown) => {
            verifyError = err;
            verify(false);
          });
      },
    };
    if (pinnedTypes.length > 0) {
      // Ask for a key of the pinned type, so a server holding several keys offers the one we know.
      config.algorithms = { serverHostKey: pinnedTypes.flatMap(algorithmsForKeyType) as NonNullable<NonNullable<ConnectConfig['algorithms']>['serverHostKey']> };
    }

    const client = new Client();
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error & { code?: string; level?: string }): void => {
        if (settled) return;
        settled = true;
        client.end();
        const v = verdict as Awaited<ReturnType<KnownHosts['check']>> | null;
        if (v && v.status === 'changed') {
          const expected = v.expected.map((e) => `${e.type} ${e.fingerprint}`).join(' or ');
          reject(
            hostError(
              t.name,
              `${targetLabel(t)}: host key CHANGED — refusing to connect: expected ${expected}, offered ${v.offered.type} ${v.offered.fingerprint}. ` +
                `If the host was reinstalled on purpose, delete the line for ${knownHostsPattern(t.host, t.port)} from ${known.file} and retry; otherwise someone may be intercepting the connection`,
              { code: 'E_SSH_HOST_KEY_CHANGED' },
            ),
          );
          return;
        }
        if (verifyError) {
          reject(hostError(t.name, `${targetLabel(t)}: cannot check the host key against ${known.file}: ${String(verifyError)}`, { code: 'E_SSH_KNOWN_HOSTS', cause: verifyError }));
          return;
        }
        const { what, code } = describeConnectError(err, timeoutMs, plan);
        reject(hostError(t.name, `${targetLabel(t)}: ${what}`, { code, cause: err }));
      };
      client.once('ready', () => {
        if (settled) return;
        settled = true;
        resolve();
      });
      client.on('error', fail);
      client.once('close', () => fail(Object.assign(new Error('connection closed during the handshake'), { code: 'ECONNRESET' })));
      try {
        client.connect(config);
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    const v = verdict as Awaited<ReturnType<KnownHosts['check']>> | null;
    if (!v) {
      client.end();
      throw hostError(t.name, `${targetLabel(t)}: the server's host key was never checked; refusing the connection`, { code: 'E_SSH_HOST_KEY' });
    }
    const conn = new SshConnection(client, t, v.offered);
    conn.connectMs = performance.now() - t0;
    return conn;
  }

  /** Run one command string (already quoted by the caller). A non-zero exit is a result, not an error. */
  async run(command: string, options: RunOptions = {}): Promise<RunResult> {
    if (this.ended) throw hostError(this.target.name, `${this.label}: the ssh connection is closed`, { code: 'E_SSH_CLOSED' });
    await this.slots.acquire();
    const t0 = performance.now();
    let channel: ClientChannel;
    let exitCode: number | null = null;
    let signal: string | undefined;
    try {
      channel = await new Promise<ClientChannel>((resolve, reject) => {
        this.client.exec(command, (err, ch) => {
          if (err) return reject(err);
          // Listen before anything else runs: a quick command's exit status can come in the same read as the
          // channel's confirmation, before the code after this `await` (output waits in the stream; events do not).
          ch.on('exit', (code: number | null, sig?: string) => {
            if (typeof code === 'number') exitCode = code;
            else if (sig) {
              signal = sig;
              exitCode = 128 + signalNumber(sig);
            }
          });
          resolve(ch);
        });
      });
    } catch (err) {
      this.slots.release();
      throw hostError(this.target.name, `${this.label}: cannot open an ssh channel: ${err instanceof Error ? err.message : String(err)}`, { code: 'E_SSH_CHANNEL', cause: err });
    }
    return new Promise<RunResult>((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      let aborted = false;
      let timer: NodeJS.Timeout | undefined;
      channel.on('data', (d: Buffer) => (options.onStdout ? options.onStdout(d) : out.push(d)));
      channel.stderr.on('data', (d: Buffer) => (options.onStderr ? options.onStderr(d) : err.push(d)));
      const kill = (): void => {
        try {
          channel.signal('KILL');
        } catch {
          // the channel is going away anyway
        }
        channel.close();
      };
      const onCancel = (): void => {
        aborted = true;
        kill();
      };
      options.cancel?.addEventListener('abort', onCancel, { once: true });
      if (options.cancel?.aborted) onCancel();
      if (options.timeoutMs) {
        timer = setTimeout(() => {
          timedOut = true;
          kill();
        }, options.timeoutMs);
      }
      channel.once('close', () => {
        if (timer) clearTimeout(timer);
        options.cancel?.removeEventListener('abort', onCancel);
        this.slots.release();
        let code = exitCode;
        if (code === null) code = timedOut ? 137 : aborted ? 130 : 255;
        let stderr = Buffer.concat(err);
        if (timedOut) stderr = Buffer.concat([stderr, Buffer.from(`\n(killed after ${options.timeoutMs} ms)`)]);
        resolve({ exitCode: code, signal, stdout: Buffer.concat(out), stderr, durationMs: performance.now() - t0, timedOut, aborted });
      });
      channel.on('error', () => undefined);
      channel.end(options.input ?? '');
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    if (!this.sftpP) {
      this.sftpP = new Promise<SFTPWrapper>((resolve, reject) => {
        this.client.sftp((err, sftp) => {
          if (err) {
            this.sftpP = null;
            reject(hostError(this.target.name, `${this.label}: cannot start SFTP (is the sftp subsystem enabled in sshd_config?): ${err.message}`, { code: 'E_SSH_SFTP', cause: err }));
            return;
          }
          sftp.on('close', () => {
            this.sftpP = null;
          });
          resolve(sftp);
        });
      });
    }
    return this.sftpP;
  }

  private sftpError(op: string, path: string, err: Error & { code?: number | string }): ProviderError {
    const code: LabErrorCode = err.code === 2 ? 'E_NOT_FOUND' : err.code === 3 ? 'E_PERMISSION' : 'E_SSH_SFTP';
    const why = err.code === 2 ? 'no such file' : err.code === 3 ? 'permission denied' : err.message;
    return new ProviderError(`${op} ${path} over SFTP: ${why}`, { host: this.target.name, code, cause: err });
  }

  async writeFile(path: string, data: string | Buffer, mode: number): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(path, data, { mode }, (err) => (err ? reject(this.sftpError('cannot write', path, err)) : resolve())),
    );
    await new Promise<void>((resolve, reject) => sftp.chmod(path, mode, (err) => (err ? reject(this.sftpError('cannot chmod', path, err)) : resolve())));
  }

  async readFile(path: string): Promise<Buffer> {
    const sftp = await this.sftp();
    return new Promise<Buffer>((resolve, reject) =>
      sftp.readFile(path, (err: Error | undefined, data: Buffer) => (err ? reject(this.sftpError('cannot read', path, err)) : resolve(data))),
    );
  }

  /** Upload a local file (parallel SFTP writes). */
  async upload(localPath: string, remotePath: string, mode = 0o600): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.fastPut(localPath, remotePath, { mode }, (err) => (err ? reject(this.sftpError('cannot upload to', remotePath, err)) : resolve())),
    );
  }

  async close(): Promise<void> {
    if (this.ended) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
    this.ended = true;
  }
}
