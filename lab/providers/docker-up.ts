/**
 * `up` for a docker lab, step by step: the engine answers → every image is there (pulled if not, with progress) →
 * the lab's bridge network → per host, its container (created, or started again) → the container prepared (work
 * directory, the commands lab needs, node; lab copied in when the engine cannot mount it) → on a workers host with
 * an inventory `tasks:` / `config:`, the user's modules copied into its work directory (user-modules.ts). Each step
 * is recorded in the ledger before it creates anything, skips what is already there as recorded, and says whether
 * it made something.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { LabError, ProviderError, hasCode } from '../errors.js';
import type { Ledger } from '../topology/ledger.js';
import type { HostSpec } from '../topology/topology.js';
import { oneLine } from './docker-containers.js';
import type { DockerContainers } from './docker-containers.js';
import type { DockerEngine } from './docker-engine.js';
import { LABEL_BUNDLE, LAB_ROOT_IN_CONTAINER } from './docker-layout.js';
import { bundleContents } from './ssh-bundle.js';
import { TASKS_DIR, TASKS_MARKER, commonFolder, modulesDigest, userModules } from './user-modules.js';
import type { DockerLayout } from './docker-layout.js';
import type { Progress } from './provider.js';

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

/**
 * <workdir> <node 0|1> <labroot> <the roles' commands>: make the work directory, check the commands lab and the
 * host's roles need (a broker's rabbitmq-server may live where Debian puts it, off the PATH), report node's version.
 */
const PREPARE_SCRIPT = [
  'w=$1; node=$2; root=$3; cmds=$4',
  'mkdir -p "$w/logs" || { echo "cannot create $w" >&2; exit 1; }',
  '[ -d /tmp ] || { mkdir -p /tmp && chmod 1777 /tmp; }',
  'missing=""',
  'for c in getent mkdir chown tail cat tr grep sleep; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done',
  'if [ "$node" = 1 ]; then command -v node >/dev/null 2>&1 || missing="$missing node"; fi',
  'for c in $cmds; do [ "$c" = node ] && continue; command -v "$c" >/dev/null 2>&1 || [ -x "/usr/lib/rabbitmq/bin/$c" ] || [ -x "/usr/sbin/$c" ] || missing="$missing $c"; done',
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
  node: 'node ≥ 20, for lab itself',
  'rabbitmq-server': 'the broker role',
  'redis-server': 'the backend role',
};

export interface DockerUp {
  layout: DockerLayout;
  containers: DockerContainers;
  ledger: Ledger;
  progress: Progress;
  /** Throws InterruptedError once lab up was interrupted. */
  aborted(): void;
}

/** Bring the whole lab up; true when anything had to be pulled, created or started. */
export async function upDocker(u: DockerUp): Promise<boolean> {
  u.aborted();
  const engine = await u.containers.engine();
  const v = await engine.version();
  u.progress({ step: 'engine', status: 'info', detail: `${engine.target.describe}: ${v.engine} ${v.version} (API ${v.api})` });
  u.aborted();
  const pulled = await upImages(u, engine);
  u.aborted();
  const network = await upNetwork(u, engine);
  const results = await Promise.allSettled(u.layout.topology.hosts.map((h) => upHost(u, engine, h)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return pulled || network || results.some((r) => r.status === 'fulfilled' && r.value);
}

async function upImages(u: DockerUp, engine: DockerEngine): Promise<boolean> {
  const byImage = new Map<string, string[]>();
  for (const h of u.layout.topology.hosts) byImage.set(u.layout.imageOf(h), [...(byImage.get(u.layout.imageOf(h)) ?? []), h.name]);
  const pulled = await Promise.all(
    [...byImage].map(async ([ref, hosts]) => {
      const step = `image ${ref}`; // one step per image: their progress lines must not mix
      if (await engine.image(ref)) {
        u.progress({ step, status: 'skip', detail: 'present' });
        return false;
      }
      u.progress({ step, status: 'start', detail: 'not on the engine: pulling' });
      try {
        await engine.pull(ref, (p) => u.progress({ step, status: 'info', detail: p.text }));
      } catch (err) {
        const why = err instanceof Error ? err.message.replace(`pull ${ref}: `, '') : String(err);
        throw new ProviderError(
          `image ${ref} (for ${hosts.join(', ')}) is not on the engine at ${engine.target.describe}, and pulling it failed: ${why}. ` +
            "Without a registry, make the image locally (docker import / docker build) and name it in the inventory (docker.images, or a host's image:)",
          { cause: err, code: 'E_IMAGE' },
        );
      }
      u.progress({ step, status: 'done', detail: "pulled (it stays in the engine's image store after lab down)" });
      return true;
    }),
  );
  return pulled.some(Boolean);
}

async function upNetwork(u: DockerUp, engine: DockerEngine): Promise<boolean> {
  const { layout, ledger } = u;
  const lab = layout.topology.name;
  const step = 'network';
  const name = layout.network;
  const key = `network:${name}`;
  const detail = `${name} ${layout.subnet} gateway ${layout.gateway}`;
  const entry = ledger.get(key);
  const found = await engine.network(name);
  if (found) {
    if (!layout.ours(found.labels)) {
      throw new ProviderError(`network ${name} exists but lab ${lab} did not create it; choose another docker.network, or remove it (docker network rm ${name}) if it is stale`, {
        host: `lab ${lab}`,
        code: 'E_NAME_IN_USE',
      });
    }
    if (!found.subnets.some((s) => s.subnet === layout.subnet)) {
      throw new ProviderError(`network ${name} has subnet ${found.subnets.map((s) => s.subnet).join(', ') || 'none'}, not ${layout.subnet}; run lab down first`, { host: `lab ${lab}`, code: 'E_NAME_IN_USE' });
    }
    if (entry?.state === 'done') {
      u.progress({ step, status: 'skip', detail });
      return false;
    }
    if (!entry) await ledger.record('network', key, { name, id: found.id, subnet: layout.subnet, lab });
    await ledger.markDone(key, { id: found.id });
    u.progress({ step, status: 'done', detail: `${detail} (found)` });
    return true;
  }
  u.progress({ step, status: 'start', detail });
  await ledger.record('network', key, { name, subnet: layout.subnet, gateway: layout.gateway, lab });
  let id: string;
  try {
    id = await engine.createNetwork({ name, subnet: layout.subnet, gateway: layout.gateway, labels: layout.labels() });
  } catch (err) {
    const hint = hasCode(err, 'E_SUBNET_IN_USE') ? '; the subnet is taken (by another network, or an interface of this machine): choose another subnet in the inventory' : '';
    throw new ProviderError(`network: ${err instanceof Error ? err.message : String(err)}${hint}`, { host: `lab ${lab}`, cause: err, code: err instanceof LabError ? err.code : undefined });
  }
  await ledger.markDone(key, { id });
  u.progress({ step, status: 'done', detail });
  return true;
}

/** A host's container (created, or started again) and its preparation; true when something had to be made. */
async function upHost(u: DockerUp, engine: DockerEngine, h: Readonly<HostSpec>): Promise<boolean> {
  u.aborted();
  const container = await upContainer(u, engine, h);
  // prepare once per container: a container that kept running since it was prepared is left alone
  u.aborted();
  let changed = container.changed;
  if (container.prepared) u.progress({ host: h.name, step: 'prepare', status: 'skip', detail: u.layout.workDir(h.name) });
  else changed = (await prepare(u, engine, h)) || changed;
  // every up: the user's modules may have changed since (their digest says)
  if (userModules(h).length > 0) changed = (await copyModules(u, engine, h)) || changed;
  return changed;
}

/** Args: work directory, lab's root, digest. "same" when that digest is there; else a fresh tasks.new with node_modules/lab → lab's root. */
const MODULES_PREPARE = [
  'set -e',
  'cd "$1"',
  `if [ "$(cat ${TASKS_DIR}/${TASKS_MARKER} 2>/dev/null)" = "$3" ]; then echo same; exit 0; fi`,
  `rm -rf ${TASKS_DIR}.new`,
  `mkdir -p ${TASKS_DIR}.new/node_modules`,
  `ln -s "$2" ${TASKS_DIR}.new/node_modules/lab`,
].join('\n');

/** Args: work directory, digest. tasks.new (copied in) replaces tasks. */
const MODULES_SWAP = ['set -e', 'cd "$1"', `printf '%s\\n' "$2" > ${TASKS_DIR}.new/${TASKS_MARKER}`, `rm -rf ${TASKS_DIR}`, `mv ${TASKS_DIR}.new ${TASKS_DIR}`].join('\n');

/**
 * The user's modules of a workers host (tasks:, config:) copied into `<work directory>/tasks/` through the engine's
 * archive API — for a local engine and a remote one alike (a bind mount would not follow an editor's
 * replace-by-rename, and a remote engine cannot mount this machine's files). True when they had to be copied.
 */
async function copyModules(u: DockerUp, engine: DockerEngine, h: Readonly<HostSpec>): Promise<boolean> {
  const host = h.name;
  const step = 'copy tasks';
  const mods = userModules(h);
  const wd = u.layout.workDir(host);
  const names = mods.map((m) => m.rel).join(', ');
  const digest = await modulesDigest(mods).catch((err: NodeJS.ErrnoException) => {
    throw new ProviderError(`${step}: cannot read ${err.path ?? 'a task module'}: ${err.code ?? err.message}`, { host, code: 'E_SHIP', cause: err });
  });
  const prep = await u.containers.sh(host, MODULES_PREPARE, [wd, LAB_ROOT_IN_CONTAINER, digest], { timeoutMs: 30_000 });
  if (prep.exitCode !== 0) throw new ProviderError(`${step}: preparing ${wd}/${TASKS_DIR}.new failed (exit ${prep.exitCode}): ${oneLine(prep.stderr.toString('utf8'))}`, { host, code: 'E_SHIP' });
  if (prep.stdout.toString('utf8').trim() === 'same') {
    u.progress({ host, step, status: 'skip', detail: `${wd}/${TASKS_DIR} is up to date (${names})` });
    return false;
  }
  u.progress({ host, step, status: 'start', detail: `${names} → ${wd}/${TASKS_DIR}` });
  const base = commonFolder(mods.map((m) => m.source));
  const tar = spawn('tar', ['-C', base, '-cf', '-', '--', ...mods.map((m) => m.rel)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  tar.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', (code) => resolve(code ?? 1));
  });
  await engine.putArchive(u.layout.containerName(host), `${wd}/${TASKS_DIR}.new`, tar.stdout, host);
  const code = await exited;
  if (code !== 0) throw new ProviderError(`${step}: tar of ${base} failed: ${oneLine(err)}`, { host, code: 'E_SHIP' });
  const swap = await u.containers.sh(host, MODULES_SWAP, [wd, digest], { timeoutMs: 30_000 });
  if (swap.exitCode !== 0) throw new ProviderError(`${step}: replacing ${wd}/${TASKS_DIR} failed (exit ${swap.exitCode}): ${oneLine(swap.stderr.toString('utf8'))}`, { host, code: 'E_SHIP' });
  u.progress({ host, step, status: 'done', detail: `${names} → ${wd}/${TASKS_DIR}` });
  return true;
}

async function upContainer(u: DockerUp, engine: DockerEngine, h: Readonly<HostSpec>): Promise<{ changed: boolean; prepared: boolean }> {
  const { layout, ledger } = u;
  const host = h.name;
  const lab = layout.topology.name;
  const name = layout.containerName(host);
  const image = layout.imageOf(h);
  const key = `container:${host}`;
  const step = 'container';
  const detail = `${name} (${image}) at ${h.address}`;
  const entry = ledger.get(key);
  const info = await engine.container(name, host);
  if (info && !layout.ours(info.labels)) {
    throw new ProviderError(`container ${name} exists but lab ${lab} did not create it; remove it (docker rm -f ${name}) if it is stale`, { host, code: 'E_NAME_IN_USE' });
  }
  const address = info?.addresses[layout.network];
  if (address !== undefined && address !== '' && address !== h.address) {
    throw new ProviderError(`container ${name} has address ${address}, not ${h.address}; run lab down first`, { host, code: 'E_NAME_IN_USE' });
  }
  if (info && info.running && entry?.state === 'done') {
    u.progress({ host, step, status: 'skip', detail: `${detail}, running` });
    return { changed: false, prepared: (entry.data as { prepared?: unknown }).prepared === true };
  }
  let id: string;
  if (!info) {
    // an image from `lab images build` carries lab at /opt/lab (its label says which bundle): nothing of this machine is mounted
    const carried = (await engine.image(image))?.labels[LABEL_BUNDLE];
    u.progress({ host, step, status: 'start', detail });
    await ledger.record('container', key, { host, name, image, network: layout.network, address: h.address, lab });
    id = await engine.createContainer(
      {
        name,
        hostname: host,
        image,
        cmd: ['sh', '-c', KEEPALIVE],
        env: { LAB_NAME: lab, LAB_HOST: host },
        labels: layout.labels(host),
        mounts: layout.mountsOf(h, engine.target.local && carried === undefined),
        extraHosts: layout.topology.hosts.map((o) => ({ name: o.name, address: o.address })),
        network: layout.network,
        address: h.address,
        aliases: [host],
        // a partition fault puts iptables rules in the container's own network namespace (nothing else of the engine's host)
        capAdd: ['NET_ADMIN'],
      },
      host,
    );
  } else {
    u.progress({ host, step, status: 'start', detail: `${detail} (${info.status}: starting)` });
    if (!entry) await ledger.record('container', key, { host, name, image, network: layout.network, address: h.address, lab });
    id = info.id;
  }
  await ledger.markDone(key, { id });
  try {
    await engine.startContainer(id, host);
  } catch (err) {
    throw new ProviderError(`cannot start container ${name}: ${err instanceof Error ? err.message : String(err)}`, { host, cause: err, code: 'E_CONTAINER_START' });
  }
  const now = await engine.container(id, host);
  if (!now?.running) throw await u.containers.down(host);
  u.progress({ host, step, status: 'done', detail });
  return { changed: true, prepared: false };
}

/** The work directory, the commands lab needs, node; lab copied in when it cannot be mounted. True when lab was copied. */
async function prepare(u: DockerUp, engine: DockerEngine, h: Readonly<HostSpec>): Promise<boolean> {
  const { layout } = u;
  const host = h.name;
  const image = layout.imageOf(h);
  const step = 'prepare';
  const node = layout.isNodeHost(h);
  const r = await u.containers.sh(host, PREPARE_SCRIPT, [layout.workDir(host), node ? '1' : '0', LAB_ROOT_IN_CONTAINER, layout.roleCommands(h).join(' ')], { timeoutMs: 60_000 });
  const out = r.stdout.toString('utf8');
  const missing = /^missing:(.*)$/m.exec(out)?.[1]?.trim().split(/\s+/);
  if (missing) {
    throw new ProviderError(`image ${image} lacks ${missing.map((c) => `${c} (${PROVIDES[c] ?? c})`).join(', ')}; no service was started. Use an image that has them (lab images build makes one per role), or mount them in (see hosts/docker.yaml)`, {
      host,
      code: 'E_IMAGE_INCOMPLETE',
    });
  }
  if (r.exitCode !== 0) throw new ProviderError(`prepare ${layout.workDir(host)} failed (exit ${r.exitCode}): ${oneLine(r.stderr.toString('utf8') + out)}`, { host });
  const notes: string[] = [layout.workDir(host)];
  let copied = false;
  if (node) {
    const version = /^node v(\d+)\S*/m.exec(out);
    if (!version || Number(version[1]) < 20) throw new ProviderError(`image ${image} has node ${version?.[0].slice(5) ?? '(unknown)'}; lab needs node ≥ 20`, { host, code: 'E_IMAGE_INCOMPLETE' });
    notes.push(`node ${version[0].slice(5)}`);
    const carried = (await engine.image(image))?.labels[LABEL_BUNDLE];
    if (carried !== undefined) {
      const here = (await bundleContents(layout.labSource())).hash;
      if (carried === here) notes.push(`lab from the image (bundle ${carried.slice(0, 12)}, the same as here)`);
      else u.progress({ host, step, status: 'info', warning: true, detail: `image ${image} carries lab bundle ${carried.slice(0, 12)}, this lab is ${here.slice(0, 12)}: run lab images build for a current node image` });
    }
    if (!/^lab present$/m.test(out)) {
      if (engine.target.local) throw new ProviderError(`${LAB_ROOT_IN_CONTAINER}/bin/lab.js is missing although ${layout.labSource()} is mounted there`, { host, code: 'E_IMAGE_INCOMPLETE' });
      u.progress({ host, step, status: 'start', detail: `copying lab into ${LAB_ROOT_IN_CONTAINER}` });
      await copyLab(u, engine, host);
      copied = true;
      u.progress({ host, step, status: 'done', detail: `lab copied into ${LAB_ROOT_IN_CONTAINER}` });
    }
  }
  if (/^nosetsid$/m.test(out)) notes.push('no setsid: services are stopped by pid only');
  await u.ledger.markDone(`container:${host}`, { prepared: true });
  u.progress({ host, step, status: 'info', detail: notes.join(', ') });
  return copied;
}

/** A remote engine cannot bind-mount this machine's folders: copy the built lab (package.json, bin, dist, node_modules). */
async function copyLab(u: DockerUp, engine: DockerEngine, host: string): Promise<void> {
  const source = u.layout.labSource();
  const mk = await u.containers.run(host, { argv: ['mkdir', '-p', LAB_ROOT_IN_CONTAINER] });
  if (mk.exitCode !== 0) throw new ProviderError(`cannot create ${LAB_ROOT_IN_CONTAINER}: ${oneLine(mk.stderr.toString('utf8'))}`, { host });
  const parts = u.layout.labParts().filter((p) => existsSync(`${source}/${p}`));
  const tar = spawn('tar', ['-C', source, '--exclude=dist/test', '--exclude=dist/bench', '--exclude=dist/support', '--exclude=*.map', '-cf', '-', ...parts], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  tar.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', (code) => resolve(code ?? 1));
  });
  await engine.putArchive(u.layout.containerName(host), LAB_ROOT_IN_CONTAINER, tar.stdout, host);
  const code = await exited;
  if (code !== 0) throw new ProviderError(`tar of ${source} failed: ${oneLine(err)}`, { host });
}
