/**
 * Faults on a netns lab, as root: a small ledger run with acks_late through a SIGKILL of the workers, a partition
 * of HOST3 from HOST1 and a pause of the workers loses nothing, and every fault is healed (no iptables rule, no
 * stopped process, nothing in the ledger); slow links are refused on this lab (no tc netem, no links: proxy); a lab
 * killed with -9 mid-fault leaves its fault applied until the next lab command (`lab status`, `lab run`) heals it;
 * `lab down` leaves nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import type { RunRecord } from '../../lab/report/run-record.js';
import { netnsNames } from '../../lab/providers/netns.js';
import { lab, startLab, waitOutput } from '../support/cli.js';
import { netnsList } from '../support/lab-clean.js';
import { run as sh } from '../support/netns-lab.js';
import { root, serviceBinaries } from '../support/prereq.js';

const LAB = 'e2efaults';
const HOSTS = ['HOST1', 'HOST2', 'HOST3', 'HOST4'];

/** The partition rules lab put in the lab's namespaces (tagged lab-fault:<lab>:<id>). */
async function faultRules(): Promise<string[]> {
  const out: string[] = [];
  for (const h of HOSTS) {
    const ns = netnsNames(LAB, h).namespace;
    const r = await sh(['ip', 'netns', 'exec', ns, 'iptables', '-S']);
    out.push(...r.stdout.split('\n').filter((l) => l.includes(`lab-fault:${LAB}:`)).map((l) => `${h}: ${l}`));
  }
  return out;
}

/** Processes of this lab (started with the test's LAB_HOME in their environment) that are stopped (SIGSTOP). */
async function stoppedProcesses(home: string): Promise<string[]> {
  const mark = Buffer.from(`LAB_HOME=${home}\0`);
  const out: string[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, 'utf8');
      if (stat.replace(/.*\) /s, '')[0] !== 'T') continue;
      const env = await readFile(`/proc/${e}/environ`);
      const cmd = await readFile(`/proc/${e}/cmdline`);
      if (env.includes(mark)) out.push(`${e} ${cmd.toString().split('\0').join(' ')}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('faults on a netns lab: a ledger run loses nothing with acks_late; every fault healed, after a crash of lab too', { timeout: 900_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-faults-'));
  const env = { LAB_HOME: home, LAB_REPORTS_DIR: join(home, 'reports') };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 300_000 });
  t.after(async () => {
    await run(['down', '--lab', LAB]);
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, [`lab: ${LAB}`, 'provider: netns', 'subnet: 198.19.161.0/24', 'hosts:', '  HOST1: {}', '  HOST2: {}', '  HOST3: {}', '  HOST4: {}', ''].join('\n'));
  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);

  // 0. slow on a lab without links: proxy, on a kernel without tc netem: refused (exit 2) naming the setting, nothing recorded
  const slow = await run(['fault', 'slow', 'HOST3', 'by', '20ms', '--for', '1s']);
  assert.equal(slow.code, 2, `${slow.stdout}\n${slow.stderr}`);
  assert.match(slow.stderr, /no tc netem.*add links: proxy to the inventory/);
  assert.deepEqual(JSON.parse((await run(['fault', 'list', '--json'])).stdout), []);

  // 1. kill + partition + pause during a ledger run with acks_late → 0 lost, each fault healed
  const schedule = 'kill workers@HOST3 at 1s; partition HOST3 from HOST1 at 3s for 2s; pause workers@HOST3 at 6s for 1500ms';
  const r = await run(['run', 'ledger', '--tasks', '800', '--rate', '100', '--acks', 'late', '--faults', schedule, '--json']);
  assert.equal(r.code, 0, `${r.stdout.slice(-2000)}\n${r.stderr}`);
  const record = JSON.parse(r.stdout) as RunRecord;
  const out = record.points[0]!.output as { sent: number; done: number; lost: number; duplicated: number; acks: string; where: Record<string, string> };
  assert.equal(record.verified, true);
  assert.equal(out.acks, 'late');
  assert.equal(out.sent, 800);
  assert.equal(out.lost, 0, JSON.stringify(out));
  assert.equal(out.done, 800);
  assert.ok(out.where.HOST3?.startsWith(`/var/lib/lab/${LAB}/HOST3/ledger-`), JSON.stringify(out.where));
  const tl = record.faults!.timeline;
  assert.deepEqual(tl.map((e) => [e.kind, e.error ?? null]), [['kill', null], ['partition', null], ['pause', null]]);
  assert.ok(tl.every((e) => e.healedAt !== null), JSON.stringify(tl));
  assert.ok(typeof tl[0]!.recoveryMs === 'number' && tl[0]!.recoveryMs > 0, `the killed workers came back: ${JSON.stringify(tl[0])}`);
  assert.ok(tl[1]!.applied.some((a) => a.includes('iptables INPUT DROP from 198.19.161.11')));
  assert.equal(record.faults!.windows?.length, 3);
  assert.deepEqual(await faultRules(), []);
  assert.deepEqual(await stoppedProcesses(home), []);
  const listed = await run(['fault', 'list', '--json']);
  assert.deepEqual(JSON.parse(listed.stdout), []);

  // 2. lab run killed with -9 while a partition is applied → the rules stay until the next lab command heals them
  const crashed = startLab(['run', 'ledger', '--tasks', '2000', '--rate', '50', '--faults', 'partition HOST3 from HOST2 at 500ms for 60s'], { env, cwd: home });
  assert.ok(await waitOutput(crashed, /partition HOST3 from HOST2 .*applied/, 60_000), crashed.output());
  crashed.child.kill('SIGKILL');
  await crashed.done;
  assert.equal((await faultRules()).length, 2, 'the crashed run left its partition applied');
  const status = await run(['status']);
  assert.match(status.stderr, /healed fault \w+ \(partition HOST3 from HOST2 at 500ms for 60s\) left by a lab process that is gone/);
  assert.deepEqual(await faultRules(), []);

  // 3. lab fault pause killed with -9 → the workers stay stopped until the next lab command (lab run) heals it
  const paused = startLab(['fault', 'pause', 'workers@HOST3', '--for', '60s'], { env, cwd: home });
  assert.ok(await waitOutput(paused, /SIGSTOP workers/, 60_000), paused.output());
  paused.child.kill('SIGKILL');
  await paused.done;
  assert.ok((await stoppedProcesses(home)).length > 0, 'the crashed lab fault left the workers stopped');
  const after = await run(['run', 'ledger', '--tasks', '50', '--rate', '100', '--json']);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stderr, /healed fault \w+ \(pause workers@HOST3 --for 60s\)/);
  assert.deepEqual(await stoppedProcesses(home), []);
  assert.equal((JSON.parse(after.stdout) as RunRecord).verified, true);

  // 4. a held fault (no --for) is healed by lab down, which then leaves nothing
  const held = await run(['fault', 'partition', 'HOST4', 'from', 'HOST2']);
  assert.equal(held.code, 0, held.stderr);
  assert.equal((await faultRules()).length, 2);
  const down = await run(['down']);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /healed fault \w+ \(partition HOST4 from HOST2\) held since/);
  const ns = netnsList();
  assert.deepEqual(HOSTS.map((h) => netnsNames(LAB, h).namespace).filter((n) => ns.includes(n)), []);
});
