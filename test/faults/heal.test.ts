/**
 * Heal bookkeeping: a fault is in the ledger (with its heal steps and owner) before the first command that applies
 * it; healed faults leave the ledger; a failed apply heals what it did; a failed heal stays; leftovers are healed
 * when their owner is gone, never while it runs, and held faults only when asked. The provider is a fake that
 * records commands (this is lab's own logic); the signal script runs for real against a child of this test.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { applyFault, healLeftovers, recordedFaults } from '../../lab/faults/apply.js';
import type { FaultContext, FaultRecord } from '../../lab/faults/apply.js';
import { parseSchedule } from '../../lab/faults/schedule.js';
import { signalArgv } from '../../lab/faults/fault-steps.js';
import { hasCode } from '../../lab/errors.js';
import type { ExecResult, Provider } from '../../lab/providers/provider.js';
import { Ledger } from '../../lab/topology/ledger.js';
import { parseInventory } from '../../lab/topology/inventory.js';
import { processIdentity } from '../../lab/topology/proc.js';
import { withTempDir } from '../topology/helpers.js';

const INVENTORY = ['lab: healtest', 'provider: netns', 'subnet: 198.19.250.0/24', 'hosts:', '  HOST1: {}', '  HOST2: {}', '  HOST3: {}', '  HOST4: {}', ''].join('\n');

interface Call {
  host: string;
  argv: string[];
  /** fault:* keys in the ledger when the command ran */
  faults: string[];
}

async function fake(dir: string, answer: (c: Call) => Partial<ExecResult> = () => ({})): Promise<{ ctx: FaultContext; calls: Call[] }> {
  const ledger = await Ledger.open(dir);
  const topology = await parseInventory(INVENTORY, 'inline.yaml');
  const calls: Call[] = [];
  const provider = {
    kind: 'netns',
    topology,
    async exec(host: string, argv: string[]): Promise<ExecResult> {
      const c = { host, argv, faults: ledger.entries().filter((e) => e.kind === 'fault').map((e) => `${e.key}:${e.state}`) };
      calls.push(c);
      return { exitCode: 0, stdout: '', stderr: '', durationMs: 1, ...answer(c) };
    },
  } as unknown as Provider;
  return { ctx: { lab: 'healtest', provider, ledger, topology }, calls };
}

const one = (text: string) => parseSchedule(text)[0]!;

test('a partition is in the ledger before its first rule, and leaves it when healed', () =>
  withTempDir(async (dir) => {
    const { ctx, calls } = await fake(dir);
    const a = await applyFault(ctx, one('partition host3 from HOST1 at 0s for 1s'), { id: 'p1' });
    assert.deepEqual(
      calls.map((c) => [c.host, c.argv.slice(0, 7).join(' '), c.faults.join()]),
      [
        ['HOST3', 'iptables -w -I INPUT -s 198.19.250.11 -m', 'fault:p1:intent'],
        ['HOST3', 'iptables -w -I OUTPUT -d 198.19.250.11 -m', 'fault:p1:intent'],
      ],
    );
    assert.ok(calls.every((c) => c.argv.includes('lab-fault:healtest:p1')));
    assert.equal(ctx.ledger.get('fault:p1')?.state, 'done');
    const rec = recordedFaults(ctx.ledger)[0]!;
    assert.deepEqual(rec.owner, await processIdentity(process.pid));
    assert.equal(a.record.heal.length, 2);
    const { healEntry } = await import('../../lab/faults/apply.js');
    await healEntry(ctx, a.record);
    assert.deepEqual(calls.slice(2).map((c) => c.argv.slice(0, 4).join(' ')), ['iptables -w -D INPUT', 'iptables -w -D OUTPUT']);
    assert.equal(ctx.ledger.get('fault:p1'), undefined);
    // and on disk: a fresh reader sees no fault
    assert.deepEqual(recordedFaults(await Ledger.open(dir)), []);
  }));

test('a failed apply heals what it did and leaves nothing recorded', () =>
  withTempDir(async (dir) => {
    const { ctx, calls } = await fake(dir, (c) => (c.argv.includes('OUTPUT') && c.argv.includes('-I') ? { exitCode: 1, stderr: 'iptables: No chain/target/match by that name.\n' } : {}));
    await assert.rejects(applyFault(ctx, one('partition HOST3 from HOST1 at 0s'), { id: 'p2' }), (err) => hasCode(err, 'E_FAULT'));
    assert.deepEqual(calls.map((c) => `${c.argv[2]} ${c.argv[3]}`), ['-I INPUT', '-I OUTPUT', '-D INPUT', '-D OUTPUT']);
    assert.equal(ctx.ledger.get('fault:p2'), undefined);
  }));

test('a heal that fails keeps the fault in the ledger (lab down tries again)', () =>
  withTempDir(async (dir) => {
    let broken = false;
    const { ctx } = await fake(dir, (c) => (broken && c.argv.includes('-D') ? { exitCode: 4, stderr: 'Another app is currently holding the xtables lock.\n' } : {}));
    const a = await applyFault(ctx, one('partition HOST3 from HOST2 at 0s'), { id: 'p3' });
    broken = true;
    const { healEntry } = await import('../../lab/faults/apply.js');
    await assert.rejects(healEntry(ctx, a.record), (err) => hasCode(err, 'E_FAULT_HEAL') && /xtables lock/.test(err.message));
    assert.equal(ctx.ledger.get('fault:p3')?.state, 'done');
  }));

test("leftovers: a gone owner's faults are healed, a running owner's are not, held ones only when asked", () =>
  withTempDir(async (dir) => {
    const { ctx, calls } = await fake(dir);
    const put = async (id: string, owner: FaultRecord['owner']): Promise<void> => {
      const rec: FaultRecord = { id, kind: 'partition', text: id, mechanism: 'iptables', owner, startedAt: new Date().toISOString(), heal: [{ op: 'exec', host: 'HOST3', argv: ['heal', id], what: id }] };
      await ctx.ledger.record('fault', `fault:${id}`, rec as unknown as Record<string, unknown>);
    };
    const parent = await processIdentity(process.ppid);
    await put('crashed', { pid: 2 ** 22 + 7, startTime: 1 }); // no such pid
    await put('reused', { pid: process.ppid, startTime: parent!.startTime + 1 }); // the pid is another process now
    await put('running', parent); // a lab process that still runs: its own
    await put('held', null);
    const r = await healLeftovers(ctx);
    assert.deepEqual(r.healed.map((f) => f.id).sort(), ['crashed', 'reused']);
    assert.deepEqual(recordedFaults(ctx.ledger).map((f) => f.id), ['running', 'held']);
    const all = await healLeftovers(ctx, { all: true });
    assert.deepEqual(all.healed.map((f) => f.id), ['running', 'held']);
    assert.deepEqual(calls.map((c) => c.argv[1]).sort(), ['crashed', 'held', 'reused', 'running']);
    assert.deepEqual(recordedFaults(ctx.ledger), []);
  }));

test('slow without tc netem is refused, naming why, and nothing stays recorded', () =>
  withTempDir(async (dir) => {
    const { ctx, calls } = await fake(dir, (c) => (c.argv[0] === 'tc' && c.argv[2] === 'add' ? { exitCode: 2, stderr: 'Error: Specified qdisc kind is unknown.\n' } : c.argv[2] === 'del' ? { exitCode: 2, stderr: 'Error: Cannot delete qdisc with handle of zero.\n' } : {}));
    await assert.rejects(applyFault(ctx, one('slow HOST3 by 20ms at 0s for 1s')), (err) => hasCode(err, 'E_FAULT_REFUSED') && err.exitCode === 2 && /no tc netem/.test(err.message) && /add links: proxy to the inventory/.test(err.message));
    assert.deepEqual(calls.map((c) => c.argv.slice(0, 3).join(' ')), ['tc qdisc add', 'tc qdisc del']);
    assert.deepEqual(recordedFaults(ctx.ledger), []);
  }));

test('a target that is not in the lab is refused before anything is recorded', () =>
  withTempDir(async (dir) => {
    const { ctx, calls } = await fake(dir);
    await assert.rejects(applyFault(ctx, one('partition HOST9 from HOST1 at 0s')), (err) => hasCode(err, 'E_FAULT_REFUSED') && /no host HOST9/.test(err.message));
    await assert.rejects(applyFault(ctx, one('pause rabbitmq at 0s')), (err) => hasCode(err, 'E_FAULT_REFUSED') && /no service rabbitmq/.test(err.message));
    assert.equal(calls.length, 0);
    assert.deepEqual(recordedFaults(ctx.ledger), []);
  }));

test('the signal script stops and continues a process whose start time matches, and leaves a mismatch alone', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const id = (await processIdentity(child.pid!))!;
    const run = async (sig: NodeJS.Signals, startTime: number): Promise<string> => {
      const [cmd, ...args] = signalArgv(sig, [{ pid: id.pid, startTime }]);
      return (await promisify(execFile)(cmd!, args)).stdout.trim();
    };
    const state = async (): Promise<string> => (await readFile(`/proc/${id.pid}/stat`, 'utf8')).replace(/.*\) /s, '')[0]!;
    assert.equal(await run('SIGSTOP', id.startTime + 1), `gone ${id.pid}`);
    assert.equal(await state(), 'S');
    assert.equal(await run('SIGSTOP', id.startTime), `sent ${id.pid}`);
    assert.equal(await state(), 'T');
    assert.equal(await run('SIGCONT', id.startTime), `sent ${id.pid}`);
    assert.equal(await state(), 'S');
  } finally {
    child.kill('SIGKILL');
  }
});

test('slow on a links: proxy lab: a rule file for every link proxy, recorded first; healed by removing them', () =>
  withTempDir(async (dir) => {
    const ledger = await Ledger.open(dir);
    const topology = await parseInventory(INVENTORY.replace('hosts:', 'links: proxy\nhosts:'), 'inline.yaml');
    const calls: string[] = [];
    const keys = (): string => ledger.entries().filter((e) => e.kind === 'fault').map((e) => `${e.key}:${e.state}`).join();
    const provider = {
      kind: 'netns',
      host: (h: string) => ({ name: h, workDir: `/w/${h}` }),
      async writeFile(host: string, path: string, content: string): Promise<void> {
        calls.push(`${host} write ${path} ${content.trim()} [${keys()}]`);
      },
      async exec(host: string, argv: string[]): Promise<ExecResult> {
        calls.push(`${host} ${argv.join(' ')} [${keys()}]`);
        return { exitCode: 0, stdout: '', stderr: '', durationMs: 1 };
      },
    } as unknown as Provider;
    const ctx: FaultContext = { lab: 'healtest', provider, ledger, topology };
    const a = await applyFault(ctx, one('slow HOST3 by 100ms rate 8kbit at 0s for 1s'), { id: 's1' });
    assert.equal(a.record.mechanism, 'proxy');
    const rule = '{"id":"s1","address":"198.19.250.13","delayMs":100,"rateBytesPerS":1000}';
    // the link proxies run on the service hosts: RabbitMQ's, Redis's, the quote server's (HOST4, the master)
    assert.deepEqual(calls, ['HOST1', 'HOST2', 'HOST4'].map((h) => `${h} write /w/${h}/link-proxy/rules/s1.json ${rule} [fault:s1:intent]`));
    assert.deepEqual(recordedFaults(ledger).map((f) => f.heal.map((x) => (x.op === 'exec' ? `${x.host} ${x.argv.join(' ')}` : x.op))), [['HOST1', 'HOST2', 'HOST4'].map((h) => `${h} rm -f /w/${h}/link-proxy/rules/s1.json`)]);
    calls.length = 0;
    await healLeftovers(ctx, { all: true });
    assert.deepEqual(calls, ['HOST1', 'HOST2', 'HOST4'].map((h) => `${h} rm -f /w/${h}/link-proxy/rules/s1.json [fault:s1:done]`));
    assert.deepEqual(recordedFaults(ledger), []);
  }));
