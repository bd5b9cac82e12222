/**
 * How a docker lab is laid out, from its topology alone (no engine): container and network names, the image of
 * each host, its bind mounts, its work directory, the labels that mark what is the lab's, and the plan. Built once
 * per provider; building it checks what only the docker provider cares about (one image per host, distinct
 * container names), so `lab up --dry-run` and `lab up` refuse the same inventories before anything exists.
 */
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { ConfigError, ProviderError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { parseCidr } from '../topology/net.js';
import { brokerKindOf } from '../topology/topology.js';
import type { DockerSpec, HostSpec, Mount, Role, Topology } from '../topology/topology.js';
import type { BindMount } from './docker-engine.js';
import type { HostInfo, PlanStep } from './provider.js';
import { TASKS_DIR, modulesInfo, userModules } from './user-modules.js';

/** Where lab itself is inside node containers (bind-mounted read-only, or copied when the engine is remote). */
export const LAB_ROOT_IN_CONTAINER = '/opt/lab';
/** Parent of the hosts' work directories inside the containers. */
export const WORK_ROOT_IN_CONTAINER = '/var/lib/lab';

export const LABEL_LAB = 'lab.name';
export const LABEL_HOST = 'lab.host';
export const LABEL_STATE = 'lab.state';
/** On an image from `lab images build`: the hash of the lab bundle it carries at /opt/lab. */
export const LABEL_BUNDLE = 'lab.bundle';

const NODE_ROLES: readonly Role[] = ['workers', 'master', 'quotes'];
/** What of the package a node host needs to run lab (the rest is sources and tests). */
const LAB_PARTS = ['package.json', 'bin', 'dist', 'node_modules'];

function sameMounts(a: BindMount[]): BindMount[] {
  const seen = new Map<string, BindMount>();
  for (const m of a) seen.set(m.target, m); // a later mount of the same target wins (host over docker-wide)
  return [...seen.values()];
}

export class DockerLayout {
  readonly network: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly docker: DockerSpec;

  constructor(
    readonly topology: Topology,
    readonly stateDir: string,
  ) {
    if (!topology.subnet || !topology.gateway || !topology.docker) {
      throw new ConfigError(`the docker provider needs the topology's subnet, gateway and docker section`, { file: topology.file });
    }
    parseCidr(topology.subnet);
    this.subnet = topology.subnet;
    this.gateway = topology.gateway;
    this.docker = topology.docker;
    this.network = topology.docker.network;
    const seen = new Map<string, string>();
    for (const h of topology.hosts) {
      this.imageOf(h); // throws on a host whose roles need two different images
      const name = this.containerName(h.name).toLowerCase();
      const other = seen.get(name);
      if (other !== undefined) throw new ConfigError(`hosts ${other} and ${h.name} map to the same container name ${name}; rename one`, { file: topology.file, field: `hosts.${h.name}` });
      seen.set(name, h.name);
    }
  }

  spec(name: string): Readonly<HostSpec> {
    const h = this.topology.host(name);
    if (!h) throw new ProviderError(`no host ${name} in lab ${this.topology.name}`, { host: name, code: 'E_NO_HOST' });
    return h;
  }

  /** Container name of a host: <lab>-<HOST>. */
  containerName(host: string): string {
    return `${this.topology.name}-${this.spec(host).name}`;
  }

  isNodeHost(h: Readonly<HostSpec>): boolean {
    return h.roles.some((r) => NODE_ROLES.includes(r));
  }

  /** The image of a host: its own `image`, else the docker section's image for its roles (all must agree). */
  imageOf(h: Readonly<HostSpec>): string {
    if (h.image) return h.image;
    const images = this.docker.images;
    const wanted = new Set<string>();
    if (h.roles.includes('broker')) wanted.add(images.broker);
    if (h.roles.includes('backend')) wanted.add(images.backend);
    if (this.isNodeHost(h)) wanted.add(images.node);
    if (wanted.size !== 1) {
      // An inventory mistake: exit 2 before anything is created.
      throw new ConfigError(`roles ${h.roles.join(', ')} need different images (${[...wanted].join(', ')}); give this host its own image: (one that has all they need)`, { file: this.topology.file, field: `hosts.${h.name}.image` });
    }
    return [...wanted][0]!;
  }

  /** The commands a host's roles need from its image (checked before any service starts). */
  roleCommands(h: Readonly<HostSpec>): string[] {
    const out: string[] = [];
    if (h.roles.includes('broker') && brokerKindOf(this.topology) === 'rabbitmq') out.push('rabbitmq-server');
    if (h.roles.includes('backend')) out.push('redis-server');
    if (this.isNodeHost(h)) out.push('node');
    return out;
  }

  workDir(host: string): string {
    return `${WORK_ROOT_IN_CONTAINER}/${this.topology.name}/${this.spec(host).name}`;
  }

  labels(host?: string): Record<string, string> {
    return { [LABEL_LAB]: this.topology.name, [LABEL_STATE]: this.stateDir, ...(host ? { [LABEL_HOST]: host } : {}) };
  }

  /** Do these labels say the thing is this lab's (same lab name and, when recorded, the same state directory)? */
  ours(labels: Record<string, string>): boolean {
    return labels[LABEL_LAB] === this.topology.name && (labels[LABEL_STATE] === undefined || labels[LABEL_STATE] === this.stateDir);
  }

  /** The package lab runs from, on this machine. */
  labSource(): string {
    return PACKAGE_ROOT.replace(/\/+$/, '') || '/';
  }

  /** What of lab a remote engine gets copied (it cannot bind-mount this machine's folders). */
  labParts(): string[] {
    return LAB_PARTS;
  }

  /**
   * Parts of lab that are links to folders outside it (node_modules of a git worktree): mounted at the path the
   * link resolves to inside the container, so the link in the mounted lab resolves there too.
   */
  private linkedParts(): BindMount[] {
    const out: BindMount[] = [];
    for (const part of LAB_PARTS) {
      const path = posix.join(this.labSource(), part);
      try {
        if (!lstatSync(path).isSymbolicLink()) continue;
        out.push({ source: realpathSync(path), target: posix.resolve(LAB_ROOT_IN_CONTAINER, readlinkSync(path)), readOnly: true });
      } catch {
        // not there (or a dangling link): lab's own check in the container says what is missing
      }
    }
    return out;
  }

  /** `mountLab`: the engine is local and the image does not carry lab itself (an image from `lab images build` does). */
  mountsOf(h: Readonly<HostSpec>, mountLab: boolean): BindMount[] {
    const conv = (m: Readonly<Mount>): BindMount => ({ source: m.source, target: m.target, readOnly: m.readOnly });
    const list = [...this.docker.mounts.map(conv), ...(h.mounts ?? []).map(conv)];
    if (this.isNodeHost(h) && mountLab) list.push({ source: this.labSource(), target: LAB_ROOT_IN_CONTAINER, readOnly: true }, ...this.linkedParts());
    return sameMounts(list);
  }

  host(name: string): HostInfo {
    const h = this.spec(name);
    return { name: h.name, address: h.address, workDir: this.workDir(h.name), labRoot: LAB_ROOT_IN_CONTAINER, node: 'node', supervisor: this.isNodeHost(h) ? 'lab' : 'none', ...modulesInfo(h, { workDir: this.workDir(h.name) }) };
  }

  /** What `up` makes, in order (--dry-run). Reads nothing, changes nothing. */
  plan(): PlanStep[] {
    const d = this.docker;
    const steps: PlanStep[] = [
      { step: 'engine', detail: d.socket ? `unix://${d.socket}` : 'DOCKER_HOST, else /var/run/docker.sock' },
      ...[...new Set(this.topology.hosts.map((h) => this.imageOf(h)))].map((img) => ({ step: 'image', detail: `${img} (pulled if missing)` })),
      { step: 'network', detail: `${this.network} bridge ${this.subnet} gateway ${this.gateway}` },
    ];
    for (const h of this.topology.hosts) {
      const mounts = this.mountsOf(h, true).map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`);
      steps.push(
        { host: h.name, step: 'container', detail: `${this.containerName(h.name)} from ${this.imageOf(h)} at ${h.address}${mounts.length ? `, mounts ${mounts.join(' ')}` : ''}${this.isNodeHost(h) ? ` (${LAB_ROOT_IN_CONTAINER} not mounted when the image carries lab: lab images build)` : ''}` },
        { host: h.name, step: 'prepare', detail: `${this.workDir(h.name)}; check getent, mkdir, chown, tail${this.roleCommands(h).map((c) => `, ${c}`).join('')}${this.isNodeHost(h) ? ' ≥ 20' : ''}` },
      );
      const mods = userModules(h);
      if (mods.length > 0) steps.push({ host: h.name, step: 'copy tasks', detail: `${mods.map((m) => m.source).join(', ')} → ${this.workDir(h.name)}/${TASKS_DIR}/ (skipped when the same files are there)` });
    }
    return steps;
  }
}
