/**
 * The docker provider: every host is a container on one user-defined bridge network, made through the Docker
 * Engine API (Docker, or Podman's Docker-compatible service) — dockerode, behind ./docker-engine.ts.
 *
 *   network    docker.network (default lab-<lab>)    bridge, the topology's subnet and gateway   (one per lab)
 *   host       container <lab>-<HOST>                hostname HOST, static address, ExtraHosts naming every host,
 *                                                    labels lab.name / lab.host / lab.state
 *              image: the host's `image`, else docker.images.broker | backend | node by its roles
 *              mounts: docker.mounts + the host's mounts (+ lab itself, read-only at /opt/lab, on node hosts)
 *              /var/lib/lab/<lab>/<HOST>             work directory (inside the container)
 *
 * The container's main process is an idle keep-alive (run through the image's own entrypoint) that reaps orphans;
 * the services are started inside it through the exec API by the same service code as on every other provider.
 * A spawned process is `setsid`-ed (its own process group) with its output appended to its log file inside the
 * container; its identity is the pid and start time read from /proc/<pid>/stat inside the container, and every
 * signal is sent by a script that checks both first. Files are written and read through exec (stdin / cat), so
 * /etc/hosts — a bind mount the engine manages — is rewritten in place, never replaced by rename.
 *
 * Users: a service that asks for a user (RabbitMQ: `rabbitmq`) runs as that user through `setpriv` when the
 * container knows it (the official rabbitmq image does; on an image made from an empty tarball, mount the host's
 * /etc/passwd and /etc/group), and as root — with a note in its log — when it does not.
 *
 * Everything is recorded in the ledger before it is created; containers and the network carry the lab's labels, and
 * `undo` removes only what carries them (containers with their anonymous volumes). Pulled images are not recorded:
 * they are the engine's cache, shared with everything else, and stay after `lab down`.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ConfigError, InterruptedError, LabError, ProviderError, hasCode } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import { parseCidr } from '../topology/net.js';
import { parseProcStat } from '../topology/proc.js';
import type { ProcessCheck } from '../topology/proc.js';
import type { LabState } from '../topology/state.js';
import type { HostSpec, Mount, Role, Topology } from '../topology/topology.js';
import type { BindMount, ContainerInfo, DockerEngine, ExecOutcome, ExecRequest } from './docker-engine.js';
import { notFound } from './local-process.js';
import { DEFAULT_GRACE_MS, PROCESS_TOKEN_ENV } from './provider.js';
import { hostsFile } from './hosts-file.js';
import type { ExecOptions, ExecResult, HostInfo, HostsEntry, PlanStep, ProcessRef, Provider, SpawnedData, SpawnOptions, StreamOptions, UpContext } from './provider.js';

/** Where lab itself is inside node containers (bind-mounted read-only, or copied when the engine is remote). */
export const LAB_ROOT_IN_CONTAINER = '/opt/lab';
/** Parent of the hosts' work directories inside the containers. */
export const WORK_ROOT_IN_CONTAINER = '/var/lib/lab';

export const LABEL_LAB = 'lab.name';
export const LABEL_HOST = 'lab.host';
export const LABEL_STATE = 'lab.state';

const EXEC_TOKEN_ENV = 'LAB_EXEC_TOKEN';
const NODE_ROLES: readonly Role[] = ['workers', 'master', 'quotes'];

/**
 * The container's main process: say what it is, then idle until stopped, reaping whatever exec'd services leave to
 * it (a dash/ash `wait` reaps any child). Without `sleep` it would spin: refuse instead.
 */
const KEEPALIVE = [
  'echo "lab: host $LAB_HOST of lab $LAB_NAME; services run inside through exec (lab logs shows their logs)"',
  'command -v sleep >/dev/null 2>&1 || { echo "lab: this image has no sleep command; cannot idle" >&2; exit 127; }',
  'trap "exit 0" TERM INT',
  'while :; do sleep 86400 & wait $!; done',
].join('\n');

/** exec/stream: cd to the wanted folder if it exists here (else the work directory, else /), then become the command. */
const EXEC_SCRIPT = [
  '{ [ -n "$1" ] && cd -- "$1" 2>/dev/null; } || cd -- "$2" 2>/dev/null || cd /',
  'shift 2',
  'command -v "$1" >/dev/null 2>&1 || { echo "lab: command not found: $1" >&2; exit 127; }',
  'exec "$@"',
].join('\n');
const NOT_FOUND_PREFIX = 'lab: command not found: ';

/**
 * spawn: <log> <user> <cwd> argv… — append output to the log, drop to the user (setpriv execs: no process in
 * between), own process group (setsid execs too when we are not a group leader, which a background job is not),
 * then print the pid and its /proc stat line.
 */
const SPAWN_SCRIPT = [
  'log=$1; user=$2; dir=$3; shift 3',
  'mkdir -p "${log%/*}" && : >> "$log" || { echo "lab: cannot create $log" >&2; exit 120; }',
  '[ -z "$dir" ] || cd -- "$dir" || exit 121',
  'command -v "$1" >/dev/null 2>&1 || { echo "lab: command not found: $1" >&2; exit 127; }',
  'if [ -n "$user" ]; then',
  '  if ent=$(getent passwd "$user"); then',
  '    IFS=: read -r _n _p uid gid _rest <<EOF',
  '$ent',
  'EOF',
  '    command -v setpriv >/dev/null 2>&1 || { echo "lab: setpriv (util-linux) is needed to run as $user" >&2; exit 126; }',
  '    set -- setpriv --reuid="$uid" --regid="$gid" --init-groups -- "$@"',
  '  else',
  '    echo "lab: no user $user in this container: running $1 as root" >> "$log"',
  '  fi',
  'fi',
  'if command -v setsid >/dev/null 2>&1; then set -- setsid "$@"; fi',
  '"$@" >> "$log" 2>&1 < /dev/null &',
  'pid=$!',
  'echo "pid $pid"',
  'cat "/proc/$pid/stat" 2>/dev/null || true',
].join('\n');

/**
 * check | signal SIG | stop GRACE_TENTHS  for <pid> <starttime>: prints same | gone | reused. Nothing is signalled
 * unless /proc/<pid>/stat still shows the recorded start time. Signals go to the process group when it leads one.
 */
const PROC_SCRIPT = [
  'op=$1; pid=$2; st=$3; arg=$4',
  'state() { s=$(cat "/proc/$pid/stat" 2>/dev/null) || { echo gone; return; }; r=${s##*) }; set -- $r',
  '  if [ "$1" = Z ]; then echo gone; elif [ "${20}" = "$st" ]; then echo same; else echo reused; fi; }',
  'sig() { kill -s "$1" -- "-$pid" 2>/dev/null || kill -s "$1" "$pid" 2>/dev/null; }',
  'now=$(state)',
  'if [ "$now" != same ] || [ "$op" = check ]; then echo "$now"; exit 0; fi',
  'if [ "$op" = signal ]; then sig "$arg"; echo same; exit 0; fi',
  'sig TERM; i=0',
  'while [ "$(state)" = same ]; do',
  '  [ "$i" -eq "$arg" ] && sig KILL',
  '  [ "$i" -ge $((arg + 20)) ] && { echo same; exit 0; }',
  '  sleep 0.1; i=$((i + 1))',
  'done',
  'echo gone',
].join('\n');

/** <NAME=token> <signal> <grace tenths>: signal every process whose environment holds exactly NAME=token; print their pids. */
const TOKEN_SCRIPT = [
  't=$1; sig=$2; grace=$3',
  'find() { for e in /proc/[0-9]*/environ; do p=${e#/proc/}; p=${p%/environ}; [ "$p" = "$$" ] && continue',
  '  tr "\\000" "\\n" < "$e" 2>/dev/null | grep -qxF -- "$t" && echo "$p"; done; }',
  'pids=$(find); [ -n "$pids" ] || exit 0; echo $pids',
  'kill -s "$sig" $pids 2>/dev/null',
  '[ "$grace" -gt 0 ] || exit 0',
  'i=0; while [ "$i" -lt "$grace" ] && [ -n "$(find)" ]; do sleep 0.1; i=$((i + 1)); done',
  'left=$(find); [ -z "$left" ] || kill -s KILL $left 2>/dev/null',
  'exit 0',
].join('\n');

/** <path> <mode or ''> <owner or ''>: stdin → the file, in place (truncate + write: bind mounts stay bind mounts). */
const WRITE_SCRIPT = [
  'p=$1; m=$2; o=$3',
  'umask 077',
  'cat > "$p" || exit 1',
  'if [ -n "$m" ]; then chmod "$m" "$p" || exit 1; fi',
  'if [ -n "$o" ]; then',
  '  ent=$(getent passwd "$o") || { echo "lab: no user $o in this container: $p stays root\'s" >&2; exit 0; }',
  '  IFS=: read -r _n _p uid gid _rest <<EOF',
  '$ent',
  'EOF',
  '  chown "$uid:$gid" "$p" || exit 1',
  'fi',
].join('\n');

/** <workdir> <node 0|1> <labroot>: make the work directory, check the commands lab needs, report node's version. */
const PREPARE_SCRIPT = [
  'w=$1; node=$2; root=$3',
  'mkdir -p "$w/logs" || { echo "cannot create $w" >&2; exit 1; }',
  '[ -d /tmp ] || { mkdir -p /tmp && chmod 1777 /tmp; }',
  'missing=""',
  'for c in getent mkdir chown tail cat tr grep sleep; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done',
  'if [ "$node" = 1 ]; then command -v node >/dev/null 2>&1 || missing="$missing node"; fi',
  '[ -z "$missing" ] || { echo "missing:$missing"; exit 3; }',
  'command -v setsid >/dev/null 2>&1 || echo "nosetsid"',
  'if [ "$node" = 1 ]; then echo "node $(node --version)"; [ -f "$root/bin/lab.js" ] && echo "lab present"; fi',
  'exit 0',
].join('\n');

/** Debian package / what provides a command, for "missing" messages. */
const PROVIDES: Record<string, string> = {
  getent: 'libc-bin',
  mkdir: 'coreutils',
  chown: 'coreutils',
  tail: 'coreutils',
  cat: 'coreutils',
  tr: 'coreutils',
  sleep: 'coreutils',
  grep: 'grep',
  node: 'node ≥ 20',
};

const oneLine = (s: string): string => s.trim().replace(/\s*\n\s*/g, '; ');

function tok(): string {
  return randomBytes(12).toString('hex');
}

function sameMounts(a: BindMount[]): BindMount[] {
  const seen = new Map<string, BindMount>();
  for (const m of a) seen.set(m.target, m); // a later mount of the same target wins (host over docker-wide)
  return [...seen.values()];
}

export class DockerProvider implements Provider {
  readonly kind = 'docker' as const;
  private ledger: Ledger | null = null;
  private enginePromise: Promise<DockerEngine> | null = null;
  private readonly network: string;
  private readonly gateway: string;
  private readonly subnet: string;

  constructor(
    readonly topology: Topology,
    private readonly stateDir: string,
  ) {
    if (!topology.subnet || !topology.gateway || !topology.docker) {
      throw new ConfigError(`the docker provider needs the topology's subnet, gateway and docker section`, { file: topology.file });
    }
    parseCidr(topology.subnet);
    this.subnet = topology.subnet;
    this.gateway = topology.gateway;
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

  // ---- names and facts

  private spec(name: string): Readonly<HostSpec> {
    const h = this.topology.host(name);
    if (!h) throw new ProviderError(`no host ${name} in lab ${this.topology.name}`, { host: name, code: 'E_NO_HOST' });
    return h;
  }

  /** Container name of a host: <lab>-<HOST>. */
  containerName(host: string): string {
    return `${this.topology.name}-${this.spec(host).name}`;
  }

  private isNodeHost(h: Readonly<HostSpec>): boolean {
    return h.roles.some((r) => NODE_ROLES.includes(r));
  }

  /** The image of a host: its own `image`, else the docker section's image for its roles (all must agree). */
  imageOf(h: Readonly<HostSpec>): string {
    if (h.image) return h.image;
    const images = this.topology.docker!.images;
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

  private workDir(host: string): string {
    return `${WORK_ROOT_IN_CONTAINER}/${this.topology.name}/${this.spec(host).name}`;
  }

  private labels(host?: string): Record<string, string> {
    return { [LABEL_LAB]: this.topology.name, [LABEL_STATE]: this.stateDir, ...(host ? { [LABEL_HOST]: host } : {}) };
  }

  /** Do these labels say the thing is this lab's (same lab name and, when recorded, the same state directory)? */
  private ours(labels: Record<string, string>): boolean {
    return labels[LABEL_LAB] === this.topology.name && (labels[LABEL_STATE] === undefined || labels[LABEL_STATE] === this.stateDir);
  }

  private labSource(): string {
    return PACKAGE_ROOT.replace(/\/+$/, '') || '/';
  }

  private mountsOf(h: Readonly<HostSpec>, local: boolean): BindMount[] {
    const conv = (m: Readonly<Mount>): BindMount => ({ source: m.source, target: m.target, readOnly: m.readOnly });
    const list = [...this.topology.docker!.mounts.map(conv), ...(h.mounts ?? []).map(conv)];
    if (this.isNodeHost(h) && local) list.push({ source: this.labSource(), target: LAB_ROOT_IN_CONTAINER, readOnly: true });
    return sameMounts(list);
  }

  host(name: string): HostInfo {
    const h = this.spec(name);
    return { name: h.name, address: h.address, workDir: this.workDir(h.name), labRoot: LAB_ROOT_IN_CONTAINER, node: 'node' };
  }

  plan(): PlanStep[] {
    const d = this.topology.docker!;
    const steps: PlanStep[] = [
      { step: 'engine', detail: d.socket ? `unix://${d.socket}` : 'DOCKER_HOST, else /var/run/docker.sock' },
      ...[...new Set(this.topology.hosts.map((h) => this.imageOf(h)))].map((img) => ({ step: 'image', detail: `${img} (pulled if missing)` })),
      { step: 'network', detail: `${this.network} bridge ${this.topology.subnet} gateway ${this.gateway}` },
    ];
    for (const h of this.topology.hosts) {
      const mounts = this.mountsOf(h, true).map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`);
      steps.push(
        { host: h.name, step: 'container', detail: `${this.containerName(h.name)} from ${this.imageOf(h)} at ${h.address}${mounts.length ? `, mounts ${mounts.join(' ')}` : ''}` },
        { host: h.name, step: 'prepare', detail: `${this.workDir(h.name)}; check getent, mkdir, chown, tail${this.isNodeHost(h) ? ', node ≥ 20' : ''}` },
      );
    }
    return steps;
  }

  // ---- the engine

  private engine(): Promise<DockerEngine> {
    if (!this.enginePromise) {
      this.enginePromise = import('./docker-engine.js').then((m) => new m.DockerEngine(m.engineTarget(this.topology.docker!.socket)));
      this.enginePromise.catch(() => (this.enginePromise = null));
    }
    return this.enginePromise;
  }

  /** Why a host's container cannot run commands: its state, exit code and the tail of its own log. */
  private async containerDown(host: string, cause?: unknown): Promise<ProviderError> {
    const engine = await this.engine();
    const name = this.containerName(host);
    const info = await engine.container(name, host).catch(() => null);
    if (!info) return new ProviderError(`container ${name} does not exist (removed behind lab's back?); run lab up again, or lab down`, { host, cause, code: 'E_CONTAINER_GONE' });
    const logs = await engine.logs(info.id, 20, host).catch(() => '');
    const ended = !info.running && ['exited', 'stopped', 'dead'].includes(info.status);
    const how = ended ? `exited with code ${info.exitCode}${info.oomKilled ? ' (out of memory)' : ''}` : `is ${info.status}`;
    return new ProviderError(
      `container ${name} ${how}${info.error ? ` (${oneLine(info.error)})` : ''}${logs ? `; last lines of its log:\n${logs.split('\n').slice(-15).join('\n')}` : '; its log is empty'}`,
      { host, cause, code: 'E_CONTAINER_EXITED' },
    );
  }

  /** exec in a host's container; a container that is not running becomes an error saying why (its log tail). */
  private async run(host: string, r: ExecRequest): Promise<ExecOutcome> {
    const engine = await this.engine();
    let out: ExecOutcome;
    try {
      out = await engine.exec(this.containerName(host), r, host);
    } catch (err) {
      if (hasCode(err, 'E_CONTAINER_NOT_RUNNING', 'E_ENGINE_NOT_FOUND')) throw await this.containerDown(host, err);
      throw err;
    }
    // The engine's own failure (exit 125-127 from the runtime, e.g. "crun: the container … is not running", or no
    // exit code at all): when the container has stopped meanwhile, say so — with its log — rather than pass it on.
    if (out.exitCode < 0 || (out.exitCode >= 125 && /OCI runtime|is not running|container state/i.test(out.stderr.toString('utf8')))) {
      const info = await engine.container(this.containerName(host), host).catch(() => null);
      if (!info?.running) throw await this.containerDown(host);
    }
    return out;
  }

  private async sh(host: string, script: string, args: string[], extra: Omit<ExecRequest, 'argv'> = {}): Promise<ExecOutcome> {
    return this.run(host, { ...extra, argv: ['sh', '-c', script, 'lab', ...args] });
  }

  // ---- up

  async up(ctx: UpContext): Promise<void> {
    this.ledger = ctx.ledger;
    const aborted = (): void => {
      if (ctx.signal?.aborted) throw new InterruptedError('lab up interrupted');
    };
    aborted();
    const engine = await this.engine();
    const v = await engine.version();
    ctx.progress({ step: 'engine', status: 'info', detail: `${engine.target.describe}: ${v.engine} ${v.version} (API ${v.api})` });
    aborted();
    await this.upImages(ctx, engine);
    aborted();
    await this.upNetwork(ctx, engine);
    const results = await Promise.allSettled(this.topology.hosts.map((h) => this.upHost(ctx, engine, h, aborted)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async upImages(ctx: UpContext, engine: DockerEngine): Promise<void> {
    const byImage = new Map<string, string[]>();
    for (const h of this.topology.hosts) byImage.set(this.imageOf(h), [...(byImage.get(this.imageOf(h)) ?? []), h.name]);
    await Promise.all(
      [...byImage].map(async ([ref, hosts]) => {
        const step = `image ${ref}`; // one step per image: their progress lines must not mix
        if (await engine.image(ref)) return ctx.progress({ step, status: 'skip', detail: 'present' });
        ctx.progress({ step, status: 'start', detail: 'not on the engine: pulling' });
        try {
          await engine.pull(ref, (p) => ctx.progress({ step, status: 'info', detail: p.text }));
        } catch (err) {
          throw new ProviderError(
            `image ${ref} (for ${hosts.join(', ')}) is not on the engine at ${engine.target.describe}, and pulling it failed: ${(err as Error).message.replace(`pull ${ref}: `, '')}. ` +
              'Without a registry, make the image locally (docker import / docker build) and name it in the inventory (docker.images, or a host\'s image:)',
            { cause: err, code: 'E_IMAGE' },
          );
        }
        ctx.progress({ step, status: 'done', detail: "pulled (it stays in the engine's image store after lab down)" });
      }),
    );
  }

  private async upNetwork(ctx: UpContext, engine: DockerEngine): Promise<void> {
    const step = 'network';
    const name = this.network;
    const key = `network:${name}`;
    const detail = `${name} ${this.subnet} gateway ${this.gateway}`;
    const entry = ctx.ledger.get(key);
    const found = await engine.network(name);
    if (found) {
      if (!this.ours(found.labels)) {
        throw new ProviderError(`network ${name} exists but lab ${this.topology.name} did not create it; choose another docker.network, or remove it (docker network rm ${name}) if it is stale`, {
          host: `lab ${this.topology.name}`,
          code: 'E_NAME_IN_USE',
        });
      }
      if (!found.subnets.some((s) => s.subnet === this.subnet)) {
        throw new ProviderError(`network ${name} has subnet ${found.subnets.map((s) => s.subnet).join(', ') || 'none'}, not ${this.subnet}; run lab down first`, { host: `lab ${this.topology.name}`, code: 'E_NAME_IN_USE' });
      }
      if (entry?.state === 'done') return ctx.progress({ step, status: 'skip', detail });
      if (!entry) await ctx.ledger.record('network', key, { name, id: found.id, subnet: this.subnet, lab: this.topology.name });
      await ctx.ledger.markDone(key, { id: found.id });
      return ctx.progress({ step, status: 'done', detail: `${detail} (found)` });
    }
    ctx.progress({ step, status: 'start', detail });
    await ctx.ledger.record('network', key, { name, subnet: this.subnet, gateway: this.gateway, lab: this.topology.name });
    let id: string;
    try {
      id = await engine.createNetwork({ name, subnet: this.subnet, gateway: this.gateway, labels: this.labels() });
    } catch (err) {
      const msg = (err as Error).message;
      const hint = /overlap|in use|already|conflict/i.test(msg) ? '; the subnet is taken (by another network, or an interface of this machine): choose another subnet in the inventory' : '';
      throw new ProviderError(`network: ${msg}${hint}`, { host: `lab ${this.topology.name}`, cause: err, code: err instanceof LabError ? err.code : undefined });
    }
    await ctx.ledger.markDone(key, { id });
    ctx.progress({ step, status: 'done', detail });
  }

  private async upHost(ctx: UpContext, engine: DockerEngine, h: Readonly<HostSpec>, aborted: () => void): Promise<void> {
    const host = h.name;
    const name = this.containerName(host);
    const image = this.imageOf(h);
    const local = engine.target.local;

    // container
    aborted();
    const key = `container:${host}`;
    let prepared = false;
    {
      const step = 'container';
      const detail = `${name} (${image}) at ${h.address}`;
      const entry = ctx.ledger.get(key);
      let info = await engine.container(name, host);
      if (info && !this.ours(info.labels)) {
        throw new ProviderError(`container ${name} exists but lab ${this.topology.name} did not create it; remove it (docker rm -f ${name}) if it is stale`, { host, code: 'E_NAME_IN_USE' });
      }
      if (info && info.addresses[this.network] !== undefined && info.addresses[this.network] !== '' && info.addresses[this.network] !== h.address) {
        throw new ProviderError(`container ${name} has address ${info.addresses[this.network]}, not ${h.address}; run lab down first`, { host, code: 'E_NAME_IN_USE' });
      }
      if (info && info.running && entry?.state === 'done') {
        ctx.progress({ host, step, status: 'skip', detail: `${detail}, running` });
        prepared = (entry.data as { prepared?: unknown }).prepared === true;
      } else {
        if (!info) {
          ctx.progress({ host, step, status: 'start', detail });
          await ctx.ledger.record('container', key, { host, name, image, network: this.network, address: h.address, lab: this.topology.name });
          const id = await engine.createContainer(
            {
              name,
              hostname: host,
              image,
              cmd: ['sh', '-c', KEEPALIVE],
              env: { LAB_NAME: this.topology.name, LAB_HOST: host },
              labels: this.labels(host),
              mounts: this.mountsOf(h, local),
              extraHosts: this.topology.hosts.map((o) => ({ name: o.name, address: o.address })),
              network: this.network,
              address: h.address,
              aliases: [host],
            },
            host,
          );
          await ctx.ledger.markDone(key, { id });
          info = { id } as ContainerInfo;
        } else {
          ctx.progress({ host, step, status: 'start', detail: `${detail} (${info.status}: starting)` });
          if (!entry) await ctx.ledger.record('container', key, { host, name, image, network: this.network, address: h.address, lab: this.topology.name });
          await ctx.ledger.markDone(key, { id: info.id });
        }
        try {
          await engine.startContainer(info.id, host);
        } catch (err) {
          throw new ProviderError(`cannot start container ${name}: ${(err as Error).message}`, { host, cause: err, code: 'E_CONTAINER_START' });
        }
        const now = await engine.container(info.id, host);
        if (!now?.running) throw await this.containerDown(host);
        ctx.progress({ host, step, status: 'done', detail });
      }
    }

    // prepare: work directory, the commands lab needs, node; lab itself copied in when it cannot be mounted
    // (once per container: a container that kept running since it was prepared is left alone)
    aborted();
    if (prepared) ctx.progress({ host, step: 'prepare', status: 'skip', detail: this.workDir(host) });
    else {
      const step = 'prepare';
      const node = this.isNodeHost(h);
      const r = await this.sh(host, PREPARE_SCRIPT, [this.workDir(host), node ? '1' : '0', LAB_ROOT_IN_CONTAINER], { timeoutMs: 60_000 });
      const out = r.stdout.toString('utf8');
      const missing = /^missing:(.*)$/m.exec(out)?.[1]?.trim().split(/\s+/);
      if (missing) {
        throw new ProviderError(`image ${image} lacks ${missing.map((c) => `${c} (${PROVIDES[c] ?? c})`).join(', ')}; use an image that has them, or mount them in (see hosts/docker.yaml)`, {
          host,
          code: 'E_IMAGE_INCOMPLETE',
        });
      }
      if (r.exitCode !== 0) throw new ProviderError(`prepare ${this.workDir(host)} failed (exit ${r.exitCode}): ${oneLine(r.stderr.toString('utf8') + out)}`, { host });
      const notes: string[] = [this.workDir(host)];
      if (node) {
        const version = /^node v(\d+)\S*/m.exec(out);
        if (!version || Number(version[1]) < 20) throw new ProviderError(`image ${image} has node ${version?.[0].slice(5) ?? '(unknown)'}; lab needs node ≥ 20`, { host, code: 'E_IMAGE_INCOMPLETE' });
        notes.push(`node ${version[0].slice(5)}`);
        if (!/^lab present$/m.test(out)) {
          if (local) throw new ProviderError(`${LAB_ROOT_IN_CONTAINER}/bin/lab.js is missing although ${this.labSource()} is mounted there`, { host, code: 'E_IMAGE_INCOMPLETE' });
          ctx.progress({ host, step, status: 'start', detail: `copying lab into ${LAB_ROOT_IN_CONTAINER}` });
          await this.copyLab(engine, host);
          ctx.progress({ host, step, status: 'done', detail: `lab copied into ${LAB_ROOT_IN_CONTAINER}` });
        }
      }
      if (/^nosetsid$/m.test(out)) notes.push('no setsid: services are stopped by pid only');
      await ctx.ledger.markDone(key, { prepared: true });
      ctx.progress({ host, step, status: 'info', detail: notes.join(', ') });
    }
  }

  /** A remote engine cannot bind-mount this machine's folders: copy the built lab (package.json, bin, dist, node_modules). */
  private async copyLab(engine: DockerEngine, host: string): Promise<void> {
    const mk = await this.run(host, { argv: ['mkdir', '-p', LAB_ROOT_IN_CONTAINER] });
    if (mk.exitCode !== 0) throw new ProviderError(`cannot create ${LAB_ROOT_IN_CONTAINER}: ${oneLine(mk.stderr.toString('utf8'))}`, { host });
    const parts = ['package.json', 'bin', 'dist', 'node_modules'].filter((p) => existsSync(`${this.labSource()}/${p}`));
    const tar = spawn('tar', ['-C', this.labSource(), '--exclude=dist/test', '--exclude=dist/bench', '--exclude=*.map', '-cf', '-', ...parts], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    tar.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = new Promise<number>((resolve, reject) => {
      tar.once('error', reject);
      tar.once('close', (code) => resolve(code ?? 1));
    });
    await engine.putArchive(this.containerName(host), LAB_ROOT_IN_CONTAINER, tar.stdout, host);
    const code = await exited;
    if (code !== 0) throw new ProviderError(`tar of ${this.labSource()} failed: ${oneLine(err)}`, { host });
  }

  async attach(_state: LabState, ledger: Ledger): Promise<void> {
    this.ledger = ledger;
  }

  // ---- running things in a container

  private execEnv(env: Record<string, string> | undefined, token: string): Record<string, string> {
    return { ...(env ?? {}), [EXEC_TOKEN_ENV]: token };
  }

  /** Signal what an exec started (found by its token; its children carry the token too). */
  private async killExec(host: string, token: string, signal: string): Promise<void> {
    await this.sh(host, TOKEN_SCRIPT, [`${EXEC_TOKEN_ENV}=${token}`, signal, '0'], { timeoutMs: 10_000 }).catch(() => undefined);
  }

  async exec(host: string, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.spec(host);
    if (argv.length === 0) throw new ProviderError('exec: empty command', { host });
    const t0 = performance.now();
    const token = tok();
    const r = await this.sh(host, EXEC_SCRIPT, [options.cwd ?? '', this.workDir(host), ...argv], {
      env: this.execEnv(options.env, token),
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    let stderr = r.stderr.toString('utf8');
    if (r.timedOut) {
      await this.killExec(host, token, 'KILL');
      stderr += `\n(killed after ${options.timeoutMs} ms)`;
    }
    if (r.exitCode === 127 && stderr.startsWith(`${NOT_FOUND_PREFIX}${argv[0]}\n`)) throw notFound(argv[0]!, host);
    return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr, durationMs: performance.now() - t0 };
  }

  async stream(host: string, argv: string[], options: StreamOptions): Promise<number> {
    this.spec(host);
    if (argv.length === 0) throw new ProviderError('exec: empty command', { host });
    const token = tok();
    let interrupted = false;
    const onAbort = (): void => {
      interrupted = true;
      void this.killExec(host, token, 'INT');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await this.sh(host, EXEC_SCRIPT, [options.cwd ?? '', this.workDir(host), ...argv], {
        env: this.execEnv(options.env, token),
        stdout: options.stdout,
        stderr: options.stderr,
        ...(options.input !== undefined ? { input: options.input } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
      if (r.timedOut) await this.killExec(host, token, 'KILL');
      return r.exitCode < 0 && interrupted ? 130 : r.exitCode;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async spawn(host: string, argv: string[], options: SpawnOptions): Promise<ProcessRef> {
    if (!this.ledger) throw new ProviderError('provider used before up/attach', { host });
    const spec = this.spec(host);
    if (argv.length === 0) throw new ProviderError('spawn: empty command', { host });
    const engine = await this.engine();
    const container = await engine.container(this.containerName(host), host);
    if (!container?.running) throw await this.containerDown(host);
    const token = tok();
    const data: SpawnedData & { container: string } = { host: spec.name, command: argv, logFile: options.logFile, token, container: container.id };
    const entry = await this.ledger.record('process', options.key, data);
    const r = await this.sh(host, SPAWN_SCRIPT, [options.logFile, options.user ?? '', options.cwd ?? '', ...argv], {
      env: { ...(options.env ?? {}), [PROCESS_TOKEN_ENV]: token },
      timeoutMs: 30_000,
    });
    const out = r.stdout.toString('utf8');
    const err = r.stderr.toString('utf8');
    if (r.exitCode === 127 && err.startsWith(NOT_FOUND_PREFIX)) throw notFound(argv[0]!, spec.name);
    if (r.exitCode !== 0) throw new ProviderError(`cannot start ${argv.join(' ')}: ${oneLine(err) || `exit code ${r.exitCode}`}`, { host: spec.name, code: 'E_SPAWN' });
    const pid = Number(/^pid (\d+)$/m.exec(out)?.[1]);
    const stat = parseProcStat(out.split('\n').find((l) => /^\d+ \(/.test(l)) ?? '');
    if (!Number.isInteger(pid) || !stat || stat.pid !== pid || stat.state === 'Z') {
      const tail = (await this.readFile(host, options.logFile, { tailBytes: 2000 })).toString('utf8');
      throw new ProviderError(`${argv.join(' ')} exited at once${tail ? `:\n${tail}` : ''}`, { host: spec.name, code: 'E_PROCESS_EXITED' });
    }
    await this.ledger.markDone(entry, { pid, startTime: stat.startTime });
    return { key: options.key, host: spec.name, pid, startTime: stat.startTime, logFile: options.logFile, command: argv };
  }

  private async proc(ref: ProcessRef, op: 'check' | 'signal' | 'stop', arg: string, timeoutMs: number): Promise<ProcessCheck> {
    let r: ExecOutcome;
    try {
      r = await this.sh(ref.host, PROC_SCRIPT, [op, String(ref.pid), String(ref.startTime), arg], { timeoutMs });
    } catch (err) {
      if (hasCode(err, 'E_CONTAINER_EXITED', 'E_CONTAINER_GONE')) return 'gone'; // its processes went with it
      throw err;
    }
    const word = r.stdout.toString('utf8').trim().split('\n').pop();
    if (word === 'same' || word === 'gone' || word === 'reused') return word;
    throw new ProviderError(`checking process ${ref.pid} (${ref.command.join(' ')}) failed: ${oneLine(r.stderr.toString('utf8')) || `exit code ${r.exitCode}`}`, { host: ref.host });
  }

  signal(ref: ProcessRef, signal: NodeJS.Signals): Promise<ProcessCheck> {
    if (!/^SIG[A-Z0-9]+$/.test(signal)) throw new ProviderError(`not a signal name: ${signal}`, { host: ref.host });
    return this.proc(ref, 'signal', signal.slice(3), 10_000);
  }

  stop(ref: ProcessRef, graceMs = DEFAULT_GRACE_MS): Promise<ProcessCheck> {
    const tenths = Math.max(1, Math.ceil(graceMs / 100));
    return this.proc(ref, 'stop', String(tenths), graceMs + 10_000);
  }

  async alive(ref: ProcessRef): Promise<boolean> {
    return (await this.proc(ref, 'check', '', 10_000)) === 'same';
  }

  // ---- files (inside the container)

  async writeFile(host: string, path: string, content: string | Buffer, options: { mode?: number; owner?: string } = {}): Promise<void> {
    this.spec(host);
    const r = await this.sh(host, WRITE_SCRIPT, [path, options.mode === undefined ? '' : options.mode.toString(8), options.owner ?? ''], { input: content, timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new ProviderError(`cannot write ${path}: ${oneLine(r.stderr.toString('utf8')) || `exit code ${r.exitCode}`}`, { host, code: 'E_WRITE' });
  }

  async readFile(host: string, path: string, options: { tailBytes?: number } = {}): Promise<Buffer> {
    this.spec(host);
    const tail = options.tailBytes;
    const argv = tail !== undefined ? ['tail', '-c', String(Math.max(0, Math.floor(tail))), '--', path] : ['cat', '--', path];
    let r: ExecOutcome;
    try {
      r = await this.run(host, { argv, timeoutMs: 60_000 });
    } catch (err) {
      if (!hasCode(err, 'E_CONTAINER_EXITED')) throw err;
      // a stopped container still has its files: read them through the archive API
      const engine = await this.engine();
      let whole: Buffer;
      try {
        whole = await engine.readFileArchive(this.containerName(host), path, host);
      } catch {
        if (tail !== undefined) return Buffer.alloc(0);
        throw err;
      }
      return tail !== undefined ? Buffer.from(whole.subarray(Math.max(0, whole.length - tail)).toString('utf8').trimEnd()) : whole;
    }
    if (tail !== undefined) return r.exitCode === 0 ? Buffer.from(r.stdout.toString('utf8').trimEnd()) : Buffer.alloc(0);
    if (r.exitCode !== 0) throw new ProviderError(`cannot read ${path}: ${oneLine(r.stderr.toString('utf8')) || `exit code ${r.exitCode}`}`, { host, code: 'E_READ' });
    return r.stdout;
  }

  /**
   * Rewrite the container's /etc/hosts in place (the engine bind-mounts it: a rename would fail or detach it):
   * localhost, then every entry; the host's own name never maps to a loopback address.
   */
  async writeHosts(host: string, entries: HostsEntry[]): Promise<void> {
    const spec = this.spec(host);
    let content: string;
    try {
      content = hostsFile(spec.name, entries);
    } catch (err) {
      throw new ProviderError(`hosts file: ${(err as Error).message}`, { host, code: 'E_CONFIG' });
    }
    const r = await this.sh(host, 'cat > /etc/hosts', [], { input: content, timeoutMs: 30_000 });
    if (r.exitCode !== 0) throw new ProviderError(`cannot rewrite /etc/hosts: ${oneLine(r.stderr.toString('utf8')) || `exit code ${r.exitCode}`}`, { host, code: 'E_WRITE' });
  }

  // ---- down

  async undo(entry: LedgerEntry): Promise<void> {
    const d = entry.data as { host?: unknown; name?: unknown; id?: unknown; container?: unknown; pid?: unknown; startTime?: unknown; token?: unknown; command?: unknown; logFile?: unknown };
    const host = typeof d.host === 'string' ? d.host : undefined;
    switch (entry.kind) {
      case 'process':
        return this.undoProcess(entry, host);
      case 'container': {
        const engine = await this.engine();
        const ref = typeof d.id === 'string' && d.id !== '' ? d.id : String(d.name ?? '');
        if (ref === '') throw new ProviderError(`undo ${entry.key}: no container name or id recorded`, { host, code: 'E_UNDO_UNKNOWN' });
        const info = await engine.container(ref, host);
        if (!info) return; // already gone
        if (!this.ours(info.labels)) return; // the name now belongs to someone else's container: ours is gone
        await engine.removeContainer(info.id, host);
        return;
      }
      case 'network': {
        const engine = await this.engine();
        const ref = typeof d.id === 'string' && d.id !== '' ? d.id : String(d.name ?? '');
        if (ref === '') throw new ProviderError(`undo ${entry.key}: no network name or id recorded`, { code: 'E_UNDO_UNKNOWN' });
        const info = await engine.network(ref);
        if (!info || !this.ours(info.labels)) return;
        try {
          await engine.removeNetwork(info.id);
        } catch (err) {
          throw new ProviderError(`cannot remove network ${info.name}: ${(err as Error).message} (containers that lab did not create still use it?)`, { host: `lab ${this.topology.name}`, cause: err });
        }
        return;
      }
      default:
        throw new ProviderError(`the docker provider did not create ${entry.kind} ${entry.key}`, { host, code: 'E_UNDO_UNKNOWN' });
    }
  }

  /** Stop a recorded process by pid + start time (its group), then anything still carrying its token; a gone container took it along. */
  private async undoProcess(entry: LedgerEntry, host: string | undefined): Promise<void> {
    const d = entry.data as Partial<SpawnedData> & { container?: string };
    const graceMs = d.graceMs ?? DEFAULT_GRACE_MS;
    if (!host || !this.topology.host(host)) return;
    const engine = await this.engine();
    const info = await engine.container(this.containerName(host), host);
    if (!info || !info.running || (d.container && info.id !== d.container)) return;
    if (typeof d.pid === 'number' && typeof d.startTime === 'number') {
      const ref: ProcessRef = { key: entry.key, host, pid: d.pid, startTime: d.startTime, logFile: d.logFile ?? '', command: d.command ?? [] };
      if ((await this.stop(ref, graceMs)) === 'same') throw new ProviderError(`process ${d.pid} (${(d.command ?? []).join(' ')}) did not stop`, { host });
    }
    if (d.token) {
      const r = await this.sh(host, TOKEN_SCRIPT, [`${PROCESS_TOKEN_ENV}=${d.token}`, 'TERM', String(Math.max(1, Math.ceil(graceMs / 100)))], { timeoutMs: graceMs + 15_000 });
      if (r.exitCode !== 0) throw new ProviderError(`stopping the processes of ${entry.key} failed: ${oneLine(r.stderr.toString('utf8'))}`, { host });
    }
  }

  async close(): Promise<void> {}
}
