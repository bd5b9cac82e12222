/**
 * Per-lab state: ~/.lab/<lab>/ (or $LAB_HOME/<lab>/), holding
 *   state.json   mode 0600: generated credentials, service endpoints, the topology snapshot, the inventory path
 *   ledger.jsonl what `lab up` created (ledger.ts)
 *   lock         the pid + start time of the lab command working on this lab
 * and $LAB_HOME/active naming the lab that commands without --hosts act on.
 *
 * Secrets live only in state.json (never in inventories, logs or run records). Print states with `redacted()`.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rm, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { ConfigError, LabError, maskUrl } from '../errors.js';
import { checkProcess, processIdentity, type ProcessIdentity } from './proc.js';
import { LAB_NAME_PATTERN } from './patterns.js';
import { REDIS_BROKER_DB, brokerKindOf, redisPersistenceOf, topologyData, topologyFromData, type BrokerKind, type Role, type Topology, type TopologyData } from './topology.js';

export const STATE_FILE = 'state.json';
const ACTIVE_FILE = 'active';
const STATE_VERSION = 1;
const LAB_RE = new RegExp(LAB_NAME_PATTERN);

/** $LAB_HOME, else ~/.lab */
export function labHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.LAB_HOME && env.LAB_HOME.trim() !== '' ? env.LAB_HOME : join(homedir(), '.lab');
}

/** The state folder of one lab. */
export function stateDir(lab: string, home = labHome()): string {
  if (!LAB_RE.test(lab)) throw new ConfigError(`expected a lab name like "book" ([a-z][a-z0-9-]{0,30}), got ${JSON.stringify(lab)}`, { field: 'lab' });
  return join(home, lab);
}

/**
 * A URL-safe random secret (base64url: A–Z a–z 0–9 - _), 32 characters by default. Never begins with '-', which a
 * command line (rabbitmqctl add_user, redis-cli) would read as an option.
 */
export function generateSecret(bytes = 24): string {
  for (;;) {
    const s = randomBytes(bytes).toString('base64url');
    if (!s.startsWith('-')) return s;
  }
}

export interface Endpoint {
  /** Host name in the topology (resolvable on every lab host through /etc/hosts). */
  host: string;
  address: string;
  port: number;
}

export interface LabCredentials {
  /** The lab's RabbitMQ user (guest stays loopback-only). */
  rabbitmq: { user: string; password: string; vhost: string };
  redis: { password: string };
  /**
   * Pyro4's HMAC key for the peers (`lab run --impl pyro`): the name server and every daemon and proxy of the lab
   * use it (PYRO_HMAC_KEY, never a command line). Labs brought up before it get one the first time it is needed.
   */
  pyro?: { hmacSecret: string };
}

export interface LabState {
  version: typeof STATE_VERSION;
  lab: string;
  /** Absolute path of the inventory the lab was brought up from. */
  inventoryPath: string;
  createdAt: string;
  updatedAt: string;
  /** creating: `lab up` running or interrupted · up: ready · failed: `lab up` gave up (run `lab down`). */
  status: 'creating' | 'up' | 'failed';
  topology: TopologyData;
  credentials: LabCredentials;
  services: { broker: Endpoint; backend: Endpoint; quotes: Endpoint };
  /** Provider-owned extras (bridge name, container ids…), JSON only, no secrets. */
  provider?: Record<string, unknown>;
  /** Versions of the services as they reported them at `up` (rabbitmq, redis). */
  versions?: Record<string, string>;
  /**
   * The URLs of the services that already ran (inventory `external: true`), read from their `url_env` variables at
   * `lab up` — kept here, 0600, like the lab's own credentials, so later commands reach them without the variable.
   */
  external?: ExternalUrls;
}

export interface ExternalUrls {
  broker?: string;
  backend?: string;
}

/** Where a URL points (host, port): an external service's endpoint. */
function endpointOf(url: string, defaultPort: number): Endpoint {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, address: host, port: u.port ? Number(u.port) : defaultPort };
}

/** A fresh state for a topology: new credentials, endpoints from the roles and ports. */
export function newState(topology: Topology, now = new Date(), external: ExternalUrls = {}): LabState {
  const ep = (role: Role, port: number): Endpoint => {
    const h = topology.roleHost(role);
    return { host: h.name, address: h.address, port };
  };
  return {
    version: STATE_VERSION,
    lab: topology.name,
    inventoryPath: topology.file,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    status: 'creating',
    topology: topologyData(topology),
    credentials: {
      rabbitmq: { user: 'lab', password: generateSecret(), vhost: topology.name },
      redis: { password: generateSecret() },
      pyro: { hmacSecret: generateSecret() },
    },
    services: {
      // a Redis broker is a database of the backend's Redis: its port
      broker: external.broker ? endpointOf(external.broker, brokerKindOf(topology) === 'redis' ? 6379 : 5672) : ep('broker', brokerKindOf(topology) === 'redis' ? topology.ports.backend : topology.ports.broker),
      backend: external.backend ? endpointOf(external.backend, 6379) : ep('backend', topology.ports.backend),
      quotes: ep('quotes', topology.ports.quotes),
    },
    ...(external.broker || external.backend ? { external } : {}),
  };
}

/** A state with these external URLs (a re-up reads them from the environment again: a CI job's may change). */
export function withExternal(state: LabState, external: ExternalUrls): LabState {
  if (!external.broker && !external.backend && !state.external) return state;
  const fresh = newState(stateTopology(state), new Date(state.createdAt), external);
  return { ...state, services: { ...state.services, broker: fresh.services.broker, backend: fresh.services.backend }, external };
}

/** The topology recorded in a state (no re-validation: it was validated when loaded). */
export function stateTopology(state: LabState): Topology {
  return topologyFromData(state.topology);
}

/** The lab's broker kind, from its topology (RabbitMQ for labs from before brokers had kinds). */
export function brokerKind(state: LabState): BrokerKind {
  return brokerKindOf(state.topology);
}

/** What the lab's Redis keeps on disk: an append-only file fsync'd every second, or nothing. For records and status. */
export function redisPersistence(state: LabState): 'aof-everysec' | 'none' | 'external' {
  if (state.external?.backend) return 'external';
  return redisPersistenceOf(state.topology) ? 'aof-everysec' : 'none';
}

/**
 * amqp://lab:<pw>@HOST1:5672/<vhost> — by host name (resolvable inside the lab) unless `byAddress`. A Redis broker
 * (`broker: { kind: redis }`): redis://:<pw>@HOST2:6379/1, a database of the backend's Redis of its own.
 */
export function brokerUrl(state: LabState, options: { byAddress?: boolean } = {}): string {
  // an external service's URL is the same from everywhere: it was given as it is reached
  if (state.external?.broker) return state.external.broker;
  if (brokerKind(state) === 'redis') return backendUrl(state, { ...options, db: REDIS_BROKER_DB });
  const { user, password, vhost } = state.credentials.rabbitmq;
  const b = state.services.broker;
  return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${options.byAddress ? b.address : b.host}:${b.port}/${encodeURIComponent(vhost)}`;
}

/** redis://:<pw>@HOST2:6379/0 */
export function backendUrl(state: LabState, options: { byAddress?: boolean; db?: number } = {}): string {
  if (state.external?.backend) return state.external.backend;
  const b = state.services.backend;
  return `redis://:${encodeURIComponent(state.credentials.redis.password)}@${options.byAddress ? b.address : b.host}:${b.port}/${options.db ?? 0}`;
}

const MASK = '****';

/** A deep copy safe to print or log: passwords masked, URLs' passwords masked. */
export function redacted<T>(value: T): T {
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (key && /(password|passphrase|passwd|secret|token|requirepass)$/i.test(key)) return MASK;
      return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? maskUrl(v) : v;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

/** Create the lab's state folder (0700) if needed and return it. */
export async function ensureStateDir(lab: string, home = labHome()): Promise<string> {
  const dir = stateDir(lab, home);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  return dir;
}

/** Write state.json (0600, atomically), stamping updatedAt. */
export async function writeState(dir: string, state: LabState, now = new Date()): Promise<LabState> {
  const s: LabState = { ...state, updatedAt: now.toISOString() };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  return s;
}

/** Read state.json, or null when the lab has none. A corrupt file is a ConfigError naming it. */
export async function readState(dir: string): Promise<LabState | null> {
  const file = join(dir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(`cannot read the lab state: ${String(err)}`, { file });
  }
  let s: LabState;
  try {
    s = JSON.parse(text) as LabState;
  } catch {
    throw new ConfigError('the lab state is not valid JSON (was it edited by hand?); run `lab down` to clean up and start again', { file });
  }
  if (!s || s.version !== STATE_VERSION || typeof s.lab !== 'string' || !s.topology || !s.credentials) {
    throw new ConfigError(`expected a lab state of version ${STATE_VERSION}, got ${JSON.stringify(s?.version)}`, { file, field: 'version' });
  }
  // tighten permissions if someone loosened them
  const st = await stat(file);
  if ((st.mode & 0o077) !== 0) await chmod(file, 0o600);
  return s;
}

/**
 * The lab's Pyro HMAC key: the one in its state, else a new one written into it (a lab brought up before lab kept
 * one). Call it holding the lab's lock.
 */
export async function pyroSecret(dir: string): Promise<string> {
  const state = await readState(dir);
  if (!state) throw new LabError('E_NOT_UP', `no lab state in ${dir}`);
  const have = state.credentials.pyro?.hmacSecret;
  if (have) return have;
  const hmacSecret = generateSecret();
  await writeState(dir, { ...state, credentials: { ...state.credentials, pyro: { hmacSecret } } });
  return hmacSecret;
}

// ---- the active lab pointer

/** Make `lab` the one commands without --hosts act on. */
export async function setActiveLab(lab: string, home = labHome()): Promise<void> {
  stateDir(lab, home); // validates the name
  await mkdir(home, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(home, ACTIVE_FILE), `${lab}\n`, { mode: 0o600 });
}

/** The active lab's name, or null. */
export async function activeLab(home = labHome()): Promise<string | null> {
  try {
    const name = (await readFile(join(home, ACTIVE_FILE), 'utf8')).trim();
    return LAB_RE.test(name) ? name : null;
  } catch {
    return null;
  }
}

/** Clear the pointer (only if it names `lab`, when given). */
export async function clearActiveLab(lab?: string, home = labHome()): Promise<void> {
  if (lab !== undefined && (await activeLab(home)) !== lab) return;
  await rm(join(home, ACTIVE_FILE), { force: true });
}

// ---- one command per lab at a time

export class LabLockedError extends LabError {
  constructor(
    readonly lab: string,
    readonly holder: ProcessIdentity,
  ) {
    super('E_LOCKED', `another lab command (pid ${holder.pid}) is working on lab ${lab}; wait for it or stop it`);
  }
}

/**
 * Take the lab's lock (a file holding pid + start time). A lock whose holder is gone — or whose pid was reused —
 * is stale and taken over. Returns a release function.
 */
export async function acquireLock(dir: string, lab: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'lock');
  const me = (await processIdentity(process.pid)) ?? { pid: process.pid, startTime: 0 };
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      await fh.writeFile(JSON.stringify(me));
      await fh.sync();
      await fh.close();
      return async () => {
        try {
          const held = JSON.parse(await readFile(file, 'utf8')) as ProcessIdentity;
          if (held.pid === me.pid && held.startTime === me.startTime) await unlink(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: ProcessIdentity | null = null;
    try {
      holder = JSON.parse(await readFile(file, 'utf8')) as ProcessIdentity;
    } catch {
      holder = null; // torn or vanished: stale
    }
    if (holder && typeof holder.pid === 'number') {
      const c = holder.startTime === 0 ? 'unknown' : await checkProcess(holder);
      if (c === 'same' || (c === 'unknown' && isAlive(holder.pid))) throw new LabLockedError(lab, holder);
    }
    // Stale: take it over. Only the holder of a second, short-lived lock (lock.takeover) may remove it, and only if
    // it still holds what we judged stale — so of several processes racing for a dead lab's lock, exactly one wins.
    const takeover = `${file}.takeover`;
    let th;
    try {
      th = await open(takeover, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another taker is at it; a takeover file left by a crash is old: clear it after a second.
      const age = await stat(takeover).then((st) => Date.now() - st.mtimeMs, () => 0);
      if (age > 1000) await unlink(takeover).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      continue;
    }
    try {
      const now = await readFile(file, 'utf8').catch(() => null);
      const same = now !== null && (holder ? now.trim() === JSON.stringify(holder) : true);
      if (same) await unlink(file).catch(() => undefined);
    } finally {
      await th.close();
      await unlink(takeover).catch(() => undefined);
    }
  }
  throw new LabError('E_LOCKED', `could not take the lock of lab ${lab} (${file})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
