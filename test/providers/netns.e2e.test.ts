/**
 * e2e (root tier): the netns provider builds a real four-host lab of network namespaces on this machine.
 * Every test uses its own lab name (random) and subnet (198.18.200.0/24, 198.18.201.0/24), replays its ledger in
 * t.after, and as a last resort deletes only the names derived for its own lab.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LabError } from '../../lab/errors.js';
import { localUser } from '../../lab/providers/local-process.js';
import { NETNS_WORK_BASE, NetnsProvider, netnsNames } from '../../lab/providers/netns.js';
import type { ProgressEvent } from '../../lab/providers/provider.js';
import { parseInventory } from '../../lab/topology/inventory.js';
import { Ledger } from '../../lab/topology/ledger.js';
import { processStartTime } from '../../lab/topology/proc.js';
import { newState } from '../../lab/topology/state.js';
import type { Topology } from '../../lab/topology/topology.js';
import { forceClean, inventoryText, labNames, labProcesses, leftovers, run, TEST_MARK_ENV } from '../support/netns-lab.js';
import { root } from '../support/prereq.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, '..', 'support', 'netns-up-child.js');

function labName(): string {
  return `nte${randomBytes(3).toString('hex')}`;
}

interface Lab {
  lab: string;
  stateDir: string;
  file: string;
  topology: Topology;
}

async function makeLab(subnet: string): Promise<Lab> {
  const lab = labName();
  const stateDir = await mkdtemp(join(tmpdir(), 'lab-netns-'));
  const file = join(stateDir, 'hosts.yaml');
  const text = inventoryText(lab, subnet);
  await writeFile(file, text);
  return { lab, stateDir, file, topology: await parseInventory(text, file) };
}

/** Replay the lab's ledger; if anything is left, delete only this lab's own names. Never throws. */
async function cleanup(t: TestContext, l: Lab): Promise<void> {
  try {
    const ledger = await Ledger.open(l.stateDir);
    const p = new NetnsProvider(l.topology, l.stateDir, ledger);
    const failures = await ledger.replayReverse((e) => p.undo(e));
    for (const f of failures) t.diagnostic(`cleanup: undo ${f.entry.key} failed: ${String(f.error)}`);
  } catch (err) {
    t.diagnostic(`cleanup: replay failed: ${String(err)}`);
  }
  const removed = await forceClean(l.topology, l.stateDir).catch((err: unknown) => [`forceClean failed: ${String(err)}`]);
  if (removed.length > 0) t.diagnostic(`cleanup: last-resort removal of ${removed.join(', ')}`);
}

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await f();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

test('netns provider: a four-host lab — addresses, names, TCP between namespaces, processes, argv safety, idempotent up, clean undo', async (t) => {
  if (!(await root(t))) return;
  const l = await makeLab('198.18.200.0/24');
  t.after(() => cleanup(t, l));
  const { topology, stateDir } = l;
  const ledger = await Ledger.open(stateDir);
  const provider = new NetnsProvider(topology, stateDir, ledger);
  const names = labNames(topology);

  // plan: reads nothing, changes nothing
  const plan = provider.plan();
  assert.equal(plan.length, 1 + 5 * 4);
  assert.equal(plan[0]!.step, 'bridge');
  assert.deepEqual(await leftovers(topology, stateDir), []);

  // an aborted up stops before creating anything
  await assert.rejects(provider.up({ state: newState(topology), progress: () => undefined, signal: AbortSignal.abort() }), (err: unknown) => err instanceof LabError && err.code === 'E_INTERRUPTED');
  assert.equal(ledger.size, 0);

  // ---- up
  const events: ProgressEvent[] = [];
  const state = newState(topology);
  let t0 = performance.now();
  await provider.up({ state, progress: (e) => events.push(e) });
  const upMs = ms(t0);
  t.diagnostic(`up (4 hosts): ${upMs} ms`);
  assert.ok(upMs < 1000, `up took ${upMs} ms`);
  assert.ok(!events.some((e) => e.status === 'fail' || e.status === 'skip'), JSON.stringify(events));
  for (const h of topology.hosts) {
    for (const step of ['namespace', 'veth', 'address', 'work directory']) {
      assert.ok(events.some((e) => e.host === h.name && e.step === step && e.status === 'start'), `${h.name} ${step} start`);
      assert.ok(events.some((e) => e.host === h.name && e.step === step && e.status === 'done'), `${h.name} ${step} done`);
    }
  }
  assert.equal((state.provider as { bridge?: string }).bridge, names.bridge);
  const kinds = ledger.entries().map((e) => `${e.kind}:${e.state}`);
  assert.ok(ledger.entries().every((e) => e.state === 'done'));
  assert.equal(kinds.filter((k) => k.startsWith('bridge')).length, 1);
  assert.equal(kinds.filter((k) => k.startsWith('namespace')).length, 4);
  assert.equal(kinds.filter((k) => k.startsWith('veth')).length, 4);
  assert.equal(kinds.filter((k) => k.startsWith('directory')).length, 5);
  const vethEntry = ledger.get(`veth:${names.veths[0]}`)!;
  assert.equal(vethEntry.data.name, names.veths[0]);
  assert.equal(vethEntry.data.namespace, names.namespaces[0]);

  // every namespace has its address on eth0 and its default route; the bridge holds the gateway
  for (const h of topology.hosts) {
    const r = await provider.exec(h.name, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, new RegExp(` inet ${h.address.replace(/\./g, '\\.')}/24 `));
    const route = await provider.exec(h.name, ['ip', 'route', 'show', 'default']);
    assert.match(route.stdout, new RegExp(`default via ${topology.gateway!.replace(/\./g, '\\.')} dev eth0`));
    const info = provider.host(h.name);
    assert.equal(info.address, h.address);
    assert.equal(info.workDir, join(NETNS_WORK_BASE, topology.name, h.name));
    assert.equal(info.node, process.execPath);
    assert.ok(existsSync(join(info.labRoot, 'package.json')));
    const mode = (await stat(info.workDir)).mode & 0o777;
    assert.equal(mode, h.roles.includes('broker') ? 0o711 : 0o700, `${h.name} work dir mode ${mode.toString(8)}`);
  }
  assert.equal((await stat(join(NETNS_WORK_BASE, topology.name))).mode & 0o777, 0o711);
  assert.equal((await stat(stateDir)).mode & 0o777, 0o700, 'the state dir (secrets) stays private');
  // another user (as RabbitMQ runs) can traverse to the broker host's work dir, not into the others
  const nob = await localUser('nobody');
  const asNobody = (dir: string): string[] => ['setpriv', `--reuid=${nob.uid}`, `--regid=${nob.gid}`, '--clear-groups', '--', 'test', '-x', dir];
  assert.equal((await provider.exec('HOST1', asNobody(provider.host('HOST1').workDir))).exitCode, 0);
  assert.notEqual((await provider.exec('HOST2', asNobody(provider.host('HOST2').workDir))).exitCode, 0);
  assert.match((await run(['ip', '-o', '-4', 'addr', 'show', 'dev', names.bridge])).stdout, / inet 198\.18\.200\.1\/24 /);

  // ---- hosts files
  const entries = topology.hosts.map((h) => ({ address: h.address, names: [h.name] }));
  for (const h of topology.hosts) await provider.writeHosts(h.name, h.name === 'HOST4' ? [...entries, { address: '127.0.1.1', names: ['HOST4', 'loopy'] }] : entries);
  const hosts4 = await readFile(`/etc/netns/${netnsNames(l.lab, 'HOST4').namespace}/hosts`, 'utf8');
  assert.match(hosts4, /^127\.0\.0\.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n/);
  assert.ok(!/^127\.\S*\s.*\bHOST4\b/im.test(hosts4), `HOST4 mapped to loopback:\n${hosts4}`);
  assert.match(hosts4, /^127\.0\.1\.1 loopy$/m);
  const g = await provider.exec('HOST4', ['getent', 'hosts', 'HOST1']);
  assert.equal(g.exitCode, 0, g.stderr);
  assert.match(g.stdout, /^198\.18\.200\.11\s+HOST1$/m);
  // getent asks for IPv6 first; that falls through /etc/hosts to DNS, which must fail at once, not time out
  assert.ok(g.durationMs < 1000, `getent took ${g.durationMs} ms`);
  const nx = await provider.exec('HOST4', ['getent', 'hosts', `nx-${l.lab}.example`]);
  assert.equal(nx.exitCode, 2);
  assert.ok(nx.durationMs < 1000, `a failed lookup took ${nx.durationMs} ms`);
  assert.ok(!(await readFile('/etc/hosts', 'utf8')).includes(topology.hosts[0]!.address), "the machine's own /etc/hosts is untouched");
  assert.ok(ledger.get('hosts:HOST4')?.state === 'done');

  // ---- a TCP server in HOST1's namespace, reached by name from HOST3's
  const port = 47000 + Math.floor(Math.random() * 1000);
  const h1 = provider.host('HOST1');
  const server = await provider.spawn('HOST1', [process.execPath, '-e', "const [a, p] = process.argv.slice(1); require('net').createServer((s) => s.end('pong from ' + a)).listen(+p, a)", h1.address, String(port)], {
    key: 'proc:HOST1:tcp',
    logFile: join(h1.workDir, 'logs', 'tcp.log'),
    env: { [TEST_MARK_ENV]: l.lab },
    cwd: h1.workDir,
  });
  assert.equal(ledger.get('proc:HOST1:tcp')?.data.pid, server.pid);
  // `ip netns exec` execs the command: the recorded pid (and start time) becomes the server itself, no wrapper
  await until('ip netns exec to exec node', 2000, async () => ((await readlink(`/proc/${server.pid}/exe`)) === process.execPath ? true : null));
  assert.equal(await processStartTime(server.pid), server.startTime);
  const ns1 = (await provider.exec('HOST1', ['readlink', '/proc/self/ns/net'])).stdout.trim();
  assert.equal(await readlink(`/proc/${server.pid}/ns/net`), ns1, 'the server runs in HOST1s namespace');
  assert.notEqual(await readlink('/proc/self/ns/net'), ns1);
  const client = "const s = require('net').connect(+process.argv[2], process.argv[1]); let d = ''; s.on('data', (c) => (d += c)); s.on('end', () => process.stdout.write(d)); s.on('error', (e) => { console.error(e.message); process.exit(1); })";
  const reply = await until('the TCP server on HOST1', 5000, async () => {
    const r = await provider.exec('HOST3', [process.execPath, '-e', client, 'HOST1', String(port)], { timeoutMs: 3000 });
    return r.exitCode === 0 ? r.stdout : null;
  });
  assert.equal(reply, `pong from ${h1.address}`);
  // not reachable from the root namespace by that name (its /etc/hosts is not the lab's)
  assert.equal(await provider.alive(server), true);
  assert.equal(await provider.stop(server, 2000), 'gone');
  assert.equal(await provider.alive(server), false);

  // ---- spawn as another user: setpriv execs, the pid is the command's
  const nobody = await localUser('nobody');
  const sleeper = await provider.spawn('HOST2', ['sleep', '60'], { key: 'proc:HOST2:sleep', logFile: join(provider.host('HOST2').workDir, 'logs', 'sleep.log'), user: 'nobody', cwd: '/', env: { [TEST_MARK_ENV]: l.lab } });
  const status = await until('sleep to exec', 2000, async () => {
    const s = await readFile(`/proc/${sleeper.pid}/status`, 'utf8');
    return /^Name:\s+sleep$/m.test(s) ? s : null;
  });
  assert.match(status, new RegExp(`^Uid:\\s+${nobody.uid}\\s+${nobody.uid}\\s`, 'm'));
  assert.match(status, new RegExp(`^Gid:\\s+${nobody.gid}\\s`, 'm'));
  assert.equal(await provider.signal(sleeper, 'SIGTERM'), 'same');
  await until('sleep to end', 3000, async () => ((await processStartTime(sleeper.pid)) === null ? true : null));
  assert.equal(await provider.alive(sleeper), false);
  assert.equal(await provider.signal(sleeper, 'SIGTERM'), 'gone');

  // a long-running process left for the ledger replay to stop
  const lingering = await provider.spawn('HOST3', ['sleep', '3600'], { key: 'proc:HOST3:linger', logFile: join(provider.host('HOST3').workDir, 'logs', 'linger.log'), env: { [TEST_MARK_ENV]: l.lab } });
  assert.equal(await provider.alive(lingering), true);

  // ---- argv is argv: shell metacharacters pass literally
  const tag = randomBytes(4).toString('hex');
  const victim = join(tmpdir(), `lab-netns-victim-${tag}`);
  await mkdir(victim);
  t.after(() => rm(victim, { recursive: true, force: true }));
  const pwned = [join(tmpdir(), `lab-pwned-${tag}-1`), join(tmpdir(), `lab-pwned-${tag}-2`), join(tmpdir(), `lab-pwned-${tag}-3`)];
  const weird = [`; rm -rf ${victim}`, `$(touch ${pwned[0]})`, `\`touch ${pwned[1]}\``, `'single' "double" \\back`, `line1\nline2; touch ${pwned[2]}`, '&& echo hi | cat >', '*', '$HOME', '', ' spaced '];
  const echo = await provider.exec('HOST2', [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '--', ...weird]);
  assert.equal(echo.exitCode, 0, echo.stderr);
  assert.deepEqual(JSON.parse(echo.stdout), weird);
  assert.ok(existsSync(victim), 'nothing was removed');
  for (const p of pwned) assert.ok(!existsSync(p), `${p} must not exist`);
  // env and stdin reach the command; exit codes are results
  const env = await provider.exec('HOST2', ['sh', '-c', 'printf %s "$FOO"'], { env: { FOO: 'a b;$(c)' } });
  assert.equal(env.stdout, 'a b;$(c)');
  assert.equal((await provider.exec('HOST2', ['cat'], { input: 'from stdin' })).stdout, 'from stdin');
  assert.equal((await provider.exec('HOST2', ['sh', '-c', 'exit 3'])).exitCode, 3);
  await assert.rejects(provider.exec('HOST2', [`no-such-command-${tag}`]), (err: unknown) => err instanceof LabError && err.code === 'E_COMMAND_NOT_FOUND');

  // ---- files, same filesystem
  const f = join(provider.host('HOST1').workDir, 'owned.txt');
  await provider.writeFile('HOST1', f, 'hello', { mode: 0o640, owner: 'nobody' });
  const st = await stat(f);
  assert.equal(st.uid, nobody.uid);
  assert.equal(st.mode & 0o777, 0o640);
  assert.equal((await provider.readFile('HOST1', f)).toString(), 'hello');
  assert.equal((await provider.readFile('HOST1', f, { tailBytes: 3 })).toString(), 'llo');

  // ---- a second up on a healthy lab changes nothing and skips everything
  const before = await readFile(ledger.path);
  const linksBefore = (await run(['ip', '-o', 'link', 'show'])).stdout.split('\n').filter((x) => [names.bridge, ...names.veths].some((n) => x.includes(` ${n}`) || x.includes(` ${n}@`)));
  const again: ProgressEvent[] = [];
  t0 = performance.now();
  await provider.up({ state: newState(topology), progress: (e) => again.push(e) });
  const reupMs = ms(t0);
  t.diagnostic(`re-up (4 hosts, nothing to do): ${reupMs} ms`);
  assert.deepEqual(
    again.filter((e) => e.status !== 'skip'),
    [],
  );
  assert.equal(again.length, 2 + 4 * 4, JSON.stringify(again));
  assert.deepEqual(await readFile(ledger.path), before, 'the ledger did not change');
  const linksAfter = (await run(['ip', '-o', 'link', 'show'])).stdout.split('\n').filter((x) => [names.bridge, ...names.veths].some((n) => x.includes(` ${n}`) || x.includes(` ${n}@`)));
  assert.deepEqual(linksAfter.map((x) => x.split(':')[0]), linksBefore.map((x) => x.split(':')[0]), 'same interfaces (same ifindex)');

  // ---- another lab on the same subnet is refused before anything is created; a lost ledger does not adopt our names
  const other = await makeLab('198.18.200.0/24');
  t.after(() => cleanup(t, other));
  const otherLedger = await Ledger.open(other.stateDir);
  await assert.rejects(new NetnsProvider(other.topology, other.stateDir, otherLedger).up({ state: newState(other.topology), progress: () => undefined }), (err: unknown) => err instanceof LabError && err.code === 'E_SUBNET_IN_USE');
  assert.equal(otherLedger.size, 0);
  const lostDir = await mkdtemp(join(tmpdir(), 'lab-netns-lost-'));
  t.after(() => rm(lostDir, { recursive: true, force: true }));
  const lostLedger = await Ledger.open(lostDir);
  await assert.rejects(new NetnsProvider(topology, lostDir, lostLedger).up({ state: newState(topology), progress: () => undefined }), (err: unknown) => err instanceof LabError && err.code === 'E_NAME_IN_USE' && /ip link del/.test(err.message));
  assert.equal(lostLedger.size, 0);

  // ---- something recorded but missing is re-created (HOST2's namespace and the bridge deleted behind our back)
  const ns2 = netnsNames(l.lab, 'HOST2').namespace;
  assert.equal((await run(['ip', 'netns', 'del', ns2])).code, 0);
  assert.equal((await run(['ip', 'link', 'del', 'dev', names.bridge])).code, 0);
  const repair: ProgressEvent[] = [];
  await provider.up({ state: newState(topology), progress: (e) => repair.push(e) });
  assert.ok(repair.some((e) => e.step === 'bridge' && e.status === 'done'), JSON.stringify(repair));
  for (const step of ['namespace', 'veth', 'address']) assert.ok(repair.some((e) => e.host === 'HOST2' && e.step === step && e.status === 'done'), `HOST2 ${step} re-created: ${JSON.stringify(repair)}`);
  for (const h of ['HOST1', 'HOST3', 'HOST4']) {
    // their veths lost the bridge with it: put back on the new one; everything else was there
    assert.ok(repair.some((e) => e.host === h && e.step === 'veth' && e.status === 'done'), `${h} veth re-attached`);
    assert.ok(repair.filter((e) => e.host === h && e.step !== 'veth').every((e) => e.status === 'skip'), JSON.stringify(repair));
  }
  // HOST4 reaches HOST2 again: a refused connection means the packets got there and back
  const probe = "const s = require('net').connect(+process.argv[2], process.argv[1]); s.on('connect', () => { console.log('open'); s.end(); }); s.on('error', (e) => console.log(e.code)); s.setTimeout(2000, () => { console.log('timeout'); s.destroy(); })";
  assert.equal((await provider.exec('HOST4', [process.execPath, '-e', probe, 'HOST2', '9'])).stdout.trim(), 'ECONNREFUSED');
  const r2 = await provider.exec('HOST2', ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
  assert.match(r2.stdout, / inet 198\.18\.200\.12\/24 /);
  const g2 = await provider.exec('HOST2', ['getent', 'hosts', 'HOST4']);
  assert.match(g2.stdout, /^198\.18\.200\.14\s+HOST4$/m, 'the hosts file still applies');

  // ---- undo: replay the ledger → nothing left
  const recorded = ledger.entries();
  t0 = performance.now();
  const failures = await ledger.replayReverse((e) => provider.undo(e));
  const undoMs = ms(t0);
  t.diagnostic(`undo (replay ${recorded.length} entries): ${undoMs} ms`);
  assert.deepEqual(failures.map((x) => `${x.entry.key}: ${String(x.error)}`), []);
  assert.equal(ledger.size, 0);
  assert.deepEqual(await leftovers(topology, stateDir), []);
  assert.equal(await provider.alive(lingering), false);
  await assert.rejects(provider.exec('HOST1', ['true']), (err: unknown) => err instanceof LabError && err.code === 'E_HOST_DOWN' && err.message.startsWith('HOST1: '));
  // already gone is success; an unknown kind is refused
  for (const e of recorded.reverse()) await provider.undo(e);
  await assert.rejects(provider.undo({ ...recorded[0]!, kind: 'container' }), (err: unknown) => err instanceof LabError && err.code === 'E_UNDO_UNKNOWN');
});

// ---- kill -9 in the middle of up: whatever the ledger holds, replaying it leaves the machine clean

interface KillPoint {
  label: string;
  /** ms after the child said it is ready */
  afterMs?: number;
  /** after this many progress events */
  afterEvents?: number;
  /** kill the whole process group (the `ip` children too) instead of node alone */
  group: boolean;
}

const KILL_POINTS: KillPoint[] = [
  { label: '5 ms', afterMs: 5, group: false },
  { label: '30 ms', afterMs: 30, group: false },
  { label: '100 ms', afterMs: 100, group: false },
  { label: '15 ms, with its ip children', afterMs: 15, group: true },
  { label: 'event 1', afterEvents: 1, group: false },
  { label: 'event 3', afterEvents: 3, group: true },
  { label: 'event 6', afterEvents: 6, group: false },
  { label: 'event 10', afterEvents: 10, group: true },
  { label: 'event 15', afterEvents: 15, group: false },
  { label: 'event 22', afterEvents: 22, group: true },
  { label: 'event 30', afterEvents: 30, group: false },
  { label: 'event 36', afterEvents: 36, group: false },
  { label: 'event 38 (hosts files)', afterEvents: 38, group: false },
  { label: 'event 40 (hosts files)', afterEvents: 40, group: true },
  { label: 'event 40 (before the spawn)', afterEvents: 40, group: false },
  { label: '60 ms', afterMs: 60, group: false },
];

/** Pids (with start times) of the direct children of `pid` running `comm`. */
async function childrenOf(pid: number, comm: string): Promise<{ pid: number; startTime: number }[]> {
  const { readdir } = await import('node:fs/promises');
  const out: { pid: number; startTime: number }[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = await readFile(`/proc/${e}/stat`, 'utf8');
      const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === pid && s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')) === comm) out.push({ pid: Number(e), startTime: Number(rest[19]) });
    } catch {
      // gone
    }
  }
  return out;
}

async function runAndKill(l: Lab, k: KillPoint): Promise<{ events: number; finished: boolean }> {
  const child = spawn(process.execPath, [CHILD, l.stateDir, l.file], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, [TEST_MARK_ENV]: l.lab } });
  let events = 0;
  let finished = false;
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, sig) => resolve([c, sig])));
  const killed = new Promise<void>((resolve, reject) => {
    let buf = '';
    let done = false;
    const kill = async (): Promise<void> => {
      if (done) return;
      done = true;
      const pid = child.pid!;
      try {
        // freeze it first, so the set of its children cannot change while we look
        process.kill(pid, 'SIGSTOP');
        // (its `ip` commands: a spawned service is the ledger replay's to stop)
        const kids = await childrenOf(pid, 'ip');
        process.kill(k.group ? -pid : pid, 'SIGKILL');
        // orphaned `ip` commands finish on their own within milliseconds: wait for them before replaying
        await until('orphaned children to finish', 5000, async () => {
          for (const c of kids) if ((await processStartTime(c.pid)) === c.startTime) return null;
          return true;
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') return reject(err);
      }
      resolve();
    };
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as { ready?: boolean; event?: unknown; finished?: boolean };
        buf = buf.slice(nl + 1);
        if (line.ready && k.afterMs !== undefined) setTimeout(() => void kill(), k.afterMs);
        if (line.event) {
          events++;
          if (k.afterEvents !== undefined && events >= k.afterEvents) void kill();
        }
        if (line.finished) finished = true;
      }
    });
    child.once('exit', () => {
      if (!done) {
        done = true;
        resolve();
      }
    });
  });
  await killed;
  const [code, signal] = await exited;
  if (signal !== 'SIGKILL') assert.equal(code, 0, `the child failed by itself (exit ${code}): ${stderr}`);
  return { events, finished };
}

test('netns provider: kill -9 mid-up at many points, then replaying the ledger leaves the machine clean', async (t) => {
  if (!(await root(t))) return;
  assert.ok(existsSync(CHILD), `compiled child script ${CHILD}`);
  const l = await makeLab('198.18.201.0/24');
  t.after(() => cleanup(t, l));
  const caught = new Set<string>();
  for (const k of KILL_POINTS) {
    const { events, finished } = await runAndKill(l, k);
    const ledger = await Ledger.open(l.stateDir);
    const held = ledger.entries().map((e) => `${e.kind}${e.state === 'intent' ? '?' : ''}`);
    caught.add(held.join(','));
    const p = new NetnsProvider(l.topology, l.stateDir, ledger);
    const t0 = performance.now();
    const failures = await ledger.replayReverse((e) => p.undo(e));
    t.diagnostic(`kill at ${k.label}${k.group ? ' (group)' : ''}: ${events} events${finished ? ' (up had finished)' : ''}, ledger held ${held.length} entries [${held.join(' ')}], replay ${ms(t0)} ms`);
    assert.deepEqual(failures.map((x) => `${x.entry.key}: ${String(x.error)}`), [], k.label);
    assert.equal(ledger.size, 0);
    assert.deepEqual(await leftovers(l.topology, l.stateDir), [], `after kill at ${k.label}`);
    assert.deepEqual(await labProcesses(l.topology), []);
  }
  assert.ok(caught.size >= 4, `the kills should catch the lab in several different states, got ${[...caught].join(' | ')}`);
});
