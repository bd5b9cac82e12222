/**
 * What each role's image holds, and — the one place per role — where its layout differs from the official image
 * a registry would give (rabbitmq:3, redis:7, node:20). The services find their commands and users by probing the
 * host (services/host-layout.ts), so both layouts work; this table says what to expect and is what `lab images
 * build` installs.
 */
import type { Role } from '../topology/topology.js';

export type ImageKind = 'broker' | 'backend' | 'node';

export interface RoleImage {
  kind: ImageKind;
  /** Debian packages on top of debootstrap's minbase. */
  packages: readonly string[];
  /** The command the role's service needs (checked in the container before anything starts). */
  command: string;
  /** The official image, and how ours differs from it. */
  official: string;
  differences: readonly string[];
}

export const ROLE_IMAGES: Readonly<Record<ImageKind, RoleImage>> = {
  broker: {
    kind: 'broker',
    packages: ['rabbitmq-server'],
    command: 'rabbitmq-server',
    official: 'rabbitmq:3',
    differences: [
      "server: Debian's /usr/sbin/rabbitmq-server is a wrapper that su's and logs to /var/log/rabbitmq; lab runs the script it wraps, /usr/lib/rabbitmq/bin/rabbitmq-server (official: /opt/rabbitmq/sbin/rabbitmq-server on the PATH)",
      'user: rabbitmq (uid from Debian\'s postinst; official: rabbitmq, uid 999) — found with getent, never assumed',
      'Erlang: Debian bookworm\'s (official: its own build); data, logs and config under the lab\'s work directory in both',
    ],
  },
  backend: {
    kind: 'backend',
    packages: ['redis-server'],
    command: 'redis-server',
    official: 'redis:7',
    differences: ['server: /usr/bin/redis-server (official: /usr/local/bin/redis-server)', 'user: redis exists in both; lab runs Redis as the container\'s root, in the work directory, as on the official image'],
  },
  node: {
    kind: 'node',
    // the chapter's peers (lab run --impl celery,rq,pyro) and what their drivers import; iptables for partition faults
    packages: ['python3', 'python3-celery', 'python3-redis', 'python3-rq', 'python3-pyro4', 'python3-msgpack', 'iptables'],
    command: 'node',
    official: 'node:20',
    differences: [
      "node: the npm registry's node-linux-<arch> package at /usr/local/bin/node (as node:20 has it); Debian's nodejs (18 in bookworm) is not installed",
      'lab: the bundle built into /opt/lab (node:20 has none: lab mounts or copies itself there)',
      'python3 and the Celery 5.2 / RQ / Pyro4 peers from Debian (node:20 has python3 but none of the peers)',
      'user: root (node:20 has a node user lab does not use)',
      'iptables (node:20 has none): a partition fault adds its rules in the container, which lab makes with NET_ADMIN',
    ],
  },
};

/** Which image a role runs on: workers, master and quotes share the node image. */
export function imageKindOf(role: Role): ImageKind {
  return role === 'broker' ? 'broker' : role === 'backend' ? 'backend' : 'node';
}

export const BUILD_ROLES: readonly Role[] = ['broker', 'backend', 'workers', 'master', 'quotes'];
