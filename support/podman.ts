/**
 * A Docker Engine API for the docker tests and benchmarks: Podman's Docker-compatible service, started here and
 * stopped at the end (no Docker engine on these machines; /work/shared/facts/machine.md has the recipe):
 *   - a containers.conf with empty default ulimits, cgroups disabled, the cgroupfs manager;
 *   - `podman system service` in a private mount namespace with the cgroup2 mount taken away (cgroups cannot be
 *     used here), listening on a socket in a temporary folder;
 *   - no registry: an image made by importing an empty tarball, and an inventory that bind-mounts this machine's
 *     /usr, /lib, /lib64, /bin (+ /etc/passwd, /etc/group, /etc/nsswitch.conf) read-only, so containers run this
 *     machine's node, redis-server and rabbitmq-server.
 * With `registry: true` a local registry (Debian's docker-registry) is started too, on 127.0.0.1 and marked insecure
 * for the service, so images can be pushed to it and pulled from it as from Docker Hub.
 * The service (and the registry) are stopped by the pids started here; images made here are removed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, LabLockedError } from '../lab/topology/state.js';
import { EngineClient } from './engine.js';

/** The empty image every test host runs (its programs come from the bind-mounted /usr, /lib, /bin). */
export const EMPTY_IMAGE = 'localhost/lab-empty:latest';

/** Read-only mounts that make an empty image a usable host: this machine's programs, libraries and users. */
export function hostMounts(): string[] {
  const out: string[] = [];
  for (const p of ['/usr', '/lib', '/lib64', '/bin', '/sbin', '/etc/passwd', '/etc/group', '/etc/nsswitch.conf']) if (existsSync(p)) out.push(`${p}:${p}:ro`);
  return out;
}

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** Why a local registry cannot run here (null: it can). */
export async function registryMissing(): Promise<string | null> {
  return existsSync(REGISTRY_BIN) ? null : `${REGISTRY_BIN} is missing (apt-get install docker-registry)`;
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/** Why Podman's service cannot run here (null: it can). */
export async function podmanMissing(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'the Podman service runs rootful here: run the tests as root';
  for (const b of ['/usr/bin/podman', '/usr/bin/unshare']) if (!existsSync(b)) return `${b} is missing (apt-get install podman)`;
  return null;
}

export interface PodmanService {
  socket: string;
  engine: EngineClient;
  /** Import an image from a tarball (empty by default) with Dockerfile `changes`; removed again by stop(). */
  importImage(ref: string, changes?: string[]): Promise<void>;
  /** Remove whatever containers and networks of these labs a failed test left (a safety net; lab down is the test). */
  removeLabs(labs: string[]): Promise<string[]>;
  /** host:port of the local registry (with `registry: true`). */
  registry?: string;
  /** Make an (empty) image, push it to the local registry as `ref`, and remove it from the engine: pulling it is up to the test. */
  pushToRegistry(ref: string): Promise<void>;
  stop(): Promise<void>;
}

function pingSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.once('connect', () => {
      s.write('GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n');
    });
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString()));
    s.once('end', () => resolve(/^HTTP\/1\.[01] 200/.test(got)));
    s.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

function run(argv: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.once('error', () => resolve({ code: -1, stdout }));
    c.once('close', (code) => resolve({ code: code ?? -1, stdout }));
  });
}

/**
 * What Podman's CNI backend keeps after a network is gone: the host-local IPAM folder of each network (a lock and
 * the last address handed out) and the firewall plugin's isolation rules for a bridge that no longer exists.
 * Removed for the networks the tests made; nothing that still has an address reserved or a bridge is touched.
 */
async function tidyCni(names: string[]): Promise<void> {
  for (const n of names) {
    const d = join('/var/lib/cni/networks', n);
    const files = await readdir(d).catch(() => null);
    if (files && files.every((f) => f === 'lock' || f.startsWith('last_reserved_ip'))) await rm(d, { recursive: true, force: true });
  }
  const links = await run(['ip', '-o', 'link', 'show']);
  if (links.code !== 0) return;
  const exists = (dev: string): boolean => new RegExp(`^\\d+: ${dev}[:@]`, 'm').test(links.stdout);
  for (const chain of ['CNI-ISOLATION-STAGE-1', 'CNI-ISOLATION-STAGE-2']) {
    const rules = await run(['iptables', '-S', chain]);
    if (rules.code !== 0) continue;
    for (const line of rules.stdout.split('\n')) {
      const dev = /-[io] (cni-podman\d+) /.exec(line)?.[1];
      if (!line.startsWith(`-A ${chain} `) || !dev || exists(dev)) continue;
      // the rule as iptables printed it, back into argv: quoted comment kept as one word
      const words = line.slice(3).match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"(.*)"$/, '$1'));
      await run(['iptables', '-D', ...words]);
    }
  }
}

/** Pids of the processes in a mount namespace (by its /proc/<pid>/ns/mnt link, e.g. "mnt:[4026532301]"). */
async function inNamespace(ns: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    if ((await readlink(`/proc/${e}/ns/mnt`).catch(() => null)) === ns) out.push(Number(e));
  }
  return out;
}

/**
 * One Podman service at a time on this machine: services started side by side (two test runs at once) share the
 * image store, container database and CNI state but not their private mount namespaces, so one cannot tear down
 * the other's container networks (leaking addresses and firewall rules). Waits up to 10 minutes for the holder.
 */
const LOCK_DIR = join(tmpdir(), 'lab-podman-service.lock.d');

async function machineLock(): Promise<() => Promise<void>> {
  const deadline = Date.now() + 600_000;
  let said = false;
  for (;;) {
    try {
      const release = await acquireLock(LOCK_DIR, 'podman-service');
      return async () => {
        await release();
        await rmdir(LOCK_DIR).catch(() => undefined); // only if empty: someone may be waiting in it
      };
    } catch (err) {
      const locked = err instanceof LabLockedError || (err as NodeJS.ErrnoException).code === 'ENOENT';
      if (!locked || Date.now() > deadline) throw err;
      if (!said && err instanceof LabLockedError) {
        process.stderr.write(`podman: waiting for another test run's Podman service (pid ${err.holder.pid}) to finish\n`);
        said = true;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Start the service, wait for its socket to answer, and make the empty image. */
export async function startPodman(options: { registry?: boolean } = {}): Promise<PodmanService> {
  const unlock = await machineLock();
  const dir = await mkdtemp(join(tmpdir(), 'lab-podman-'));
  const conf = join(dir, 'containers.conf');
  const socket = join(dir, 'podman.sock');
  const logPath = join(dir, 'service.log');
  const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: conf };
  let registry: string | undefined;
  let registryChild: ChildProcess | null = null;
  if (options.registry) {
    const port = await freePort();
    registry = `127.0.0.1:${port}`;
    const regConf = join(dir, 'registry.yml');
    await writeFile(regConf, ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'registry')}`, 'http:', `  addr: ${registry}`, ''].join('\n'));
    const regLog = openSync(join(dir, 'registry.log'), 'a');
    registryChild = spawn(REGISTRY_BIN, ['serve', regConf], { stdio: ['ignore', regLog, regLog] });
    closeSync(regLog);
    await writeFile(join(dir, 'registries.conf'), ['[[registry]]', `location = "${registry}"`, 'insecure = true', ''].join('\n'));
    env.CONTAINERS_REGISTRIES_CONF = join(dir, 'registries.conf');
  }
  // exit_command_delay: conmon keeps an ended exec session (and itself) 5 minutes by default; the provider reads an
  // exec's exit code right after its output ends, so a few seconds is plenty — and the service's conmons are gone soon
  await writeFile(conf, ['[containers]', 'default_ulimits = []', 'cgroups = "disabled"', '', '[engine]', 'cgroup_manager = "cgroupfs"', 'exit_command_delay = 5', ''].join('\n'));
  const log = openSync(logPath, 'a');
  // unshare and sh exec: the pid we get is podman's own
  const child = spawn('unshare', ['-m', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec podman system service --time=0 "unix://$1"', 'sh', socket], {
    stdio: ['ignore', log, log],
    env,
  });
  closeSync(log);
  const made: string[] = [];
  /** Networks of the labs the caller named (removeLabs): their CNI bookkeeping is tidied at stop. */
  const networks = new Set<string>();
  let mountNs: string | null = null;
  const engine = new EngineClient(socket);
  const stop = async (): Promise<void> => {
    for (const ref of made.reverse()) await engine.removeImage(ref).catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(t);
    }
    // conmon processes the service forked (one per container and per exec session) live in its private mount
    // namespace and end by themselves shortly after their container or session; wait for them, then end stragglers
    if (mountNs) {
      const deadline = Date.now() + 30_000;
      let left = await inNamespace(mountNs);
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        left = await inNamespace(mountNs);
      }
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone meanwhile
        }
      }
    }
    if (registryChild && registryChild.exitCode === null && registryChild.signalCode === null) {
      registryChild.kill('SIGTERM');
      const t = setTimeout(() => registryChild!.kill('SIGKILL'), 5000);
      await exited(registryChild);
      clearTimeout(t);
    }
    await tidyCni([...networks]);
    await rm(dir, { recursive: true, force: true });
    await unlock();
  };
  try {
    const deadline = Date.now() + 30_000;
    while (!(existsSync(socket) && (await pingSocket(socket)))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`podman system service exited (${child.exitCode ?? child.signalCode}): ${readFileSync(logPath, 'utf8').trim()}`);
      if (Date.now() > deadline) throw new Error(`podman system service did not answer on ${socket} within 30 s: ${readFileSync(logPath, 'utf8').trim()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    mountNs = await readlink(`/proc/${child.pid}/ns/mnt`).catch(() => null);
    const importImage = async (ref: string, changes: string[] = []): Promise<void> => {
      if (!(await engine.image(ref))) made.push(ref);
      await engine.importImage(Buffer.alloc(1024), ref, changes); // 1024 zero bytes: an empty tar archive
    };
    const removeLabs = async (labs: string[]): Promise<string[]> => {
      const removed: string[] = [];
      for (const lab of labs) {
        networks.add(`lab-${lab}`);
        for (const c of await engine.containersLabelled(`lab.name=${lab}`)) if ((await engine.removeContainer(c.id)) === 'removed') removed.push(c.name);
        for (const n of await engine.networksLabelled(`lab.name=${lab}`)) if ((await engine.removeNetwork(n.id)) === 'removed') removed.push(n.name);
      }
      return removed;
    };
    const pushToRegistry = async (ref: string): Promise<void> => {
      if (!registry) throw new Error('startPodman({ registry: true }) starts the registry');
      const deadline = Date.now() + 15_000;
      while (!(await httpOk(`http://${registry}/v2/`))) {
        if (registryChild!.exitCode !== null || Date.now() > deadline) throw new Error(`the registry did not answer on ${registry}: ${readFileSync(join(dir, 'registry.log'), 'utf8').trim()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await engine.importImage(Buffer.alloc(1024), ref);
      made.push(ref); // pulled again by the test: removed at the end
      await engine.pushImage(ref);
      await engine.removeImage(ref);
    };
    await importImage(EMPTY_IMAGE);
    return { socket, engine, importImage, removeLabs, registry, pushToRegistry, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface DockerInventory {
  lab: string;
  subnet: string;
  /** Engine socket; omitted → the provider's default (DOCKER_HOST, /var/run/docker.sock). */
  socket?: string;
  /** Per-host image overrides. */
  images?: Record<string, string>;
  /** The role images (support/role-images.ts): used per role, and nothing of this machine is mounted. */
  roleImages?: { broker: string; backend: string; node: string };
}

/** A four-host docker inventory in test mode: the role images, or the empty image + this machine's programs mounted read-only. */
export function dockerInventory(o: DockerInventory): string {
  const lines = [`lab: ${o.lab}`, 'provider: docker', `subnet: ${o.subnet}`, 'docker:'];
  if (o.socket) lines.push(`  socket: ${JSON.stringify(o.socket)}`);
  const r = o.roleImages;
  if (r) lines.push(`  images: { broker: "${r.broker}", backend: "${r.backend}", node: "${r.node}" }`, '  mounts: []');
  else {
    lines.push(`  images: { broker: "${EMPTY_IMAGE}", backend: "${EMPTY_IMAGE}", node: "${EMPTY_IMAGE}" }`, '  mounts:');
    for (const m of hostMounts()) lines.push(`    - "${m}"`);
  }
  lines.push('defaults: { concurrency: 2, pool: prefork }', 'hosts:');
  for (const h of ['HOST1', 'HOST2', 'HOST3', 'HOST4']) lines.push(o.images?.[h] ? `  ${h}: { image: "${o.images[h]}" }` : `  ${h}:`);
  return `${lines.join('\n')}\n`;
}
