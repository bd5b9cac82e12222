/**
 * Unit (no servers): the batched per-host check behind `lab up` again and `lab status` — HOST_CHECK_SCRIPT run by
 * this machine's sh against its own /proc, its parser, and checkHost/checkHosts through a fake provider that
 * counts round trips (one per host) and answers what the script could not (units, unreachable hosts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { checkHost, checkHosts } from '../../lab/providers/host-check.js';
import type { HostCheckRequest } from '../../lab/providers/host-check.js';
import type { ExecResult, ProcessRef, Provider } from '../../lab/providers/provider.js';
import { HOST_CHECK_SCRIPT, parseHostCheck, procKey } from '../../lab/providers/remote-scripts.js';
import { parseProcStat } from '../../lab/topology/proc.js';
import { hostCheckRequests } from '../../lab/orchestrator/host-checks.js';
import { Ledger } from '../../lab/topology/ledger.js';
import type { Topology } from '../../lab/topology/topology.js';
import { supervisionOf } from '../../lab/services/supervision.js';

const run = promisify(execFile);

async function myStart(): Promise<number> {
  return parseProcStat(await readFile(`/proc/${process.pid}/stat`, 'utf8'))!.startTime;
}

const ref = (pid: number, startTime: number, extra: Partial<ProcessRef> = {}): ProcessRef => ({ key: `proc:H:${pid}`, host: 'H1', pid, startTime, logFile: '', command: [], ...extra });

/** A provider whose exec runs the command here (sh), counting calls per host; `down` hosts fail to exec. */
function fakeProvider(down: string[] = []): { provider: Provider; execs: Map<string, number>; alives: string[]; reads: string[] } {
  const execs = new Map<string, number>();
  const alives: string[] = [];
  const reads: string[] = [];
  const provider = {
    kind: 'local',
    async exec(host: string, argv: string[]): Promise<ExecResult> {
      execs.set(host, (execs.get(host) ?? 0) + 1);
      if (down.includes(host)) throw new Error(`namespace of ${host} does not exist`);
      const r = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      return { exitCode: 0, stdout: r.stdout, stderr: r.stderr, durationMs: 0 };
    },
    async alive(r: ProcessRef): Promise<boolean> {
      alives.push(r.unit ?? String(r.pid));
      return r.unit === 'up.service';
    },
    async readFile(_host: string, path: string): Promise<Buffer> {
      reads.push(path);
      return Buffer.from('{"from":"provider"}');
    },
  } as unknown as Provider;
  return { provider, execs, alives, reads };
}

test('HOST_CHECK_SCRIPT: same / reused / gone by pid and start time, files (a missing one too), one getent for all names', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lab-host-check-'));
  try {
    const start = await myStart();
    await writeFile(join(dir, 'status.json'), '{"state":"ready"}\n\nline after a blank\n');
    const items = [`p:${process.pid}:${start}`, `p:${process.pid}:${start + 1}`, 'p:4194304:7', `f:${join(dir, 'status.json')}`, `f:${join(dir, 'none.json')}`, 'h:localhost'];
    const { stdout } = await run('sh', ['-c', HOST_CHECK_SCRIPT, 'x', '--m--', '4096', ...items], { encoding: 'utf8' });
    const out = parseHostCheck(stdout, '--m--');
    assert.equal(out.reachable, true);
    assert.equal(out.procs.get(procKey(process.pid, start)), 'same');
    assert.equal(out.procs.get(procKey(process.pid, start + 1)), 'reused', 'a pid with another start time is another process');
    assert.equal(out.procs.get(procKey(4194304, 7)), 'gone');
    assert.equal(out.files.get(join(dir, 'status.json')), '{"state":"ready"}\n\nline after a blank', 'blank lines inside a file do not end it');
    assert.equal(out.files.get(join(dir, 'none.json')), '');
    assert.equal(out.getent?.exitCode, 0);
    assert.match(out.getent!.output, /localhost/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseHostCheck: a file section ends only at the marker; no first line means not reachable', () => {
  const text = ['reachable', 'proc 12 345 gone', 'file /a', 'proc 99 1 same', 'MARK', 'nofile /b', 'getent 2', '10.0.0.1 H1', 'MARK', ''].join('\n');
  const out = parseHostCheck(text, 'MARK');
  assert.equal(out.procs.get(procKey(12, 345)), 'gone');
  assert.equal(out.procs.has(procKey(99, 1)), false, 'a line inside a file is not a verdict');
  assert.equal(out.files.get('/a'), 'proc 99 1 same');
  assert.equal(out.files.get('/b'), '');
  assert.deepEqual(out.getent, { exitCode: 2, output: '10.0.0.1 H1' });
  assert.equal(parseHostCheck('sh: not found\n', 'MARK').reachable, false);
});

test('checkHosts: one round trip per host, all hosts; units and unreachable hosts asked of the provider', async () => {
  const start = await myStart();
  const { provider, execs, alives, reads } = fakeProvider(['H3']);
  const me = ref(process.pid, start);
  const dead = ref(4194304, 1);
  const unit = ref(1, 1, { unit: 'up.service' });
  const requests = new Map<string, HostCheckRequest>([
    ['H1', { processes: [me, dead, unit], files: ['/no/such/status.json'], resolve: ['localhost'] }],
    ['H2', {}],
    ['H3', { processes: [me], files: ['/x.json'] }],
  ]);
  const checks = await checkHosts(provider, requests);
  assert.deepEqual([...execs].sort(), [['H1', 1], ['H2', 1], ['H3', 1]], 'exactly one exec per host');
  const h1 = checks.get('H1')!;
  assert.equal(h1.reachable, true);
  assert.equal(await h1.alive(me), true);
  assert.equal(await h1.alive(dead), false);
  assert.equal(await h1.file('/no/such/status.json'), '');
  assert.equal(h1.getent?.exitCode, 0);
  assert.deepEqual(alives, [], 'plain processes answered by the batch');
  assert.equal(await h1.alive(unit), true, "a unit's state is the provider's (its main pid changes)");
  assert.deepEqual(alives, ['up.service']);
  assert.equal(checks.get('H2')!.reachable, true, 'an empty request still checks the host runs commands');
  const h3 = checks.get('H3')!;
  assert.equal(h3.reachable, false);
  assert.match(h3.detail, /does not exist/);
  assert.equal(await h3.alive(me), false, 'unreachable: the provider is asked, as before batching');
  assert.equal(await h3.file('/x.json'), '{"from":"provider"}');
  assert.deepEqual(reads, ['/x.json']);
  // a single host, as lab up asks it after writing /etc/hosts
  assert.equal((await checkHost(provider, 'H2', { resolve: ['localhost'] })).getent?.exitCode, 0);
});

test('checkHosts: a provider with execEach runs every host\'s check in one call; one whose files are local asks the host only whether it runs, or only getent when names are to be resolved', async () => {
  const start = await myStart();
  const me = ref(process.pid, start);
  const dead = ref(4194304, 1);
  const { provider, execs, alives, reads } = fakeProvider();
  const batches: string[][] = [];
  const asked: string[][] = [];
  const each = Object.assign(Object.create(provider) as Provider, {
    localFiles: true,
    async execEach(jobs: { host: string; argv: string[] }[]): Promise<(ExecResult | Error)[]> {
      batches.push(jobs.map((j) => j.host));
      return Promise.all(
        jobs.map(async (j) => {
          asked.push(j.argv);
          if (j.host === 'H3') return new Error(`namespace of ${j.host} does not exist`);
          // `ip netns exec` itself failing (no such namespace, nothing to exec) exits 255 or 1
          if (j.host === 'H5') return { exitCode: 255, stdout: '', stderr: 'Cannot open network namespace', durationMs: 0 };
          return run(j.argv[0]!, j.argv.slice(1), { encoding: 'utf8' }).then(
            (r) => ({ exitCode: 0, stdout: r.stdout, stderr: r.stderr, durationMs: 0 }),
            (e: { code: number; stdout: string; stderr: string }) => ({ exitCode: e.code, stdout: e.stdout, stderr: e.stderr, durationMs: 0 }),
          );
        }),
      );
    },
  });
  const requests = new Map<string, HostCheckRequest>([
    ['H1', { processes: [me, dead], files: ['/s.json'], resolve: ['localhost'] }],
    ['H2', {}],
    ['H3', { processes: [me] }],
    ['H4', { resolve: ['localhost', 'no-such-host.invalid'] }],
    ['H5', { resolve: ['localhost'] }],
  ]);
  const checks = await checkHosts(each, requests);
  assert.deepEqual(batches, [['H1', 'H2', 'H3', 'H4', 'H5']], 'one execEach for all hosts');
  assert.deepEqual([...execs], [], 'no exec per host');
  assert.deepEqual(asked[0], ['getent', 'hosts', 'localhost'], 'processes and files are not asked of a host whose files are local: getent alone');
  assert.deepEqual(asked[1]!.slice(0, 2), ['sh', '-c'], 'with no names to resolve, the script proves the host runs commands');
  assert.deepEqual(asked[1]!.slice(6), [], '… and is asked nothing else');
  const h1 = checks.get('H1')!;
  assert.equal(h1.reachable, true);
  assert.equal(h1.getent?.exitCode, 0);
  assert.equal(await h1.alive(me), false, 'answered by the provider (the fake says only up.service runs)');
  assert.deepEqual(alives, [String(process.pid)]);
  assert.equal(await h1.file('/s.json'), '{"from":"provider"}');
  assert.deepEqual(reads, ['/s.json']);
  assert.equal(checks.get('H2')!.reachable, true);
  assert.equal(checks.get('H3')!.reachable, false);
  assert.match(checks.get('H3')!.detail, /does not exist/);
  // a name that does not resolve: getent exits 2, the host did run it
  const h4 = checks.get('H4')!;
  assert.equal(h4.reachable, true);
  assert.equal(h4.getent?.exitCode, 2);
  assert.match(h4.getent?.output ?? '', /\blocalhost\b/);
  assert.doesNotMatch(h4.getent?.output ?? '', /no-such-host/);
  assert.equal(checks.get('H5')!.reachable, false, 'exit 255 is not getent\'s');
  assert.match(checks.get('H5')!.detail, /exit 255: Cannot open network namespace/);
});

test('hostCheckRequests: each recorded process (and, for status, its supervisor status file) goes to its host; every host asked', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lab-host-check-'));
  try {
    const ledger = await Ledger.open(dir);
    await ledger.record('process', 'proc:H1:workers', { host: 'H1', pid: 10, startTime: 20, logFile: '/l', command: ['w'], token: 't', supervisor: 'lab', status: '/w/supervise/workers.status.json' });
    await ledger.markDone('proc:H1:workers');
    await ledger.record('process', 'proc:H2:redis', { host: 'H2', pid: 11, startTime: 21, logFile: '/l', command: ['r'], token: 'u', supervisor: 'none' });
    await ledger.markDone('proc:H2:redis');
    await ledger.record('process', 'proc:H2:half', { host: 'H2', token: 'v', command: ['x'], logFile: '/l' }); // never got its pid
    const topology = { hosts: [{ name: 'H1' }, { name: 'H2' }, { name: 'H3' }] } as unknown as Topology;
    const keys = ['proc:H1:workers', 'proc:H2:redis', 'proc:H2:half', 'proc:H9:none'];
    const up = hostCheckRequests(topology, ledger, keys, { resolve: ['H1', 'H2', 'H3'] });
    assert.deepEqual([...up.keys()], ['H1', 'H2', 'H3']);
    assert.deepEqual(up.get('H1')!.processes!.map((r) => r.pid), [10]);
    assert.deepEqual(up.get('H1')!.files, [], 'lab up reads no status files');
    assert.deepEqual(up.get('H2')!.processes!.map((r) => r.pid), [11]);
    assert.deepEqual(up.get('H3')!.resolve, ['H1', 'H2', 'H3']);
    const status = hostCheckRequests(topology, ledger, keys, { statusFiles: true, timeoutMs: 5000 });
    assert.deepEqual(status.get('H1')!.files, ['/w/supervise/workers.status.json']);
    assert.equal(status.get('H1')!.timeoutMs, 5000);
    // the supervision lab status shows comes from the batch: the status file as read there
    const entry = ledger.get('proc:H1:workers')!;
    const sup = await supervisionOf({} as Provider, entry, ref(10, 20), {
      alive: async () => true,
      file: async () => JSON.stringify({ state: 'ready', instances: [{ pid: 12, restarts: 2, lastExit: null }], history: [] }),
    });
    assert.equal(sup.state, 'ready');
    assert.equal(sup.restarts, 2);
    assert.deepEqual(sup.pids, [12]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
