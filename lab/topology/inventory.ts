/**
 * loadInventory: read an inventory file (native lab format or an Ansible-style YAML inventory), validate it
 * completely, and return the Topology. This is the only place inventories are validated.
 *
 * The native format is documented in hosts/README.md and by the commented examples in hosts/. Every problem is
 * reported as file:line:column, field path, "expected …, got …"; all problems found are reported together in one
 * InventoryError (a ConfigError, exit code 2).
 */
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { isMap } from 'yaml';
import { ConfigError } from '../errors.js';
import { fromAnsible, isAnsibleDocument } from './ansible.js';
import {
  allocateAddresses,
  canonicalNetwork,
  defaultSubnet,
  formatCidr,
  gatewayOf,
  inCidr,
  isIPv4,
  isLoopback,
  parseCidr,
  reservedReason,
  type Cidr,
} from './net.js';
import { HOSTNAME_PATTERN, LAB_NAME_PATTERN, inventoryValidator, schemaIssues, type Seg } from './schema.js';
import { documentLocator, Issues, parseYaml, reportDuplicateKeys, reportSyntax } from './source.js';
import {
  BOOK_ROLES,
  DEFAULT_DOCKER_IMAGES,
  DEFAULT_PORTS,
  HOST_DEFAULTS,
  POOLS,
  PROVIDERS,
  ROLES,
  SINGLETON_ROLES,
  topologyFromData,
  type DockerSpec,
  type HostSpec,
  type Mount,
  type Pool,
  type ProviderKind,
  type Role,
  type ServicePorts,
  type Topology,
  type TopologyData,
} from './topology.js';

export { InventoryError, type InventoryIssue } from './source.js';

/** Resolve a host name to an IPv4 address, or null when it does not resolve. */
export type Resolver = (name: string) => Promise<string | null>;

export interface LoadOptions {
  /** DNS lookup for ssh hosts given by name (default: the system resolver, 5 s timeout). Tests inject one. */
  resolve?: Resolver;
  /** What `~` expands to (default: os.homedir()). */
  home?: string;
}

export const defaultResolver: Resolver = async (name) => {
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), 5000).unref());
  const found = lookup(name, { family: 4 })
    .then((a) => a.address)
    .catch(() => null);
  return Promise.race([found, timeout]);
};

/** Read, parse and validate an inventory file. Throws ConfigError (exit code 2) naming file, line and field. */
export async function loadInventory(path: string, options: LoadOptions = {}): Promise<Topology> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new ConfigError(`cannot read the inventory: ${why}`, { file });
  }
  return parseInventory(text, file, options);
}

/** Validate inventory text as if it came from `file` (used by loadInventory and tests). */
export async function parseInventory(text: string, file: string, options: LoadOptions = {}): Promise<Topology> {
  let parsed = parseYaml(text);
  const issues = new Issues(file, parsed.lines);
  if (reportSyntax(parsed, issues)) issues.throwIfAny();
  if (parsed.doc.contents === null || parsed.doc.contents === undefined) {
    issues.errorAt({ offset: 0 }, 'expected a mapping with provider and hosts, got an empty file');
    issues.throwIfAny();
  }
  if (!isMap(parsed.doc.contents)) {
    issues.errorAt({ offset: parsed.doc.contents?.range?.[0] ?? 0 }, `expected a mapping with provider and hosts, got ${kindOf(parsed.doc.contents)}`);
    issues.throwIfAny();
  }

  let data: unknown;
  let format: 'lab' | 'ansible' = 'lab';
  if (isAnsibleDocument(parsed.doc)) {
    // Ansible reads YAML 1.1 (yes/no are booleans); parse again that way.
    format = 'ansible';
    parsed = parseYaml(text, '1.1');
    const ai = new Issues(file, parsed.lines);
    reportDuplicateKeys(parsed, ai);
    const converted = fromAnsible(parsed.doc, file, ai);
    ai.locate = converted.locate;
    data = converted.data;
    return validateAndBuild(data, format, file, ai, options);
  }
  reportDuplicateKeys(parsed, issues);
  issues.locate = documentLocator(parsed.doc);
  try {
    data = parsed.doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // merge of a non-map (<<: *scalar), an alias bomb…: the yaml package says what, not where
    issues.errorAt({ offset: 0 }, `YAML error: ${err instanceof Error ? err.message : String(err)}`);
    issues.throwIfAny();
  }
  return validateAndBuild(data, format, file, issues, options);
}

function kindOf(node: unknown): string {
  const n = node as { items?: unknown; value?: unknown } | null;
  if (!n) return 'nothing';
  if (Array.isArray(n.items)) return 'a list';
  return `a scalar ${JSON.stringify(n.value)}`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const HOSTNAME_RE = new RegExp(HOSTNAME_PATTERN);
const LAB_RE = new RegExp(LAB_NAME_PATTERN);

/** A lab name from a file name: raspberry-pi.example.yaml → raspberry-pi-example. */
export function labNameFromFile(file: string): string {
  let n = basename(file)
    .replace(/\.(ya?ml|json)$/i, '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(n)) n = `lab-${n}`;
  n = n.slice(0, 31).replace(/-+$/, '');
  return LAB_RE.test(n) ? n : 'lab';
}

/** Expand `~` / `~/…` and resolve relative paths against the inventory's folder. Null for `~user/…`. */
export function expandPath(p: string, baseDir: string, home: string): string | null {
  if (p === '~') return home;
  if (p.startsWith('~/')) return resolve(home, p.slice(2));
  if (p.startsWith('~')) return null;
  return isAbsolute(p) ? resolve(p) : resolve(baseDir, p);
}

async function validateAndBuild(data: unknown, format: 'lab' | 'ansible', file: string, issues: Issues, options: LoadOptions): Promise<Topology> {
  const validate = inventoryValidator();
  if (!validate(data)) for (const i of schemaIssues(validate.errors ?? [], data)) issues.error(i.path, i.at, i.message);
  const topo = build(isObj(data) ? data : {}, format, file, issues, options);
  await resolveSshNames(topo, issues, options.resolve ?? defaultResolver);
  issues.throwIfAny();
  topo.data.warnings = issues.warningLines();
  return topologyFromData(topo.data);
}

interface Pending {
  data: TopologyData;
  /** ssh hosts given by name: resolve before returning. */
  names: { host: HostSpec; name: string; path: Seg[]; at: 'key' | 'value' }[];
}

function build(d: Obj, format: 'lab' | 'ansible', file: string, issues: Issues, options: LoadOptions): Pending {
  const home = options.home ?? homedir();
  const baseDir = dirname(file);
  const lab = typeof d.lab === 'string' && LAB_RE.test(d.lab) ? d.lab : labNameFromFile(file);
  const provider = (PROVIDERS as readonly unknown[]).includes(d.provider) ? (d.provider as ProviderKind) : undefined;
  const pending: Pending = {
    data: { name: lab, provider: provider ?? 'local', file, format, hosts: [], ports: { ...DEFAULT_PORTS }, warnings: [] },
    names: [],
  };

  // ---- subnet
  let cidr: Cidr | null = null;
  const netLike = provider === 'netns' || provider === 'docker';
  if (netLike) {
    if (d.subnet === undefined) {
      cidr = parseCidr(defaultSubnet(lab));
    } else if (typeof d.subnet === 'string' && !issues.hasErrorUnder(['subnet'])) {
      const c = parseCidr(d.subnet);
      const canonical = canonicalNetwork(d.subnet);
      if (canonical !== d.subnet) issues.error(['subnet'], 'value', `expected a network address (host bits zero) like ${canonical}, got ${JSON.stringify(d.subnet)}`);
      else if (c.prefix > 29) issues.error(['subnet'], 'value', `expected a prefix of /29 or shorter (room for the gateway and the hosts), got /${c.prefix}`);
      else cidr = c;
    }
    if (cidr) {
      pending.data.subnet = formatCidr(cidr);
      pending.data.gateway = gatewayOf(cidr);
    }
  } else if (d.subnet !== undefined && provider) {
    issues.warn(['subnet'], 'key', `ignored: subnet applies to providers netns and docker, not ${provider}`);
  }

  // ---- defaults and hosts
  const defaults = isObj(d.defaults) ? d.defaults : {};
  const hostsObj = isObj(d.hosts) ? d.hosts : {};
  const seenLower = new Map<string, string>();
  let rolesBroken = false;
  const explicit: { host: HostSpec; path: Seg[] }[] = [];

  for (const [name, rawV] of Object.entries(hostsObj)) {
    const raw = isObj(rawV) ? rawV : {};
    const hp: Seg[] = ['hosts', name];
    const nameOk = HOSTNAME_RE.test(name);
    if (nameOk) {
      const lower = name.toLowerCase();
      if (lower === 'localhost' || lower === 'localhost.localdomain') {
        issues.error(hp, 'key', `expected a host name other than localhost (it is already in every /etc/hosts), got ${JSON.stringify(name)}`);
      } else if (/^[0-9.]+$/.test(name)) {
        issues.error(hp, 'key', `expected a host name (put addresses under address:), got ${JSON.stringify(name)}`);
      }
      const prev = seenLower.get(lower);
      if (prev !== undefined) issues.error(hp, 'key', `expected unique host names (case-insensitive, as in /etc/hosts), got ${JSON.stringify(name)} and ${JSON.stringify(prev)}`);
      else seenLower.set(lower, name);
    }

    // settings: host first, then defaults
    const pick = <T>(key: string, ok: (v: unknown) => v is T): { value: T; path: Seg[] } | undefined => {
      if (raw[key] !== undefined) return ok(raw[key]) ? { value: raw[key] as T, path: [...hp, key] } : undefined;
      if (defaults[key] !== undefined) return ok(defaults[key]) ? { value: defaults[key] as T, path: ['defaults', key] } : undefined;
      return undefined;
    };
    const isStr = (v: unknown): v is string => typeof v === 'string';
    const isInt = (v: unknown): v is number => Number.isInteger(v);
    const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

    // roles
    let roles: Role[] = [];
    if (raw.roles !== undefined) {
      if (Array.isArray(raw.roles) && !issues.hasErrorUnder([...hp, 'roles'])) roles = [...new Set(raw.roles as Role[])];
      else rolesBroken = true;
    } else {
      const book = BOOK_ROLES[name.toLowerCase()];
      if (book) roles = [...book];
      else {
        rolesBroken = true;
        issues.error(hp, 'key', `expected a roles list (${ROLES.join(', ')}) — only HOST1…HOST4 have default roles, got none`);
      }
    }
    roles.sort((a, b) => ROLES.indexOf(a) - ROLES.indexOf(b));

    const user = pick('user', isStr);
    const port = pick('port', isInt);
    const key = pick('key', isStr);
    const password = pick('password', isStr);
    const sudo = pick('sudo', isBool);
    const concurrency = pick('concurrency', isInt);
    const pool = pick('pool', (v): v is Pool => (POOLS as readonly unknown[]).includes(v));
    const queues = pick('queues', (v): v is string[] => Array.isArray(v) && v.every(isStr));

    const host: HostSpec = {
      name,
      roles,
      address: '',
      sudo: sudo?.value ?? HOST_DEFAULTS.sudo,
      concurrency: concurrency?.value ?? HOST_DEFAULTS.concurrency,
      pool: pool?.value ?? HOST_DEFAULTS.pool,
      queues: [...(queues?.value ?? HOST_DEFAULTS.queues)],
    };
    if (user) host.user = user.value;
    if (port) host.port = port.value;
    else if (provider === 'ssh') host.port = HOST_DEFAULTS.sshPort;
    if (password) {
      host.password = password.value;
      issues.warn(password.path, 'value', 'a password in the inventory is discouraged; prefer key (a key file or ssh-agent)');
    }
    if (key && !issues.hasErrorUnder(key.path)) {
      const k = expandPath(key.value, baseDir, home);
      if (k === null) issues.error(key.path, 'value', `expected ~/…, an absolute or a relative path, got ${JSON.stringify(key.value)} (~user is not supported)`);
      else host.keyPath = k;
    }

    // worker settings on a host that runs no workers: a mistake worth saying
    if (!rolesBroken && roles.length > 0 && !roles.includes('workers')) {
      for (const k of ['concurrency', 'pool', 'queues'] as const) {
        if (raw[k] !== undefined && !issues.hasErrorUnder([...hp, k])) {
          issues.error([...hp, k], 'key', `expected a workers host for ${k}, got a host with roles ${roles.join(', ')}`);
        }
      }
    }

    // docker-only settings
    if (raw.image !== undefined || raw.mounts !== undefined) {
      if (provider && provider !== 'docker') {
        for (const k of ['image', 'mounts']) if (raw[k] !== undefined) issues.warn([...hp, k], 'key', `ignored: ${k} applies to provider docker, not ${provider}`);
      } else {
        if (typeof raw.image === 'string' && !issues.hasErrorUnder([...hp, 'image'])) host.image = raw.image;
        if (Array.isArray(raw.mounts)) host.mounts = mounts(raw.mounts, [...hp, 'mounts'], baseDir, home, issues);
      }
    }

    // address: checked per provider below
    if (raw.address !== undefined) {
      if (typeof raw.address === 'string' && !issues.hasErrorUnder([...hp, 'address'])) {
        host.address = raw.address;
        explicit.push({ host, path: [...hp, 'address'] });
      }
    }
    pending.data.hosts.push(host);
  }

  // ---- addresses
  const hosts = pending.data.hosts;
  const explicitSet = new Set(explicit.map((e) => e.host));
  if (provider === 'local') {
    for (const { host, path } of explicit) {
      if (!isIPv4(host.address)) issues.error(path, 'value', `expected a loopback IPv4 address (127.0.0.0/8) for provider local, got ${JSON.stringify(host.address)}`);
      else if (!isLoopback(host.address)) issues.error(path, 'value', `expected a loopback address (127.0.0.0/8) for provider local — services must not be exposed to the network, got ${host.address}`);
    }
    for (const h of hosts) if (!explicitSet.has(h)) h.address = '127.0.0.1';
  } else if (netLike) {
    const byAddr = new Map<string, string>();
    const taken = new Set<string>();
    for (const { host, path } of explicit) {
      const a = host.address;
      if (!isIPv4(a)) {
        issues.error(path, 'value', `expected an IPv4 address${cidr ? ` inside ${pending.data.subnet}` : ''}, got ${JSON.stringify(a)}`);
        continue;
      }
      if (cidr && !inCidr(a, cidr)) {
        issues.error(path, 'value', `expected an address inside the subnet ${pending.data.subnet}, got ${a}`);
        continue;
      }
      const reserved = cidr ? reservedReason(a, cidr) : null;
      if (reserved) {
        issues.error(path, 'value', `expected a host address inside ${pending.data.subnet}, got ${a}, ${reserved}`);
        continue;
      }
      const other = byAddr.get(a);
      if (other !== undefined) issues.error(path, 'value', `expected a unique address, got ${a} again (also ${other})`);
      else byAddr.set(a, host.name);
      taken.add(a);
    }
    if (cidr) {
      const need = hosts.filter((h) => !explicitSet.has(h)).map((h) => ({ name: h.name }));
      const alloc = allocateAddresses(cidr, need, taken);
      if (!alloc) issues.error(['subnet'], 'value', `expected a subnet with room for ${hosts.length} hosts, got ${pending.data.subnet}`);
      else for (const h of hosts) if (!explicitSet.has(h)) h.address = alloc.get(h.name) ?? '';
    }
  } else if (provider === 'ssh') {
    const seen = new Map<string, string>();
    for (const h of hosts) {
      const isExplicit = explicitSet.has(h);
      const path: Seg[] = isExplicit ? ['hosts', h.name, 'address'] : ['hosts', h.name];
      if (isExplicit && /^[0-9.]+$/.test(h.address) && !isIPv4(h.address)) {
        issues.error(path, 'value', `expected an IPv4 address like 192.168.1.11 or a host name, got ${JSON.stringify(h.address)}`);
        continue;
      }
      if (!isExplicit && !HOSTNAME_RE.test(h.name)) continue;
      const target = isExplicit ? h.address : h.name;
      const k = `${target.toLowerCase()}:${h.port}`;
      const other = seen.get(k);
      if (other !== undefined) issues.error(path, isExplicit ? 'value' : 'key', `expected a unique address and port, got ${target}:${h.port} again (also ${other})`);
      else seen.set(k, h.name);
      if (!isIPv4(target)) {
        h.hostname = target;
        pending.names.push({ host: h, name: target, path, at: isExplicit ? 'value' : 'key' });
      }
    }
  }

  // ---- roles
  if (!rolesBroken && !issues.structural && hosts.length > 0) {
    const withRole = (r: Role): HostSpec[] => hosts.filter((h) => h.roles.includes(r));
    const rolePath = (h: HostSpec): [Seg[], 'key' | 'value'] =>
      isObj(hostsObj[h.name]) && (hostsObj[h.name] as Obj).roles !== undefined ? [['hosts', h.name, 'roles'], 'value'] : [['hosts', h.name], 'key'];
    for (const r of SINGLETON_ROLES) {
      const hs = withRole(r);
      if (hs.length === 0) issues.error(['hosts'], 'key', `expected exactly one ${r} host, got none`);
      for (const h of hs.slice(1)) issues.error(...rolePath(h), `expected exactly one ${r} host, got ${hs.length} (${hs.map((x) => x.name).join(', ')})`);
    }
    if (withRole('workers').length === 0) issues.error(['hosts'], 'key', 'expected at least one workers host, got none');
    const quotes = withRole('quotes');
    for (const h of quotes.slice(1)) issues.error(...rolePath(h), `expected at most one quotes host, got ${quotes.length} (${quotes.map((x) => x.name).join(', ')})`);
    if (quotes.length === 0) {
      const master = withRole('master')[0];
      if (master) master.roles = ROLES.filter((r) => master.roles.includes(r) || r === 'quotes');
    }
  }

  // ---- service ports
  const ports: ServicePorts = { ...DEFAULT_PORTS };
  if (isObj(d.ports)) {
    for (const k of ['broker', 'backend', 'quotes'] as const) {
      const v = d.ports[k];
      if (Number.isInteger(v)) ports[k] = v as number;
    }
  }
  pending.data.ports = ports;
  if (!rolesBroken && !issues.hasErrorUnder(['ports'])) {
    const svc = ['broker', 'backend', 'quotes'] as const;
    const hostOf = (r: Role): HostSpec | undefined => hosts.find((h) => h.roles.includes(r));
    for (let i = 0; i < svc.length; i++)
      for (let j = i + 1; j < svc.length; j++) {
        const a = hostOf(svc[i]!);
        const b = hostOf(svc[j]!);
        if (a && b && a.address && a.address === b.address && ports[svc[i]!] === ports[svc[j]!]) {
          const explicitJ = isObj(d.ports) && d.ports[svc[j]!] !== undefined;
          issues.error(explicitJ ? ['ports', svc[j]!] : ['ports'], explicitJ ? 'value' : 'key',
            `expected a ${svc[j]} port different from the ${svc[i]} port (both on ${a.address}), got ${ports[svc[j]!]} for both`);
        }
      }
  }

  // ---- docker section
  if (provider === 'docker') {
    const dk = isObj(d.docker) ? d.docker : {};
    const spec: DockerSpec = {
      network: typeof dk.network === 'string' ? dk.network : `lab-${lab}`,
      images: { ...DEFAULT_DOCKER_IMAGES },
      mounts: Array.isArray(dk.mounts) ? mounts(dk.mounts, ['docker', 'mounts'], baseDir, home, issues) : [],
    };
    if (typeof dk.socket === 'string' && !issues.hasErrorUnder(['docker', 'socket'])) {
      const s = expandPath(dk.socket, baseDir, home);
      if (s === null) issues.error(['docker', 'socket'], 'value', `expected ~/…, an absolute or a relative path, got ${JSON.stringify(dk.socket)} (~user is not supported)`);
      else spec.socket = s;
    }
    if (isObj(dk.images)) {
      for (const k of ['broker', 'backend', 'node'] as const) if (typeof dk.images[k] === 'string') spec.images[k] = dk.images[k] as string;
    }
    pending.data.docker = spec;
  } else if (d.docker !== undefined && provider) {
    issues.warn(['docker'], 'key', `ignored: the docker section applies to provider docker, not ${provider}`);
  }
  return pending;
}

function mounts(list: unknown[], path: Seg[], baseDir: string, home: string, issues: Issues): Mount[] {
  const out: Mount[] = [];
  list.forEach((m, i) => {
    const p = [...path, i];
    if (issues.hasErrorUnder(p)) return;
    let source: string;
    let target: string;
    let readOnly = false;
    if (typeof m === 'string') {
      const parts = m.split(':');
      source = parts[0]!;
      target = parts[1]!;
      readOnly = parts[2] === 'ro';
    } else if (isObj(m) && typeof m.source === 'string' && typeof m.target === 'string') {
      source = m.source;
      target = m.target;
      readOnly = m.readOnly === true;
    } else return;
    const src = expandPath(source, baseDir, home);
    if (src === null) {
      issues.error(p, 'value', `expected a mount source ~/…, absolute or relative, got ${JSON.stringify(source)} (~user is not supported)`);
      return;
    }
    if (!target.startsWith('/')) {
      issues.error(p, 'value', `expected an absolute mount target path, got ${JSON.stringify(target)}`);
      return;
    }
    out.push({ source: src, target, readOnly });
  });
  return out;
}

async function resolveSshNames(p: Pending, issues: Issues, resolver: Resolver): Promise<void> {
  await Promise.all(
    p.names.map(async (n) => {
      const ip = await resolver(n.name).catch(() => null);
      if (ip && isIPv4(ip)) n.host.address = ip;
      else if (n.at === 'value') issues.error(n.path, 'value', `expected an IPv4 address or a resolvable host name, got ${JSON.stringify(n.name)}, which does not resolve`);
      else issues.error(n.path, 'key', `expected an address (ssh hosts need an address or a resolvable host name), got none, and ${JSON.stringify(n.name)} does not resolve`);
    }),
  );
}
