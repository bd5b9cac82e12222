/**
 * The ssh provider: the lab's hosts are real machines (VMs, Raspberry Pis) reached over ssh.
 *
 * - One connection per host (ssh2, in ssh-connection.ts — nothing else imports ssh2), reused; host keys pinned in
 *   `<stateDir>/known_hosts` (accept-new on first contact, a changed key is refused).
 * - Commands: ssh exec takes ONE string, so every argv element is quoted for POSIX sh (shell-quote.ts) and the
 *   environment goes through `env K=V …`; `sudo: true` in the inventory → `sudo -n --` for privileged steps.
 * - `up` per host: connect, preflight (uname, Node ≥ 20 for hosts that run lab, rabbitmq-server / redis-server
 *   for the broker / backend, or apt-get them with `install`), the work directory `~/.lab/<lab>/<HOST>`, and the
 *   lab itself shipped (tarball over SFTP) to `~/.lab/<lab>/<HOST>/lab` unless it is already there.
 * - Long-running processes: started detached (setsid) with LAB_PROCESS_TOKEN=<token> in their environment, the
 *   ledger entry written before; found again by pid + start time (/proc/<pid>/stat read remotely) or that token.
 * - /etc/hosts edited in place (a `# BEGIN lab <name>` … `# END lab <name>` block), never renamed over.
 */
import { createHash, randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { posix } from 'node:path';
import { InterruptedError, ProviderError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import { parseProcStat } from '../topology/proc.js';
import type { ProcessCheck } from '../topology/proc.js';
import type { LabState } from '../topology/state.js';
import type { HostSpec, Role, Topology } from '../topology/topology.js';
import { DEFAULT_GRACE_MS, PROCESS_TOKEN_ENV } from './provider.js';
import type {
  ExecOptions,
  ExecResult,
  HostInfo,
  HostsEntry,
  PlanStep,
  ProcessRef,
  Provider,
  SpawnedData,
  SpawnOptions,
  StreamOptions,
  UpContext,
} from './provider.js';
import { envArgv, quote, quoteArgv } from './shell-quote.js';
import { labBundle } from './ssh-bundle.js';
import { SshConnection, hostError, targetLabel } from './ssh-connection.js';
import type { RunResult, SshTarget } from './ssh-connection.js';
import { HostsFileError, hostsBlock, removeHostsBlock, replaceHostsBlock } from './hosts-file.js';
import { KnownHosts } from './ssh-known-hosts.js';

export interface SshProviderOptions {
  /** apt-get install a missing rabbitmq-server / redis-server (recorded as kind 'package'; never uninstalled). */
  install?: boolean;
  /** Connect + handshake + authentication timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** ssh-agent socket; default $SSH_AUTH_SOCK; null: do not use an agent. */
  agent?: string | null;
  /** Folder with default keys tried when the inventory names none (default ~/.ssh); null: none. */
  defaultKeyDir?: string | null;
  /** What to ship (default: the package lab runs from). */
  packageRoot?: string;
}

/** Roles whose hosts run lab itself (need Node ≥ 20 and the shipped lab). */
const NODE_ROLES: readonly Role[] = ['workers', 'master', 'quotes'];
/** Roles whose hosts run a server from a Debian package. */
const SERVICE_PACKAGES: Partial<Record<Role, { command: string; package: string }>> = {
  broker: { command: 'rabbitmq-server', package: 'rabbitmq-server' },
  backend: { command: 'redis-server', package: 'redis-server' },
};
const MIN_NODE_MAJOR = 20;
const HOSTS_FILE = '/etc/hosts';
const SYSTEM_ROOT = '/var/lib/lab';
const SHIP_MARKER = '.lab-ship';

/** What the preflight learnt about a host. */
interface HostFacts {
  home: string;
  uid: number;
  uname: string;
  node?: string;
  nodeVersion?: string;
  hasSudo: boolean;
  hasRunuser: boolean;
  hasTar: boolean;
  /** Service commands found (name → path). */
  commands: Record<string, string>;
}

/** The ledger data of a work directory entry (also what `attach` rebuilds HostInfo from). */
interface DirData {
  host: string;
  path: string;
  root: string;
  labRoot: string;
  node: string;
}

interface RemoteSpawnData extends SpawnedData {
  user?: string;
  sudo?: boolean;
}

const PROBE = [
  `printf 'home=%s\\n' "$HOME"`,
  `printf 'uid=%s\\n' "$(id -u)"`,
  `printf 'uname=%s\\n' "$(uname -sm)"`,
  `if p=$(command -v node 2>/dev/null) && [ -x "$p" ]; then printf 'node=%s\\n' "$p"; printf 'nodever=%s\\n' "$("$p" --version 2>/dev/null)"; fi`,
  `if command -v sudo >/dev/null 2>&1; then echo sudo=yes; fi`,
  `if command -v runuser >/dev/null 2>&1; then echo runuser=yes; fi`,
  `if command -v tar >/dev/null 2>&1; then echo tar=yes; fi`,
  `for c in rabbitmq-server redis-server; do`,
  `  p=$(command -v "$c" 2>/dev/null) && [ -x "$p" ] || p=`,
  `  if [ -z "$p" ]; then for d in /usr/sbin /sbin /usr/local/sbin /usr/lib/rabbitmq/bin; do if [ -x "$d/$c" ]; then p=$d/$c; break; fi; done; fi`,
  `  if [ -n "$p" ]; then printf 'cmd.%s=%s\\n' "$c" "$p"; fi`,
  `done`,
].join('\n');

/** Signal a process (group) only if /proc/<pid>/stat still shows the recorded start time. Args: pid start signal. */
const KILL_SCRIPT = [
  'p=$1; want=$2; sig=$3',
  's=$(cat "/proc/$p/stat" 2>/dev/null) || { echo gone; exit 0; }',
  'set -f',
  'set -- ${s##*\\)}',
  'if [ "$1" = Z ]; then echo gone; exit 0; fi',
  'if [ "${20}" != "$want" ]; then echo reused; exit 0; fi',
  'if [ "$3" = "$p" ] && kill -s "$sig" -- "-$p" 2>/dev/null; then echo same; exit 0; fi',
  'if kill -s "$sig" "$p" 2>/dev/null; then echo same; exit 0; fi',
  'echo gone',
].join('\n');

/** Print the stat line of every process whose environment holds exactly LAB_PROCESS_TOKEN=<arg>. */
const FIND_TOKEN_SCRIPT = [
  `for f in $(grep -lzxF -e "${PROCESS_TOKEN_ENV}=$1" /proc/[0-9]*/environ 2>/dev/null); do`,
  '  cat "${f%/environ}/stat" 2>/dev/null && echo',
  'done',
  'exit 0',
].join('\n');

/** Replace a file's content in place (same inode: /etc/hosts may be a bind mount) if its sha256 is still $2. */
const REWRITE_SCRIPT = [
  'f=$1; want=$2',
  'cur=$(sha256sum < "$f") || exit 1',
  'cur=${cur%% *}',
  'if [ "$cur" != "$want" ]; then echo "changed meanwhile" >&2; exit 75; fi',
  'cat > "$f"',
].join('\n');

/** Print the command's pid first (on stderr), then become the command (exec keeps the pid). */
const PID_WRAPPER = 'echo "LABPID=$$" >&2; exec "$@"';

/** Send signal $2 to the process group of pid $1 (or to the pid alone when that fails). */
const GROUP_KILL_SCRIPT = [
  'p=$1; sig=$2',
  's=$(cat "/proc/$p/stat" 2>/dev/null) || exit 0',
  'set -f',
  'set -- ${s##*\\)}',
  'kill -s "$sig" -- "-$3" 2>/dev/null || kill -s "$sig" "$p" 2>/dev/null',
  'exit 0',
].join('\n');

/** Args: lab folder, host work directory, 1 when other users must traverse it (broker hosts). */
const MKDIR_SCRIPT = [
  'set -e',
  'mkdir -p -- "$2"',
  'chmod 711 -- "$1"',
  'if [ "$3" = 1 ]; then chmod 711 -- "$2"; else chmod 700 -- "$2"; fi',
].join('\n');

/** As root. Args: lab folder under /var/lib/lab, host work directory, its owner (the login user). */
const MKDIR_SYSTEM_SCRIPT = [
  'set -e',
  'p=$(dirname -- "$1")',
  'if [ ! -d "$p" ]; then mkdir -p -m 711 -- "$p"; else chmod o+x -- "$p"; fi',
  'mkdir -p -- "$2"',
  'chmod 711 -- "$1" "$2"',
  'chown -- "$3" "$2"',
].join('\n');

/** Print `blocked=<dir>` for the first existing folder from $1 up that other users cannot traverse (no o+x). */
const TRAVERSE_SCRIPT = [
  'd=$1',
  'while [ "$d" != / ]; do',
  '  if [ -e "$d" ]; then',
  '    m=$(stat -c %a -- "$d" 2>/dev/null) || break',
  '    case $m in *[1357]) ;; *) echo "blocked=$d"; break ;; esac',
  '  fi',
  '  d=$(dirname -- "$d")',
  'done',
].join('\n');

const SHIP_SCRIPT = [
  'set -e',
  'cd "$1"',
  'rm -rf lab.new',
  'mkdir lab.new',
  'tar -xzf lab.tgz.part -C lab.new --no-same-owner',
  `printf '%s\\n' "$2" > lab.new/${SHIP_MARKER}`,
  'rm -rf lab',
  'mv lab.new lab',
  'rm -f lab.tgz.part',
].join('\n');

const SUDO_PASSWORD_RE = /^sudo: (a password is required|a terminal is required|no tty present)/m;
const SUDO_DENIED_RE = /^sudo: .*(is not in the sudoers file|is not allowed to execute|may not run sudo)/im;
const OWNER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}(:[A-Za-z_][A-Za-z0-9_.-]{0,31})?$/;

function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

function parseKeyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** "Something lab up installed": what `lab down` says instead of uninstalling it. */
export function packageNotice(entry: LedgerEntry): string | null {
  if (entry.kind !== 'package') return null;
  const d = entry.data as { host?: string; package?: string };
  return `${d.host ?? '?'}: ${d.package ?? '?'} was installed by lab up and is left installed (remove it with: sudo apt-get remove ${d.package ?? '<package>'})`;
}

export class SshProvider implements Provider {
  readonly kind = 'ssh' as const;
  readonly knownHosts: KnownHosts;
  /** Milliseconds per host and step of the last `up` (connect, preflight, ship…), for reports and benchmarks. */
  readonly timings: Record<string, Record<string, number>> = {};
  private ledger: Ledger | null = null;
  private readonly conns = new Map<string, Promise<SshConnection>>();
  private readonly facts = new Map<string, Promise<HostFacts>>();
  private readonly infos = new Map<string, HostInfo>();

  constructor(
    readonly topology: Topology,
    stateDir: string,
    private readonly options: SshProviderOptions = {},
  ) {
    this.knownHosts = new KnownHosts(posix.join(stateDir, 'known_hosts'));
  }

  // ---- hosts and connections

  private spec(name: string): Readonly<HostSpec> {
    const h = this.topology.host(name);
    if (!h) throw new ProviderError(`no host ${name} in lab ${this.topology.name}`, { host: name, code: 'E_NO_HOST' });
    return h;
  }

  private target(h: Readonly<HostSpec>): SshTarget {
    let user = h.user;
    if (!user) {
      try {
        user = userInfo().username;
      } catch {
        user = process.env.USER ?? 'root';
      }
    }
    const agent = this.options.agent === null ? undefined : (this.options.agent ?? process.env.SSH_AUTH_SOCK) || undefined;
    return { name: h.name, host: h.hostname ?? h.address, port: h.port ?? 22, user, keyPath: h.keyPath, password: h.password, agent };
  }

  /** The host's connection (opened on first use, reopened if it dropped). */
  private connection(host: string): Promise<SshConnection> {
    const h = this.spec(host);
    const existing = this.conns.get(h.name);
    if (existing) {
      return existing.then((c) => {
        if (!c.closed) return c;
        if (this.conns.get(h.name) === existing) this.conns.delete(h.name);
        return this.connection(host);
      });
    }
    const p = SshConnection.connect(this.target(h), {
      knownHosts: this.knownHosts,
      timeoutMs: this.options.connectTimeoutMs,
      defaultKeyDir: this.options.defaultKeyDir,
    });
    this.conns.set(h.name, p);
    p.catch(() => {
      if (this.conns.get(h.name) === p) this.conns.delete(h.name);
    });
    return p;
  }

  private async run(host: string, command: string, options: Parameters<SshConnection['run']>[1] = {}): Promise<RunResult> {
    return (await this.connection(host)).run(command, options);
  }

  /** Run a POSIX sh script with positional arguments ($1…), optionally behind a privilege prefix. */
  private script(host: string, script: string, args: string[], prefix: string[] = [], options: Parameters<SshConnection['run']>[1] = {}): Promise<RunResult> {
    return this.run(host, quoteArgv([...prefix, 'sh', '-c', script, 'sh', ...args]), options);
  }

  private hostFacts(host: string): Promise<HostFacts> {
    const name = this.spec(host).name;
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
    // through sh: the login shell may be bash (whose `command -v` also names files it cannot run), zsh, fish…
    const r = await this.script(host, PROBE, [], [], { timeoutMs: 30_000 });
    const kv = parseKeyValues(r.stdout.toString('utf8'));
    const home = kv.get('home') ?? '';
    const uid = Number(kv.get('uid'));
    if (r.exitCode !== 0 || !home.startsWith('/') || !Number.isInteger(uid)) {
      throw new ProviderError(`preflight: cannot read the login environment (exit ${r.exitCode}): ${firstLine(r.stderr.toString('utf8')) || 'no $HOME or id -u'} — is the login shell a POSIX shell?`, { host, code: 'E_PREFLIGHT' });
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
      commands,
    };
  }

  private rootDir(f: HostFacts): string {
    return posix.join(f.home, '.lab', this.topology.name);
  }

  /** Where a broker host works when its home is closed to other users. */
  private systemRootDir(): string {
    return posix.join(SYSTEM_ROOT, this.topology.name);
  }

  /** The prefix that makes a command run as root (throws a clear error when that is not possible). */
  private async asRoot(host: string, what: string): Promise<string[]> {
    const f = await this.hostFacts(host);
    if (f.uid === 0) return [];
    const h = this.spec(host);
    const user = this.target(h).user;
    if (!h.sudo) throw new ProviderError(`${what} needs root: set sudo: true for ${h.name} in the inventory (with passwordless sudo for ${user}) or connect as root`, { host: h.name, code: 'E_NEED_ROOT' });
    if (!f.hasSudo) throw new ProviderError(`${what} needs root but sudo is not installed: install sudo or connect as root`, { host: h.name, code: 'E_NO_SUDO' });
    return ['sudo', '-n', '--'];
  }

  /** Root if it is to be had (for clean-up that must also reach files/processes of service users), else nothing. */
  private async rootIfPossible(host: string): Promise<string[]> {
    const f = await this.hostFacts(host);
    if (f.uid === 0) return [];
    return this.spec(host).sudo && f.hasSudo ? ['sudo', '-n', '--'] : [];
  }

  /** The prefix that runs a command as `user` (none when that is the login user). */
  private async asUser(host: string, user: string): Promise<string[]> {
    if (!OWNER_RE.test(user) || user.includes(':')) throw new ProviderError(`not a user name: ${JSON.stringify(user)}`, { host, code: 'E_USAGE' });
    const h = this.spec(host);
    if (user === this.target(h).user) return [];
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
  private checkSudo(host: string, prefix: string[], r: RunResult): void {
    if (prefix[0] !== 'sudo' || r.exitCode === 0) return;
    const err = r.stderr.toString('utf8');
    const h = this.spec(host);
    const user = this.target(h).user;
    if (SUDO_PASSWORD_RE.test(err)) {
      throw hostError(h.name, `sudo on ${h.name} needs a password: allow passwordless sudo for ${user} or connect as root`, { code: 'E_SUDO_PASSWORD' });
    }
    if (SUDO_DENIED_RE.test(err)) {
      throw hostError(h.name, `sudo on ${h.name} is not allowed for ${user}: allow passwordless sudo for ${user} or connect as root`, { code: 'E_SUDO_DENIED' });
    }
  }

  // ---- Provider

  plan(): PlanStep[] {
    const steps: PlanStep[] = [];
    for (const h of this.topology.hosts) {
      const t = this.target(h);
      const auth = [t.keyPath ? `key ${t.keyPath}` : null, t.agent ? 'agent' : null, t.password !== undefined ? 'password' : null].filter(Boolean).join(', ') || 'default keys';
      steps.push({ host: h.name, step: 'connect', detail: `ssh ${t.user}@${t.host}:${t.port} (${auth}); host key pinned in ${this.knownHosts.file}` });
      const checks = ['uname -sm'];
      if (h.roles.some((r) => NODE_ROLES.includes(r))) checks.push(`node --version ≥ ${MIN_NODE_MAJOR}`);
      for (const r of h.roles) {
        const s = SERVICE_PACKAGES[r];
        if (s) checks.push(this.options.install ? `${s.command} (apt-get install -y ${s.package} if missing)` : `${s.command} present`);
      }
      steps.push({ host: h.name, step: 'preflight', detail: checks.join('; ') });
      const alt = h.roles.includes('broker') ? `, or ${SYSTEM_ROOT}/${this.topology.name}/${h.name} when that home is closed to other users (RabbitMQ runs as its own user)` : '';
      steps.push({ host: h.name, step: 'work directory', detail: `~/.lab/${this.topology.name}/${h.name} (of ${t.user})${alt}` });
      if (h.roles.some((r) => NODE_ROLES.includes(r))) {
        steps.push({ host: h.name, step: 'ship lab', detail: `~/.lab/${this.topology.name}/${h.name}/lab (tarball over SFTP; skipped when the same version is there)` });
      }
    }
    return steps;
  }

  async up(ctx: UpContext): Promise<void> {
    this.ledger = ctx.ledger;
    const install = ctx.install ?? this.options.install ?? false;
    const results = await Promise.allSettled(this.topology.hosts.map((h) => this.upHost(h, ctx, install)));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length === 0) return;
    if (failures.length === 1 || failures.some((f) => f instanceof InterruptedError)) throw failures.find((f) => f instanceof InterruptedError) ?? failures[0];
    const lines = failures.map((f) => (f instanceof Error ? f.message : String(f)));
    throw new ProviderError(`${failures.length} hosts failed:\n  ${lines.join('\n  ')}`, { code: (failures[0] as ProviderError).code ?? 'E_PROVIDER', cause: failures[0] });
  }

  private async upHost(h: Readonly<HostSpec>, ctx: UpContext, install: boolean): Promise<void> {
    const host = h.name;
    const times: Record<string, number> = (this.timings[host] = {});
    const checkAbort = (): void => {
      if (ctx.signal?.aborted) throw new InterruptedError();
    };
    const step = async <T>(name: string, detail: string, fn: () => Promise<T>): Promise<T> => {
      checkAbort();
      ctx.progress({ host, step: name, status: 'start', detail });
      const t0 = performance.now();
      try {
        const out = await fn();
        times[name] = performance.now() - t0;
        return out;
      } catch (err) {
        times[name] = performance.now() - t0;
        ctx.progress({ host, step: name, status: 'fail', detail: err instanceof Error ? err.message : String(err) });
        throw err;
      }
    };

    // 1. connect (pins the host key on first contact)
    const t = this.target(h);
    const conn = await step('connect', `${t.user}@${t.host}:${t.port}`, () => this.connection(host));
    // connect and preflight create nothing: 'info', so a second `up` on a healthy lab reports no change
    ctx.progress({ host, step: 'connect', status: 'info', detail: `${conn.label} in ${Math.round(times.connect ?? 0)} ms; host key ${conn.hostKey.type} ${conn.hostKey.fingerprint}` });

    // 2. preflight
    const facts = await step('preflight', 'uname, node, services', async () => {
      this.facts.delete(host); // fresh facts on every up
      const f = await this.hostFacts(host);
      const needsNode = h.roles.some((r) => NODE_ROLES.includes(r));
      if (needsNode) {
        if (!f.node || !f.nodeVersion) {
          throw new ProviderError(`node not found (on the PATH of a non-interactive ssh session), lab needs Node ≥ ${MIN_NODE_MAJOR} — install Node ${MIN_NODE_MAJOR}`, { host, code: 'E_NODE_MISSING' });
        }
        const major = Number(/^v?(\d+)\./.exec(f.nodeVersion)?.[1]);
        if (!(major >= MIN_NODE_MAJOR)) {
          throw new ProviderError(`Node ${f.nodeVersion} found, lab needs Node ≥ ${MIN_NODE_MAJOR} — install Node ${MIN_NODE_MAJOR}`, { host, code: 'E_NODE_VERSION' });
        }
        if (!f.hasTar) throw new ProviderError('tar not found: lab is shipped as a tarball — install tar', { host, code: 'E_COMMAND_NOT_FOUND' });
      }
      for (const r of h.roles) {
        const s = SERVICE_PACKAGES[r];
        if (!s || f.commands[s.command]) continue;
        if (!install) {
          throw new ProviderError(`${s.command} not found — install it (sudo apt-get install -y ${s.package}) or run lab up with --install`, { host, code: 'E_COMMAND_NOT_FOUND' });
        }
        await this.installPackage(host, s.package, s.command, ctx);
        this.facts.delete(host);
        const again = await this.hostFacts(host);
        if (!again.commands[s.command]) throw new ProviderError(`${s.command} still not found after apt-get install ${s.package}`, { host, code: 'E_INSTALL' });
      }
      return this.hostFacts(host);
    });
    const found = [facts.uname, facts.nodeVersion ? `node ${facts.nodeVersion}` : null, ...Object.keys(facts.commands)].filter(Boolean).join(', ');
    ctx.progress({ host, step: 'preflight', status: 'info', detail: found });

    // 3. work directory: ~/.lab/<lab>/<HOST>; on a broker host whose home other users cannot traverse (RabbitMQ
    // runs as its own user and must reach its data below), /var/lib/lab/<lab>/<HOST> (made as root, owned by the
    // login user) instead.
    checkAbort();
    const broker = h.roles.includes('broker');
    let root = this.rootDir(facts);
    let system = false;
    let blocked: string | null = null;
    if (broker) {
      const tr = await this.script(host, TRAVERSE_SCRIPT, [posix.dirname(root)]);
      blocked = parseKeyValues(tr.stdout.toString('utf8')).get('blocked') ?? null;
      if (blocked && (facts.uid === 0 || (h.sudo && facts.hasSudo))) {
        root = this.systemRootDir();
        system = true;
      }
    }
    const workDir = posix.join(root, host);
    const labRoot = posix.join(workDir, 'lab');
    const data: DirData = { host, path: workDir, root, labRoot, node: facts.node ?? 'node' };
    const key = `dir:${host}`;
    const recorded = ctx.ledger.get(key);
    const make = (): Promise<void> => (system ? this.mkdirSystem(host, root, workDir) : this.mkdirRemote(host, root, workDir, broker));
    if (recorded?.state === 'done' && (recorded.data as Partial<DirData>).path === workDir) {
      await make();
      const old = recorded.data as Partial<DirData>;
      if (old.node !== data.node || old.labRoot !== data.labRoot) await ctx.ledger.markDone(key, { ...data });
      ctx.progress({ host, step: 'work directory', status: 'skip', detail: workDir });
    } else {
      await step('work directory', workDir, async () => {
        await ctx.ledger.record('directory', key, { ...data });
        await make();
        await ctx.ledger.markDone(key);
      });
      ctx.progress({ host, step: 'work directory', status: 'done', detail: workDir });
    }
    if (blocked) {
      const detail = system
        ? `warning: ${blocked} is not traversable by other users (RabbitMQ runs as its own user), so this broker host works in ${workDir} instead of ~/.lab`
        : `warning: ${blocked} is not traversable by other users, so RabbitMQ's user cannot reach its data under ${workDir}: chmod o+x ${blocked} (traverse only), give lab sudo, or connect as another user`;
      ctx.progress({ host, step: 'work directory', status: 'info', detail, warning: true });
    }
    this.infos.set(host, { name: host, address: h.address, workDir, labRoot, node: data.node });

    // 4. ship lab
    if (h.roles.some((r) => NODE_ROLES.includes(r))) {
      checkAbort();
      const bundle = await labBundle(this.options.packageRoot ?? PACKAGE_ROOT);
      const marker = await this.run(host, quoteArgv(['cat', posix.join(labRoot, SHIP_MARKER)]));
      if (marker.exitCode === 0 && marker.stdout.toString('utf8').trim() === bundle.hash) {
        times['ship lab'] = 0;
        ctx.progress({ host, step: 'ship lab', status: 'skip', detail: `${labRoot} is up to date (${bundle.hash.slice(0, 12)})` });
      } else {
        await step('ship lab', `${(bundle.bytes / 1e6).toFixed(1)} MB, ${bundle.files} files${bundle.buildMs ? ` (packed in ${Math.round(bundle.buildMs)} ms)` : ''} → ${labRoot}`, async () => {
          await conn.upload(bundle.file, posix.join(workDir, 'lab.tgz.part'));
          const r = await this.script(host, SHIP_SCRIPT, [workDir, bundle.hash], [], { timeoutMs: 10 * 60_000 });
          if (r.exitCode !== 0) throw new ProviderError(`ship lab: unpacking in ${workDir} failed (exit ${r.exitCode}): ${firstLine(r.stderr.toString('utf8'))}`, { host, code: 'E_SHIP' });
        });
        ctx.progress({ host, step: 'ship lab', status: 'done', detail: `${(bundle.bytes / 1e6).toFixed(1)} MB in ${Math.round(times['ship lab'] ?? 0)} ms → ${labRoot}` });
      }
    }
  }

  /**
   * Create the lab folder (0711: traverse, no listing) and the host's work directory in it: 0711 on a broker host
   * (RabbitMQ runs as its own user and must reach its data directory below), else 0700.
   */
  private async mkdirRemote(host: string, root: string, dir: string, traversable: boolean): Promise<void> {
    const r = await this.script(host, MKDIR_SCRIPT, [root, dir, traversable ? '1' : '0']);
    if (r.exitCode !== 0) throw new ProviderError(`cannot create ${dir}: ${firstLine(r.stderr.toString('utf8'))}`, { host, code: 'E_MKDIR' });
  }

  /** /var/lib/lab/<lab>/<HOST>, made as root (0711 all the way) and owned by the login user. */
  private async mkdirSystem(host: string, root: string, dir: string): Promise<void> {
    const prefix = await this.asRoot(host, `creating ${dir}`);
    const r = await this.script(host, MKDIR_SYSTEM_SCRIPT, [root, dir, this.target(this.spec(host)).user], prefix);
    this.checkSudo(host, prefix, r);
    if (r.exitCode !== 0) throw new ProviderError(`cannot create ${dir}: ${firstLine(r.stderr.toString('utf8'))}`, { host, code: 'E_MKDIR' });
  }

  private async installPackage(host: string, pkg: string, command: string, ctx: UpContext): Promise<void> {
    if (!this.ledger) throw new ProviderError('provider used before up/attach', { host });
    const prefix = await this.asRoot(host, `apt-get install ${pkg}`);
    ctx.progress({ host, step: 'install', status: 'start', detail: `apt-get install -y ${pkg} (for ${command})` });
    const key = `package:${host}:${pkg}`;
    await this.ledger.record('package', key, { host, package: pkg });
    const argv = [...prefix, ...envArgv({ DEBIAN_FRONTEND: 'noninteractive' }, ['apt-get', 'install', '-y', '--no-install-recommends', pkg])];
    let r = await this.run(host, quoteArgv(argv), { timeoutMs: 20 * 60_000 });
    this.checkSudo(host, prefix, r);
    if (r.exitCode !== 0 && /Unable to locate package|404\s+Not Found|has no installation candidate/i.test(r.stderr.toString('utf8') + r.stdout.toString('utf8'))) {
      ctx.progress({ host, step: 'install', status: 'info', detail: 'apt-get update (package lists are stale)' });
      await this.run(host, quoteArgv([...prefix, ...envArgv({ DEBIAN_FRONTEND: 'noninteractive' }, ['apt-get', 'update'])]), { timeoutMs: 10 * 60_000 });
      r = await this.run(host, quoteArgv(argv), { timeoutMs: 20 * 60_000 });
    }
    if (r.exitCode !== 0) {
      ctx.progress({ host, step: 'install', status: 'fail', detail: pkg });
      throw new ProviderError(`apt-get install ${pkg} failed (exit ${r.exitCode}): ${firstLine(r.stderr.toString('utf8')) || firstLine(r.stdout.toString('utf8'))}`, { host, code: 'E_INSTALL' });
    }
    await this.ledger.markDone(key);
    ctx.progress({ host, step: 'install', status: 'done', detail: `${pkg} installed (lab down will leave it installed)` });
  }

  async attach(_state: LabState, ledger: Ledger): Promise<void> {
    this.ledger = ledger;
    for (const e of ledger.entries()) {
      if (e.kind !== 'directory' || !e.key.startsWith('dir:')) continue;
      const d = e.data as Partial<DirData>;
      const h = d.host ? this.topology.host(d.host) : undefined;
      if (!h || !d.path || !d.labRoot) continue;
      this.infos.set(h.name, { name: h.name, address: h.address, workDir: d.path, labRoot: d.labRoot, node: d.node ?? 'node' });
    }
  }

  host(name: string): HostInfo {
    const h = this.spec(name);
    const info = this.infos.get(h.name);
    if (!info) throw new ProviderError(`not up yet (its work directory is not known): run lab up`, { host: h.name, code: 'E_NOT_UP' });
    return { ...info };
  }

  /**
   * Run argv on a host: env through `env K=V`, cwd through a `cd`, root through `sudo -n --`, all quoted. With a
   * timeout or an abort signal the command first reports its pid (a `LABPID=<pid>` line on stderr, removed from
   * the output) so it can be killed remotely: SIGINT to its process group on abort (SIGKILL 2 s later), SIGKILL on
   * timeout — sshd does not pass signals to root sessions, so closing the channel alone would leave it running.
   */
  private async runArgv(host: string, argv: string[], options: ExecOptions & { signal?: AbortSignal; stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream }): Promise<RunResult> {
    this.spec(host);
    if (argv.length === 0) throw new ProviderError('exec: empty command', { host, code: 'E_USAGE' });
    let inner = envArgv(options.env, argv);
    if (options.cwd) inner = ['sh', '-c', 'cd "$1" || exit 1; shift; exec "$@"', 'sh', options.cwd, ...inner];
    const prefix = options.sudo ? await this.asRoot(host, argv[0]!) : [];
    const onStdout = options.stdout ? (b: Buffer): void => void options.stdout!.write(b) : undefined;
    const killable = options.timeoutMs !== undefined || options.signal !== undefined;
    if (!killable) {
      const r = await this.run(host, quoteArgv([...prefix, ...inner]), { input: options.input, onStdout, onStderr: options.stderr ? (b) => void options.stderr!.write(b) : undefined });
      this.checkSudo(host, prefix, r);
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
    };
    const cancel = new AbortController();
    const timers: NodeJS.Timeout[] = [];
    let timedOut = false;
    const interrupt = (sig: string): void => {
      if (pid !== null) void this.script(host, GROUP_KILL_SCRIPT, [String(pid), sig], prefix).catch(() => undefined);
    };
    const onAbort = (): void => {
      interrupt('INT');
      timers.push(setTimeout(() => interrupt('KILL'), 2000), setTimeout(() => cancel.abort(), 3000));
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      timers.push(
        setTimeout(() => {
          timedOut = true;
          interrupt('KILL');
          timers.push(setTimeout(() => cancel.abort(), 1000));
        }, options.timeoutMs),
      );
    }
    let r: RunResult;
    try {
      r = await this.run(host, quoteArgv([...prefix, 'sh', '-c', PID_WRAPPER, 'sh', ...inner]), { input: options.input, onStdout, onStderr, cancel: cancel.signal });
    } finally {
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (head !== null) forward(head);
    let stderr = Buffer.concat(errChunks);
    if (timedOut) stderr = Buffer.concat([stderr, Buffer.from(`\n(killed after ${options.timeoutMs} ms)`)]);
    const result: RunResult = { ...r, stderr, timedOut: r.timedOut || timedOut };
    this.checkSudo(host, prefix, result);
    return result;
  }

  async exec(host: string, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.runArgv(host, argv, options);
    return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), durationMs: r.durationMs };
  }

  async stream(host: string, argv: string[], options: StreamOptions): Promise<number> {
    return (await this.runArgv(host, argv, options)).exitCode;
  }

  async writeFile(host: string, path: string, content: string | Buffer, options: { mode?: number; sudo?: boolean; owner?: string } = {}): Promise<void> {
    this.spec(host);
    const mode = options.mode ?? 0o600;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new ProviderError(`writeFile ${path}: bad mode ${mode}`, { host, code: 'E_USAGE' });
    if (options.owner !== undefined && !OWNER_RE.test(options.owner)) throw new ProviderError(`writeFile ${path}: not an owner: ${JSON.stringify(options.owner)}`, { host, code: 'E_USAGE' });
    if (!options.sudo) {
      await (await this.connection(host)).writeFile(path, content, mode);
    } else {
      const prefix = await this.asRoot(host, `writing ${path}`);
      const script = 'umask 077 && tee -- "$1" > /dev/null && chmod "$2" -- "$1"';
      const r = await this.script(host, script, [path, mode.toString(8)], prefix, { input: content });
      this.checkSudo(host, prefix, r);
      if (r.exitCode !== 0) throw new ProviderError(`cannot write ${path}: ${firstLine(r.stderr.toString('utf8'))}`, { host, code: 'E_WRITE' });
    }
    if (options.owner !== undefined) {
      const prefix = await this.asRoot(host, `chown ${path}`);
      const r = await this.run(host, quoteArgv([...prefix, 'chown', '--', options.owner, path]));
      this.checkSudo(host, prefix, r);
      if (r.exitCode !== 0) throw new ProviderError(`cannot chown ${path} to ${options.owner}: ${firstLine(r.stderr.toString('utf8'))}`, { host, code: 'E_WRITE' });
    }
  }

  async readFile(host: string, path: string, options: { sudo?: boolean; tailBytes?: number } = {}): Promise<Buffer> {
    this.spec(host);
    if (options.tailBytes !== undefined) {
      const n = Math.max(0, Math.floor(options.tailBytes));
      const prefix = options.sudo ? await this.asRoot(host, `reading ${path}`) : [];
      const r = await this.run(host, quoteArgv([...prefix, 'tail', '-c', String(n), '--', path]));
      this.checkSudo(host, prefix, r);
      if (r.exitCode !== 0) {
        const err = r.stderr.toString('utf8');
        if (/No such file/i.test(err)) return Buffer.alloc(0); // like a log that was never written
        throw new ProviderError(`cannot read ${path}: ${firstLine(err)}`, { host, code: 'E_READ' });
      }
      return r.stdout;
    }
    if (!options.sudo) return (await this.connection(host)).readFile(path);
    const prefix = await this.asRoot(host, `reading ${path}`);
    const r = await this.run(host, quoteArgv([...prefix, 'cat', '--', path]));
    this.checkSudo(host, prefix, r);
    if (r.exitCode !== 0) {
      const err = r.stderr.toString('utf8');
      throw new ProviderError(`cannot read ${path}: ${firstLine(err)}`, { host, code: /No such file/i.test(err) ? 'E_NOT_FOUND' : 'E_READ' });
    }
    return r.stdout;
  }

  /** Replace /etc/hosts in place if it still has the content we read (sha256), retrying once when it changed. */
  private async editHostsFile(host: string, path: string, edit: (text: string) => string): Promise<void> {
    const prefix = await this.asRoot(host, `editing ${path}`);
    for (let attempt = 0; ; attempt++) {
      const read = await this.run(host, quoteArgv(['cat', '--', path]));
      if (read.exitCode !== 0) throw new ProviderError(`cannot read ${path}: ${firstLine(read.stderr.toString('utf8'))}`, { host, code: 'E_READ' });
      const before = read.stdout.toString('utf8');
      let after: string;
      try {
        after = edit(before);
      } catch (err) {
        if (err instanceof HostsFileError) throw new ProviderError(`${path}: ${err.message}`, { host, code: 'E_HOSTS_FILE' });
        throw err;
      }
      if (after === before) return;
      const sum = createHash('sha256').update(read.stdout).digest('hex');
      const r = await this.script(host, REWRITE_SCRIPT, [path, sum], prefix, { input: after });
      this.checkSudo(host, prefix, r);
      if (r.exitCode === 0) return;
      if (r.exitCode === 75 && attempt < 2) continue;
      throw new ProviderError(`cannot write ${path}: ${firstLine(r.stderr.toString('utf8'))}`, { host, code: 'E_WRITE' });
    }
  }

  async writeHosts(host: string, entries: HostsEntry[]): Promise<void> {
    const h = this.spec(host);
    if (!this.ledger) throw new ProviderError('provider used before up/attach', { host: h.name });
    let block: string[];
    try {
      block = hostsBlock(this.topology.name, h.name, entries);
    } catch (err) {
      throw new ProviderError(`writeHosts: ${(err as Error).message}`, { host: h.name, code: 'E_USAGE' });
    }
    await this.asRoot(h.name, `editing ${HOSTS_FILE}`); // fails before anything is recorded when root is out of reach
    const key = `hosts:${h.name}`;
    if (this.ledger.get(key)?.state !== 'done') await this.ledger.record('hosts-block', key, { host: h.name, path: HOSTS_FILE, lab: this.topology.name });
    await this.editHostsFile(h.name, HOSTS_FILE, (text) => replaceHostsBlock(text, this.topology.name, block));
    if (this.ledger.get(key)?.state !== 'done') await this.ledger.markDone(key);
  }

  async spawn(host: string, argv: string[], options: SpawnOptions): Promise<ProcessRef> {
    const h = this.spec(host);
    if (!this.ledger) throw new ProviderError('provider used before up/attach', { host: h.name });
    if (argv.length === 0) throw new ProviderError('spawn: empty command', { host: h.name, code: 'E_USAGE' });
    const prefix = options.user !== undefined ? await this.asUser(h.name, options.user) : options.sudo ? await this.asRoot(h.name, argv[0]!) : [];
    const token = randomBytes(12).toString('hex');
    const data: RemoteSpawnData = { host: h.name, command: argv, logFile: options.logFile, token };
    if (options.user !== undefined) data.user = options.user;
    if (prefix.length > 0) data.sudo = true;
    const entry = await this.ledger.record('remote-process', options.key, data);

    if (options.user !== undefined && prefix.length > 0) {
      // The service user may not create files in the login user's folders: make its log file first, as root.
      const f = await this.hostFacts(h.name);
      const rootPrefix = f.uid === 0 ? [] : ['sudo', '-n', '--'];
      const pre = await this.script(h.name, 'mkdir -p -- "$(dirname -- "$1")" && : >> "$1" && chown -- "$2" "$1"', [options.logFile, options.user], rootPrefix);
      this.checkSudo(h.name, rootPrefix, pre);
      if (pre.exitCode !== 0) throw new ProviderError(`cannot create the log file ${options.logFile} for ${options.user}: ${firstLine(pre.stderr.toString('utf8'))}`, { host: h.name, code: 'E_SPAWN' });
    }
    const lines = [
      `mkdir -p -- ${quote(posix.dirname(options.logFile))} 2>/dev/null`,
      `{ : >> ${quote(options.logFile)}; } || exit 1`,
    ];
    if (options.cwd) lines.push(`cd ${quote(options.cwd)} || exit 1`);
    // The environment (the lab's URLs, with passwords) comes on stdin, never on a command line that `ps` shows.
    const envLines = Object.entries(options.env ?? {}).map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\n\0]/.test(v)) throw new ProviderError(`spawn: cannot pass environment variable ${JSON.stringify(k)}`, { host: h.name, code: 'E_USAGE' });
      return `${k}=${v}`;
    });
    lines.push(
      'while IFS= read -r kv && [ -n "$kv" ]; do export "$kv"; done',
      `command -v ${quote(argv[0]!)} >/dev/null 2>&1 || { echo ${quote(`command not found: ${argv[0]}`)} >&2; exit 127; }`,
      `${quoteArgv(['setsid', ...argv])} >> ${quote(options.logFile)} 2>&1 < /dev/null &`,
      'pid=$!',
      'echo "pid=$pid"',
      'printf "stat="; cat "/proc/$pid/stat" 2>/dev/null || echo',
    );
    // The token is in the environment of the script's shell already, so every process from the first fork on
    // carries it (a process whose pid never reached the ledger is still found by it).
    const r = await this.run(h.name, quoteArgv([...prefix, 'env', `${PROCESS_TOKEN_ENV}=${token}`, 'sh', '-c', lines.join('\n')]), { timeoutMs: 60_000, input: `${envLines.join('\n')}\n\n` });
    this.checkSudo(h.name, prefix, r);
    const err = r.stderr.toString('utf8');
    if (r.exitCode === 127 && /command not found/.test(err)) {
      throw new ProviderError(`command not found: ${argv[0]}${options.user ? ` (as ${options.user})` : ''}`, { host: h.name, code: 'E_COMMAND_NOT_FOUND' });
    }
    if (r.exitCode !== 0) throw new ProviderError(`cannot start ${argv[0]}: ${firstLine(err)}`, { host: h.name, code: 'E_SPAWN' });
    const kv = parseKeyValues(r.stdout.toString('utf8'));
    const pid = Number(kv.get('pid'));
    const st = parseProcStat(kv.get('stat') ?? '');
    if (!Number.isInteger(pid) || pid <= 0) throw new ProviderError(`cannot start ${argv[0]}: no pid reported`, { host: h.name, code: 'E_SPAWN' });
    if (!st || st.pid !== pid || st.state === 'Z') {
      const tail = (await this.readFile(h.name, options.logFile, { tailBytes: 2000, sudo: prefix.length > 0 }).catch(() => Buffer.alloc(0))).toString('utf8').trimEnd();
      throw new ProviderError(`${argv.join(' ')} exited at once${tail ? `:\n${tail}` : ''}`, { host: h.name, code: 'E_PROCESS_EXITED' });
    }
    await this.ledger.markDone(entry, { pid, startTime: st.startTime });
    return { key: options.key, host: h.name, pid, startTime: st.startTime, logFile: options.logFile, command: argv };
  }

  /** same / gone / reused, from /proc/<pid>/stat read on the host. */
  private async check(ref: { host: string; pid: number; startTime: number }): Promise<ProcessCheck> {
    const r = await this.run(ref.host, quoteArgv(['cat', `/proc/${ref.pid}/stat`]));
    if (r.exitCode !== 0) return 'gone';
    const st = parseProcStat(r.stdout.toString('utf8'));
    if (!st || st.state === 'Z') return 'gone';
    return st.startTime === ref.startTime ? 'same' : 'reused';
  }

  private async signalOn(ref: { host: string; pid: number; startTime: number }, signal: NodeJS.Signals): Promise<ProcessCheck> {
    const name = signal.replace(/^SIG/, '');
    if (!/^[A-Z0-9]+$/.test(name)) throw new ProviderError(`not a signal: ${signal}`, { host: ref.host, code: 'E_USAGE' });
    const prefix = await this.rootIfPossible(ref.host);
    const r = await this.script(ref.host, KILL_SCRIPT, [String(ref.pid), String(ref.startTime), name], prefix);
    this.checkSudo(ref.host, prefix, r);
    const verdict = r.stdout.toString('utf8').trim().split('\n').pop();
    if (verdict === 'same' || verdict === 'gone' || verdict === 'reused') return verdict;
    throw new ProviderError(`cannot signal process ${ref.pid}: ${firstLine(r.stderr.toString('utf8')) || `exit ${r.exitCode}`}`, { host: ref.host, code: 'E_SIGNAL' });
  }

  async signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
    const found = await this.check(ref);
    if (found !== 'same') return found;
    return this.signalOn(ref, signal);
  }

  private async waitGone(ref: { host: string; pid: number; startTime: number }, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await this.check(ref);
      if (c !== 'same') return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async stopOn(ref: { host: string; pid: number; startTime: number }, graceMs: number): Promise<ProcessCheck> {
    const first = await this.signalOn(ref, 'SIGTERM');
    if (first !== 'same') return first;
    if (await this.waitGone(ref, graceMs)) return 'gone';
    const second = await this.signalOn(ref, 'SIGKILL');
    if (second !== 'same') return second;
    return (await this.waitGone(ref, 2000)) ? 'gone' : 'same';
  }

  stop(ref: ProcessRef, graceMs = DEFAULT_GRACE_MS): Promise<ProcessCheck> {
    return this.stopOn(ref, graceMs);
  }

  async alive(ref: ProcessRef): Promise<boolean> {
    return (await this.check(ref)) === 'same';
  }

  /** Processes on `host` whose environment holds exactly this token (never a name match). */
  async findByToken(host: string, token: string): Promise<{ pid: number; startTime: number }[]> {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new ProviderError(`not a process token: ${JSON.stringify(token)}`, { host, code: 'E_USAGE' });
    const prefix = await this.rootIfPossible(host);
    const r = await this.script(host, FIND_TOKEN_SCRIPT, [token], prefix);
    this.checkSudo(host, prefix, r);
    const out: { pid: number; startTime: number }[] = [];
    for (const line of r.stdout.toString('utf8').split('\n')) {
      const st = parseProcStat(line);
      if (st && st.state !== 'Z') out.push({ pid: st.pid, startTime: st.startTime });
    }
    return out;
  }

  private async undoProcess(entry: LedgerEntry): Promise<void> {
    const d = entry.data as Partial<RemoteSpawnData>;
    const host = d.host ?? '';
    this.spec(host);
    const targets: { host: string; pid: number; startTime: number }[] = [];
    if (typeof d.pid === 'number' && typeof d.startTime === 'number') targets.push({ host, pid: d.pid, startTime: d.startTime });
    else if (d.token) for (const t of await this.findByToken(host, d.token)) targets.push({ host, ...t });
    for (const t of targets) {
      if ((await this.stopOn(t, d.graceMs ?? DEFAULT_GRACE_MS)) === 'same') throw new ProviderError(`process ${t.pid} (${(d.command ?? []).join(' ')}) did not stop`, { host, code: 'E_STOP' });
    }
    // Group members that outlived the leader (a pool child) still carry the token.
    if (d.token) {
      for (const t of await this.findByToken(host, d.token)) {
        if ((await this.stopOn({ host, ...t }, 2000)) === 'same') throw new ProviderError(`process ${t.pid} did not stop`, { host, code: 'E_STOP' });
      }
    }
  }

  private async undoDirectory(entry: LedgerEntry): Promise<void> {
    const d = entry.data as Partial<DirData>;
    const host = d.host ?? '';
    this.spec(host);
    const path = String(d.path ?? '');
    const facts = await this.hostFacts(host);
    const roots = [this.rootDir(facts), this.systemRootDir()];
    const root = roots.find((r) => path.startsWith(`${r}/`));
    const rel = root ? path.slice(root.length + 1) : '';
    if (!root || posix.normalize(path) !== path || rel === '' || rel.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new ProviderError(`refusing to remove ${JSON.stringify(path)}: not inside this lab's folder (${roots.map((r) => `${r}/`).join(' or ')})`, { host, code: 'E_UNDO_REFUSED' });
    }
    const prefix = await this.rootIfPossible(host);
    const r = await this.run(host, quoteArgv([...prefix, 'rm', '-rf', '--', path]));
    this.checkSudo(host, prefix, r);
    if (r.exitCode !== 0) throw new ProviderError(`cannot remove ${path}: ${firstLine(r.stderr.toString('utf8'))}`, { host, code: 'E_UNDO' });
    // the lab's folder too when nothing else is in it (~/.lab and /var/lib/lab stay: other labs may use them)
    await this.run(host, quoteArgv([...(root === roots[1] ? prefix : []), 'rmdir', '--', root]));
  }

  private async undoFile(entry: LedgerEntry): Promise<void> {
    const d = entry.data as { host?: string; path?: string; sudo?: boolean };
    const host = d.host ?? '';
    this.spec(host);
    const path = String(d.path ?? '');
    if (!path.startsWith('/') || posix.normalize(path) !== path || path === '/') {
      throw new ProviderError(`refusing to remove ${JSON.stringify(path)}: not an absolute file path`, { host, code: 'E_UNDO_REFUSED' });
    }
    const prefix = d.sudo ? await this.asRoot(host, `removing ${path}`) : [];
    const r = await this.run(host, quoteArgv([...prefix, 'rm', '-f', '--', path]));
    this.checkSudo(host, prefix, r);
    if (r.exitCode !== 0) throw new ProviderError(`cannot remove ${path}: ${firstLine(r.stderr.toString('utf8'))}`, { host, code: 'E_UNDO' });
  }

  async undo(entry: LedgerEntry): Promise<void> {
    switch (entry.kind) {
      case 'remote-process':
        return this.undoProcess(entry);
      case 'hosts-block': {
        const d = entry.data as { host?: string; path?: string; lab?: string };
        const host = this.spec(d.host ?? '').name;
        return this.editHostsFile(host, d.path ?? HOSTS_FILE, (text) => removeHostsBlock(text, d.lab ?? this.topology.name));
      }
      case 'directory':
        return this.undoDirectory(entry);
      case 'file':
        return this.undoFile(entry);
      case 'package':
        return; // installed software stays: `lab down` reports it (packageNotice), it never uninstalls
      default:
        throw new ProviderError(`the ssh provider did not create ${entry.kind} ${entry.key}`, { code: 'E_UNDO_UNKNOWN' });
    }
  }

  async close(): Promise<void> {
    const conns = [...this.conns.values()];
    this.conns.clear();
    this.facts.clear();
    await Promise.all(conns.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }

  /** `HOST3 (pi@192.168.1.13:22)`, for messages. */
  label(host: string): string {
    return targetLabel(this.target(this.spec(host)));
  }
}
