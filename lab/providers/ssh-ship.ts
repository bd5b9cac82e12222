/**
 * Shipping lab to an ssh host that runs it (workers, master, quotes): the bundle (ssh-bundle.ts) is uploaded over
 * SFTP into the host's work directory and unpacked next to the running copy, which it then replaces; the bundle's
 * content hash is kept in `<labRoot>/.lab-ship`, and the same hash there means the upload is skipped.
 */
import { posix } from 'node:path';
import { ProviderError } from '../errors.js';
import { quoteArgv } from './shell-quote.js';
import { labBundle } from './ssh-bundle.js';
import { firstLine } from './ssh-hosts.js';
import type { HostUp, SshHosts } from './ssh-hosts.js';
import type { DirData } from './ssh-workdir.js';

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
