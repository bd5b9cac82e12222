/**
 * Helpers for the netns provider's e2e tests: a four-host inventory on a chosen subnet, a check that a lab left
 * nothing behind, and a last-resort cleanup that deletes only the names derived for the test's own lab.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { netnsNames } from '../../lab/providers/netns.js';
import type { Topology } from '../../lab/topology/topology.js';

/** Put into the environment of everything a test starts for its lab, so leftovers can be found by exactly this. */
export const TEST_MARK_ENV = 'LAB_TEST_NETNS_LAB';

export function inventoryText(lab: string, subnet: string): string {
  return [`lab: ${lab}`, 'provider: netns', `subnet: ${subnet}`, 'hosts:', '  HOST1: {}', '  HOST2: {}', '  HOST3: {}', '  HOST4: {}', ''].join('\n');
}

export function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface LabNames {
  bridge: string;
  namespaces: string[];
  veths: string[];
}

export function labNames(t: Topology): LabNames {
  const all = t.hosts.map((h) => netnsNames(t.name, h.name));
  return { bridge: all[0]!.bridge, namespaces: all.map((n) => n.namespace), veths: all.map((n) => n.veth) };
}

/** Pids of processes whose environment carries `${TEST_MARK_ENV}=<lab>`, or whose command line names one of the lab's interfaces or namespaces. */
export async function labProcesses(t: Topology): Promise<number[]> {
  const n = labNames(t);
  const mark = Buffer.from(`${TEST_MARK_ENV}=${t.name}\0`);
  const words = new Set([n.bridge, ...n.namespaces, ...n.veths]);
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z /s.test(stat)) continue; // zombies are gone already
      const env = await readFile(`/proc/${e}/environ`);
      const cmd = (await readFile(`/proc/${e}/cmdline`, 'utf8')).split('\0');
      if (env.includes(mark) || cmd.some((w) => words.has(w))) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Everything of the lab still on the machine, as readable strings ([] = clean). */
export async function leftovers(t: Topology, stateDir: string): Promise<string[]> {
  const n = labNames(t);
  const found: string[] = [];
  const ns = (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]);
  for (const name of n.namespaces) if (ns.includes(name)) found.push(`namespace ${name}`);
  const links = (await run(['ip', '-o', 'link', 'show'])).stdout.split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]);
  for (const name of [n.bridge, ...n.veths]) if (links.includes(name)) found.push(`link ${name}`);
  for (const name of n.namespaces) if (existsSync(`/etc/netns/${name}`)) found.push(`/etc/netns/${name}`);
  if (existsSync(join(stateDir, 'hosts'))) found.push(join(stateDir, 'hosts'));
  for (const pid of await labProcesses(t)) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    found.push(`process ${pid} ${cmd.split('\0').join(' ').trim()}`);
  }
  return found;
}

/** Last resort: delete only what carries this lab's derived names or test mark. Returns what it had to remove. */
export async function forceClean(t: Topology, stateDir: string | null): Promise<string[]> {
  const n = labNames(t);
  const removed: string[] = [];
  for (const pid of await labProcesses(t)) {
    try {
      process.kill(pid, 'SIGKILL');
      removed.push(`process ${pid}`);
    } catch {
      // gone
    }
  }
  for (const name of n.veths) if ((await run(['ip', 'link', 'del', 'dev', name])).code === 0) removed.push(`link ${name}`);
  for (const name of n.namespaces) if ((await run(['ip', 'netns', 'del', name])).code === 0) removed.push(`namespace ${name}`);
  if ((await run(['ip', 'link', 'del', 'dev', n.bridge])).code === 0) removed.push(`link ${n.bridge}`);
  for (const name of n.namespaces) {
    if (existsSync(`/etc/netns/${name}`)) {
      await rm(`/etc/netns/${name}`, { recursive: true, force: true });
      removed.push(`/etc/netns/${name}`);
    }
  }
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  return removed;
}
