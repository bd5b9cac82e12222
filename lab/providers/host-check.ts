/**
 * Everything `lab up` again and `lab status` check on one host — its processes (pid + start time), its supervisors'
 * status files, its name lookups — in ONE command through the provider (HOST_CHECK_SCRIPT), the hosts all at once:
 * a round trip per host instead of one per process, file and lookup (on ssh each is a channel; on netns a spawn).
 * Answers the script cannot give (a systemd unit, or a host where the script did not run) come from the provider's
 * own calls, so nothing is checked less than before.
 */
import { randomBytes } from 'node:crypto';
import { HOST_CHECK_SCRIPT, parseHostCheck, procKey } from './remote-scripts.js';
import type { HostCheckOutput } from './remote-scripts.js';
import type { ProcessRef, Provider } from './provider.js';

export interface HostCheckRequest {
  /** Processes to check (a unit's ref is asked of the provider: its main pid changes with every restart). */
  processes?: readonly ProcessRef[];
  /** Files to read (their last `tailBytes`), e.g. supervisors' status files. */
  files?: readonly string[];
  /** Names to resolve on the host (`getent hosts`, all in one). */
  resolve?: readonly string[];
  /** Default 1 MiB (a supervisor's status file with its restart history). */
  tailBytes?: number;
  timeoutMs?: number;
}

export interface HostCheck {
  host: string;
  /** The host ran the check (the same test as `lab status`'s `true`). */
  reachable: boolean;
  /** "reachable", or why not. */
  detail: string;
  /** Whether the recorded process still runs (asked in the request). */
  alive(ref: ProcessRef): Promise<boolean>;
  /** A requested file's last bytes as text without trailing whitespace ('' when not there). */
  file(path: string): Promise<string>;
  /** The `getent hosts` lookup of the requested names, when asked. */
  getent: { exitCode: number; output: string } | null;
}

/** Check one host in one round trip. Never throws for an unreachable host: `reachable` says so. */
export async function checkHost(provider: Provider, host: string, req: HostCheckRequest): Promise<HostCheck> {
  const tailBytes = req.tailBytes ?? 1 << 20;
  const plain = (req.processes ?? []).filter((r) => !r.unit);
  const marker = `--lab-end-${randomBytes(8).toString('hex')}--`;
  const items = [...plain.map((r) => `p:${r.pid}:${r.startTime}`), ...(req.files ?? []).map((f) => `f:${f}`), ...(req.resolve ?? []).map((n) => `h:${n}`)];
  let out: HostCheckOutput | null = null;
  let detail = 'reachable';
  try {
    const r = await provider.exec(host, ['sh', '-c', HOST_CHECK_SCRIPT, 'lab-check', marker, String(tailBytes), ...items], req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {});
    const parsed = parseHostCheck(r.stdout, marker);
    if (r.exitCode === 0 && parsed.reachable) out = parsed;
    else detail = `exit ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`;
  } catch (err) {
    detail = err instanceof Error ? err.message : String(err);
  }
  const got = out;
  return {
    host,
    reachable: got !== null,
    detail,
    getent: got?.getent ?? null,
    // what the script did not answer (a unit, an unreachable host, a ref not asked) is the provider's to say
    alive: async (ref) => {
      const v = !ref.unit ? got?.procs.get(procKey(ref.pid, ref.startTime)) : undefined;
      return v !== undefined ? v === 'same' : provider.alive(ref).catch(() => false);
    },
    file: async (path) => {
      const v = got?.files.get(path);
      if (v !== undefined) return v;
      return (await provider.readFile(host, path, { tailBytes }).catch(() => Buffer.alloc(0))).toString('utf8');
    },
  };
}

/** checkHost on every host at once; the result by host name. */
export async function checkHosts(provider: Provider, requests: ReadonlyMap<string, HostCheckRequest>): Promise<Map<string, HostCheck>> {
  const done = await Promise.all([...requests].map(([host, req]) => checkHost(provider, host, req)));
  return new Map(done.map((c) => [c.host, c]));
}
