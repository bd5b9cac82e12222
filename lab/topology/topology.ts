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

/** The book's mapping, used for a host that names no roles (host names compared case-insensitively). */
export const BOOK_ROLES: Readonly<Record<string, readonly Role[]>> = Object.freeze({
  host1: Object.freeze(['broker'] as Role[]),
  host2: Object.freeze(['backend'] as Role[]),
  host3: Object.freeze(['workers'] as Role[]),
  host4: Object.freeze(['master', 'quotes'] as Role[]),
});

/** Roles that exactly one host must carry (quotes: at most one; when none does, the master host gets it). */
export const SINGLETON_ROLES: readonly Role[] = ['broker', 'backend', 'master'];

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
  docker?: DockerSpec;
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

/** The plain, JSON-safe data of a topology (a deep copy). */
export function topologyData(t: Topology | TopologyData): TopologyData {
  return JSON.parse(JSON.stringify(t)) as TopologyData;
}
