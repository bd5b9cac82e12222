/**
 * Before a peer implementation starts anything: every host that will run one of its programs (the master for the
 * driver, the workers hosts, the broker host for Pyro's name server) must have the interpreter and the packages.
 * One check per host (`python3 -c …` importing them all), which also says their versions — they go into the run
 * record's fingerprint. What is missing is said in one line: each host and package, and the install line.
 */
import { LabError, hasCode } from '../errors.js';
import type { PeerName } from './implementations.js';
import { packagesOf } from './implementations.js';

/** Imports each module named on the command line; prints {"versions": {...}, "missing": [[module, why], ...]}. */
const CHECK = [
  'import importlib, json, platform, sys',
  "out = {'python': platform.python_version()}",
  'missing = []',
  'for m in sys.argv[1:]:',
  '    try:',
  '        out[m] = str(getattr(importlib.import_module(m), "__version__", "?"))',
  '    except Exception as e:',
  "        missing.append([m, f'{type(e).__name__}: {e}'])",
  "print(json.dumps({'versions': out, 'missing': missing}))",
].join('\n');

export interface PreflightHost {
  host: string;
  impls: PeerName[];
}

export type Exec = (host: string, argv: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

interface Missing {
  host: string;
  what: string;
  debian: string[];
}

function parseCheck(stdout: string): { versions: Record<string, string>; missing: [string, string][] } | null {
  try {
    const v = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { versions?: Record<string, string>; missing?: [string, string][] };
    return v.versions && Array.isArray(v.missing) ? { versions: v.versions, missing: v.missing } : null;
  } catch {
    return null;
  }
}

/** Check every host; resolves with host → versions (python, celery, …), or throws E_PEER_MISSING naming all that lacks. */
export async function preflightPeers(targets: readonly PreflightHost[], python: string, exec: Exec, label: string): Promise<Record<string, Record<string, string>>> {
  const versions: Record<string, Record<string, string>> = {};
  const missing: Missing[] = [];
  await Promise.all(
    targets.map(async ({ host, impls }) => {
      const pkgs = packagesOf(impls);
      let r;
      try {
        r = await exec(host, [python, '-c', CHECK, ...pkgs.map((p) => p.module)]);
      } catch (err) {
        if (hasCode(err, 'E_COMMAND_NOT_FOUND')) {
          missing.push({ host, what: `${python} not found`, debian: ['python3', ...pkgs.map((p) => p.debian)] });
          return;
        }
        throw err;
      }
      const parsed = parseCheck(r.stdout);
      if (r.exitCode !== 0 || !parsed) {
        const why = (r.stderr.trim().split('\n').pop() ?? '').trim() || `exit ${r.exitCode}`;
        missing.push({ host, what: r.exitCode === 127 ? `${python} not found` : `${python} does not run (${why})`, debian: ['python3', ...pkgs.map((p) => p.debian)] });
        return;
      }
      versions[host] = parsed.versions;
      for (const [module, why] of parsed.missing) {
        const debian = pkgs.find((p) => p.module === module)?.debian ?? module;
        missing.push({ host, what: `${debian} (import ${module}: ${why.split('\n')[0]})`, debian: [debian] });
      }
    }),
  );
  if (missing.length === 0) return versions;
  missing.sort((a, b) => a.host.localeCompare(b.host));
  const byHost = new Map<string, string[]>();
  for (const m of missing) byHost.set(m.host, [...(byHost.get(m.host) ?? []), m.what]);
  const hosts = [...byHost.keys()];
  const install = [...new Set(missing.flatMap((m) => m.debian))];
  const where = [...byHost].map(([h, w]) => `on ${h}: ${w.join(', ')}`).join('; ');
  const custom = python !== '/usr/bin/python3' ? ` (or point LAB_PYTHON at an interpreter that has them; it is ${python})` : '';
  throw new LabError('E_PEER_MISSING', `${label}: missing ${where} — install with: apt-get install -y ${install.join(' ')} (on ${hosts.join(', ')})${custom}; nothing was started`, { exitCode: 2 });
}
