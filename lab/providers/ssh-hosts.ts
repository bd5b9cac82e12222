/**
 * The hosts of an ssh lab as reached from here: who to log in as, one connection per host (opened on first use,
 * reused, reopened when it dropped; ssh2 stays inside ssh-connection.ts), what a probe of the login environment
 * found, and the command prefixes that run something as root (`sudo -n --`) or as another user. Every command
 * string is built with shell-quote.ts; scripts take their values as positional arguments.
 */
import { userInfo } from 'node:os';
import { ProviderError } from '../errors.js';
import type { HostSpec, Topology } from '../topology/topology.js';
import type { Progress } from './provider.js';
import { quoteArgv } from './shell-quote.js';
import { SshConnection, hostError } from './ssh-connection.js';
import type { RunOptions, RunResult, SshTarget } from './ssh-connection.js';
import type { KnownHosts } from './ssh-known-hosts.js';

export interface SshAccessOptions {
  /** Connect + handshake + authentication timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** ssh-agent socket; default $SSH_AUTH_SOCK; null: do not use an agent. */
  agent?: string | null;
  /** Folder with default keys tried when the inventory names none (default ~/.ssh); null: none. */
  defaultKeyDir?: string | null;
}

/** What the probe learnt about a host's login environment. */
export interface HostFacts {
  home: string;
  uid: number;
  uname: string;
  node?: string;
  nodeVersion?: string;
  hasSudo: boolean;
  hasRunuser: boolean;
  hasTar: boolean;
  /** systemd runs the host (/run/systemd/system) and systemd-run / systemctl are there. */
  hasSystemd: boolean;
  /** Service commands found (name → path). */
  commands: Record<string, string>;
}

/** One host's part of `lab up`: where its progress goes, how a step is run and timed, the abort check. */
export interface HostUp {
  host: string;
  progress: Progress;
  /** Milliseconds per step (connect, preflight, ship lab…), for reports and benchmarks. */
  times: Record<string, number>;
  /** Throws InterruptedError once lab up was interrupted. */
  checkAbort(): void;
  /** Run a step: abort check, a 'start' event (a 'fail' one when it throws), its duration in `times`. */
  step<T>(name: string, detail: string, fn: () => Promise<T>): Promise<T>;
}

/** Run through sh: the login shell may be bash (whose `command -v` also names files it cannot run), zsh, fish… */
const PROBE = [
  `printf 'home=%s\\n' "$HOME"`,
  `printf 'uid=%s\\n' "$(id -u)"`,
  `printf 'uname=%s\\n' "$(uname -sm)"`,
  `if p=$(command -v node 2>/dev/null) && [ -x "$p" ]; then printf 'node=%s\\n' "$p"; printf 'nodever=%s\\n' "$("$p" --version 2>/dev/null)"; fi`,
  `if command -v sudo >/dev/null 2>&1; then echo sudo=yes; fi`,
  `if command -v runuser >/dev/null 2>&1; then echo runuser=yes; fi`,
  `if command -v tar >/dev/null 2>&1; then echo tar=yes; fi`,
  `if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1 && command -v systemctl >/dev/null 2>&1; then echo systemd=yes; fi`,
  `for c in rabbitmq-server redis-server; do`,
  `  p=$(command -v "$c" 2>/dev/null) && [ -x "$p" ] || p=`,
  `  if [ -z "$p" ]; then for d in /usr/sbin /sbin /usr/local/sbin /usr/lib/rabbitmq/bin; do if [ -x "$d/$c" ]; then p=$d/$c; break; fi; done; fi`,
  `  if [ -n "$p" ]; then printf 'cmd.%s=%s\\n' "$c" "$p"; fi`,
  `done`,
].join('\n');

const SUDO = ['sudo', '-n', '--'];
const SUDO_PASSWORD_RE = /^sudo: (a password is required|a terminal is required|no tty present)/m;
const SUDO_DENIED_RE = /^sudo: .*(is not in the sudoers file|is not allowed to execute|may not run sudo)/im;
/** A user, or user:group, as chown takes it. */
export const OWNER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}(:[A-Za-z_][A-Za-z0-9_.-]{0,31})?$/;

/** The last non-empty line of a command's error output (what it said last is what went wrong). */
export function firstLine(text: string | Buffer): string {
  const lines = text
    .toString()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

export function parseKeyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** Where and as whom to log in to a host: the inventory's user (else ours), its DNS name or address, the agent. */
export function sshTarget(h: Readonly<HostSpec>, options: SshAccessOptions): SshTarget {
  let user = h.user;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = process.env.USER ?? 'root';
    }
  }
  const agent = options.agent === null ? undefined : (options.agent ?? process.env.SSH_AUTH_SOCK) || undefined;
  return { name: h.name, host: h.hostname ?? h.address, port: h.port ?? 22, user, keyPath: h.keyPath, password: h.password, agent };
}

export class SshHosts {
  private readonly conns = new Map<string, Promise<SshConnection>>();
  private readonly facts = new Map<string, Promise<HostFacts>>();

  constructor(
    readonly topology: Topology,
    readonly knownHosts: KnownHosts,
    private readonly options: SshAccessOptions,
  ) {}

  spec(name: string): Readonly<HostSpec> {
    const h = this.topology.host(name);
    if (!h) throw new ProviderError(`no host ${name} in lab ${this.topology.name}`, { host: name, code: 'E_NO_HOST' });
    return h;
  }

  target(host: string): SshTarget {
    return sshTarget(this.spec(host), this.options);
  }

  /** The host's connection (opened on first use, reopened if it dropped). */
  connection(host: string): Promise<SshConnection> {
    const h = this.spec(host);
    const existing = this.conns.get(h.name);
    if (existing) {
      return existing.then((c) => {
        if (!c.closed) return c;
        if (this.conns.get(h.name) === existing) this.conns.delete(h.name);
        return this.connection(host);
      });
    }
    const p = SshConnection.connect(this.target(h.name), { knownHosts: this.knownHosts, timeoutMs: this.options.connectTimeoutMs, defaultKeyDir: this.options.defaultKeyDir });
    this.conns.set(h.name, p);
    p.catch(() => {
      if (this.conns.get(h.name) === p) this.conns.delete(h.name);
    });
    return p;
  }

  async run(host: string, command: string, options: RunOptions = {}): Promise<RunResult> {
    return (await this.connection(host)).run(command, options);
  }

  /** Run a POSIX sh script with positional arguments ($1…), optionally behind a privilege prefix. */
  script(host: string, script: string, args: string[], prefix: string[] = [], options: RunOptions = {}): Promise<RunResult> {
    return this.run(host, quoteArgv([...prefix, 'sh', '-c', script, 'sh', ...args]), options);
  }

  /** What the probe found on a host (probed once; `fresh` probes again). */
  hostFacts(host: string, fresh = false): Promise<HostFacts> {
    const name = this.spec(host).name;
    if (fresh) this.facts.delete(name);
    let p = this.facts.get(name);
    if (!p) {
      p = this.probe(name);
      this.facts.set(name, p);
      p.catch(() => {
        if (this.facts.get(name) === p) this.facts.delete(name);
      });
    }
    return p;
  }

  private async probe(host: string): Promise<HostFacts> {
    const r = await this.script(host, PROBE, [], [], { timeoutMs: 30_000 });
    const kv = parseKeyValues(r.stdout.toString('utf8'));
    const home = kv.get('home') ?? '';
    const uid = Number(kv.get('uid'));
    if (r.exitCode !== 0 || !home.startsWith('/') || !Number.isInteger(uid)) {
      throw new ProviderError(`preflight: cannot read the login environment (exit ${r.exitCode}): ${firstLine(r.stderr) || 'no $HOME or id -u'} — is the login shell a POSIX shell?`, { host, code: 'E_PREFLIGHT' });
    }
    const commands: Record<string, string> = {};
    for (const [k, v] of kv) if (k.startsWith('cmd.')) commands[k.slice(4)] = v;
    return {
      home: home.replace(/\/+$/, '') || '/',
      uid,
      uname: kv.get('uname') ?? '',
      node: kv.get('node') || undefined,
      nodeVersion: kv.get('nodever') || undefined,
      hasSudo: kv.get('sudo') === 'yes',
      hasRunuser: kv.get('runuser') === 'yes',
      hasTar: kv.get('tar') === 'yes',
      hasSystemd: kv.get('systemd') === 'yes',
      commands,
    };
  }

  /** The prefix that makes a command run as root (throws a clear error when that is not possible). */
  async asRoot(host: string, what: string): Promise<string[]> {
    const f = await this.hostFacts(host);
    if (f.uid === 0) return [];
    const h = this.spec(host);
    const user = this.target(h.name).user;
    if (!h.sudo) throw new ProviderError(`${what} needs root: set sudo: true for ${h.name} in the inventory (with passwordless sudo for ${user}) or connect as root`, { host: h.name, code: 'E_NEED_ROOT' });
    if (!f.hasSudo) throw new ProviderError(`${what} needs root but sudo is not installed: install sudo or connect as root`, { host: h.name, code: 'E_NO_SUDO' });
    return SUDO;
  }

  /** Root if it is to be had (for clean-up that must also reach files/processes of service users), else nothing. */
  async rootIfPossible(host: string): Promise<string[]> {
    const f = await this.hostFacts(host);
    if (f.uid === 0) return [];
    return this.spec(host).sudo && f.hasSudo ? SUDO : [];
  }

  /** The prefix that runs a command as `user` (none when that is the login user). */
  async asUser(host: string, user: string): Promise<string[]> {
    if (!OWNER_RE.test(user) || user.includes(':')) throw new ProviderError(`not a user name: ${JSON.stringify(user)}`, { host, code: 'E_USAGE' });
    const h = this.spec(host);
    if (user === this.target(h.name).user) return [];
    const f = await this.hostFacts(host);
    if (f.uid === 0) {
      if (f.hasSudo) return ['sudo', '-n', '-u', user, '--'];
      if (f.hasRunuser) return ['runuser', '-u', user, '--'];
      throw new ProviderError(`running as ${user} needs sudo or runuser (util-linux): install sudo`, { host: h.name, code: 'E_NO_SUDO' });
    }
    await this.asRoot(host, `running as ${user}`); // throws when sudo is not allowed or not there
    return ['sudo', '-n', '-u', user, '--'];
  }

  /** A sudo that wants a password (or is not allowed) is a setup problem, not a command result. */
  checkSudo(host: string, prefix: string[], r: RunResult): void {
    if (prefix[0] !== 'sudo' || r.exitCode === 0) return;
    const err = r.stderr.toString('utf8');
    const h = this.spec(host);
    const user = this.target(h.name).user;
    if (SUDO_PASSWORD_RE.test(err)) {
      throw hostError(h.name, `sudo on ${h.name} needs a password: allow passwordless sudo for ${user} or connect as root`, { code: 'E_SUDO_PASSWORD' });
    }
    if (SUDO_DENIED_RE.test(err)) {
      throw hostError(h.name, `sudo on ${h.name} is not allowed for ${user}: allow passwordless sudo for ${user} or connect as root`, { code: 'E_SUDO_DENIED' });
    }
  }

  /** A script behind a prefix, its sudo failures turned into errors (see checkSudo). */
  async privileged(host: string, prefix: string[], script: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
    const r = await this.script(host, script, args, prefix, options);
    this.checkSudo(host, prefix, r);
    return r;
  }

  async close(): Promise<void> {
    const conns = [...this.conns.values()];
    this.conns.clear();
    this.facts.clear();
    await Promise.all(conns.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
}
