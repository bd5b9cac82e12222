/**
 * Process identity: a pid plus its start time (field 22 of /proc/<pid>/stat, clock ticks after boot). A pid
 * alone is not an identity — pids are reused — so the ledger records both and nothing is ever signalled unless
 * both still match.
 */
import { readFile } from 'node:fs/promises';

export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22 (starttime), clock ticks since boot. */
  startTime: number;
}

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  startTime: number;
}

/**
 * Parse the text of /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain spaces
 * and parentheses, so fields are counted from the LAST ')'. Returns null for text that is not a stat line.
 * Usable on text read from a remote host too (`cat /proc/<pid>/stat` over ssh).
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); field n is rest[n - 3]
  const startTime = Number(rest[22 - 3]);
  if (!Number.isInteger(pid) || !Number.isFinite(startTime) || rest.length < 20) return null;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0]!,
    ppid: Number(rest[4 - 3]),
    pgrp: Number(rest[5 - 3]),
    startTime,
  };
}

/** Is /proc usable here (Linux)? */
export async function haveProc(): Promise<boolean> {
  try {
    await readFile('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
}

/** The start time of a live local process, or null when there is no such process (or no /proc). */
export async function processStartTime(pid: number, procRoot = '/proc'): Promise<number | null> {
  try {
    const st = parseProcStat(await readFile(`${procRoot}/${pid}/stat`, 'utf8'));
    return st && st.state !== 'Z' ? st.startTime : null; // a zombie is as good as gone
  } catch {
    return null;
  }
}

/** The identity of a live local process (e.g. right after spawning it), or null. */
export async function processIdentity(pid: number): Promise<ProcessIdentity | null> {
  const startTime = await processStartTime(pid);
  return startTime === null ? null : { pid, startTime };
}

/**
 * same: the recorded process is still running · gone: nothing runs under that pid ·
 * reused: the pid now belongs to another process · unknown: no /proc (not Linux), cannot tell.
 */
export type ProcessCheck = 'same' | 'gone' | 'reused' | 'unknown';

export async function checkProcess(id: ProcessIdentity, procRoot = '/proc'): Promise<ProcessCheck> {
  const now = await processStartTime(id.pid, procRoot);
  if (now !== null) return now === id.startTime ? 'same' : 'reused';
  if (procRoot === '/proc' && !(await haveProc())) return 'unknown';
  return 'gone';
}

/**
 * Signal a recorded process only if it is still the same process. `group`: signal its process group (a process
 * spawned detached leads its own group). Returns what was found; only 'same' means a signal was sent.
 */
export async function signalRecorded(id: ProcessIdentity, signal: NodeJS.Signals = 'SIGTERM', options: { group?: boolean } = {}): Promise<ProcessCheck> {
  const found = await checkProcess(id);
  if (found !== 'same') return found;
  try {
    process.kill(options.group ? -id.pid : id.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
    throw err;
  }
  return 'same';
}

/** Wait until the recorded process is no longer running (gone or pid reused), up to timeoutMs. True if it ended. */
export async function waitGone(id: ProcessIdentity, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await checkProcess(id);
    if (c === 'gone' || c === 'reused') return true;
    if (c === 'unknown' || Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** SIGTERM, wait up to graceMs, then SIGKILL. Never signals a reused pid. Returns the final state. */
export async function stopRecorded(id: ProcessIdentity, graceMs = 5000, options: { group?: boolean } = {}): Promise<ProcessCheck> {
  const first = await signalRecorded(id, 'SIGTERM', options);
  if (first !== 'same') return first;
  if (await waitGone(id, graceMs)) return 'gone';
  const second = await signalRecorded(id, 'SIGKILL', options);
  if (second !== 'same') return second;
  return (await waitGone(id, 2000)) ? 'gone' : 'same';
}
