/** What benchmarks read about their processes from /proc: a process tree, its memory, its CPU time. Linux only. */
import { readdirSync, readFileSync } from 'node:fs';

/** Every process below `pid` (children, their children…). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (new RegExp(`^PPid:\\s+${pid}$`, 'm').test(readFileSync(`/proc/${e}/status`, 'utf8'))) out.push(Number(e), ...descendants(Number(e)));
    } catch {
      // gone
    }
  }
  return out;
}

function statusKb(pid: number, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0; // gone
  }
}

/**
 * RSS (as ps shows it) and PSS (shared pages split among the processes sharing them), summed over the tree, in MB;
 * and each process's RSS with its anonymous part (heap, stacks: what its own code allocated) — the rest of an RSS is
 * mapped files, mostly the node binary's own code and data, which every node process counts in full.
 */
export function memoryOf(pid: number): { rssMb: number; pssMb: number; processes: number; rssEachMb: number[]; anonEachMb: number[] } {
  let pss = 0;
  const rssEachMb: number[] = [];
  const anonEachMb: number[] = [];
  const pids = [pid, ...descendants(pid)];
  for (const p of pids) {
    rssEachMb.push(statusKb(p, 'VmRSS') / 1024);
    anonEachMb.push(statusKb(p, 'RssAnon') / 1024);
    try {
      pss += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { rssMb: rssEachMb.reduce((a, b) => a + b, 0), pssMb: pss / 1024, processes: pids.length, rssEachMb, anonEachMb };
}

/** Peak RSS (VmHWM) of each process of the tree, summed, in MB: what the tree held at most (not at the same moment). */
export function peakRssOf(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, p) => sum + statusKb(p, 'VmHWM'), 0) / 1024;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time (user + system, ms) the tree's live processes have used so far. */
export function cpuMsOf(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      // Fields after the command name (which may hold spaces): state is field 3; utime 14, stime 15.
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return ticks * TICK_MS;
}
