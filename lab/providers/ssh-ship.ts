/**
 * Shipping lab to an ssh host that runs it (workers, master, quotes): the bundle (ssh-bundle.ts) is uploaded over
 * SFTP into the host's work directory and unpacked next to the running copy, which it then replaces; the bundle's
 * content hash is kept in `<labRoot>/.lab-ship`, and the same hash there means the upload is skipped.
 *
 * Then, on a workers host with an inventory `tasks:` / `config:`, the user's modules: uploaded over SFTP into
 * `<work directory>/tasks.new` (their layout kept, next to `node_modules/lab` → the shipped lab), which then replaces
 * `tasks/`; their digest is kept in `tasks/.lab-tasks` and the same digest there means nothing is uploaded.
 */
import { posix } from 'node:path';
import { ProviderError } from '../errors.js';
import { quoteArgv } from './shell-quote.js';
import { labBundle } from './ssh-bundle.js';
import { firstLine } from './ssh-hosts.js';
import type { HostUp, SshHosts } from './ssh-hosts.js';
import type { DirData } from './ssh-workdir.js';
import { TASKS_DIR, TASKS_MARKER, modulesDigest, userModules } from './user-modules.js';
import type { UserModule } from './user-modules.js';

const SHIP_MARKER = '.lab-ship';

/** Args: the work directory, the bundle's hash. Unpacks lab.tgz.part there as lab/, replacing the old one. */
const SHIP_SCRIPT = [
  'set -e',
  'cd "$1"',
  'rm -rf lab.new',
  'mkdir lab.new',
  'tar -xzf lab.tgz.part -C lab.new --no-same-owner',
  `printf '%s\\n' "$2" > lab.new/${SHIP_MARKER}`,
  'rm -rf lab',
  'mv lab.new lab',
  'rm -f lab.tgz.part',
].join('\n');

/** For the plan. */
export function shipPlan(lab: string, host: string): string {
  return `~/.lab/${lab}/${host}/lab (tarball over SFTP; skipped when the same version is there)`;
}

/** Ship the built package at `packageRoot` unless the host has it already; true when it had to be shipped. */
export async function shipLab(hosts: SshHosts, dir: DirData, packageRoot: string, up: HostUp): Promise<boolean> {
  const host = dir.host;
  up.checkAbort();
  const bundle = await labBundle(packageRoot);
  const marker = await hosts.run(host, quoteArgv(['cat', posix.join(dir.labRoot, SHIP_MARKER)]));
  if (marker.exitCode === 0 && marker.stdout.toString('utf8').trim() === bundle.hash) {
    up.times['ship lab'] = 0;
    up.progress({ host, step: 'ship lab', status: 'skip', detail: `${dir.labRoot} is up to date (${bundle.hash.slice(0, 12)})` });
    return false;
  }
  const size = `${(bundle.bytes / 1e6).toFixed(1)} MB`;
  await up.step('ship lab', `${size}, ${bundle.files} files${bundle.buildMs ? ` (packed in ${Math.round(bundle.buildMs)} ms)` : ''} → ${dir.labRoot}`, async () => {
    await (await hosts.connection(host)).upload(bundle.file, posix.join(dir.path, 'lab.tgz.part'));
    const r = await hosts.script(host, SHIP_SCRIPT, [dir.path, bundle.hash], [], { timeoutMs: 10 * 60_000 });
    if (r.exitCode !== 0) throw new ProviderError(`ship lab: unpacking in ${dir.path} failed (exit ${r.exitCode}): ${firstLine(r.stderr)}`, { host, code: 'E_SHIP' });
  });
  up.progress({ host, step: 'ship lab', status: 'done', detail: `${size} in ${Math.round(up.times['ship lab'] ?? 0)} ms → ${dir.labRoot}` });
  return true;
}

/** Args: the work directory, then the folders to make under tasks.new. A fresh tasks.new with node_modules/lab → ../../lab. */
const MODULES_PREPARE = [
  'set -e',
  `cd "$1"`,
  'shift',
  `rm -rf ${TASKS_DIR}.new`,
  `mkdir -p ${TASKS_DIR}.new/node_modules`,
  `ln -s ../../lab ${TASKS_DIR}.new/node_modules/lab`,
  `for d in "$@"; do mkdir -p -- "${TASKS_DIR}.new/$d"; done`,
].join('\n');

/** Args: the work directory, the digest. tasks.new (uploaded) replaces tasks. */
const MODULES_SWAP = ['set -e', 'cd "$1"', `printf '%s\\n' "$2" > ${TASKS_DIR}.new/${TASKS_MARKER}`, `rm -rf ${TASKS_DIR}`, `mv ${TASKS_DIR}.new ${TASKS_DIR}`].join('\n');

/** For the plan. */
export function shipModulesPlan(mods: readonly UserModule[]): string {
  return `${mods.map((m) => m.source).join(', ')} → <work directory>/${TASKS_DIR}/ (over SFTP; skipped when the same files are there)`;
}

/** Ship the workers host's own modules (tasks:, config:) unless the host has them already; true when shipped. */
export async function shipModules(hosts: SshHosts, dir: DirData, mods: readonly UserModule[], up: HostUp): Promise<boolean> {
  const host = dir.host;
  up.checkAbort();
  const digest = await modulesDigest(mods).catch((err: NodeJS.ErrnoException) => {
    throw new ProviderError(`ship tasks: cannot read ${err.path ?? 'a task module'}: ${err.code ?? err.message}`, { host, code: 'E_SHIP', cause: err });
  });
  const target = posix.join(dir.path, TASKS_DIR);
  const marker = await hosts.run(host, quoteArgv(['cat', posix.join(target, TASKS_MARKER)]));
  const names = mods.map((m) => m.rel).join(', ');
  if (marker.exitCode === 0 && marker.stdout.toString('utf8').trim() === digest) {
    up.progress({ host, step: 'ship tasks', status: 'skip', detail: `${target} is up to date (${names})` });
    return false;
  }
  await up.step('ship tasks', `${names} → ${target}`, async () => {
    const folders = [...new Set(mods.map((m) => posix.dirname(m.rel)).filter((d) => d !== '.'))];
    const prep = await hosts.script(host, MODULES_PREPARE, [dir.path, ...folders]);
    if (prep.exitCode !== 0) throw new ProviderError(`ship tasks: preparing ${target}.new failed (exit ${prep.exitCode}): ${firstLine(prep.stderr)}`, { host, code: 'E_SHIP' });
    const conn = await hosts.connection(host);
    for (const m of mods) await conn.upload(m.source, posix.join(`${target}.new`, m.rel), 0o644);
    const swap = await hosts.script(host, MODULES_SWAP, [dir.path, digest]);
    if (swap.exitCode !== 0) throw new ProviderError(`ship tasks: replacing ${target} failed (exit ${swap.exitCode}): ${firstLine(swap.stderr)}`, { host, code: 'E_SHIP' });
  });
  up.progress({ host, step: 'ship tasks', status: 'done', detail: `${names} → ${target}` });
  return true;
}
