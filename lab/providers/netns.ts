/**
 * The netns provider: every host is a Linux network namespace on this machine, joined by a bridge in the root
 * namespace (which holds the topology's gateway address). Needs root.
 *
 *   bridge   lb<8 hex>                       gateway/prefix, up            (one per lab)
 *   host     namespace lab-<lab>-<host>      eth0 = peer of veth lv<8 hex> on the bridge, host address, lo up,
 *                                            default route via the gateway
 *            /etc/netns/<ns>/hosts           bind-mounted over /etc/hosts by `ip netns exec` (writeHosts)
 *            /var/lib/lab/<lab>/<HOST>       work directory (same filesystem as everything else)
 *
 * Everything is recorded in the ledger before it is created. Commands run inside a namespace through
 * `ip netns exec <ns> argv…`, which execs (no wrapper process: the pid is the command's); as another user through
 * `setpriv`, which execs too. Processes share this machine's PID namespace, so signal/stop/alive work as for local.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError, InterruptedError, ProviderError, hasCode } from '../errors.js';
import type { LabErrorCode } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import { parseCidr, inCidr, isIPv4 } from '../topology/net.js';
import type { ProcessCheck } from '../topology/proc.js';
import type { HostSpec, Topology } from '../topology/topology.js';
import { aliveLocal, signalLocal, stopLocal, execLocal, execLocalEach, localUser, notFound, spawnRecorded, streamLocal, tailFile, undoProcess } from './local-process.js';
import { hostsFile } from './hosts-file.js';
import { modulesInfo } from './user-modules.js';
import type { ExecOptions, ExecResult, HostInfo, HostsEntry, PlanStep, ProcessRef, Progress, Provider, SpawnOptions, StreamOptions, UpContext, UpOutcome } from './provider.js';

/** Where `ip netns exec` looks for per-namespace files (hosts, resolv.conf). */
export const NETNS_ETC = '/etc/netns';
/** Where the hosts' work directories go: readable by the users services run as, unlike a 0700 home. */
export const NETNS_WORK_BASE = '/var/lib/lab';

/** Where `ip netns add` mounts a named namespace (iproute2's NETNS_RUN_DIR). */
const NETNS_RUN_DIR = '/run/netns';

/** Longest namespace name we use as is (it is a file name in /run/netns; 255 is the hard limit). */
const NS_NAME_MAX = 64;

function hex8(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 8);
}

export interface NetnsNames {
  /** Bridge in the root namespace (one per lab). */
  bridge: string;
  /** Network namespace of the host (a file in /run/netns). */
  namespace: string;
  /** Host-side end of the veth pair; its peer is `eth0` inside the namespace. */
  veth: string;
}

/**
 * Deterministic names for a lab's host: interface names ≤ 15 characters (Linux IFNAMSIZ − 1) from a hash of
 * (lab, host); the namespace name readable, `lab-<lab>-<host lowercased>` (shortened with a hash if very long).
 * Host names compare case-insensitively, so they are lowercased before hashing.
 */
export function netnsNames(lab: string, host: string): NetnsNames {
  const h = host.toLowerCase();
  let namespace = `lab-${lab}-${h}`;
  if (namespace.length > NS_NAME_MAX) namespace = `lab-${lab}-${h.slice(0, NS_NAME_MAX - lab.length - 14).replace(/[.-]+$/, '')}-${hex8(lab, h)}`;
  return { bridge: `lb${hex8('bridge', lab)}`, namespace, veth: `lv${hex8(lab, h)}` };
}

interface LinkInfo {
  name: string;
  flags: string[];
  master?: string;
}

/** Parse `ip -o link show`: name (before any @peer), flags, master. */
export function parseLinks(text: string): Map<string, LinkInfo> {
  const out = new Map<string, LinkInfo>();
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)(?:@[^:\s]*)?:\s+<([^>]*)>(.*)$/.exec(line);
    if (!m) continue;
    const master = / master (\S+)/.exec(m[3]!)?.[1];
    out.set(m[1]!, { name: m[1]!, flags: m[2]!.split(','), ...(master ? { master } : {}) });
  }
  return out;
}

/** What `lab up` reads of a namespace (an `ip -o -4 -batch` script): eth0's address, the default route, lo. */
const ADDRESS_READ = 'addr show dev eth0\nroute show default\nlink show dev lo\n';

/** Parse `ip -o -4 addr show`: interface → its IPv4 addresses in CIDR form. */
export function parseAddrs(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\S+)/.exec(line);
    if (!m) continue;
    const dev = m[1]!.replace(/@.*$/, '');
    out.set(dev, [...(out.get(dev) ?? []), m[2]!]);
  }
  return out;
}

const oneLine = (s: string): string => s.trim().replace(/\s*\n\s*/g, '; ');

interface Present {
  namespaces: Set<string>;
  links: Map<string, LinkInfo>;
  addrs: Map<string, string[]>;
}

/** The lab's network as netns builds it: the subnet's prefix, the gateway (on the bridge) and the bridge's name. */
interface NetnsNet {
  prefix: number;
  gateway: string;
  bridge: string;
}

/** Check what only netns cares about in a topology (a subnet; no two hosts with the same derived names). */
function netnsNet(topology: Topology): NetnsNet {
  if (!topology.subnet || !topology.gateway) {
    throw new ConfigError(`the netns provider needs the topology's subnet and gateway`, { file: topology.file });
  }
  const seen = new Map<string, string>();
  for (const h of topology.hosts) {
    const { veth, namespace } = netnsNames(topology.name, h.name);
    for (const n of [veth, namespace]) {
      const other = seen.get(n);
      if (other !== undefined) throw new ConfigError(`hosts ${other} and ${h.name} map to the same name ${n}; rename one`, { file: topology.file, field: `hosts.${h.name}` });
      seen.set(n, h.name);
    }
  }
  return { prefix: parseCidr(topology.subnet).prefix, gateway: topology.gateway, bridge: netnsNames(topology.name, '').bridge };
}

/** Outside the state dir: that lives under the invoking user's home (often 0700), which the rabbitmq user cannot enter. */
function workRootOf(topology: Topology): string {
  return join(NETNS_WORK_BASE, topology.name);
}

/** What `up` makes for a netns lab, in order (--dry-run). Reads nothing, changes nothing. */
export function netnsPlan(topology: Topology): PlanStep[] {
  const net = netnsNet(topology);
  const steps: PlanStep[] = [{ step: 'bridge', detail: `${net.bridge} ${net.gateway}/${net.prefix} (root namespace)` }];
  for (const h of topology.hosts) {
    const n = netnsNames(topology.name, h.name);
    steps.push(
      { host: h.name, step: 'namespace', detail: n.namespace },
      { host: h.name, step: 'veth', detail: `${n.veth} on ${net.bridge} ↔ eth0 in ${n.namespace}` },
      { host: h.name, step: 'address', detail: `${h.address}/${net.prefix} on eth0, lo up, default via ${net.gateway}` },
      { host: h.name, step: 'hosts file', detail: join(NETNS_ETC, n.namespace, 'hosts') },
      { host: h.name, step: 'work directory', detail: join(workRootOf(topology), h.name) },
    );
  }
  return steps;
}

export class NetnsProvider implements Provider {
  readonly kind = 'netns' as const;
  readonly localFiles = true;
  private readonly prefix: number;
  private readonly gateway: string;
  private readonly bridge: string;

  constructor(
    readonly topology: Topology,
    /** Every provider is given it; netns keeps its hosts' work under /var/lib/lab instead (see workRootOf). */
    _stateDir: string,
    private readonly ledger: Ledger,
  ) {
    ({ prefix: this.prefix, gateway: this.gateway, bridge: this.bridge } = netnsNet(topology));
  }

  /** The derived names of one host (bridge, namespace, veth). */
  names(host: string): NetnsNames {
    return netnsNames(this.topology.name, this.spec(host).name);
  }

  private spec(name: string): Readonly<HostSpec> {
    const h = this.topology.host(name);
    if (!h) throw new ProviderError(`no host ${name} in lab ${this.topology.name}`, { host: name, code: 'E_NO_HOST' });
    return h;
  }

  private workRoot(): string {
    return workRootOf(this.topology);
  }

  private workDir(host: string): string {
    return join(this.workRoot(), host);
  }

  private etcDir(host: string): string {
    return join(NETNS_ETC, this.names(host).namespace);
  }

  plan(): PlanStep[] {
    return netnsPlan(this.topology);
  }

  host(name: string): HostInfo {
    const h = this.spec(name);
    return { name: h.name, address: h.address, workDir: this.workDir(h.name), labRoot: PACKAGE_ROOT, node: process.execPath, supervisor: 'lab', ...modulesInfo(h, 'by-path') };
  }

  // ---- ip helpers

  /** Run `ip args…` (optionally a batch on stdin); a non-zero exit is a ProviderError naming host, step and stderr. */
  private async ip(host: string | undefined, step: string, args: string[], input?: string): Promise<string> {
    const r = await execLocal(host ?? '', ['ip', ...args], input === undefined ? {} : { input });
    if (r.exitCode !== 0) {
      const what = input === undefined ? `ip ${args.join(' ')}` : `ip ${args.join(' ')} (${oneLine(input)})`;
      throw this.error(host, `${step}: ${what} failed: ${oneLine(r.stderr) || `exit code ${r.exitCode}`}`);
    }
    return r.stdout;
  }

  /**
   * The root namespace's links and addresses, from one `ip` (a process start costs ~10 ms of CPU here; the two
   * lists' lines are told apart by their parsers).
   */
  private async rootNetwork(): Promise<Omit<Present, 'namespaces'>> {
    const root = await this.ip(undefined, 'list links and addresses', ['-o', '-4', '-batch', '-'], 'link show\naddr show\n');
    return { links: parseLinks(root), addrs: parseAddrs(root) };
  }

  /** A ProviderError naming the host, or the lab for what belongs to no host (the bridge). */
  private error(host: string | undefined, message: string, code?: LabErrorCode): ProviderError {
    return host ? new ProviderError(message, { host, code }) : new ProviderError(`lab ${this.topology.name}: ${message}`, { code });
  }

  private notOurs(what: string, name: string, undo: string, host?: string): ProviderError {
    return this.error(host, `${what} ${name} exists but lab ${this.topology.name} did not create it (another lab, or a lost ledger?); remove it with \`${undo}\` if it is stale`, 'E_NAME_IN_USE');
  }

  // ---- up

  async up(ctx: UpContext): Promise<UpOutcome> {
    const aborted = (): void => {
      if (ctx.signal?.aborted) throw new InterruptedError('lab up interrupted');
    };
    aborted();
    // the named namespaces are what /run/netns lists (as `ip netns list`); the lab's that exist have their addresses
    // read while the root namespace's are
    const namespaces = new Set(await readdir(NETNS_RUN_DIR).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err))));
    const ours = this.topology.hosts.map((h) => this.names(h.name).namespace).filter((ns) => namespaces.has(ns));
    const [network, seen] = await Promise.all([this.rootNetwork(), this.addressesOf(ours)]);
    const now: Present = { namespaces, ...network };
    this.checkSubnetFree(now);
    aborted();
    const bridge = await this.upBridge(ctx, now);
    const root = await this.upWorkRoot(ctx);
    ctx.state.provider = {
      ...ctx.state.provider,
      bridge: this.bridge,
      hosts: Object.fromEntries(this.topology.hosts.map((h) => [h.name, { namespace: this.names(h.name).namespace, veth: this.names(h.name).veth }])),
    };
    const results = await Promise.allSettled(this.topology.hosts.map((h) => this.upHost(ctx, h, now, aborted, seen)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return { changed: bridge || root || results.some((r) => r.status === 'fulfilled' && r.value) };
  }

  /** Another interface with an address in our subnet would make the lab unreachable (two routes): refuse. */
  private checkSubnetFree(now: Present): void {
    const subnet = parseCidr(this.topology.subnet!);
    for (const [dev, list] of now.addrs) {
      if (dev === this.bridge) continue;
      for (const a of list) {
        const ip = a.split('/')[0]!;
        if (isIPv4(ip) && inCidr(ip, subnet)) {
          throw this.error(undefined, `bridge: the subnet ${this.topology.subnet} is already in use on interface ${dev} (${a}); choose another subnet in the inventory`, 'E_SUBNET_IN_USE');
        }
      }
    }
  }

  /** The bridge (made, or repaired); true when something had to be done. */
  private async upBridge(ctx: UpContext, now: Present): Promise<boolean> {
    const step = 'bridge';
    const name = this.bridge;
    const key = `bridge:${name}`;
    const cidr = `${this.gateway}/${this.prefix}`;
    const entry = this.ledger.get(key);
    const link = now.links.get(name);
    if (link && !entry) throw this.notOurs('bridge', name, `ip link del ${name}`);
    if (link) {
      const healthy = link.flags.includes('UP') && (now.addrs.get(name) ?? []).includes(cidr);
      if (healthy && entry!.state === 'done') {
        ctx.progress({ step, status: 'skip', detail: `${name} ${cidr}` });
        return false;
      }
      ctx.progress({ step, status: 'start', detail: `${name} ${cidr} (repair)` });
      await this.ip(undefined, step, ['-batch', '-'], `addr replace ${cidr} dev ${name}\nlink set dev ${name} up\n`);
      await this.ledger.markDone(key);
      ctx.progress({ step, status: 'done', detail: `${name} ${cidr}` });
      return true;
    }
    ctx.progress({ step, status: 'start', detail: `${name} ${cidr}` });
    await this.ledger.record('bridge', key, { name, address: this.gateway, prefix: this.prefix, lab: this.topology.name });
    await this.ip(undefined, step, ['-batch', '-'], `link add ${name} type bridge\naddr add ${cidr} dev ${name}\nlink set dev ${name} up\n`);
    await this.ledger.markDone(key);
    ctx.progress({ step, status: 'done', detail: `${name} ${cidr}` });
    return true;
  }

  /**
   * /var/lib/lab/<lab> (mode 0711: traverse, no listing) holds the hosts' work directories, so the broker's data
   * directory can be reached by the user RabbitMQ runs as. /var/lib/lab itself is shared by labs and stays.
   */
  private async upWorkRoot(ctx: UpContext): Promise<boolean> {
    const step = 'work directory';
    await mkdir(NETNS_WORK_BASE, { recursive: true, mode: 0o711 });
    const path = this.workRoot();
    const key = 'dir:hosts';
    const entry = this.ledger.get(key);
    const exists = await isDir(path);
    if (exists && entry?.state === 'done') {
      ctx.progress({ step, status: 'skip', detail: path });
      return false;
    }
    ctx.progress({ step, status: 'start', detail: path });
    if (!entry || !exists) await this.ledger.record('directory', key, { path });
    await mkdir(path, { recursive: true, mode: 0o711 });
    await chmod(path, 0o711);
    await this.ledger.markDone(key);
    ctx.progress({ step, status: 'done', detail: path });
    return true;
  }

  /**
   * The addresses, default route and lo of every namespace that exists, from ONE spawn (execLocalEach: a shell that
   * runs `ip -n` for each at once): a spawn from this process costs far more than a fork from a small shell, and a
   * lab up again on a healthy lab only reads these. Namespace → what `ip -o -4` printed (absent: not read).
   */
  private async addressesOf(namespaces: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const results = await execLocalEach(namespaces.map((ns) => ({ host: '', argv: ['ip', '-n', ns, '-o', '-4', '-batch', '-'], input: ADDRESS_READ })));
    results.forEach((r, i) => out.set(namespaces[i]!, r.stdout + r.stderr));
    return out;
  }

  /** One host's namespace, veth, addresses and work directory; true when something had to be made or repaired. */
  private async upHost(ctx: UpContext, h: Readonly<HostSpec>, now: Present, aborted: () => void, seen: Map<string, string>): Promise<boolean> {
    const n = this.names(h.name);
    aborted();
    const ns = await this.upNamespace(ctx.progress, h.name, n, now);
    aborted();
    const veth = await this.upVeth(ctx.progress, h.name, n, now, ns.created);
    aborted();
    // a new namespace or a new veth has no addresses yet; otherwise they are checked
    const address = await this.upAddress(ctx.progress, h, n, ns.created || veth.configure, seen.get(n.namespace));
    aborted();
    const dir = await this.upHostDir(ctx.progress, h);
    return ns.changed || veth.changed || address || dir;
  }

  private async upNamespace(progress: Progress, host: string, n: NetnsNames, now: Present): Promise<{ created: boolean; changed: boolean }> {
    const step = 'namespace';
    const key = `ns:${n.namespace}`;
    const entry = this.ledger.get(key);
    const exists = now.namespaces.has(n.namespace);
    if (exists && !entry) throw this.notOurs('namespace', n.namespace, `ip netns del ${n.namespace}`, host);
    if (exists && entry!.state === 'done') {
      progress({ host, step, status: 'skip', detail: n.namespace });
      return { created: false, changed: false };
    }
    if (exists) {
      await this.ledger.markDone(key);
      progress({ host, step, status: 'done', detail: `${n.namespace} (found)` });
      return { created: false, changed: true };
    }
    progress({ host, step, status: 'start', detail: n.namespace });
    await this.ledger.record('namespace', key, { host, name: n.namespace });
    await this.ip(host, step, ['netns', 'add', n.namespace]);
    await this.ledger.markDone(key);
    progress({ host, step, status: 'done', detail: n.namespace });
    return { created: true, changed: true };
  }

  /** The veth pair: host side on the bridge, peer renamed eth0 inside the namespace. */
  private async upVeth(progress: Progress, host: string, n: NetnsNames, now: Present, nsCreated: boolean): Promise<{ configure: boolean; changed: boolean }> {
    const step = 'veth';
    const key = `veth:${n.veth}`;
    const entry = this.ledger.get(key);
    const link = nsCreated ? undefined : now.links.get(n.veth); // a new namespace has no peer: any old veth died with the old one
    const detail = `${n.veth} on ${this.bridge} ↔ eth0`;
    if (link && !entry) throw this.notOurs('interface', n.veth, `ip link del ${n.veth}`, host);
    if (link && entry!.state === 'done' && link.master === this.bridge && link.flags.includes('UP')) {
      progress({ host, step, status: 'skip', detail });
      return { configure: false, changed: false };
    }
    if (link) {
      progress({ host, step, status: 'start', detail: `${detail} (repair)` });
      await this.ip(host, step, ['link', 'set', 'dev', n.veth, 'master', this.bridge, 'up']);
      await this.ledger.markDone(key);
      progress({ host, step, status: 'done', detail });
      return { configure: entry!.state !== 'done', changed: true };
    }
    progress({ host, step, status: 'start', detail });
    await this.ledger.record('veth', key, { host, name: n.veth, peer: 'eth0', namespace: n.namespace, bridge: this.bridge });
    // the namespace was re-created: an old pair may still be going away with the old one (netns cleanup is asynchronous)
    if (nsCreated && now.links.has(n.veth)) await execLocal(host, ['ip', 'link', 'del', 'dev', n.veth]);
    await this.ip(host, step, ['-batch', '-'], `link add ${n.veth} type veth peer name eth0 netns ${n.namespace}\nlink set dev ${n.veth} master ${this.bridge} up\n`);
    await this.ledger.markDone(key);
    progress({ host, step, status: 'done', detail });
    return { configure: true, changed: true };
  }

  /** Address, lo, default route (no ledger entry: they live and die with the namespace's eth0); true when set. */
  private async upAddress(progress: Progress, h: Readonly<HostSpec>, n: NetnsNames, configure: boolean, seen?: string): Promise<boolean> {
    const host = h.name;
    const step = 'address';
    const cidr = `${h.address}/${this.prefix}`;
    const detail = `${cidr} via ${this.gateway}`;
    if (!configure) {
      // read with every other namespace's (addressesOf), else now; anything not as it should be is set again below
      const out = seen ?? (await this.ip(host, step, ['-n', n.namespace, '-o', '-4', '-batch', '-'], ADDRESS_READ));
      const ok = out.includes(` inet ${cidr} `) && out.includes(`default via ${this.gateway} dev eth0`) && /\blo: <[^>]*\bUP\b/.test(out);
      if (ok) {
        progress({ host, step, status: 'skip', detail });
        return false;
      }
    }
    progress({ host, step, status: 'start', detail });
    await this.ip(host, step, ['-n', n.namespace, '-batch', '-'], `addr replace ${cidr} dev eth0\nlink set dev eth0 up\nlink set dev lo up\nroute replace default via ${this.gateway} dev eth0\n`);
    progress({ host, step, status: 'done', detail });
    return true;
  }

  /** The host's work directory: 0711 on the broker host, so its user can reach the data directory the service chowns to it. */
  private async upHostDir(progress: Progress, h: Readonly<HostSpec>): Promise<boolean> {
    const host = h.name;
    const step = 'work directory';
    const key = `dir:${host}`;
    const path = this.workDir(host);
    const mode = h.roles.includes('broker') ? 0o711 : 0o700;
    const entry = this.ledger.get(key);
    const exists = await isDir(path);
    if (exists && entry?.state === 'done') {
      progress({ host, step, status: 'skip', detail: path });
      return false;
    }
    progress({ host, step, status: 'start', detail: path });
    if (!entry || !exists) await this.ledger.record('directory', key, { host, path });
    await mkdir(path, { recursive: true, mode });
    await chmod(path, mode);
    await this.ledger.markDone(key);
    progress({ host, step, status: 'done', detail: path });
    return true;
  }

  // ---- running things inside a namespace

  private wrap(host: string, argv: string[]): string[] {
    if (argv.length === 0) throw new ProviderError('exec: empty command', { host, code: 'E_USAGE' });
    return ['ip', 'netns', 'exec', this.names(host).namespace, ...argv];
  }

  async exec(host: string, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.checked(host, argv, await execLocal(host, this.wrap(host, argv), options));
  }

  /** Every host's command from one spawn (execLocalEach); a job that failed as `exec` would throw is rejected alone. */
  async execEach(jobs: readonly { host: string; argv: string[] }[], options: Pick<ExecOptions, 'timeoutMs'> = {}): Promise<(ExecResult | Error)[]> {
    const results = await execLocalEach(jobs.map((j) => ({ host: j.host, argv: this.wrap(j.host, j.argv) })), options);
    return results.map((r, i) => {
      try {
        return this.checked(jobs[i]!.host, jobs[i]!.argv, r);
      } catch (err) {
        return err as Error;
      }
    });
  }

  /** What `ip netns exec` says when it could not run the command at all, as the error it is. */
  private checked(host: string, argv: string[], r: ExecResult): ExecResult {
    // `ip netns exec` reports a command it cannot exec with a non-zero exit code and this message
    if (r.exitCode !== 0 && r.stderr.startsWith(`exec of "${argv[0]}" failed: No such file or directory`)) throw notFound(argv[0]!, host);
    const ns = this.names(host).namespace;
    if (r.exitCode !== 0 && r.stderr.startsWith(`Cannot open network namespace "${ns}"`)) {
      throw new ProviderError(`exec: namespace ${ns} does not exist (is the lab up? \`lab up\` re-creates it): ${oneLine(r.stderr)}`, { host, code: 'E_HOST_DOWN' });
    }
    return r;
  }

  stream(host: string, argv: string[], options: StreamOptions): Promise<number> {
    return streamLocal(host, this.wrap(host, argv), options);
  }

  async spawn(host: string, argv: string[], options: SpawnOptions): Promise<ProcessRef> {
    let inner = argv;
    if (options.user !== undefined) {
      const u = await localUser(options.user, host);
      // setpriv execs the command: no wrapper process stays between the recorded pid and the service
      inner = ['setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--', ...argv];
    }
    const spec = this.spec(host);
    return spawnRecorded(this.ledger, { key: options.key, host: spec.name, argv: this.wrap(host, inner), command: argv, logFile: options.logFile, env: options.env, cwd: options.cwd, data: options.ledgerData });
  }

  signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
    return signalLocal(ref, signal);
  }

  stop(ref: ProcessRef, graceMs?: number): Promise<ProcessCheck> {
    return stopLocal(ref, graceMs);
  }

  alive(ref: ProcessRef): Promise<boolean> {
    return aliveLocal(ref);
  }

  // ---- files (the same filesystem as this machine)

  async writeFile(host: string, path: string, content: string | Buffer, options: { mode?: number; owner?: string } = {}): Promise<void> {
    this.spec(host);
    await writeFile(path, content, { mode: options.mode ?? 0o600 });
    if (options.mode !== undefined) await chmod(path, options.mode);
    if (options.owner !== undefined) {
      const u = await localUser(options.owner, host);
      await chown(path, u.uid, u.gid);
    }
  }

  async readFile(host: string, path: string, options: { tailBytes?: number } = {}): Promise<Buffer> {
    this.spec(host);
    if (options.tailBytes !== undefined) return Buffer.from(await tailFile(path, options.tailBytes));
    return readFile(path);
  }

  /**
   * Write /etc/netns/<ns>/hosts, which `ip netns exec` bind-mounts over /etc/hosts for what it starts. Written in
   * place (not renamed), so processes already running in the namespace see the new content too.
   */
  async writeHosts(host: string, entries: HostsEntry[]): Promise<void> {
    const spec = this.spec(host);
    let content: string;
    try {
      content = hostsFile(spec.name, entries);
    } catch (err) {
      if (!hasCode(err, 'E_HOSTS_FILE')) throw err;
      throw new ProviderError(`hosts file: ${err.message}`, { host, code: 'E_CONFIG' });
    }
    const dir = this.etcDir(host);
    const key = `hosts:${spec.name}`;
    const entry = this.ledger.get(key);
    if (!entry || !(await isDir(dir))) await this.ledger.record('directory', key, { host: spec.name, path: dir });
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await writeFile(join(dir, 'hosts'), content, { mode: 0o644 });
    // The namespace has no route out, so the machine's DNS server is unreachable from it: a lookup that falls through
    // /etc/hosts (getent asks for IPv6 first) would wait out the resolver's timeouts (10 s). Make it fail at once.
    await writeFile(join(dir, 'resolv.conf'), `# lab ${this.topology.name}: no DNS inside the lab (no route out); names come from /etc/hosts\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n`, { mode: 0o644 });
    if (this.ledger.get(key)?.state !== 'done') await this.ledger.markDone(key);
  }

  // ---- down

  async undo(entry: LedgerEntry): Promise<void> {
    const d = entry.data as { name?: unknown; path?: unknown; host?: unknown };
    const host = typeof d.host === 'string' ? d.host : undefined;
    switch (entry.kind) {
      case 'process':
        return undoProcess(entry);
      case 'veth':
      case 'bridge': {
        const name = String(d.name ?? '');
        if (!/^l[bv][0-9a-f]{8}$/.test(name)) throw new ProviderError(`undo ${entry.key}: not an interface name of this provider: ${JSON.stringify(name)}`, { host, code: 'E_UNDO_UNKNOWN' });
        const r = await execLocal(host ?? '', ['ip', 'link', 'del', 'dev', name]);
        if (r.exitCode !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) {
          throw this.error(host, `undo ${entry.kind}: ip link del dev ${name} failed: ${oneLine(r.stderr)}`);
        }
        return;
      }
      case 'namespace': {
        const name = String(d.name ?? '');
        if (name === '' || name.includes('/') || name === '.' || name === '..') throw new ProviderError(`undo ${entry.key}: not a namespace name: ${JSON.stringify(name)}`, { host, code: 'E_UNDO_UNKNOWN' });
        const r = await execLocal(host ?? '', ['ip', 'netns', 'del', name]);
        if (r.exitCode !== 0 && !/No such file or directory/.test(r.stderr)) {
          throw this.error(host, `undo namespace: ip netns del ${name} failed: ${oneLine(r.stderr)}`);
        }
        return;
      }
      case 'directory':
      case 'file': {
        const path = String(d.path ?? '');
        if (!isAbsolute(path) || resolve(path) === '/' || dirname(resolve(path)) === '/') {
          throw new ProviderError(`undo ${entry.key}: refusing to remove ${JSON.stringify(path)}`, { host, code: 'E_UNDO_UNSAFE' });
        }
        try {
          await rm(path, { recursive: true, force: true });
        } catch (err) {
          throw new ProviderError(`undo ${entry.kind}: cannot remove ${path}: ${err instanceof Error ? err.message : String(err)}`, { host, cause: err });
        }
        return;
      }
      default:
        throw new ProviderError(`the netns provider did not create ${entry.kind} ${entry.key}`, { host, code: 'E_UNDO_UNKNOWN' });
    }
  }

  async close(): Promise<void> {}
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

