/**
 * `lab down --lab NAME --discover --hosts INVENTORY` for an ssh lab whose state (and ledger) is gone: on each of the
 * inventory's hosts, find what the lab made by its lab token (provider.ts labToken: the lab's name and state
 * directory) — never by a name — and remove it:
 *
 *   units      the systemd units of the processes that carry LAB_LAB_TOKEN=<token> (read from their cgroup):
 *              `systemctl stop`, so Restart= does not bring them back
 *   processes  every process whose environment holds LAB_LAB_TOKEN=<token> exactly: SIGTERM, grace, SIGKILL
 *   folders    ~/.lab/<lab>/<HOST> and /var/lib/lab/<lab>/<HOST> — only when its `.lab-token` file holds the token
 *              (a folder another lab of the same name made, or one made before lab wrote the file, stays, reported)
 *
 * The host keys: the lab's known_hosts went with its state, so they are accepted anew (as on a first `lab up`).
 */
import { posix } from 'node:path';
import type { Topology } from '../topology/topology.js';
import { LAB_TOKEN_ENV, labToken } from './provider.js';
import { TOKEN_SCRIPT, parseTokenLeft, parseTokenList, tenths } from './remote-scripts.js';
import { quoteArgv } from './shell-quote.js';
import { SshHosts, firstLine } from './ssh-hosts.js';
import { KnownHosts, knownHostsFile } from './ssh-known-hosts.js';
import { LAB_TOKEN_FILE, homeLabFolder, systemLabFolder } from './ssh-workdir.js';

export interface SshDiscovered {
  /** "HOST3: process 1234 (node …)", "HOST3: unit lab-…", "HOST3: folder …", as found. */
  found: string[];
  /** Folders of the lab's name that are not provably this lab's: left alone. */
  kept: string[];
  failures: string[];
  processes: number;
  units: number;
  folders: number;
}

/** `systemctl` units (lab-*.service) named in /proc/<pid>/cgroup of each pid: one line per unit. */
const UNITS_SCRIPT = 'for p in "$@"; do sed -n "s|.*/\\(lab-[A-Za-z0-9:_.-]*\\.service\\).*|\\1|p" "/proc/$p/cgroup" 2>/dev/null; done | sort -u';

/** `<folder>…`: print `mark <folder> <its .lab-token>` for each folder that exists. */
const MARKS_SCRIPT = `for d in "$@"; do [ -d "$d" ] || continue; printf 'mark %s %s\\n' "$d" "$(cat "$d/${LAB_TOKEN_FILE}" 2>/dev/null)"; done`;

export async function discoverSsh(topology: Topology, stateDir: string, options: { graceMs?: number; remove?: boolean } = {}): Promise<SshDiscovered> {
  const token = labToken(topology.name, stateDir);
  const tag = `${LAB_TOKEN_ENV}=${token}`;
  const hosts = new SshHosts(topology, new KnownHosts(knownHostsFile(stateDir)), {});
  const out: SshDiscovered = { found: [], kept: [], failures: [], processes: 0, units: 0, folders: 0 };
  const grace = tenths(options.graceMs ?? 3000);
  try {
    await Promise.all(
      topology.hosts.map(async (h) => {
        const host = h.name;
        try {
          const prefix = await hosts.rootIfPossible(host);
          const facts = await hosts.hostFacts(host);
          const procs = parseTokenList((await hosts.privileged(host, prefix, TOKEN_SCRIPT, [tag, 'list'])).stdout.toString('utf8'));
          if (procs.length > 0) {
            const units = (await hosts.privileged(host, prefix, UNITS_SCRIPT, procs.map((p) => String(p.pid)))).stdout.toString('utf8').split('\n').filter((u) => u !== '');
            for (const u of units) {
              out.found.push(`${host}: unit ${u}`);
              out.units++;
              const r = await hosts.run(host, quoteArgv([...prefix, 'systemctl', 'stop', '--', u]), { timeoutMs: 60_000 });
              if (r.exitCode !== 0) out.failures.push(`${host}: systemctl stop ${u}: ${firstLine(r.stderr)}`);
              await hosts.run(host, quoteArgv([...prefix, 'systemctl', 'reset-failed', '--', u]));
            }
            for (const p of procs) out.found.push(`${host}: process ${p.pid}`);
            out.processes += procs.length;
            const r = await hosts.privileged(host, prefix, TOKEN_SCRIPT, [tag, 'stop', grace], { timeoutMs: 60_000 });
            const left = parseTokenLeft(r.stdout.toString('utf8'));
            if (r.exitCode !== 0 || left.length > 0) out.failures.push(`${host}: processes ${left.join(', ') || '?'} did not stop${r.exitCode !== 0 ? `: ${firstLine(r.stderr)}` : ''}`);
          }
          const roots = [homeLabFolder(facts, topology.name), systemLabFolder(topology.name)];
          const marks = (await hosts.privileged(host, prefix, MARKS_SCRIPT, roots.map((r) => posix.join(r, host)))).stdout.toString('utf8');
          for (const line of marks.split('\n')) {
            const m = /^mark (\S+) ?(.*)$/.exec(line);
            if (!m) continue;
            const [, dir, mark] = m as unknown as [string, string, string];
            if (mark.trim() !== token) {
              out.kept.push(`${host}: ${dir} (${mark.trim() === '' ? 'no .lab-token in it' : 'made by another lab of this name'}: left alone)`);
              continue;
            }
            out.found.push(`${host}: folder ${dir}`);
            out.folders++;
            const r = await hosts.run(host, quoteArgv([...prefix, 'rm', '-rf', '--', dir]), { timeoutMs: 120_000 });
            if (r.exitCode !== 0) out.failures.push(`${host}: rm -rf ${dir}: ${firstLine(r.stderr)}`);
            // the lab's folder too when nothing else is in it
            await hosts.run(host, quoteArgv([...prefix, 'rmdir', '--', posix.dirname(dir)]));
          }
        } catch (err) {
          out.failures.push(`${host}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );
  } finally {
    await hosts.close();
  }
  return out;
}
