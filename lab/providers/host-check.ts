/**
 * Everything `lab up` again and `lab status` check on one host — its processes (pid + start time), its supervisors'
 * status files, its name lookups — in ONE command through the provider (HOST_CHECK_SCRIPT), the hosts all at once:
 * a round trip per host instead of one per process, file and lookup (on ssh each is a channel; on netns a spawn).
 * On netns all hosts' commands leave in one spawn (`execEach`), and where the hosts' processes and files are this
 * machine's (`localFiles`: local, netns) the provider reads them directly — the command then only proves the host
 * runs commands, or is getent itself when names are to be resolved. Answers the script cannot give (a systemd unit,
 * or a host where the script did not run) come from the provider's own calls, so nothing is checked less than before.
 */
import { randomBytes } from 'node:crypto';
import { HOST_CHECK_SCRIPT, parseHostCheck, procKey } from './remote-scripts.js';
import type { HostCheckOutput } from './remote-scripts.js';
import type { ExecResult, ProcessRef, Provider } from './provider.js';

const DEFAULT_TAIL = 1 << 20;

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

/** The one command a host's check runs, and how its answer is read. */
function checkCommand(provider: Provider, req: HostCheckRequest): { argv: string[]; read: (r: ExecResult) => HostCheckOutput | null } {
  if (provider.localFiles && req.resolve?.length) {
    // Only the lookup is the host's to do here, so it runs getent itself — no shell around it, one process start
    // fewer per host (~4 ms of CPU each on a small VM, 12 of them on every 12-host `lab up`). getent exits 0 when
    // every name resolved, 2 when one did not: either way the host ran it.
    return {
      argv: ['getent', 'hosts', ...req.resolve],
      read: (r) => (r.exitCode === 0 || r.exitCode === 2 ? { reachable: true, procs: new Map(), files: new Map(), getent: { exitCode: r.exitCode, output: `${r.stdout}${r.stderr}`.trimEnd() } } : null),
    };
  }
  const tailBytes = req.tailBytes ?? DEFAULT_TAIL;
  // where the provider reads processes and files itself (this machine's), the command only proves the host runs
  // commands (and resolves names): each file asked there was a `tail` forked inside the host
  const plain = provider.localFiles ? [] : (req.processes ?? []).filter((r) => !r.unit);
  const files = provider.localFiles ? [] : (req.files ?? []);
  const marker = `--lab-end-${randomBytes(8).toString('hex')}--`;
  const items = [...plain.map((r) => `p:${r.pid}:${r.startTime}`), ...files.map((f) => `f:${f}`), ...(req.resolve ?? []).map((n) => `h:${n}`)];
  return {
    argv: ['sh', '-c', HOST_CHECK_SCRIPT, 'lab-check', marker, String(tailBytes), ...items],
    read: (r) => {
      const parsed = parseHostCheck(r.stdout, marker);
      return r.exitCode === 0 && parsed.reachable ? parsed : null;
    },
  };
}

function failure(r: ExecResult | Error): string {
  if (r instanceof Error) return r.message;
  return `exit ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`;
}

/** A host's answers; what the script did not give (a unit, an unreachable host, a ref not asked) is the provider's to say. */
function hostCheck(provider: Provider, host: string, req: HostCheckRequest, got: HostCheckOutput | null, detail: string): HostCheck {
  const tailBytes = req.tailBytes ?? DEFAULT_TAIL;
  return {
    host,
    reachable: got !== null,
    detail,
    getent: got?.getent ?? null,
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

/** Check one host in one round trip. Never throws for an unreachable host: `reachable` says so. */
export async function checkHost(provider: Provider, host: string, req: HostCheckRequest): Promise<HostCheck> {
  const cmd = checkCommand(provider, req);
  let r: ExecResult | Error;
  try {
    r = await provider.exec(host, cmd.argv, req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {});
  } catch (err) {
    r = err instanceof Error ? err : new Error(String(err));
  }
  const got = r instanceof Error ? null : cmd.read(r);
  return hostCheck(provider, host, req, got, got ? 'reachable' : failure(r));
}

/**
 * checkHost on every host at once; the result by host name. A provider that can run them all in one go
 * (`execEach`: netns, one spawn) does; the timeout is then the largest asked.
 */
export async function checkHosts(provider: Provider, requests: ReadonlyMap<string, HostCheckRequest>): Promise<Map<string, HostCheck>> {
  if (!provider.execEach || requests.size < 2) {
    const done = await Promise.all([...requests].map(([host, req]) => checkHost(provider, host, req)));
    return new Map(done.map((c) => [c.host, c]));
  }
  const entries = [...requests].map(([host, req]) => ({ host, req, cmd: checkCommand(provider, req) }));
  const timeouts = entries.map((e) => e.req.timeoutMs).filter((t): t is number => t !== undefined);
  let results: (ExecResult | Error)[];
  try {
    results = await provider.execEach(entries.map((e) => ({ host: e.host, argv: e.cmd.argv })), timeouts.length ? { timeoutMs: Math.max(...timeouts) } : {});
  } catch (err) {
    results = entries.map(() => (err instanceof Error ? err : new Error(String(err))));
  }
  return new Map(
    entries.map((e, i) => {
      const r = results[i] ?? new Error('no answer');
      const got = r instanceof Error ? null : e.cmd.read(r);
      return [e.host, hostCheck(provider, e.host, e.req, got, got ? 'reachable' : failure(r))];
    }),
  );
}
