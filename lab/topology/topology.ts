/**
 * The validated lab topology: what an inventory file means once `loadInventory` has checked it.
 *
 * Everything here has been validated exactly once (lab/topology/inventory.ts); nothing downstream re-validates.
 * A Topology is deeply frozen. It serializes with JSON.stringify (the `roleHost`/`roleHosts` functions are
 * dropped) and is rebuilt from that plain data with `topologyFromData` (e.g. from state.json) without
 * re-validation — the data came from a validated Topology in the first place.
 *
 * Which fields may ever reach a shell: see the "Shell safety" section of hosts/README.md. In short, every string
 * here is pattern-validated to a shell-safe character set EXCEPT `password` (free text; only ever handed to ssh2 as
 * an auth secret) and the file-system paths `keyPath`, `mounts[].source/target`, `docker.socket`, `tasks`, `config` (absolute, no
 * control characters, no ':' in mounts; otherwise free) — pass those as argv elements, never inside a shell string.
 */

export const ROLES = ['broker', 'backend', 'workers', 'master', 'quotes'] as const;
export type Role = (typeof ROLES)[number];

export const PROVIDERS = ['local', 'netns', 'ssh', 'docker'] as const;
export type ProviderKind = (typeof PROVIDERS)[number];

export const POOLS = ['prefork', 'threads', 'async'] as const;
export type Pool = (typeof POOLS)[number];

/** What carries the lab's messages: RabbitMQ on the broker host, or a database of the backend's Redis. */
export const BROKER_KINDS = ['rabbitmq', 'redis'] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

export const BACKEND_KINDS = ['redis'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** When a supervised process is started again after it exits (as systemd's Restart=, docker's restart:). */
export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** Lab's own services: names a host's `services:` may not take. */
export const LAB_SERVICE_NAMES = ['rabbitmq', 'redis', 'quotes', 'workers', 'link-proxy'] as const;

/** The Redis database of a Redis broker (the results are in 0): kombu's unacked hash never mixes with results. */
export const REDIS_BROKER_DB = 1;

/** Defaults of a host's `services:` entries (and of lab's own supervised services). */
export const SERVICE_DEFAULTS = Object.freeze({
  count: 1,
  restart: 'always' as RestartPolicy,
  /** Restarts in a row that never got ready before the supervisor gives up (supervisord's startretries). */
  maxRestarts: 3,
  /** How long `lab up` waits for a service's readiness check. */
  readyTimeoutMs: 60_000,
});

/** The book's mapping, used for a host that names no roles (host names compared case-insensitively). */
export const BOOK_ROLES: Readonly<Record<string, readonly Role[]>> = Object.freeze({
  host1: Object.freeze(['broker'] as Role[]),
  host2: Object.freeze(['backend'] as Role[]),
  host3: Object.freeze(['workers'] as Role[]),
  host4: Object.freeze(['master', 'quotes'] as Role[]),
});

/** Roles that exactly one host must carry (quotes: at most one; when none does, the master host gets it). */
export const SINGLETON_ROLES: readonly Role[] = ['broker', 'backend', 'master'];

/** Where an ssh host's Node comes from: its own (system), or shipped by lab (ship; also `lab up --install`). */
export type NodeSource = 'system' | 'ship';

/** Defaults applied when neither the host nor `defaults:` say otherwise. */
export const HOST_DEFAULTS = Object.freeze({
  sudo: false,
  concurrency: 2,
  pool: 'prefork' as Pool,
  queues: Object.freeze(['celery']) as readonly string[],
  sshPort: 22,
});

export const DEFAULT_PORTS = Object.freeze({ broker: 5672, backend: 6379, quotes: 8000 });

export const DEFAULT_DOCKER_IMAGES = Object.freeze({ broker: 'rabbitmq:3', backend: 'redis:7', node: 'node:20' });

/**
 * A service that already runs (a CI system's service container, a shared broker): lab starts none, checks it at
 * `lab up`, and never stops it. The URL — with its password — comes from the environment variable `urlEnv` when
 * `lab up` runs, never from the inventory.
 */
export interface ExternalSpec {
  external?: boolean;
  /** The name of the environment variable holding the URL (inventory `url_env`). */
  urlEnv?: string;
}

/** The broker settings (inventory `broker:`). */
export interface BrokerSpec extends ExternalSpec {
  kind: BrokerKind;
}

/** The result backend settings (inventory `backend:`). */
export interface BackendSpec extends ExternalSpec {
  kind: BackendKind;
  /** Redis keeps an append-only file, fsync'd every second (default), so results survive a restart; false: nothing on disk. */
  persistence: boolean;
}

/** When a service counts as ready: its port accepts connections, or a line of its log matches. */
export interface ReadySpec {
  /** With count > 1, instance i (0-based) listens on port + i. */
  port?: number;
  /** A JavaScript regular expression (source) matched against each new line of the log. */
  log?: string;
  timeoutMs: number;
}

/**
 * A process of the user's that lab runs on a host (inventory `services:`), supervised like lab's own: started
 * after lab's services with the lab's URLs in its environment, restarted by its policy, removed by `lab down`.
 */
export interface UserServiceSpec {
  /** [a-z][a-z0-9-]{0,30}, unique on its host, none of LAB_SERVICE_NAMES. */
  name: string;
  /** argv, program first: passed as separate words, never through a shell. Free text but for control characters. */
  command: string[];
  count: number;
  /** Absolute path on the host (default: the host's work directory). */
  cwd?: string;
  /** Added to the lab's environment (names lab sets itself are refused). */
  env: Record<string, string>;
  /** Without one, a process is ready once it has run for a second. */
  ready?: ReadySpec;
  restart: RestartPolicy;
  maxRestarts: number;
}

/** A bind mount (docker provider). Both paths are absolute; `source` had `~` expanded. */
export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface HostSpec {
  /** Valid hostname (RFC 1123), unique case-insensitively; goes into /etc/hosts. */
  name: string;
  /** Never empty; sorted in ROLES order. */
  roles: Role[];
  /**
   * IPv4 address of the host, always set:
   * local → a loopback address (default 127.0.0.1); netns/docker → inside `subnet` (given or allocated);
   * ssh → given, or resolved from `hostname` at load time.
   */
  address: string;
  /** ssh only: the DNS name the inventory gave (as `address` or as the host name). Connect to `hostname ?? address`. */
  hostname?: string;
  /** ssh port (ssh provider: default 22; elsewhere only when given). */
  port?: number;
  /** Login user: POSIX user name pattern. Undefined → the provider's default (ssh: current user). */
  user?: string;
  /** Absolute path of the private key (`~` expanded, relative paths resolved against the inventory's folder). */
  keyPath?: string;
  /** Discouraged (a warning is emitted). Free text — never put it on a command line. */
  password?: string;
  sudo: boolean;
  /** ssh hosts that run lab: `ship` brings Node 20 with the bundle (for lab's processes only); default the host's own. */
  node?: NodeSource;
  /** Worker processes/threads per workers host (integer ≥ 1). */
  concurrency: number;
  pool: Pool;
  /** Queue names the host's workers consume (shell-safe pattern). */
  queues: string[];
  /**
   * workers hosts only: the user's task modules the host's workers load beside lab's own (`lab worker -A`), as
   * absolute paths on this machine (relative paths resolved against the inventory's folder). Checked at load time:
   * JavaScript (.js, .mjs, .cjs), an existing file. The providers put them on the host (hosts/README.md).
   */
  tasks?: string[];
  /** workers hosts only: a Celery settings module for the host's workers (`lab worker --config`), absolute. */
  config?: string;
  /** docker only: image override for this host. */
  image?: string;
  /** docker only: extra bind mounts for this host (added to docker.mounts). */
  mounts?: Mount[];
  /** The user's own processes on this host (inventory `services:`), in inventory order. */
  services?: UserServiceSpec[];
}

export interface DockerSpec {
  /** Unix socket of the Docker Engine API (absolute path). Undefined → the provider's default ($DOCKER_HOST, /var/run/docker.sock). */
  socket?: string;
  /** Name of the bridge network the provider creates (default `lab-<name>`). */
  network: string;
  images: { broker: string; backend: string; node: string };
  /** Bind mounts for every container. */
  mounts: Mount[];
}

export interface ServicePorts {
  broker: number;
  backend: number;
  quotes: number;
}

/** The plain data of a Topology: what JSON.stringify(topology) produces and topologyFromData accepts. */
export interface TopologyData {
  /** Lab name: [a-z][a-z0-9-]{0,30}. */
  name: string;
  provider: ProviderKind;
  /** netns/docker only: the lab's IPv4 network in CIDR form, e.g. 198.18.0.0/24. */
  subnet?: string;
  /** netns/docker only: the bridge/gateway address (first usable address of the subnet). */
  gateway?: string;
  /** Absolute path of the inventory file. */
  file: string;
  /** Which syntax the inventory used. */
  format: 'lab' | 'ansible';
  hosts: HostSpec[];
  ports: ServicePorts;
  /** Absent in states written before brokers had kinds: RabbitMQ. */
  broker?: BrokerSpec;
  /** Absent in states written before persistence was a setting: Redis without persistence. */
  backend?: BackendSpec;
  docker?: DockerSpec;
  /** How peers reach the services: straight (default), or through lab's link proxy on each service host, which a
   * slow-link fault shapes where the kernel has no tc netem (inventory `links: proxy`). Absent in older states: direct. */
  links?: LinkMode;
  /** Non-fatal remarks found while loading (file:line:col: field: text). */
  warnings: string[];
}

export interface Topology extends Readonly<Omit<TopologyData, 'hosts'>> {
  readonly hosts: readonly Readonly<HostSpec>[];
  /** The host carrying `role` (for `workers`: the first workers host). Every role has a host in a valid Topology. */
  roleHost(role: Role): Readonly<HostSpec>;
  /** All hosts carrying `role`, in inventory order. */
  roleHosts(role: Role): readonly Readonly<HostSpec>[];
  /** Host by name (case-insensitive), or undefined. */
  host(name: string): Readonly<HostSpec> | undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** Wrap validated data (from the loader, or read back from state.json) as a Topology. Does not validate. */
export function topologyFromData(data: TopologyData): Topology {
  const copy = structuredClone(data) as TopologyData;
  const byRole = (role: Role): HostSpec[] => copy.hosts.filter((h) => h.roles.includes(role));
  const t = copy as TopologyData & Partial<Pick<Topology, 'roleHost' | 'roleHosts' | 'host'>>;
  Object.defineProperties(t, {
    roleHost: {
      enumerable: false,
      value: (role: Role): HostSpec => {
        const h = byRole(role)[0];
        if (!h) throw new Error(`topology ${copy.name} has no ${role} host`); // impossible for a loaded topology
        return h;
      },
    },
    roleHosts: { enumerable: false, value: byRole },
    host: {
      enumerable: false,
      value: (name: string): HostSpec | undefined => copy.hosts.find((h) => h.name.toLowerCase() === name.toLowerCase()),
    },
  });
  return deepFreeze(t as Topology);
}

/** Is the lab's broker / backend one that already runs (inventory `external: true`)? */
export function isExternal(t: Pick<TopologyData, 'broker' | 'backend'>, which: 'broker' | 'backend'): boolean {
  return t[which]?.external === true;
}

/** The lab's broker kind (RabbitMQ unless the inventory says `broker: { kind: redis }`). */
export function brokerKindOf(t: Pick<TopologyData, 'broker'>): BrokerKind {
  return t.broker?.kind ?? 'rabbitmq';
}

export type LinkMode = 'direct' | 'proxy';
export const LINK_MODES: readonly LinkMode[] = ['direct', 'proxy'];

/** Whether the lab's links go through lab's link proxy (inventory `links: proxy`). */
export function linksOf(t: Pick<TopologyData, 'links'>): LinkMode {
  return t.links ?? 'direct';
}

/** Does the lab's Redis keep an append-only file? (Labs from before the setting ran without one.) */
export function redisPersistenceOf(t: Pick<TopologyData, 'backend'>): boolean {
  return t.backend?.persistence ?? false;
}

/** The plain, JSON-safe data of a topology (a deep copy). */
export function topologyData(t: Topology | TopologyData): TopologyData {
  return JSON.parse(JSON.stringify(t)) as TopologyData;
}
