/**
 * The sections of an inventory, one function each, in the order `build` (inventory.ts) runs them:
 *   subnet → hosts → user modules (tasks, config) → user services → addresses → roles → broker and backend →
 *   service ports → docker.
 * Each reads the parsed data after the JSON Schema check — a value of the wrong type has been reported there and
 * is left alone here — reports its cross-field problems to `issues` at the field they concern, and returns its
 * part of the TopologyData. Later sections read what earlier ones built (addresses need the hosts and the subnet).
 */
import { isAbsolute, resolve } from 'node:path';
import { allocateAddresses, canonicalNetwork, defaultSubnet, formatCidr, inCidr, isIPv4, isLoopback, parseCidr, reservedReason, type Cidr } from './net.js';
import { compileHint, isJavaScriptPath, isTypeScriptPath } from './js-module.js';
import { HOSTNAME_PATTERN } from './patterns.js';
import type { Seg } from './schema.js';
import type { Issues } from './source.js';
import {
  BOOK_ROLES,
  DEFAULT_DOCKER_IMAGES,
  DEFAULT_PORTS,
  HOST_DEFAULTS,
  LAB_SERVICE_NAMES,
  POOLS,
  ROLES,
  SERVICE_DEFAULTS,
  SINGLETON_ROLES,
  type BackendSpec,
  type BrokerSpec,
  type DockerSpec,
  type HostSpec,
  type Mount,
  type NodeSource,
  type Pool,
  type ProviderKind,
  type RestartPolicy,
  type Role,
  type ServicePorts,
  type UserServiceSpec,
} from './topology.js';

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const HOSTNAME_RE = new RegExp(HOSTNAME_PATTERN);

/** What every section needs besides the data. */
export interface SectionContext {
  issues: Issues;
  /** The provider the inventory names; undefined when it is missing or unknown (the schema said so). */
  provider: ProviderKind | undefined;
  /** The inventory's folder: relative paths resolve against it. */
  baseDir: string;
  /** What `~` expands to. */
  home: string;
}

const usesSubnet = (provider: ProviderKind | undefined): boolean => provider === 'netns' || provider === 'docker';

/** Expand `~` / `~/…` and resolve relative paths against the inventory's folder. Null for `~user/…`. */
export function expandPath(p: string, baseDir: string, home: string): string | null {
  if (p === '~') return home;
  if (p.startsWith('~/')) return resolve(home, p.slice(2));
  if (p.startsWith('~')) return null;
  return isAbsolute(p) ? resolve(p) : resolve(baseDir, p);
}

// ---- subnet --------------------------------------------------------------------------------------------------

/**
 * netns and docker: the lab's network — the one given (a network address, /29 or shorter) or the lab's default.
 * Null when the given one is unusable (reported) or the provider has no subnet (a given one is a warning).
 */
export function subnetOf(d: Obj, lab: string, ctx: SectionContext): Cidr | null {
  const { issues, provider } = ctx;
  if (!usesSubnet(provider)) {
    if (d.subnet !== undefined && provider) issues.warn(['subnet'], 'key', `ignored: subnet applies to providers netns and docker, not ${provider}`);
    return null;
  }
  if (d.subnet === undefined) return parseCidr(defaultSubnet(lab));
  if (typeof d.subnet !== 'string' || issues.hasErrorUnder(['subnet'])) return null;
  const c = parseCidr(d.subnet);
  const canonical = canonicalNetwork(d.subnet);
  if (canonical !== d.subnet) {
    issues.error(['subnet'], 'value', `expected a network address (host bits zero) like ${canonical}, got ${JSON.stringify(d.subnet)}`);
    return null;
  }
  if (c.prefix > 29) {
    issues.error(['subnet'], 'value', `expected a prefix of /29 or shorter (room for the gateway and the hosts), got /${c.prefix}`);
    return null;
  }
  return c;
}

// ---- hosts ---------------------------------------------------------------------------------------------------

/** An address the inventory gives a host, where it is written (checked per provider by `assignAddresses`). */
export interface GivenAddress {
  host: HostSpec;
  path: Seg[];
}

export interface HostsSection {
  /** In inventory order; `address` is set for hosts with a given address only. */
  hosts: HostSpec[];
  given: GivenAddress[];
  /** Some host's roles could not be read: role checks would only add noise. */
  rolesBroken: boolean;
}

/** Every host's spec: its own settings, else `defaults:`, else the built-in defaults; its roles; docker extras. */
export function hostSpecs(d: Obj, ctx: SectionContext): HostsSection {
  const defaults = isObj(d.defaults) ? d.defaults : {};
  const rawHosts = isObj(d.hosts) ? d.hosts : {};
  const seenLower = new Map<string, string>();
  const out: HostsSection = { hosts: [], given: [], rolesBroken: false };
  for (const [name, value] of Object.entries(rawHosts)) {
    const raw = isObj(value) ? value : {};
    const hp: Seg[] = ['hosts', name];
    checkHostName(name, hp, seenLower, ctx.issues);
    const roles = hostRoles(name, raw, hp, ctx.issues);
    if (roles === null) out.rolesBroken = true;
    const host = hostSettings(name, roles ?? [], raw, defaults, hp, ctx);
    // skipped from the first host whose roles are unreadable on: its roles say nothing
    if (!out.rolesBroken) checkWorkerSettings(host, raw, hp, ctx.issues);
    dockerHostSettings(host, raw, hp, ctx);
    if (typeof raw.address === 'string' && !ctx.issues.hasErrorUnder([...hp, 'address'])) {
      host.address = raw.address;
      out.given.push({ host, path: [...hp, 'address'] });
    }
    out.hosts.push(host);
  }
  return out;
}

/** A host name must not be localhost or look like an address, and must be unique as /etc/hosts compares names. */
function checkHostName(name: string, hp: Seg[], seenLower: Map<string, string>, issues: Issues): void {
  if (!HOSTNAME_RE.test(name)) return; // the schema reported it
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

/** The host's roles in ROLES order: its own list, else the book's for HOST1…HOST4. Null when unreadable or missing. */
function hostRoles(name: string, raw: Obj, hp: Seg[], issues: Issues): Role[] | null {
  let roles: Role[];
  if (raw.roles !== undefined) {
    if (!Array.isArray(raw.roles) || issues.hasErrorUnder([...hp, 'roles'])) return null;
    roles = [...new Set(raw.roles as Role[])];
  } else {
    const book = BOOK_ROLES[name.toLowerCase()];
    if (!book) {
      issues.error(hp, 'key', `expected a roles list (${ROLES.join(', ')}) — only HOST1…HOST4 have default roles, got none`);
      return null;
    }
    roles = [...book];
  }
  return roles.sort((a, b) => ROLES.indexOf(a) - ROLES.indexOf(b));
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

/** Login and worker settings: the host's own, then `defaults:`, then HOST_DEFAULTS. */
function hostSettings(name: string, roles: Role[], raw: Obj, defaults: Obj, hp: Seg[], ctx: SectionContext): HostSpec {
  const { issues, provider } = ctx;
  const pick = <T>(key: string, ok: (v: unknown) => v is T): { value: T; path: Seg[] } | undefined => {
    if (raw[key] !== undefined) return ok(raw[key]) ? { value: raw[key] as T, path: [...hp, key] } : undefined;
    if (defaults[key] !== undefined) return ok(defaults[key]) ? { value: defaults[key] as T, path: ['defaults', key] } : undefined;
    return undefined;
  };
  const user = pick('user', isStr);
  const port = pick('port', isInt);
  const key = pick('key', isStr);
  const password = pick('password', isStr);
  const sudo = pick('sudo', isBool);
  const node = pick('node', (v): v is NodeSource => v === 'system' || v === 'ship');
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
  if (node) host.node = node.value;
  if (port) host.port = port.value;
  else if (provider === 'ssh') host.port = HOST_DEFAULTS.sshPort;
  if (password) {
    host.password = password.value;
    issues.warn(password.path, 'value', 'a password in the inventory is discouraged; prefer key (a key file or ssh-agent)');
  }
  if (key && !issues.hasErrorUnder(key.path)) {
    const k = expandPath(key.value, ctx.baseDir, ctx.home);
    if (k === null) issues.error(key.path, 'value', `expected ~/…, an absolute or a relative path, got ${JSON.stringify(key.value)} (~user is not supported)`);
    else host.keyPath = k;
  }
  return host;
}

/** Worker settings on a host that runs no workers: a mistake worth saying. */
function checkWorkerSettings(host: HostSpec, raw: Obj, hp: Seg[], issues: Issues): void {
  if (host.roles.length === 0 || host.roles.includes('workers')) return;
  for (const k of ['concurrency', 'pool', 'queues', 'tasks', 'config'] as const) {
    if (raw[k] !== undefined && !issues.hasErrorUnder([...hp, k])) {
      issues.error([...hp, k], 'key', `expected a workers host for ${k}, got a host with roles ${host.roles.join(', ')}`);
    }
  }
}

/** docker only: the host's image and mounts (a warning under another provider). */
function dockerHostSettings(host: HostSpec, raw: Obj, hp: Seg[], ctx: SectionContext): void {
  const { issues, provider } = ctx;
  if (raw.image === undefined && raw.mounts === undefined) return;
  if (provider && provider !== 'docker') {
    for (const k of ['image', 'mounts']) if (raw[k] !== undefined) issues.warn([...hp, k], 'key', `ignored: ${k} applies to provider docker, not ${provider}`);
    return;
  }
  if (typeof raw.image === 'string' && !issues.hasErrorUnder([...hp, 'image'])) host.image = raw.image;
  if (Array.isArray(raw.mounts)) host.mounts = mounts(raw.mounts, [...hp, 'mounts'], ctx);
}

function mounts(list: unknown[], path: Seg[], ctx: SectionContext): Mount[] {
  const { issues } = ctx;
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
    const src = expandPath(source, ctx.baseDir, ctx.home);
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

// ---- user modules: tasks, config ----------------------------------------------------------------------------

/** A module file the inventory names, where it is written: its existence is checked before the topology is returned. */
export interface ModuleFile {
  path: Seg[];
  file: string;
}

/**
 * The user's task modules (`tasks:`) and settings module (`config:`) of every workers host: its own, else
 * `defaults:` (a host's own list replaces the defaults' one, like `queues`). Each path is checked where it is
 * written: `~` and relative paths resolved (against the inventory's folder), JavaScript only (a .ts gets the
 * compile hint), each module once per list. Returns the files to check for existence.
 */
export function moduleSettings(d: Obj, hosts: HostSpec[], ctx: SectionContext): ModuleFile[] {
  const files: ModuleFile[] = [];
  const read = (raw: Obj, base: Seg[]): { tasks?: string[] | null; config?: string | null } => {
    const out: { tasks?: string[] | null; config?: string | null } = {};
    if (Array.isArray(raw.tasks) && raw.tasks.every((t) => typeof t === 'string')) {
      const p: Seg[] = [...base, 'tasks'];
      const list: string[] = [];
      let ok = !ctx.issues.hasErrorUnder(p);
      raw.tasks.forEach((t, i) => {
        if (ctx.issues.hasErrorUnder([...p, i])) return;
        const abs = modulePath(t as string, [...p, i], ctx);
        if (abs === null) ok = false;
        else if (list.includes(abs)) {
          ctx.issues.error([...p, i], 'value', `expected each task module once, got ${abs} again`);
          ok = false;
        } else {
          list.push(abs);
          files.push({ path: [...p, i], file: abs });
        }
      });
      out.tasks = ok ? list : null;
    } else if (raw.tasks !== undefined) out.tasks = null;
    if (typeof raw.config === 'string') {
      const p: Seg[] = [...base, 'config'];
      const abs = ctx.issues.hasErrorUnder(p) ? null : modulePath(raw.config, p, ctx);
      if (abs !== null) files.push({ path: p, file: abs });
      out.config = abs;
    } else if (raw.config !== undefined) out.config = null;
    return out;
  };
  const defaults = read(isObj(d.defaults) ? d.defaults : {}, ['defaults']);
  const rawHosts = isObj(d.hosts) ? d.hosts : {};
  for (const h of hosts) {
    const own = read(isObj(rawHosts[h.name]) ? (rawHosts[h.name] as Obj) : {}, ['hosts', h.name]);
    if (!h.roles.includes('workers')) continue;
    const tasks = own.tasks !== undefined ? own.tasks : defaults.tasks;
    const config = own.config !== undefined ? own.config : defaults.config;
    if (tasks) h.tasks = [...tasks];
    if (config) h.config = config;
  }
  return files;
}

/** One module path: expanded and made absolute, JavaScript only. Null (reported) when unusable. */
function modulePath(p: string, at: Seg[], ctx: SectionContext): string | null {
  const abs = expandPath(p, ctx.baseDir, ctx.home);
  if (abs === null) {
    ctx.issues.error(at, 'value', `expected ~/…, an absolute or a relative path, got ${JSON.stringify(p)} (~user is not supported)`);
    return null;
  }
  if (isTypeScriptPath(abs)) {
    ctx.issues.error(at, 'value', `expected a JavaScript module, got ${JSON.stringify(p)}: ${compileHint(p)}`);
    return null;
  }
  if (!isJavaScriptPath(abs)) {
    ctx.issues.error(at, 'value', `expected a JavaScript module (.js, .mjs or .cjs), got ${JSON.stringify(p)}`);
    return null;
  }
  return abs;
}

// ---- user services ------------------------------------------------------------------------------------------

/** Environment variables lab sets for a host's services itself: an inventory may not set them. */
export const RESERVED_ENV = [
  'LAB_PROCESS_TOKEN',
  'LAB_NAME',
  'LAB_BROKER_URL',
  'LAB_BACKEND_URL',
  'LAB_QUOTES_URL',
  'CELERY_BROKER_URL',
  'CELERY_RESULT_BACKEND',
  'LAB_SERVICE_NAME',
  'LAB_SERVICE_INDEX',
  'LAB_SERVICE_PORT',
] as const;

/**
 * Every host's own processes (`services:`): the schema checked each field's type; here the names lab uses itself
 * (a service called `redis`, an env `LAB_BROKER_URL`), a readiness check that names both a port and a log line or
 * neither, and a log regex that is not one.
 */
export function userServices(d: Obj, hosts: HostSpec[], ctx: SectionContext): void {
  const { issues } = ctx;
  const rawHosts = isObj(d.hosts) ? d.hosts : {};
  for (const h of hosts) {
    const raw = isObj(rawHosts[h.name]) ? (rawHosts[h.name] as Obj) : {};
    if (!isObj(raw.services)) continue;
    const list: UserServiceSpec[] = [];
    for (const [name, value] of Object.entries(raw.services)) {
      const sp: Seg[] = ['hosts', h.name, 'services', name];
      if ((LAB_SERVICE_NAMES as readonly string[]).includes(name)) {
        issues.error(sp, 'key', `expected a name that is not one of lab's own services (${LAB_SERVICE_NAMES.join(', ')}), got ${JSON.stringify(name)}`);
        continue;
      }
      if (!isObj(value) || issues.hasErrorUnder(sp)) continue;
      const spec = userService(name, value, sp, issues);
      if (spec) list.push(spec);
    }
    if (list.length > 0) h.services = list;
  }
}

function userService(name: string, v: Obj, sp: Seg[], issues: Issues): UserServiceSpec | null {
  let ok = true;
  const env: Record<string, string> = {};
  if (isObj(v.env)) {
    for (const [k, x] of Object.entries(v.env)) {
      if ((RESERVED_ENV as readonly string[]).includes(k)) {
        issues.error([...sp, 'env', k], 'key', `expected a variable lab does not set itself (it sets ${RESERVED_ENV.join(', ')}), got ${k}`);
        ok = false;
      } else env[k] = String(x);
    }
  }
  let ready: UserServiceSpec['ready'];
  const r = v.ready;
  const rp: Seg[] = [...sp, 'ready'];
  if (typeof r === 'number') ready = { port: r, timeoutMs: SERVICE_DEFAULTS.readyTimeoutMs };
  else if (typeof r === 'string') ready = { log: r, timeoutMs: SERVICE_DEFAULTS.readyTimeoutMs };
  else if (isObj(r)) {
    const has = ['port', 'log'].filter((k) => r[k] !== undefined);
    if (has.length !== 1) {
      issues.error(rp, 'value', `expected exactly one of port or log, got ${has.length === 0 ? 'neither' : 'both'}`);
      ok = false;
    }
    ready = { timeoutMs: typeof r.timeout === 'number' ? Math.round(r.timeout * 1000) : SERVICE_DEFAULTS.readyTimeoutMs };
    if (typeof r.port === 'number') ready.port = r.port;
    if (typeof r.log === 'string') ready.log = r.log;
  }
  if (ready?.log !== undefined) {
    try {
      new RegExp(ready.log);
    } catch (err) {
      issues.error(typeof r === 'string' ? rp : [...rp, 'log'], 'value', `expected a regular expression, got ${JSON.stringify(ready.log)} (${err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err)})`);
      ok = false;
    }
  }
  const count = typeof v.count === 'number' ? v.count : SERVICE_DEFAULTS.count;
  if (ready?.port !== undefined && ready.port + count - 1 > 65535) {
    issues.error([...sp, 'count'], 'value', `expected a count that keeps port + index within 65535 (instance i listens on ${ready.port} + i), got ${count}`);
    ok = false;
  }
  if (!ok || !Array.isArray(v.command)) return null;
  const spec: UserServiceSpec = {
    name,
    command: v.command.map(String),
    count,
    env,
    restart: (typeof v.restart === 'string' ? v.restart : SERVICE_DEFAULTS.restart) as RestartPolicy,
    maxRestarts: typeof v.maxRestarts === 'number' ? v.maxRestarts : SERVICE_DEFAULTS.maxRestarts,
  };
  if (typeof v.cwd === 'string') spec.cwd = v.cwd;
  if (ready) spec.ready = ready;
  return spec;
}

// ---- addresses -----------------------------------------------------------------------------------------------

/** An ssh host given by name: resolved (inventory.ts) before the topology is returned. */
export interface SshName {
  host: HostSpec;
  name: string;
  path: Seg[];
  at: 'key' | 'value';
}

/**
 * Every host's address, checked for its provider: local → loopback (default 127.0.0.1); netns and docker → unique,
 * inside the subnet and not reserved, the others allocated in it; ssh → unique address and port. Returns the ssh
 * hosts given by name, to resolve.
 */
export function assignAddresses(hosts: HostSpec[], given: GivenAddress[], cidr: Cidr | null, ctx: SectionContext): SshName[] {
  const givenSet = new Set(given.map((e) => e.host));
  const { issues, provider } = ctx;
  if (provider === 'local') localAddresses(hosts, given, givenSet, issues);
  else if (usesSubnet(provider)) subnetAddresses(hosts, given, givenSet, cidr, issues);
  else if (provider === 'ssh') return sshAddresses(hosts, givenSet, issues);
  return [];
}

function localAddresses(hosts: HostSpec[], given: GivenAddress[], givenSet: Set<HostSpec>, issues: Issues): void {
  for (const { host, path } of given) {
    if (!isIPv4(host.address)) issues.error(path, 'value', `expected a loopback IPv4 address (127.0.0.0/8) for provider local, got ${JSON.stringify(host.address)}`);
    else if (!isLoopback(host.address)) issues.error(path, 'value', `expected a loopback address (127.0.0.0/8) for provider local — services must not be exposed to the network, got ${host.address}`);
  }
  for (const h of hosts) if (!givenSet.has(h)) h.address = '127.0.0.1';
}

function subnetAddresses(hosts: HostSpec[], given: GivenAddress[], givenSet: Set<HostSpec>, cidr: Cidr | null, issues: Issues): void {
  const subnet = cidr ? formatCidr(cidr) : undefined;
  const byAddr = new Map<string, string>();
  const taken = new Set<string>();
  for (const { host, path } of given) {
    const a = host.address;
    if (!isIPv4(a)) {
      issues.error(path, 'value', `expected an IPv4 address${cidr ? ` inside ${subnet}` : ''}, got ${JSON.stringify(a)}`);
      continue;
    }
    if (cidr && !inCidr(a, cidr)) {
      issues.error(path, 'value', `expected an address inside the subnet ${subnet}, got ${a}`);
      continue;
    }
    const reserved = cidr ? reservedReason(a, cidr) : null;
    if (reserved) {
      issues.error(path, 'value', `expected a host address inside ${subnet}, got ${a}, ${reserved}`);
      continue;
    }
    const other = byAddr.get(a);
    if (other !== undefined) issues.error(path, 'value', `expected a unique address, got ${a} again (also ${other})`);
    else byAddr.set(a, host.name);
    taken.add(a);
  }
  if (!cidr) return;
  const need = hosts.filter((h) => !givenSet.has(h)).map((h) => ({ name: h.name }));
  const alloc = allocateAddresses(cidr, need, taken);
  if (!alloc) issues.error(['subnet'], 'value', `expected a subnet with room for ${hosts.length} hosts, got ${subnet}`);
  else for (const h of hosts) if (!givenSet.has(h)) h.address = alloc.get(h.name) ?? '';
}

function sshAddresses(hosts: HostSpec[], givenSet: Set<HostSpec>, issues: Issues): SshName[] {
  const names: SshName[] = [];
  const seen = new Map<string, string>();
  for (const h of hosts) {
    const isGiven = givenSet.has(h);
    const path: Seg[] = isGiven ? ['hosts', h.name, 'address'] : ['hosts', h.name];
    if (isGiven && /^[0-9.]+$/.test(h.address) && !isIPv4(h.address)) {
      issues.error(path, 'value', `expected an IPv4 address like 192.168.1.11 or a host name, got ${JSON.stringify(h.address)}`);
      continue;
    }
    if (!isGiven && !HOSTNAME_RE.test(h.name)) continue;
    const target = isGiven ? h.address : h.name;
    const k = `${target.toLowerCase()}:${h.port}`;
    const other = seen.get(k);
    if (other !== undefined) issues.error(path, isGiven ? 'value' : 'key', `expected a unique address and port, got ${target}:${h.port} again (also ${other})`);
    else seen.set(k, h.name);
    if (!isIPv4(target)) {
      h.hostname = target;
      names.push({ host: h, name: target, path, at: isGiven ? 'value' : 'key' });
    }
  }
  return names;
}

// ---- roles ---------------------------------------------------------------------------------------------------

/** Exactly one broker, backend and master host; at least one workers host; at most one quotes host. */
export function checkRoles(hosts: HostSpec[], rawHosts: Obj, issues: Issues): void {
  const withRole = (r: Role): HostSpec[] => hosts.filter((h) => h.roles.includes(r));
  // at the host's roles list when it has one, else at the host (its roles came from the book)
  const rolePath = (h: HostSpec): [Seg[], 'key' | 'value'] =>
    isObj(rawHosts[h.name]) && (rawHosts[h.name] as Obj).roles !== undefined ? [['hosts', h.name, 'roles'], 'value'] : [['hosts', h.name], 'key'];
  for (const r of SINGLETON_ROLES) {
    const hs = withRole(r);
    if (hs.length === 0) issues.error(['hosts'], 'key', `expected exactly one ${r} host, got none`);
    for (const h of hs.slice(1)) issues.error(...rolePath(h), `expected exactly one ${r} host, got ${hs.length} (${hs.map((x) => x.name).join(', ')})`);
  }
  if (withRole('workers').length === 0) issues.error(['hosts'], 'key', 'expected at least one workers host, got none');
  const quotes = withRole('quotes');
  for (const h of quotes.slice(1)) issues.error(...rolePath(h), `expected at most one quotes host, got ${quotes.length} (${quotes.map((x) => x.name).join(', ')})`);
}

/** When no host has the quotes role, the master host gets it (the book runs the quote server on HOST4). */
export function giveQuotesToMaster(hosts: HostSpec[]): void {
  if (hosts.some((h) => h.roles.includes('quotes'))) return;
  const master = hosts.find((h) => h.roles.includes('master'));
  if (master) master.roles = ROLES.filter((r) => master.roles.includes(r) || r === 'quotes');
}

// ---- broker and backend -------------------------------------------------------------------------------------

/**
 * `broker: { kind }` and `backend: { kind, persistence }`. A Redis broker is a database of the backend's Redis, so
 * the broker host must be the backend host (`roles: [broker, backend]`), and it has no port of its own.
 */
export function brokerBackend(d: Obj, hosts: HostSpec[], rawHosts: Obj, issues: Issues, rolesKnown: boolean): { broker: BrokerSpec; backend: BackendSpec } {
  const b = isObj(d.broker) ? d.broker : {};
  const k = isObj(d.backend) ? d.backend : {};
  const broker: BrokerSpec = { kind: b.kind === 'redis' ? 'redis' : 'rabbitmq', ...externalOf('broker', b, issues) };
  const backend: BackendSpec = { kind: 'redis', persistence: typeof k.persistence === 'boolean' ? k.persistence : true, ...externalOf('backend', k, issues) };
  if (broker.kind === 'redis' && !broker.external && backend.external) {
    issues.error(['broker'], 'key', "expected an external Redis broker too (external: true, url_env: NAME) with an external backend, got a Redis broker lab would run: a lab-run Redis broker is a database of the lab's own Redis, which an external backend replaces");
  }
  if (backend.external && k.persistence !== undefined) issues.warn(['backend', 'persistence'], 'key', 'ignored: an external backend keeps what its own settings say');
  if (broker.kind === 'redis' && rolesKnown && !broker.external) {
    const bh = hosts.find((h) => h.roles.includes('broker'));
    const kh = hosts.find((h) => h.roles.includes('backend'));
    if (bh && kh && bh !== kh) {
      const at: [Seg[], 'key' | 'value'] = isObj(rawHosts[bh.name]) && (rawHosts[bh.name] as Obj).roles !== undefined ? [['hosts', bh.name, 'roles'], 'value'] : [['hosts', bh.name], 'key'];
      issues.error(...at, `expected the broker on the backend host ${kh.name} (broker kind redis is a database of the backend's Redis: give ${kh.name} roles [broker, backend]), got it on ${bh.name}`);
    }
    if (isObj(d.ports) && d.ports.broker !== undefined) issues.warn(['ports', 'broker'], 'key', "ignored: a Redis broker uses the backend's Redis and its port");
  }
  return { broker, backend };
}

/** `external: true` with `url_env: NAME` (both or neither); the URL itself never belongs in the inventory. */
function externalOf(which: 'broker' | 'backend', d: Obj, issues: Issues): { external?: true; urlEnv?: string } {
  const env = typeof d.url_env === 'string' ? d.url_env : undefined;
  if (d.external === true) {
    if (env === undefined) {
      if (d.url_env === undefined) issues.error([which, 'external'], 'key', `expected url_env: NAME beside external: true — the name of the environment variable holding the ${which}'s URL (like ${which === 'broker' ? 'RABBITMQ_URL' : 'REDIS_URL'}), so no password is written in the inventory`);
      return { external: true };
    }
    return { external: true, urlEnv: env };
  }
  if (d.url_env !== undefined) issues.error([which, 'url_env'], 'key', `expected external: true with url_env (lab runs this ${which} itself otherwise), got url_env alone`);
  return {};
}

// ---- service ports -------------------------------------------------------------------------------------------

const SERVICES = ['broker', 'backend', 'quotes'] as const;

/** The ports the services listen on: the inventory's `ports:`, else the defaults. */
export function servicePorts(d: Obj): ServicePorts {
  const ports: ServicePorts = { ...DEFAULT_PORTS };
  if (isObj(d.ports)) {
    for (const k of SERVICES) {
      const v = d.ports[k];
      if (Number.isInteger(v)) ports[k] = v as number;
    }
  }
  return ports;
}

/** Two services on one address need different ports (a Redis broker has none of its own: `redisBroker`). */
export function checkPortClashes(d: Obj, ports: ServicePorts, hosts: HostSpec[], issues: Issues, redisBroker = false): void {
  const hostOf = (r: Role): HostSpec | undefined => hosts.find((h) => h.roles.includes(r));
  const services = SERVICES.filter((x) => !(redisBroker && x === 'broker'));
  for (let i = 0; i < services.length; i++)
    for (let j = i + 1; j < services.length; j++) {
      const [si, sj] = [services[i]!, services[j]!];
      const a = hostOf(si);
      const b = hostOf(sj);
      if (a && b && a.address && a.address === b.address && ports[si] === ports[sj]) {
        const explicitJ = isObj(d.ports) && d.ports[sj] !== undefined;
        issues.error(explicitJ ? ['ports', sj] : ['ports'], explicitJ ? 'value' : 'key', `expected a ${sj} port different from the ${si} port (both on ${a.address}), got ${ports[sj]} for both`);
      }
    }
}

// ---- docker --------------------------------------------------------------------------------------------------

/** docker: the network, images, mounts and Engine socket. Other providers: none (a `docker:` section is a warning). */
export function dockerSpec(d: Obj, lab: string, ctx: SectionContext): DockerSpec | undefined {
  const { issues, provider } = ctx;
  if (provider !== 'docker') {
    if (d.docker !== undefined && provider) issues.warn(['docker'], 'key', `ignored: the docker section applies to provider docker, not ${provider}`);
    return undefined;
  }
  const dk = isObj(d.docker) ? d.docker : {};
  const spec: DockerSpec = {
    network: typeof dk.network === 'string' ? dk.network : `lab-${lab}`,
    images: { ...DEFAULT_DOCKER_IMAGES },
    mounts: Array.isArray(dk.mounts) ? mounts(dk.mounts, ['docker', 'mounts'], ctx) : [],
  };
  if (typeof dk.socket === 'string' && !issues.hasErrorUnder(['docker', 'socket'])) {
    const s = expandPath(dk.socket, ctx.baseDir, ctx.home);
    if (s === null) issues.error(['docker', 'socket'], 'value', `expected ~/…, an absolute or a relative path, got ${JSON.stringify(dk.socket)} (~user is not supported)`);
    else spec.socket = s;
  }
  if (isObj(dk.images)) {
    for (const k of ['broker', 'backend', 'node'] as const) if (typeof dk.images[k] === 'string') spec.images[k] = dk.images[k] as string;
  }
  return spec;
}
