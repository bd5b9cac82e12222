/**
 * The ssh provider: the lab's hosts are real machines (VMs, Raspberry Pis) reached over ssh.
 *
 * - One connection per host (ssh2, in ssh-connection.ts — nothing else imports ssh2), reused; host keys pinned in
 *   `<stateDir>/known_hosts` (accept-new on first contact, a changed key is refused). ssh-hosts.ts.
 * - Commands: ssh exec takes ONE string, so every argv element is quoted for POSIX sh (shell-quote.ts) and the
 *   environment goes through `env K=V …`; `sudo: true` in the inventory → `sudo -n --` for privileged steps.
 * - `up` per host: connect, preflight (ssh-preflight.ts: Node ≥ 20 for hosts that run lab, rabbitmq-server /
 *   redis-server for the broker / backend, or apt-get them with `install`; Node 20 shipped by ssh-node.ts with `install`
 *   or `node: ship`), the work directory (ssh-workdir.ts:
 *   `~/.lab/<lab>/<HOST>`), and the lab itself shipped (ssh-ship.ts) to `<work directory>/lab` unless it is there;
 *   on a workers host, the user's modules (inventory tasks:, config:) to `<work directory>/tasks/` likewise.
 * - Long-running processes (ssh-process.ts): started detached with LAB_PROCESS_TOKEN=<token> in their environment,
 *   the ledger entry written before; found again by pid + start time (/proc read remotely) or that token.
 * - /etc/hosts edited in place (a `# BEGIN lab <name>` … `# END lab <name>` block), never renamed over.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { InterruptedError, LabError, ProviderError, hasCode } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import type { ProcessCheck, ProcessIdentity } from '../topology/proc.js';
import type { HostSpec, Topology } from '../topology/topology.js';
import { hostsBlock, removeHostsBlock, replaceHostsBlock } from './hosts-file.js';
import type { ExecOptions, ExecResult, HostInfo, HostsEntry, PlanStep, ProcessRef, Provider, SpawnOptions, StreamOptions, UnitOptions, UnitStatus, UpContext, UpOutcome } from './provider.js';
import { labToken } from './provider.js';
import { REWRITE_CHANGED, REWRITE_SCRIPT } from './remote-scripts.js';
import { quoteArgv } from './shell-quote.js';
import { OWNER_RE, SshHosts, firstLine, sshTarget } from './ssh-hosts.js';
import type { HostUp, SshAccessOptions } from './ssh-hosts.js';
import { KnownHosts, knownHostsFile } from './ssh-known-hosts.js';
import { preflight, preflightChecks, runsLab } from './ssh-preflight.js';
import { SshProcesses } from './ssh-process.js';
import { shipNode, shipNodePlan, shippedNodePath } from './ssh-node.js';
import { shipLab, shipModules, shipModulesPlan, shipPlan } from './ssh-ship.js';
import { SshUnits } from './ssh-units.js';
import { undoWorkDir, upWorkDir, workDirPlan } from './ssh-workdir.js';
import { modulesInfo, userModules } from './user-modules.js';
import type { DirData } from './ssh-workdir.js';

export interface SshProviderOptions extends SshAccessOptions {
  /** apt-get install a missing rabbitmq-server / redis-server (recorded as kind 'package'; never uninstalled). */
  install?: boolean;
  /** What to ship (default: the package lab runs from). */
  packageRoot?: string;
}

const HOSTS_FILE = '/etc/hosts';

/** What `up` does on each ssh host, in order (--dry-run). Connects to nothing; never shows a password. */
export function sshPlan(topology: Topology, stateDir: string, options: SshProviderOptions = {}): PlanStep[] {
  const steps: PlanStep[] = [];
  for (const h of topology.hosts) {
    const t = sshTarget(h, options);
    const auth = [t.keyPath ? `key ${t.keyPath}` : null, t.agent ? 'agent' : null, t.password !== undefined ? 'password' : null].filter(Boolean).join(', ') || 'default keys';
    steps.push({ host: h.name, step: 'connect', detail: `ssh ${t.user}@${t.host}:${t.port} (${auth}); host key pinned in ${knownHostsFile(stateDir)}` });
    steps.push({ host: h.name, step: 'preflight', detail: preflightChecks(h, options.install ?? false) });
    steps.push({ host: h.name, step: 'work directory', detail: workDirPlan(h, topology.name, t.user) });
    if (runsLab(h) && (h.node === 'ship' || options.install)) steps.push({ host: h.name, step: 'ship node', detail: `${h.node === 'ship' ? '' : 'if the host has no Node ≥ 20: '}${shipNodePlan('?')}` });
    if (runsLab(h)) steps.push({ host: h.name, step: 'ship lab', detail: shipPlan(topology.name, h.name) });
    const mods = userModules(h);
    if (mods.length > 0) steps.push({ host: h.name, step: 'ship tasks', detail: shipModulesPlan(mods) });
  }
  return steps;
}

export class SshProvider implements Provider {
  readonly kind = 'ssh' as const;
  /** Milliseconds per host and step of the last `up` (connect, preflight, ship…), for reports and benchmarks. */
  readonly timings: Record<string, Record<string, number>> = {};
  private readonly hosts: SshHosts;
  private readonly processes: SshProcesses;
  private readonly units: SshUnits;

  constructor(
    readonly topology: Topology,
    private readonly stateDir: string,
    private readonly ledger: Ledger,
    private readonly options: SshProviderOptions = {},
  ) {
    this.hosts = new SshHosts(topology, new KnownHosts(knownHostsFile(stateDir)), options);
    const tail = async (host: string, path: string, sudo: boolean): Promise<string> => (await this.readFile(host, path, { tailBytes: 2000, sudo })).toString('utf8').trimEnd();
    const mark = labToken(topology.name, stateDir);
    this.processes = new SshProcesses(this.hosts, ledger, tail, mark);
    this.units = new SshUnits(this.hosts, ledger, (host, path, content) => this.writeFile(host, path, content, { mode: 0o600, sudo: true }), (host, path) => tail(host, path, true), mark);
  }

  plan(): PlanStep[] {
    return sshPlan(this.topology, this.stateDir, this.options);
  }

  // ---- up

  async up(ctx: UpContext): Promise<UpOutcome> {
    const results = await Promise.allSettled(this.topology.hosts.map((h) => this.upHost(h, ctx)));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length === 0) return { changed: results.some((r) => r.status === 'fulfilled' && r.value) };
    const interrupted = failures.find((f) => hasCode(f, 'E_INTERRUPTED'));
    if (interrupted || failures.length === 1) throw interrupted ?? failures[0];
    const lines = failures.map((f) => (f instanceof Error ? f.message : String(f)));
    const first = failures[0];
    throw new ProviderError(`${failures.length} hosts failed:\n  ${lines.join('\n  ')}`, { code: first instanceof LabError ? first.code : 'E_PROVIDER', cause: first });
  }

  /** connect → preflight → work directory → ship lab; true when anything had to be made. */
  private async upHost(h: Readonly<HostSpec>, ctx: UpContext): Promise<boolean> {
    const host = h.name;
    const up = this.hostUp(host, ctx);
    const t = this.hosts.target(host);
    const conn = await up.step('connect', `${t.user}@${t.host}:${t.port}`, () => this.hosts.connection(host)); // pins the host key on first contact
    ctx.progress({ host, step: 'connect', status: 'info', detail: `${conn.label} in ${Math.round(up.times.connect ?? 0)} ms; host key ${conn.hostKey.type} ${conn.hostKey.fingerprint}` });
    const before = this.ledger.get(`dir:${host}`)?.data as Partial<DirData> | undefined;
    const shippedBefore = typeof before?.path === 'string' && before.node === shippedNodePath(before.path);
    const checked = await preflight(this.hosts, this.ledger, h, this.options.install ?? false, up, shippedBefore);
    const work = await upWorkDir(this.hosts, this.ledger, h, checked.facts, up, labToken(this.topology.name, this.stateDir), checked.shipNode ? shippedNodePath : undefined);
    const node = checked.shipNode ? await shipNode(this.hosts, work.dir.path, checked.shipNode, up) : false;
    const shipped = runsLab(h) ? await shipLab(this.hosts, work.dir, this.options.packageRoot ?? PACKAGE_ROOT, up) : false;
    const mods = userModules(h);
    const modules = mods.length > 0 ? await shipModules(this.hosts, work.dir, mods, up) : false;
    return checked.changed || work.changed || node || shipped || modules;
  }

  private hostUp(host: string, ctx: UpContext): HostUp {
    const times: Record<string, number> = (this.timings[host] = {});
    const checkAbort = (): void => {
      if (ctx.signal?.aborted) throw new InterruptedError();
    };
    return {
      host,
      progress: ctx.progress,
      times,
      checkAbort,
      async step<T>(name: string, detail: string, fn: () => Promise<T>): Promise<T> {
        checkAbort();
        ctx.progress({ host, step: name, status: 'start', detail });
        const t0 = performance.now();
        try {
          return await fn();
        } catch (err) {
          ctx.progress({ host, step: name, status: 'fail', detail: err instanceof Error ? err.message : String(err) });
          throw err;
        } finally {
          times[name] = performance.now() - t0;
        }
      },
    };
  }

  /** From the host's work directory entry (written by up): there is nothing to say about a host before that. */
  host(name: string): HostInfo {
    const h = this.hosts.spec(name);
    const entry = this.ledger.get(`dir:${h.name}`);
    const d = entry?.kind === 'directory' ? (entry.data as Partial<DirData>) : undefined;
    if (!d?.path || !d.labRoot) throw new ProviderError(`not up yet (its work directory is not known): run lab up`, { host: h.name, code: 'E_NOT_UP' });
    return { name: h.name, address: h.address, workDir: d.path, labRoot: d.labRoot, node: d.node ?? 'node', supervisor: d.supervisor ?? (runsLab(h) ? 'lab' : 'none'), ...modulesInfo(h, { workDir: d.path }) };
  }

  // ---- commands and processes

  async exec(host: string, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.processes.run(host, argv, options);
    return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), durationMs: r.durationMs };
  }

  async stream(host: string, argv: string[], options: StreamOptions): Promise<number> {
    return (await this.processes.run(host, argv, options)).exitCode;
  }

  spawn(host: string, argv: string[], options: SpawnOptions): Promise<ProcessRef> {
    return this.processes.spawn(host, argv, options);
  }

  signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
    return ref.unit ? this.units.signal(ref, signal) : this.processes.signal(ref, signal);
  }

  stop(ref: ProcessRef, graceMs?: number): Promise<ProcessCheck> {
    return ref.unit ? this.units.stop(ref, graceMs) : this.processes.stop(ref, graceMs);
  }

  async alive(ref: ProcessRef): Promise<boolean> {
    if (ref.unit) return this.units.alive(ref);
    return (await this.processes.check(ref)) === 'same';
  }

  startUnit(host: string, argv: string[], options: UnitOptions): Promise<ProcessRef> {
    return this.units.start(this.hosts.spec(host).name, argv, options, this.host(host).workDir);
  }

  unitStatus(ref: ProcessRef): Promise<UnitStatus> {
    if (!ref.unit) throw new ProviderError(`${ref.key} is not a systemd unit`, { host: ref.host, code: 'E_USAGE' });
    return this.units.show(ref.host, ref.unit);
  }

  /** Processes on `host` whose environment holds exactly this token (never a name match). */
  findByToken(host: string, token: string): Promise<ProcessIdentity[]> {
    return this.processes.findByToken(host, token);
  }

  // ---- files

  async writeFile(host: string, path: string, content: string | Buffer, options: { mode?: number; sudo?: boolean; owner?: string } = {}): Promise<void> {
    this.hosts.spec(host);
    const mode = options.mode ?? 0o600;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new ProviderError(`writeFile ${path}: bad mode ${mode}`, { host, code: 'E_USAGE' });
    if (options.owner !== undefined && !OWNER_RE.test(options.owner)) throw new ProviderError(`writeFile ${path}: not an owner: ${JSON.stringify(options.owner)}`, { host, code: 'E_USAGE' });
    if (!options.sudo) {
      await (await this.hosts.connection(host)).writeFile(path, content, mode);
    } else {
      const prefix = await this.hosts.asRoot(host, `writing ${path}`);
      const script = 'umask 077 && tee -- "$1" > /dev/null && chmod "$2" -- "$1"';
      const r = await this.hosts.privileged(host, prefix, script, [path, mode.toString(8)], { input: content });
      if (r.exitCode !== 0) throw new ProviderError(`cannot write ${path}: ${firstLine(r.stderr)}`, { host, code: 'E_WRITE' });
    }
    if (options.owner !== undefined) {
      const prefix = await this.hosts.asRoot(host, `chown ${path}`);
      const r = await this.hosts.run(host, quoteArgv([...prefix, 'chown', '--', options.owner, path]));
      this.hosts.checkSudo(host, prefix, r);
      if (r.exitCode !== 0) throw new ProviderError(`cannot chown ${path} to ${options.owner}: ${firstLine(r.stderr)}`, { host, code: 'E_WRITE' });
    }
  }

  async readFile(host: string, path: string, options: { sudo?: boolean; tailBytes?: number } = {}): Promise<Buffer> {
    this.hosts.spec(host);
    if (options.tailBytes !== undefined) {
      const n = Math.max(0, Math.floor(options.tailBytes));
      const prefix = options.sudo ? await this.hosts.asRoot(host, `reading ${path}`) : [];
      const r = await this.hosts.run(host, quoteArgv([...prefix, 'tail', '-c', String(n), '--', path]));
      this.hosts.checkSudo(host, prefix, r);
      if (r.exitCode !== 0) {
        const err = r.stderr.toString('utf8');
        if (/No such file/i.test(err)) return Buffer.alloc(0); // like a log that was never written
        throw new ProviderError(`cannot read ${path}: ${firstLine(err)}`, { host, code: 'E_READ' });
      }
      return Buffer.from(r.stdout.toString('utf8').trimEnd()); // a log's last lines, as every provider gives them
    }
    if (!options.sudo) return (await this.hosts.connection(host)).readFile(path);
    const prefix = await this.hosts.asRoot(host, `reading ${path}`);
    const r = await this.hosts.run(host, quoteArgv([...prefix, 'cat', '--', path]));
    this.hosts.checkSudo(host, prefix, r);
    if (r.exitCode !== 0) {
      const err = r.stderr.toString('utf8');
      throw new ProviderError(`cannot read ${path}: ${firstLine(err)}`, { host, code: /No such file/i.test(err) ? 'E_NOT_FOUND' : 'E_READ' });
    }
    return r.stdout;
  }

  /** Replace /etc/hosts in place if it still has the content we read (sha256), retrying when it changed meanwhile. */
  private async editHostsFile(host: string, path: string, edit: (text: string) => string): Promise<void> {
    const prefix = await this.hosts.asRoot(host, `editing ${path}`);
    for (let attempt = 0; ; attempt++) {
      const read = await this.hosts.run(host, quoteArgv(['cat', '--', path]));
      if (read.exitCode !== 0) throw new ProviderError(`cannot read ${path}: ${firstLine(read.stderr) || `exit ${read.exitCode}${read.signal ? ` (${read.signal})` : ''}`}`, { host, code: 'E_READ' });
      const before = read.stdout.toString('utf8');
      let after: string;
      try {
        after = edit(before);
      } catch (err) {
        if (hasCode(err, 'E_HOSTS_FILE')) throw new ProviderError(`${path}: ${err.message}`, { host, code: 'E_HOSTS_FILE' });
        throw err;
      }
      if (after === before) return;
      const sum = createHash('sha256').update(read.stdout).digest('hex');
      const r = await this.hosts.privileged(host, prefix, REWRITE_SCRIPT, [path, sum], { input: after });
      if (r.exitCode === 0) return;
      if (r.exitCode === REWRITE_CHANGED && attempt < 2) continue;
      throw new ProviderError(`cannot write ${path}: ${firstLine(r.stderr)}`, { host, code: 'E_WRITE' });
    }
  }

  async writeHosts(host: string, entries: HostsEntry[]): Promise<void> {
    const h = this.hosts.spec(host);
    let block: string[];
    try {
      block = hostsBlock(this.topology.name, h.name, entries);
    } catch (err) {
      if (!hasCode(err, 'E_HOSTS_FILE')) throw err;
      throw new ProviderError(`writeHosts: ${err.message}`, { host: h.name, code: 'E_USAGE' });
    }
    await this.hosts.asRoot(h.name, `editing ${HOSTS_FILE}`); // fails before anything is recorded when root is out of reach
    const key = `hosts:${h.name}`;
    if (this.ledger.get(key)?.state !== 'done') await this.ledger.record('hosts-block', key, { host: h.name, path: HOSTS_FILE, lab: this.topology.name });
    await this.editHostsFile(h.name, HOSTS_FILE, (text) => replaceHostsBlock(text, this.topology.name, block));
    if (this.ledger.get(key)?.state !== 'done') await this.ledger.markDone(key);
  }

  // ---- down

  private async undoFile(entry: LedgerEntry): Promise<void> {
    const d = entry.data as { host?: string; path?: string; sudo?: boolean };
    const host = this.hosts.spec(d.host ?? '').name;
    const path = String(d.path ?? '');
    if (!path.startsWith('/') || posix.normalize(path) !== path || path === '/') {
      throw new ProviderError(`refusing to remove ${JSON.stringify(path)}: not an absolute file path`, { host, code: 'E_UNDO_REFUSED' });
    }
    const prefix = d.sudo ? await this.hosts.asRoot(host, `removing ${path}`) : [];
    const r = await this.hosts.run(host, quoteArgv([...prefix, 'rm', '-f', '--', path]));
    this.hosts.checkSudo(host, prefix, r);
    if (r.exitCode !== 0) throw new ProviderError(`cannot remove ${path}: ${firstLine(r.stderr)}`, { host, code: 'E_UNDO' });
  }

  async undo(entry: LedgerEntry): Promise<void> {
    switch (entry.kind) {
      case 'remote-process':
        return this.processes.undo(entry);
      case 'systemd-unit':
        return this.units.undo(entry);
      case 'hosts-block': {
        const d = entry.data as { host?: string; path?: string; lab?: string };
        const host = this.hosts.spec(d.host ?? '').name;
        return this.editHostsFile(host, d.path ?? HOSTS_FILE, (text) => removeHostsBlock(text, d.lab ?? this.topology.name));
      }
      case 'directory':
        return undoWorkDir(this.hosts, entry);
      case 'file':
        return this.undoFile(entry);
      case 'package':
        return; // installed software stays: `lab down` reports it (packageNotice), it never uninstalls
      default:
        throw new ProviderError(`the ssh provider did not create ${entry.kind} ${entry.key}`, { code: 'E_UNDO_UNKNOWN' });
    }
  }

  close(): Promise<void> {
    return this.hosts.close();
  }
}
