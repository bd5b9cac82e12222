/**
 * What the tests leave behind on this machine. Everything a test creates must be removed, even when it fails; this
 * checks it for the whole run: a snapshot before the tiers, one after, and what appeared in between and is still
 * there — lab's processes, network namespaces and their /etc/netns folders, lab's links (bridges lb…, veths), and
 * containers. A process is lab's when its environment holds a lab token or it works in a lab folder (a rewritten
 * process title can hide the first, not the second: a stray Redis was found that way).
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parseLinks } from '../../lab/providers/netns.js';
import { LAB_TOKEN_ENV, PROCESS_TOKEN_ENV } from '../../lab/providers/provider.js';
import { parseProcStat } from '../../lab/topology/proc.js';

const run = promisify(execFile);

export interface Snapshot {
  /** "<pid>:<start time>" → how to name it. */
  processes: Map<string, string>;
  /** "netns NAME", "/etc/netns/NAME", "link NAME", "container ID NAME" → the same text. */
  things: Set<string>;
}

/** A working directory lab makes: ~/.lab/…, /var/lib/lab/…, a test's temporary lab home. */
const LAB_FOLDER = /(^|\/)(\.lab|var\/lib\/lab)(\/|$)|^\/tmp\/lab-/;
const TOKENS = [`${LAB_TOKEN_ENV}=`, `${PROCESS_TOKEN_ENV}=`];

export interface ProcEntry {
  pid: number;
  comm: string;
  startTime: number;
  /** Its working directory ('' when unreadable). */
  cwd: string;
  /** Its environment, NAME=value each. */
  env: string[];
}

/** Every process of this machine but this one, as /proc shows it now. */
export async function processes(): Promise<ProcEntry[]> {
  const out: ProcEntry[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const [stat, cwd, env] = await Promise.all([
      readFile(`/proc/${e}/stat`, 'utf8').then(parseProcStat, () => null),
      readlink(`/proc/${e}/cwd`).catch(() => ''),
      readFile(`/proc/${e}/environ`, 'latin1').catch(() => ''),
    ]);
    if (stat) out.push({ pid: stat.pid, comm: stat.comm, startTime: stat.startTime, cwd, env: env.split('\0') });
  }
  return out;
}

async function labProcesses(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of await processes()) {
    if (!p.env.some((v) => TOKENS.some((t) => v.startsWith(t))) && !LAB_FOLDER.test(p.cwd)) continue;
    out.set(`${p.pid}:${p.startTime}`, `process ${p.pid} (${p.comm}) in ${p.cwd || '?'}`);
  }
  return out;
}

/** A command's output lines, or none when the command is missing or fails (podman on a machine without it). */
async function lines(cmd: string, args: string[]): Promise<string[]> {
  try {
    const { stdout } = await run(cmd, args, { timeout: 30_000 });
    return stdout.split('\n').filter((l) => l.trim() !== '');
  } catch {
    return [];
  }
}

async function things(): Promise<Set<string>> {
  const [netns, etc, links, containers] = await Promise.all([
    lines('ip', ['netns', 'list']),
    readdir('/etc/netns').catch(() => [] as string[]),
    lines('ip', ['-o', 'link', 'show']),
    lines('podman', ['ps', '-a', '--format', '{{.ID}} {{.Names}}']),
  ]);
  const out = new Set<string>();
  for (const l of netns) out.add(`netns ${l.split(' ')[0]}`);
  for (const d of etc) out.add(`/etc/netns/${d}`);
  // lab's bridges are lb<hash>, its veths named for the lab; podman's own (podman0, veth… of its containers) are
  // podman's, and its containers are checked themselves.
  for (const name of parseLinks(links.join('\n')).keys()) if (/^(lb|lv|lab)/.test(name)) out.add(`link ${name}`);
  for (const c of containers) out.add(`container ${c}`);
  return out;
}

export async function snapshot(): Promise<Snapshot> {
  const [processes, t] = await Promise.all([labProcesses(), things()]);
  return { processes, things: t };
}

/**
 * What appeared since `before` and is still here, checked again for up to `settleMs` (a process a test killed last
 * may take a moment to go).
 */
export async function leftovers(before: Snapshot, settleMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const now = await snapshot();
    const left = [...[...now.processes].filter(([k]) => !before.processes.has(k)).map(([, v]) => v), ...[...now.things].filter((t) => !before.things.has(t))];
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
