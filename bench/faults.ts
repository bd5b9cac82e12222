/**
 * The faults benchmark (issue 12, "Done when"), in one run on a netns lab, as root: the ledger scenario — --tasks
 * tasks at --rate per second, each execution recorded on the workers host — with acks_late and with early acks,
 * through each fault: one worker SIGKILLed, RabbitMQ killed (its supervisor restarts it), Redis killed, HOST3
 * partitioned from HOST1 for 10 s, the workers paused 5 s. Per run: sent, lost, duplicated, late, the time to
 * recover, the guarantee's verdict, and whether everything was healed (no lab-fault iptables rule, no stopped
 * process of the lab, no fault in its ledger). Then a run stopped with Ctrl-C and one killed with -9 mid-fault,
 * each followed by a lab command, healed the same way.
 *
 * Expected: acks_late → 0 lost (duplicates counted); early acks → lost ≤ the tasks running at the kill (the
 * workers' concurrency: a pool slot acks a task as it takes it, the prefetched rest go back to the queue).
 *
 * Usage: sudo node dist/bench/faults.js [--tasks 10000] [--rate 250] [--work 2] [--only late|early]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunRecord } from '../lab/report/run-record.js';
import { netnsNames } from '../lab/providers/netns.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/lab.js');
const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const TASKS = Number(arg('--tasks', '10000'));
const RATE = Number(arg('--rate', '250'));
const WORK = Number(arg('--work', '2'));
const ONLY = arg('--only', '');
const LAB = 'benchfaults';
const CONCURRENCY = 2;
const home = mkdtempSync(join(tmpdir(), 'lab-bench-faults-'));
const inventory = join(home, 'hosts.yaml');
writeFileSync(inventory, [`lab: ${LAB}`, 'provider: netns', 'subnet: 198.18.231.0/24', 'hosts:', '  HOST1:', '  HOST2:', `  HOST3: { concurrency: ${CONCURRENCY}, pool: prefork }`, '  HOST4:', ''].join('\n'));
const env = { ...process.env, LAB_HOME: home, LAB_REPORTS_DIR: join(home, 'reports') };

function lab(args: string[]): { stdout: string; stderr: string; code: number | null } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: home, encoding: 'utf8', env, maxBuffer: 256 * 1024 * 1024 });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

/** What a fault may have left: lab-fault iptables rules in the lab's namespaces, stopped processes of the lab, faults in its ledger. */
function leftovers(): string[] {
  const out: string[] = [];
  for (const h of ['HOST1', 'HOST2', 'HOST3', 'HOST4']) {
    const r = spawnSync('ip', ['netns', 'exec', netnsNames(LAB, h).namespace, 'iptables', '-S'], { encoding: 'utf8' });
    out.push(...r.stdout.split('\n').filter((l) => l.includes('lab-fault:')).map((l) => `${h} ${l}`));
  }
  const mark = Buffer.from(`LAB_HOME=${home}\0`);
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/stat`, 'utf8').replace(/.*\) /s, '')[0] === 'T' && readFileSync(`/proc/${e}/environ`).includes(mark)) out.push(`stopped process ${e}`);
    } catch {
      // gone
    }
  }
  const listed = JSON.parse(lab(['fault', 'list', '--json']).stdout || '[]') as unknown[];
  if (listed.length > 0) out.push(`${listed.length} fault(s) in the ledger`);
  return out;
}

const FAULTS: [string, string][] = [
  ['one worker SIGKILLed', 'kill workers@HOST3 at 5s'],
  ['RabbitMQ killed (-9), restarted by its supervisor', 'kill rabbitmq at 5s'],
  ['Redis killed (-9), restarted by its supervisor', 'kill redis at 5s'],
  ['HOST3 partitioned from HOST1 for 10 s', 'partition HOST3 from HOST1 at 5s for 10s'],
  ['workers paused 5 s', 'pause workers@HOST3 at 5s for 5s'],
];

interface Row {
  acks: string;
  fault: string;
  sent: number;
  refused: number;
  lost: number;
  duplicated: number;
  late: number;
  recoveryMs: number | null;
  verdict: string;
  healed: string;
  seconds: number;
}

const rows: Row[] = [];
const notes: string[] = [];
let failed = false;
const started = Date.now();
try {
  const up = lab(['up', '--hosts', inventory]);
  if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}`);
  for (const acks of ['late', 'early'].filter((a) => ONLY === '' || a === ONLY)) {
    for (const [what, schedule] of FAULTS) {
      const t0 = Date.now();
      const r = lab(['run', 'ledger', '--tasks', String(TASKS), '--rate', String(RATE), '--work', String(WORK), '--acks', acks, '--timeout', '600', '--faults', schedule, '--json']);
      let rec: RunRecord;
      try {
        rec = JSON.parse(r.stdout) as RunRecord;
      } catch {
        throw new Error(`lab run (${acks}, ${schedule}) printed no record (exit ${r.code}): ${r.stderr.slice(-2000)}`);
      }
      const o = rec.points[0]!.output as { sent: number; refused: number; lost: number; duplicated: number; late: number };
      const ev = rec.faults?.timeline[0];
      const left = leftovers();
      const ok = acks === 'late' ? o.lost === 0 : o.lost <= CONCURRENCY && o.duplicated === 0;
      if (!ok || left.length > 0 || ev?.error) failed = true;
      rows.push({
        acks,
        fault: what,
        sent: o.sent,
        refused: o.refused,
        lost: o.lost,
        duplicated: o.duplicated,
        late: o.late,
        recoveryMs: ev?.recoveryMs ?? (ev?.healedAt && ev.endMs !== null ? ev.endMs - ev.startMs : null),
        verdict: `${rec.verified ? 'held' : 'BROKEN'}${ev?.error ? ` (fault: ${ev.error})` : ''}`,
        healed: left.length === 0 ? 'yes' : left.join('; '),
        seconds: (Date.now() - t0) / 1000,
      });
      process.stderr.write(`bench: ${acks} / ${what}: sent ${o.sent}, lost ${o.lost}, duplicated ${o.duplicated}, recovered ${rows.at(-1)!.recoveryMs} ms, healed ${rows.at(-1)!.healed}\n`);
    }
  }
  // Ctrl-C mid-partition, then a lab command: healed
  {
    const child = spawn(process.execPath, [BIN, 'run', 'ledger', '--tasks', '3000', '--rate', '100', '--faults', 'partition HOST3 from HOST1 at 1s for 60s'], { cwd: home, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (/partition .* applied/.test(err)) {
          clearInterval(t);
          resolve();
        }
      }, 100);
    });
    const during = leftovers().filter((l) => l.includes('lab-fault')).length;
    child.kill('SIGINT');
    await new Promise((r) => child.on('close', r));
    const left = leftovers();
    notes.push(`Ctrl-C during a 60 s partition: ${during} rules while applied; after the run stopped: ${left.length === 0 ? 'nothing left' : left.join('; ')}`);
    if (left.length > 0) failed = true;
  }
  // kill -9 of lab mid-pause, then lab status: healed
  {
    const child = spawn(process.execPath, [BIN, 'run', 'ledger', '--tasks', '3000', '--rate', '100', '--faults', 'pause workers@HOST3 at 1s for 60s'], { cwd: home, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (/pause .* applied/.test(err)) {
          clearInterval(t);
          resolve();
        }
      }, 100);
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const stopped = leftovers().filter((l) => l.startsWith('stopped')).length;
    const st = lab(['status']);
    const left = leftovers();
    notes.push(`kill -9 of lab run during a 60 s pause: ${stopped} processes left stopped; after \`lab status\` (${/healed fault/.test(st.stderr) ? 'which said it healed the fault' : 'which said nothing'}): ${left.length === 0 ? 'nothing left' : left.join('; ')}`);
    if (left.length > 0 || stopped === 0) failed = true;
  }
} finally {
  const down = lab(['down']);
  if (down.code !== 0) process.stderr.write(`lab down: ${down.stderr}\n`);
  rmSync(home, { recursive: true, force: true });
}

const fmt = (ms: number | null): string => (ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`);
const lines = [
  `## Faults on a netns lab — ledger scenario, ${TASKS.toLocaleString('en')} tasks at ${RATE}/s, ${WORK} ms each, workers prefork × ${CONCURRENCY} on HOST3`,
  '',
  `load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')} (a shared machine); ${((Date.now() - started) / 60000).toFixed(1)} min in all`,
  '',
  '| acks | fault | sent | refused at send | lost | duplicated | late (> 2 s) | time to recover / fault lasted | guarantee | healed | run |',
  '|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|',
  ...rows.map((r) => `| ${r.acks} | ${r.fault} | ${r.sent} | ${r.refused} | ${r.lost} | ${r.duplicated} | ${r.late} | ${fmt(r.recoveryMs)} | ${r.verdict} | ${r.healed} | ${r.seconds.toFixed(0)} s |`),
  '',
  `Expected: acks late → 0 lost; early acks → lost ≤ ${CONCURRENCY} (the tasks running at the kill) and 0 duplicated.`,
  ...notes.map((n) => `- ${n}`),
  '',
];
process.stdout.write(lines.join('\n'));
process.exitCode = failed ? 1 : 0;
