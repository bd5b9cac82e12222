/**
 * `lab down --lab NAME --discover` on this machine: find what a netns lab of that name made by its naming scheme
 * alone — for when its state and ledger are gone (a deleted ~/.lab) — and remove it.
 *
 *   bridge      lb<hash of the lab name>                      (one per lab: exact)
 *   namespaces  lab-<lab>-<host>, accepted only when its eth0's peer is this lab's veth for that host, or it
 *               has no eth0 yet (a lab up killed before its veths) — so lab "book" never takes lab "book-2"'s
 *   veths       this lab's veth of each accepted namespace's host, and every link enslaved to the lab's bridge
 *   processes   every process inside an accepted namespace (`ip netns pids`): what the lab ran there, by where
 *               it runs rather than by a name; SIGTERM, then SIGKILL after a grace period
 *   files       /etc/netns/<namespace> of the accepted namespaces (or with no namespace left), /var/lib/lab/<lab>
 *   iptables    nothing to do: a partition's rules live in the lab's namespaces and go with them
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execLocal } from './local-process.js';
import { NETNS_ETC, NETNS_WORK_BASE, netnsNames, parseLinks } from './netns.js';

export interface Discovered {
  bridge: string | null;
  namespaces: string[];
  links: string[];
  processes: { pid: number; namespace: string; command: string }[];
  files: string[];
}

async function ip(args: string[]): Promise<string> {
  const r = await execLocal('', ['ip', ...args]);
  return r.exitCode === 0 ? r.stdout : '';
}

/** What a netns lab named `lab` left on this machine. Reads only. */
export async function discoverNetns(lab: string): Promise<Discovered> {
  const bridge = netnsNames(lab, '').bridge;
  const links = parseLinks(await ip(['-o', 'link', 'show']));
  const index = new Map<number, string>();
  for (const line of (await ip(['-o', 'link', 'show'])).split('\n')) {
    const m = /^(\d+):\s+([^:@\s]+)/.exec(line);
    if (m) index.set(Number(m[1]), m[2]!);
  }
  const prefix = `lab-${lab}-`;
  const all = (await ip(['netns', 'list'])).split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter((n) => n.startsWith(prefix));
  const namespaces: string[] = [];
  const veths = new Set<string>();
  for (const ns of all) {
    const host = ns.slice(prefix.length);
    const mine = netnsNames(lab, host);
    const eth0 = await ip(['-n', ns, '-o', 'link', 'show', 'dev', 'eth0']);
    const peer = /eth0@if(\d+)/.exec(eth0)?.[1];
    const peerName = peer === undefined ? undefined : index.get(Number(peer));
    // another lab's namespace whose name happens to start the same: its eth0 is not our veth
    if (eth0.trim() !== '' && peerName !== mine.veth) continue;
    if (mine.namespace !== ns && eth0.trim() !== '') continue;
    namespaces.push(ns);
    if (links.has(mine.veth)) veths.add(mine.veth);
  }
  for (const l of links.values()) if (l.master === bridge) veths.add(l.name);
  const processes: Discovered['processes'] = [];
  for (const ns of namespaces) {
    for (const p of (await ip(['netns', 'pids', ns])).split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0)) {
      const cmd = await execLocal('', ['cat', `/proc/${p}/cmdline`]);
      processes.push({ pid: p, namespace: ns, command: cmd.stdout.split('\0').join(' ').trim() });
    }
  }
  const files: string[] = [];
  const etc = existsSync(NETNS_ETC) ? await readdir(NETNS_ETC) : [];
  const present = new Set((await ip(['netns', 'list'])).split('\n').map((l) => l.trim().split(/\s+/)[0]!));
  for (const d of etc) if (d.startsWith(prefix) && (namespaces.includes(d) || !present.has(d))) files.push(join(NETNS_ETC, d));
  const work = join(NETNS_WORK_BASE, lab);
  if (existsSync(work)) files.push(work);
  return { bridge: links.has(bridge) ? bridge : null, namespaces, links: [...veths], processes, files };
}

/** Remove what discoverNetns found: processes first, then links, namespaces, bridge, files. Returns what failed. */
export async function removeDiscovered(d: Discovered, graceMs = 3000): Promise<string[]> {
  const failures: string[] = [];
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const p of d.processes) if (alive(p.pid)) process.kill(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (d.processes.some((p) => alive(p.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const p of d.processes) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  for (const l of d.links) {
    const r = await execLocal('', ['ip', 'link', 'del', 'dev', l]);
    if (r.exitCode !== 0 && !/Cannot find device/.test(r.stderr)) failures.push(`link ${l}: ${r.stderr.trim()}`);
  }
  for (const ns of d.namespaces) {
    const r = await execLocal('', ['ip', 'netns', 'del', ns]);
    if (r.exitCode !== 0 && !/No such file/.test(r.stderr)) failures.push(`namespace ${ns}: ${r.stderr.trim()}`);
  }
  if (d.bridge) {
    const r = await execLocal('', ['ip', 'link', 'del', 'dev', d.bridge]);
    if (r.exitCode !== 0 && !/Cannot find device/.test(r.stderr)) failures.push(`bridge ${d.bridge}: ${r.stderr.trim()}`);
  }
  for (const f of d.files) await rm(f, { recursive: true, force: true }).catch((err: unknown) => failures.push(`${f}: ${String(err)}`));
  return failures;
}
