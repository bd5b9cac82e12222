/**
 * Where an ssh host works: `~/.lab/<lab>/<HOST>` of the login user; on a broker host whose home other users cannot
 * traverse (RabbitMQ runs as its own user and must reach its data below), `/var/lib/lab/<lab>/<HOST>` instead —
 * made as root, owned by the login user. Making it (recorded as a 'directory' entry whose data is also what
 * `host()` reads back: path, lab root, node) and removing it again, never anything outside the lab's folder.
 */
import { posix } from 'node:path';
import { ProviderError } from '../errors.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import type { HostSpec } from '../topology/topology.js';
import type { SupervisionMode } from './provider.js';
import { runsLab } from './ssh-preflight.js';
import { quoteArgv } from './shell-quote.js';
import { firstLine, parseKeyValues } from './ssh-hosts.js';
import type { HostFacts, HostUp, SshHosts } from './ssh-hosts.js';

const SYSTEM_ROOT = '/var/lib/lab';

/** The ledger data of a work directory entry (also what `host()` builds HostInfo from). */
export interface DirData {
  host: string;
  path: string;
  root: string;
  labRoot: string;
  node: string;
  /** What keeps the host's services running: lab's supervisor where lab runs, else systemd when root can use it. */
  supervisor?: SupervisionMode;
}

/** An ssh host's supervision: lab's supervisor where lab is shipped (Node), systemd units where root can make them, else none. */
export function sshSupervision(h: Readonly<HostSpec>, facts: HostFacts): SupervisionMode {
  if (runsLab(h)) return 'lab';
  return facts.hasSystemd && (facts.uid === 0 || (h.sudo && facts.hasSudo)) ? 'systemd' : 'none';
}

/** The file in a work directory that says which lab made it (its labToken): `lab down --discover` checks it. */
export const LAB_TOKEN_FILE = '.lab-token';

/** Args: lab folder, host work directory, 1 when other users must traverse it (broker hosts), the lab's token. */
const MKDIR_SCRIPT = [
  'set -e',
  'mkdir -p -- "$2"',
  'chmod 711 -- "$1"',
  'if [ "$3" = 1 ]; then chmod 711 -- "$2"; else chmod 700 -- "$2"; fi',
  `printf '%s\\n' "$4" > "$2/${LAB_TOKEN_FILE}"`,
].join('\n');

/** As root. Args: lab folder under /var/lib/lab, host work directory, its owner (the login user), the lab's token. */
const MKDIR_SYSTEM_SCRIPT = [
  'set -e',
  'p=$(dirname -- "$1")',
  'if [ ! -d "$p" ]; then mkdir -p -m 711 -- "$p"; else chmod o+x -- "$p"; fi',
  'mkdir -p -- "$2"',
  'chmod 711 -- "$1" "$2"',
  'chown -- "$3" "$2"',
  `printf '%s\\n' "$4" > "$2/${LAB_TOKEN_FILE}"`,
].join('\n');

/** Print `blocked=<dir>` for the first existing folder from $1 up that other users cannot traverse (no o+x). */
const TRAVERSE_SCRIPT = [
  'd=$1',
  'while [ "$d" != / ]; do',
  '  if [ -e "$d" ]; then',
  '    m=$(stat -c %a -- "$d" 2>/dev/null) || break',
  '    case $m in *[1357]) ;; *) echo "blocked=$d"; break ;; esac',
  '  fi',
  '  d=$(dirname -- "$d")',
  'done',
].join('\n');

/** The lab's folder in the login user's home. */
export function homeLabFolder(facts: HostFacts, lab: string): string {
  return posix.join(facts.home, '.lab', lab);
}

/** Where a broker host works when its home is closed to other users. */
export function systemLabFolder(lab: string): string {
  return posix.join(SYSTEM_ROOT, lab);
}

/** For the plan: where the host will work. */
export function workDirPlan(h: Readonly<HostSpec>, lab: string, user: string): string {
  const alt = h.roles.includes('broker') ? `, or ${SYSTEM_ROOT}/${lab}/${h.name} when that home is closed to other users (RabbitMQ runs as its own user)` : '';
  return `~/.lab/${lab}/${h.name} (of ${user})${alt}`;
}

/** Make (or check) the host's work directory; resolves with its ledger data and whether it had to be made. */
export async function upWorkDir(hosts: SshHosts, ledger: Ledger, h: Readonly<HostSpec>, facts: HostFacts, up: HostUp, mark: string, nodeIn?: (workDir: string) => string): Promise<{ dir: DirData; changed: boolean }> {
  const host = h.name;
  const lab = hosts.topology.name;
  up.checkAbort();
  const broker = h.roles.includes('broker');
  let root = homeLabFolder(facts, lab);
  let system = false;
  let blocked: string | null = null;
  if (broker) {
    const tr = await hosts.script(host, TRAVERSE_SCRIPT, [posix.dirname(root)]);
    blocked = parseKeyValues(tr.stdout.toString('utf8')).get('blocked') ?? null;
    if (blocked && (facts.uid === 0 || (h.sudo && facts.hasSudo))) {
      root = systemLabFolder(lab);
      system = true;
    }
  }
  const workDir = posix.join(root, host);
  const dir: DirData = { host, path: workDir, root, labRoot: posix.join(workDir, 'lab'), node: nodeIn ? nodeIn(workDir) : (facts.node ?? 'node'), supervisor: sshSupervision(h, facts) };
  const key = `dir:${host}`;
  const recorded = ledger.get(key);
  const make = (): Promise<void> => (system ? mkdirSystem(hosts, host, root, workDir, mark) : mkdirHome(hosts, host, root, workDir, broker, mark));
  let changed = false;
  if (recorded?.state === 'done' && (recorded.data as Partial<DirData>).path === workDir) {
    await make();
    const old = recorded.data as Partial<DirData>;
    if (old.node !== dir.node || old.labRoot !== dir.labRoot || old.supervisor !== dir.supervisor) await ledger.markDone(key, { ...dir });
    up.progress({ host, step: 'work directory', status: 'skip', detail: workDir });
  } else {
    await up.step('work directory', workDir, async () => {
      await ledger.record('directory', key, { ...dir });
      await make();
      await ledger.markDone(key);
    });
    changed = true;
    up.progress({ host, step: 'work directory', status: 'done', detail: workDir });
  }
  if (blocked) {
    const detail = system
      ? `warning: ${blocked} is not traversable by other users (RabbitMQ runs as its own user), so this broker host works in ${workDir} instead of ~/.lab`
      : `warning: ${blocked} is not traversable by other users, so RabbitMQ's user cannot reach its data under ${workDir}: chmod o+x ${blocked} (traverse only), give lab sudo, or connect as another user`;
    up.progress({ host, step: 'work directory', status: 'info', detail, warning: true });
  }
  return { dir, changed };
}

/**
 * Create the lab folder (0711: traverse, no listing) and the host's work directory in it: 0711 on a broker host
 * (RabbitMQ runs as its own user and must reach its data directory below), else 0700.
 */
async function mkdirHome(hosts: SshHosts, host: string, root: string, dir: string, traversable: boolean, mark: string): Promise<void> {
  const r = await hosts.script(host, MKDIR_SCRIPT, [root, dir, traversable ? '1' : '0', mark]);
  if (r.exitCode !== 0) throw new ProviderError(`cannot create ${dir}: ${firstLine(r.stderr)}`, { host, code: 'E_MKDIR' });
}

/** /var/lib/lab/<lab>/<HOST>, made as root (0711 all the way) and owned by the login user. */
async function mkdirSystem(hosts: SshHosts, host: string, root: string, dir: string, mark: string): Promise<void> {
  const prefix = await hosts.asRoot(host, `creating ${dir}`);
  const r = await hosts.privileged(host, prefix, MKDIR_SYSTEM_SCRIPT, [root, dir, hosts.target(host).user, mark]);
  if (r.exitCode !== 0) throw new ProviderError(`cannot create ${dir}: ${firstLine(r.stderr)}`, { host, code: 'E_MKDIR' });
}

/** Remove a recorded work directory — only ever one inside this lab's folder — and the lab's folder when empty. */
export async function undoWorkDir(hosts: SshHosts, entry: LedgerEntry): Promise<void> {
  const d = entry.data as Partial<DirData>;
  const host = hosts.spec(d.host ?? '').name;
  const path = String(d.path ?? '');
  const facts = await hosts.hostFacts(host);
  const roots = [homeLabFolder(facts, hosts.topology.name), systemLabFolder(hosts.topology.name)];
  const root = roots.find((r) => path.startsWith(`${r}/`));
  const rel = root ? path.slice(root.length + 1) : '';
  if (!root || posix.normalize(path) !== path || rel === '' || rel.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new ProviderError(`refusing to remove ${JSON.stringify(path)}: not inside this lab's folder (${roots.map((r) => `${r}/`).join(' or ')})`, { host, code: 'E_UNDO_REFUSED' });
  }
  const prefix = await hosts.rootIfPossible(host);
  const r = await hosts.run(host, quoteArgv([...prefix, 'rm', '-rf', '--', path]));
  hosts.checkSudo(host, prefix, r);
  if (r.exitCode !== 0) throw new ProviderError(`cannot remove ${path}: ${firstLine(r.stderr)}`, { host, code: 'E_UNDO' });
  // the lab's folder too when nothing else is in it (~/.lab and /var/lib/lab stay: other labs may use them)
  await hosts.run(host, quoteArgv([...(root === roots[1] ? prefix : []), 'rmdir', '--', root]));
}
