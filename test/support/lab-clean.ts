/** What a lab leaves on this machine, to check that `lab down` removed all of it. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Pids of processes whose environment names this lab home (LAB_HOME=…) — every process lab up started has it. */
export function processesWithEnv(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`);
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (env.includes(needle)) out.push(Number(entry));
    } catch {
      // gone or unreadable
    }
  }
  return out;
}

export function netnsList(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter(Boolean);
  } catch {
    return [];
  }
}

export function linkNames(): string[] {
  try {
    return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
      .filter(Boolean);
  } catch {
    return [];
  }
}

export function etcNetns(): string[] {
  return existsSync('/etc/netns') ? readdirSync('/etc/netns') : [];
}
