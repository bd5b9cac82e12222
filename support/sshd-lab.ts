/**
 * A real SSH lab on one machine, for the ssh provider's e2e tests (root only): N network namespaces on a bridge,
 * each running its own `/usr/sbin/sshd -D -f <generated sshd_config>` on its namespace address, with host keys,
 * an authorized client key (ed25519) and a second, NOT authorized key generated per lab in a temp folder.
 *
 * - Subnets 198.18.210.0/24 … 198.18.219.0/24 (one per concurrently running lab; each claimed with a record file
 *   /run/lab-sshd-lab/<octet>.json written BEFORE anything is created). A record whose owner process is gone is a
 *   crashed run: everything it lists (sshd pids — only if their command line still names its config — namespaces,
 *   bridge, /etc/netns folders, temp folder) is removed before the subnet is reused.
 * - Each namespace gets its own /etc/netns/<ns>/hosts, which `ip netns exec` bind-mounts over /etc/hosts for sshd
 *   and every session it serves, so the tests edit that file and never this machine's /etc/hosts. The file
 *   carries a marker line (`# sshd-lab <ns>`) a test can check before writing.
 * - sshd is started by us (`ip netns exec` execs it: its pid is the child's), killed by that pid in cleanup.
 *   cleanup() also runs (synchronously) on process exit, so a failing or crashing test leaves nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tcpOpen } from './tcp-open.js';

const RECORD_DIR = '/run/lab-sshd-lab';
const OCTETS = [210, 211, 212, 213, 214, 215, 216, 217, 218, 219];

export interface SshdHost {
  /** HOST1… */
  name: string;
  ns: string;
  address: string;
  port: number;
  /** Private host key file (public: `.pub`). */
  hostKey: string;
  /** This namespace's /etc/hosts (seen as /etc/hosts by sessions of its sshd). */
  hostsFile: string;
  pid: number;
}

export interface SshdLab {
  id: string;
  subnet: string;
  gateway: string;
  dir: string;
  hosts: SshdHost[];
  /** Authorized client key (private; `.pub` next to it). */
  clientKey: string;
  /** A key sshd does not accept. */
  wrongKey: string;
  /** Replace host i's host key with a new one and restart its sshd. */
  regenerateHostKey(i: number): Promise<void>;
  /** SHA256 fingerprint of host i's current host key, as ssh-keygen -l prints it. */
  fingerprint(i: number): string;
  cleanup(): Promise<void>;
}

interface LabRecord {
  owner: number;
  bridge: string;
  namespaces: string[];
  dir: string;
  sshd: { pid: number; config: string }[];
}

function sh(argv: string[], input?: string): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function quiet(argv: string[]): void {
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kill an sshd we started, by pid — only while its command line still names its config file. */
function killSshd(pid: number, config: string): void {
  try {
    // sshd rewrites its title ("sshd: /usr/sbin/sshd -D -e -f <config> [listener] …"): look for the path in the text
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(config)) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Remove everything a record lists. Synchronous so it can run from an exit handler. */
function destroy(rec: LabRecord, recordFile: string): void {
  for (const s of rec.sshd) killSshd(s.pid, s.config);
  for (const ns of rec.namespaces) {
    quiet(['ip', 'netns', 'del', ns]);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  quiet(['ip', 'link', 'del', rec.bridge]);
  if (rec.dir.startsWith(tmpdir())) rmSync(rec.dir, { recursive: true, force: true });
  rmSync(recordFile, { force: true });
}

/** Claim a free subnet octet (cleaning up after crashed runs). */
async function claim(rec: Omit<LabRecord, 'bridge' | 'namespaces'> & { id: string }): Promise<{ octet: number; file: string }> {
  await mkdir(RECORD_DIR, { recursive: true, mode: 0o700 });
  for (const octet of OCTETS) {
    const file = join(RECORD_DIR, `${octet}.json`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(file, 'wx', 0o600);
        await fh.writeFile(JSON.stringify({ owner: process.pid, bridge: `lsb${rec.id}`, namespaces: [], dir: rec.dir, sshd: [] } satisfies LabRecord));
        await fh.close();
        return { octet, file };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let old: LabRecord | null = null;
      try {
        old = JSON.parse(await readFile(file, 'utf8')) as LabRecord;
      } catch {
        old = null;
      }
      if (old && alive(old.owner)) break; // in use: next octet
      if (old) destroy(old, file);
      else await rm(file, { force: true });
    }
  }
  throw new Error(`no free sshd-lab subnet among 198.18.${OCTETS[0]}–${OCTETS[OCTETS.length - 1]}.0/24 (see ${RECORD_DIR})`);
}

function keygen(path: string, comment: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

function sshdConfig(h: { address: string; port: number; hostKey: string; pidFile: string }, authorizedKeys: string, extra: string[]): string {
  return [
    ...extra, // first: sshd keeps the first value it reads for a keyword
    `Port ${h.port}`,
    `ListenAddress ${h.address}`,
    'AddressFamily inet',
    `HostKey ${h.hostKey}`,
    `PidFile ${h.pidFile}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'UseDNS no',
    'MaxStartups 100',
    'MaxSessions 20',
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

export interface SshdLabOptions {
  /** Extra sshd_config lines for host i (0-based), e.g. `SetEnv PATH=…`. */
  extraConfig?: (i: number, dir: string) => string[];
  /**
   * A shell snippet run (as root) in a private mount namespace of host i's sshd before sshd starts, e.g. bind
   * mounts that hide a program from that host's sessions only. Never propagates to this machine.
   */
  setup?: (i: number, dir: string) => string | null;
}

/** Start a lab of `n` sshd hosts named HOST1…HOSTn. */
export async function startSshdLab(n = 4, options: SshdLabOptions = {}): Promise<SshdLab> {
  if (!existsSync('/usr/sbin/sshd')) throw new Error('/usr/sbin/sshd not found: apt-get install -y openssh-server');
  const id = randomBytes(2).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), 'lab-sshd-'));
  const { octet, file: recordFile } = await claim({ id, owner: process.pid, dir, sshd: [] });
  const rec: LabRecord = { owner: process.pid, bridge: `lsb${id}`, namespaces: [], dir, sshd: [] };
  const save = (): void => writeFileSync(recordFile, JSON.stringify(rec));
  const children = new Map<number, ChildProcess>();
  let cleaned = false;
  const onExit = (): void => {
    if (!cleaned) destroy(rec, recordFile);
  };
  process.on('exit', onExit);

  const subnet = `198.18.${octet}.0/24`;
  const gateway = `198.18.${octet}.1`;
  const hosts: (SshdHost & { config: string; setup: string | null })[] = [];
  const authorizedKeys = join(dir, 'authorized_keys');
  const clientKey = join(dir, 'client_ed25519');
  const wrongKey = join(dir, 'wrong_ed25519');

  const startSshd = async (h: SshdHost & { config: string; setup: string | null }): Promise<void> => {
    // `ip netns exec` (and unshare, and sh) exec what follows: the child's pid is sshd's
    const argv = h.setup
      ? ['netns', 'exec', h.ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${h.setup} && exec /usr/sbin/sshd -D -e -f "$1"`, 'sh', h.config]
      : ['netns', 'exec', h.ns, '/usr/sbin/sshd', '-D', '-e', '-f', h.config];
    const child = spawn('ip', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    });
    h.pid = pid;
    children.set(pid, child);
    rec.sshd.push({ pid, config: h.config });
    save();
    const deadline = Date.now() + 5000;
    for (;;) {
      if ((await tcpOpen(h.address, h.port, 300)) === null) return;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd for ${h.name} (${h.ns}) did not start listening on ${h.address}:${h.port}: ${stderr.trim() || `exit ${child.exitCode}`}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stopSshd = async (h: SshdHost & { config: string }): Promise<void> => {
    const child = children.get(h.pid);
    killSshd(h.pid, h.config);
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    children.delete(h.pid);
    rec.sshd = rec.sshd.filter((s) => s.pid !== h.pid);
    save();
  };

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    for (const h of hosts) await stopSshd(h).catch(() => undefined);
    destroy(rec, recordFile);
    cleaned = true;
    process.off('exit', onExit);
  };

  try {
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    keygen(clientKey, 'lab-sshd-lab client');
    keygen(wrongKey, 'lab-sshd-lab not authorized');
    // sshd reads authorized_keys with the login user's rights: let non-root test users reach it (keys stay 0600)
    await chmod(dir, 0o711);
    await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`), { mode: 0o644 });

    save();
    sh(['ip', 'link', 'add', rec.bridge, 'type', 'bridge']);
    sh(['ip', 'addr', 'add', `${gateway}/24`, 'dev', rec.bridge]);
    sh(['ip', 'link', 'set', rec.bridge, 'up']);
    for (let i = 0; i < n; i++) {
      const name = `HOST${i + 1}`;
      const ns = `lsh-${id}-${i + 1}`;
      const veth = `lsv${id}${i + 1}`;
      const address = `198.18.${octet}.${11 + i}`;
      rec.namespaces.push(ns);
      save();
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh(['ip', 'link', 'set', veth, 'master', rec.bridge]);
      sh(['ip', 'link', 'set', veth, 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      await mkdir(`/etc/netns/${ns}`, { recursive: true });
      const hostsFile = `/etc/netns/${ns}/hosts`;
      await writeFile(hostsFile, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n# sshd-lab ${ns}\n`, { mode: 0o644 });
      const hdir = join(dir, name);
      await mkdir(hdir);
      const hostKey = join(hdir, 'ssh_host_ed25519_key');
      keygen(hostKey, `${name} host key`);
      const config = join(hdir, 'sshd_config');
      await writeFile(config, sshdConfig({ address, port: 22, hostKey, pidFile: join(hdir, 'sshd.pid') }, authorizedKeys, options.extraConfig?.(i, dir) ?? []), { mode: 0o600 });
      hosts.push({ name, ns, address, port: 22, hostKey, hostsFile, pid: 0, config, setup: options.setup?.(i, dir) ?? null });
    }
    await Promise.all(hosts.map((h) => startSshd(h)));
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    id,
    subnet,
    gateway,
    dir,
    hosts,
    clientKey,
    wrongKey,
    async regenerateHostKey(i: number): Promise<void> {
      const h = hosts[i]!;
      await stopSshd(h);
      keygen(h.hostKey, `${h.name} host key (regenerated)`);
      await startSshd(h);
    },
    fingerprint(i: number): string {
      const out = sh(['ssh-keygen', '-l', '-E', 'sha256', '-f', `${hosts[i]!.hostKey}.pub`]);
      return out.split(/\s+/)[1]!;
    },
    cleanup,
  };
}
