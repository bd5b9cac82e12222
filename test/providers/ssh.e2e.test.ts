/**
 * e2e (root tier): the ssh provider against real sshd servers — one per network namespace on this machine
 * (test/support/sshd-lab.ts), logged into as root with a generated key. Every test uses its own state folder
 * (known_hosts, ledger) and lab name, replays its ledger at the end and checks nothing is left on the hosts.
 * The namespaces have their own /etc/hosts (/etc/netns/<ns>/hosts); this machine's /etc/hosts is never written.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import type { TestContext } from 'node:test';
import { LabError } from '../../lab/errors.js';
import { PACKAGE_ROOT } from '../../lab/paths.js';
import { SshProvider } from '../../lab/providers/ssh.js';
import { fingerprintOf } from '../../lab/providers/ssh-known-hosts.js';
import type { ProgressEvent } from '../../lab/providers/provider.js';
import { parseInventory } from '../../lab/topology/inventory.js';
import { Ledger } from '../../lab/topology/ledger.js';
import { processStartTime } from '../../lab/topology/proc.js';
import { newState } from '../../lab/topology/state.js';
import type { Topology } from '../../lab/topology/topology.js';
import { needs, root } from '../support/prereq.js';
import { startSshdLab } from '../../support/sshd-lab.js';
import type { SshdLab } from '../../support/sshd-lab.js';

// ---- one sshd lab for the whole file (5 hosts). HOST4's sshd also takes passwords. HOST5's sessions see a fake,
// too old `node` and a fake `apt-get` first on the PATH, and neither redis-server nor rabbitmq-server (hidden by
// bind mounts in its sshd's own mount namespace); the fake apt-get "installs" them as scripts in its fake bin.

let labP: Promise<SshdLab> | null = null;
const FAKE_BIN = 'fakebin';
const HIDE = ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/sbin/rabbitmq-server', '/usr/lib/rabbitmq/bin/rabbitmq-server'];

function sshdLab(): Promise<SshdLab> {
  labP ??= (async () => {
    const lab = await startSshdLab(5, {
      extraConfig: (i, dir) => (i === 4 ? [`SetEnv PATH=${join(dir, FAKE_BIN)}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`] : i === 3 ? ['PasswordAuthentication yes'] : []),
      setup: (i, dir) => {
        if (i !== 4) return null;
        const hidden = join(dir, 'hidden');
        const mounts = HIDE.filter((p) => existsSync(p)).map((p) => `mount --bind ${hidden} ${p}`);
        return [`: > ${hidden}`, `chmod 644 ${hidden}`, ...mounts].join(' && ');
      },
    });
    const bin = join(lab.dir, FAKE_BIN);
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'node'), '#!/bin/sh\necho v18.19.0\n', { mode: 0o755 });
    await writeFile(
      join(bin, 'apt-get'),
      ['#!/bin/sh', `echo "$DEBIAN_FRONTEND $*" >> ${join(lab.dir, 'apt.log')}`, 'for p; do case $p in redis-server|rabbitmq-server)', `  printf '#!/bin/sh\\necho fake %s\\n' "$p" > ${bin}/$p; chmod 755 ${bin}/$p;;`, 'esac; done', ''].join('\n'),
      { mode: 0o755 },
    );
    return lab;
  })();
  return labP;
}

after(async () => {
  if (labP) await (await labP).cleanup();
});

async function prereqs(t: TestContext): Promise<boolean> {
  if (!(await root(t))) return false;
  return needs(t, 'sshd (openssh-server)', async () => (existsSync('/usr/sbin/sshd') ? null : '/usr/sbin/sshd not found: apt-get install -y openssh-server'));
}

// ---- inventories

interface HostDef {
  i: number;
  roles: string[];
  port?: number;
  key?: string;
  sudo?: boolean;
  user?: string;
  password?: string;
  /** Instead of the sshd host's address. */
  address?: string;
}

const BOOK: HostDef[] = [
  { i: 0, roles: ['broker'] },
  { i: 1, roles: ['backend'] },
  { i: 2, roles: ['workers'] },
  { i: 3, roles: ['master', 'quotes'] },
];

interface Lab {
  name: string;
  stateDir: string;
  topology: Topology;
  provider: SshProvider;
  ledger: Ledger;
}

const opened: Lab[] = [];

async function makeLab(t: TestContext, lab: SshdLab, hosts: HostDef[] = BOOK, options: { defaultKey?: boolean; agent?: string; connectTimeoutMs?: number } = {}): Promise<Lab> {
  const name = `sshe${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'lab-ssh-e2e-'));
  const lines = [`lab: ${name}`, 'provider: ssh', 'defaults:', '  user: root', '  sudo: true'];
  if (options.defaultKey !== false) lines.push(`  key: ${lab.clientKey}`);
  lines.push('hosts:');
  hosts.forEach((h, n) => {
    lines.push(`  HOST${n + 1}:`, `    roles: [${h.roles.join(', ')}]`, `    address: ${h.address ?? lab.hosts[h.i]!.address}`);
    if (h.port !== undefined) lines.push(`    port: ${h.port}`);
    if (h.key !== undefined) lines.push(`    key: ${h.key}`);
    if (h.sudo !== undefined) lines.push(`    sudo: ${h.sudo}`);
    if (h.user !== undefined) lines.push(`    user: ${h.user}`);
    if (h.password !== undefined) lines.push(`    password: ${JSON.stringify(h.password)}`);
  });
  const topology = await parseInventory(`${lines.join('\n')}\n`, join(dir, 'hosts.yaml'));
  const ledger = await Ledger.open(dir);
  const provider = new SshProvider(topology, dir, ledger, { agent: options.agent ?? null, defaultKeyDir: null, connectTimeoutMs: options.connectTimeoutMs });
  const l = { name, stateDir: dir, topology, provider, ledger };
  opened.push(l);
  t.after(async () => {
    await provider.close().catch(() => undefined);
    // a test that failed half-way: undo whatever its ledger still holds (best effort; a passing test left nothing)
    if (ledger.entries().length === 0) return;
    const p = new SshProvider(topology, dir, ledger, { agent: null, defaultKeyDir: null });
    const failures = await ledger.replayReverse((e) => p.undo(e)).catch((err: unknown) => [{ error: err }]);
    for (const f of failures) t.diagnostic(`cleanup: ${String(f.error)}`);
    await p.close();
  });
  return l;
}

/** Replay the ledger through a fresh provider (as `lab down` would) and require that nothing failed. */
async function down(l: Lab): Promise<void> {
  const p = new SshProvider(l.topology, l.stateDir, l.ledger, { agent: null, defaultKeyDir: null });
  try {
    const failures = await l.ledger.replayReverse((e) => p.undo(e));
    assert.deepEqual(
      failures.map((f) => `${f.entry.key}: ${String(f.error)}`),
      [],
    );
    assert.equal(l.ledger.entries().length, 0);
  } finally {
    await p.close();
  }
}

function events(): { list: ProgressEvent[]; progress: (e: ProgressEvent) => void } {
  const list: ProgressEvent[] = [];
  return { list, progress: (e) => list.push(e) };
}

/**
 * The first existing folder from `dir` up that other users cannot traverse (no o+x) — what lab's warning about a
 * broker host's closed home names — or null. ~/.lab itself is one when an earlier `lab up` made it 0700.
 */
async function firstClosedFolder(dir: string): Promise<string | null> {
  for (let d = dir; d !== '/'; d = dirname(d)) {
    const st = await stat(d).catch(() => null);
    if (st && (st.mode & 0o001) === 0) return d;
  }
  return null;
}

async function rejects(p: Promise<unknown>): Promise<LabError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof LabError, `expected a LabError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

// ---- tests

test('connects with a key; first contact pins every host key in <stateDir>/known_hosts (0600)', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab);
  const t0 = performance.now();
  const r = await l.provider.exec('HOST1', ['id', '-un']);
  const firstMs = performance.now() - t0;
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout.trim(), 'root');
  const t1 = performance.now();
  await l.provider.exec('HOST1', ['true']);
  const againMs = performance.now() - t1;
  await Promise.all(['HOST2', 'HOST3', 'HOST4'].map((h) => l.provider.exec(h, ['true'])));
  t.diagnostic(`connect + first exec ${firstMs.toFixed(0)} ms; exec on the open connection ${againMs.toFixed(0)} ms`);

  const file = join(l.stateDir, 'known_hosts');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  assert.equal(lines.length, 4);
  for (let i = 0; i < 4; i++) {
    const line = lines.find((x) => x.startsWith(`${lab.hosts[i]!.address} `));
    assert.ok(line, `a line for ${lab.hosts[i]!.address}`);
    const [, type, b64] = line.split(' ');
    assert.equal(type, 'ssh-ed25519');
    assert.equal(fingerprintOf(Buffer.from(b64!, 'base64')), lab.fingerprint(i), 'the pinned key is the server key');
  }
});

test('a changed host key is refused, naming both fingerprints and how to reset; deleting the line accepts the new key', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab);
  await l.provider.exec('HOST2', ['true']);
  await l.provider.close();
  const before = lab.fingerprint(1);
  const file = join(l.stateDir, 'known_hosts');
  const pinned = await readFile(file, 'utf8');

  await lab.regenerateHostKey(1);
  const after = lab.fingerprint(1);
  assert.notEqual(before, after);
  const p2 = new SshProvider(l.topology, l.stateDir, l.ledger, { agent: null, defaultKeyDir: null });
  t.after(() => p2.close());
  const err = await rejects(p2.exec('HOST2', ['true']));
  t.diagnostic(err.message);
  assert.equal(err.code, 'E_SSH_HOST_KEY_CHANGED');
  assert.equal((err as LabError & { host?: string }).host, 'HOST2');
  assert.ok(!err.message.includes('\n'), 'one line');
  assert.match(err.message, new RegExp(`^HOST2 \\(root@${lab.hosts[1]!.address.replace(/\./g, '\\.')}:22\\): host key CHANGED`));
  assert.ok(err.message.includes(`expected ssh-ed25519 ${before}`), 'expected fingerprint');
  assert.ok(err.message.includes(`offered ssh-ed25519 ${after}`), 'offered fingerprint');
  assert.ok(err.message.includes(`delete the line for ${lab.hosts[1]!.address} from ${file}`), 'how to reset');
  assert.equal(await readFile(file, 'utf8'), pinned, 'the pinned key is kept');

  // deliberately accept the new key: delete the line, as the message says
  await writeFile(file, pinned.split('\n').filter((x) => !x.startsWith(`${lab.hosts[1]!.address} `)).join('\n'));
  assert.equal((await p2.exec('HOST2', ['true'])).exitCode, 0);
  const line = (await readFile(file, 'utf8')).split('\n').find((x) => x.startsWith(`${lab.hosts[1]!.address} `))!;
  assert.equal(fingerprintOf(Buffer.from(line.split(' ')[2]!, 'base64')), after);
});

test('exec passes hostile argv, env, cwd and stdin literally; a non-zero exit is a result', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab);
  const marker = `/tmp/lab-ssh-pwned-${randomBytes(4).toString('hex')}`;
  const hostile = [
    `; touch ${marker}`,
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `' ; touch ${marker} ; '`,
    `" ; touch ${marker} ; "`,
    `&& touch ${marker}`,
    `| touch ${marker}`,
    `> ${marker}`,
    '$(id)',
    '`id`',
    "it's \"quoted\"",
    'line1\nline2',
    '  spaced  out  ',
    '',
    '*',
    '~',
    '$HOME',
    '\\',
    '-n',
    'FOO=bar',
  ];
  const r = await l.provider.exec('HOST1', ['printf', '%s\\0', ...hostile]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), hostile);

  const value = `$(touch ${marker}) '\`x\`' "\n${hostile.join(' ')}`;
  const e = await l.provider.exec('HOST1', ['sh', '-c', 'printf %s "$V"'], { env: { V: value } });
  assert.equal(e.stdout, value);

  const cwd = `/tmp/lab ssh 'cwd' $(x) ${randomBytes(3).toString('hex')}`;
  await mkdir(cwd);
  t.after(() => rm(cwd, { recursive: true, force: true }));
  assert.equal((await l.provider.exec('HOST1', ['pwd'], { cwd })).stdout, `${cwd}\n`);
  assert.equal((await l.provider.exec('HOST1', ['cat'], { input: `stdin $(touch ${marker})\n\0bytes` })).stdout, `stdin $(touch ${marker})\n\0bytes`);

  const fail = await l.provider.exec('HOST1', ['sh', '-c', 'echo out; echo err >&2; exit 7']);
  assert.deepEqual([fail.exitCode, fail.stdout, fail.stderr], [7, 'out\n', 'err\n']);
  const missing = await l.provider.exec('HOST1', ['no-such-command-here']);
  assert.equal(missing.exitCode, 127);
  const slow = await l.provider.exec('HOST1', ['sleep', '30'], { timeoutMs: 300 });
  assert.equal(slow.exitCode, 137);
  assert.match(slow.stderr, /killed after 300 ms/);
  assert.ok(slow.durationMs < 5000);
  // A timeout before the command's pid is known (1 ms: before the channel even opens) still kills it.
  const early = await l.provider.exec('HOST1', ['sleep', '30'], { timeoutMs: 1 });
  assert.equal(early.exitCode, 137);
  assert.ok(early.durationMs < 5000, `killed in ${Math.round(early.durationMs)} ms`);

  assert.equal(existsSync(marker), false, 'no injected command ran');
});

test('stream forwards stdout and stderr; aborting (Ctrl-C) stops the remote command', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab);
  const pidFile = `/tmp/lab-ssh-stream-${randomBytes(4).toString('hex')}`;
  t.after(() => rm(pidFile, { force: true }));
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (c: Buffer) => (outText += c.toString()));
  err.on('data', (c: Buffer) => (errText += c.toString()));
  const ac = new AbortController();
  out.on('data', () => setTimeout(() => ac.abort(), 200));
  const t0 = performance.now();
  const code = await l.provider.stream('HOST3', ['sh', '-c', `echo $$ > ${pidFile}; echo to-err >&2; echo to-out; sleep 300; echo never`], { stdout: out, stderr: err, signal: ac.signal });
  const ms = performance.now() - t0;
  assert.equal(code, 130);
  assert.ok(ms < 5000, `stopped in ${ms.toFixed(0)} ms`);
  assert.equal(outText, 'to-out\n');
  assert.equal(errText, 'to-err\n');
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await processStartTime(pid), null, 'the remote shell is gone');
  t.diagnostic(`aborted after ${ms.toFixed(0)} ms`);
});

test('sudo on a root login runs as root without a password; sudo file writes and reads', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab, [{ i: 0, roles: ['broker', 'backend', 'workers', 'master'], sudo: true }]);
  assert.equal((await l.provider.exec('HOST1', ['id', '-u'], { sudo: true })).stdout, '0\n');
  const dir = `/tmp/lab-ssh-sudo-${randomBytes(4).toString('hex')}`;
  await mkdir(dir);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const f = `${dir}/secret file.conf`;
  await l.provider.writeFile('HOST1', f, "pass = 'x'\n", { sudo: true, mode: 0o640, owner: 'nobody' });
  const st = await stat(f);
  assert.equal(st.mode & 0o777, 0o640);
  assert.equal(st.uid, 65534);
  assert.equal((await l.provider.readFile('HOST1', f, { sudo: true })).toString(), "pass = 'x'\n");
  await l.provider.writeFile('HOST1', `${dir}/plain`, Buffer.from('0123456789'));
  assert.equal((await stat(`${dir}/plain`)).mode & 0o777, 0o600);
  assert.equal((await l.provider.readFile('HOST1', `${dir}/plain`)).toString(), '0123456789');
  assert.equal((await l.provider.readFile('HOST1', `${dir}/plain`, { tailBytes: 3 })).toString(), '789');
  assert.equal((await l.provider.readFile('HOST1', `${dir}/never-written.log`, { tailBytes: 3 })).length, 0);
  const missing = await rejects(l.provider.readFile('HOST1', `${dir}/nope`));
  assert.equal(missing.code, 'E_NOT_FOUND');

  // a root login needs no sudo at all, even when the inventory says sudo: false
  const l2 = await makeLab(t, lab, [{ i: 0, roles: ['broker', 'backend', 'workers', 'master'], sudo: false }]);
  assert.equal((await l2.provider.exec('HOST1', ['id', '-u'], { sudo: true })).stdout, '0\n');
});

test('spawn: detached with its token, alive, stopped by pid + start time (whole group); a reused pid is never signalled; a lost process is found by its token', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab);
  const logs = `/tmp/lab-ssh-spawn-${randomBytes(4).toString('hex')}`;
  t.after(() => rm(logs, { recursive: true, force: true }));

  const t0 = performance.now();
  const ref = await l.provider.spawn('HOST3', ['sh', '-c', 'echo "started $FOO"; sleep 300 & sleep 300'], { key: 'proc:HOST3:group', logFile: `${logs}/logs/group.log`, env: { FOO: "bar 'baz'" } });
  t.diagnostic(`spawn ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(ref.host, 'HOST3');
  assert.ok(ref.pid > 0);
  // one machine, one pid namespace: the remote start time is the local one
  assert.equal(await processStartTime(ref.pid), ref.startTime);
  const entry = l.ledger.get('proc:HOST3:group')!;
  assert.equal(entry.kind, 'remote-process');
  assert.equal(entry.state, 'done');
  const data = entry.data as { token: string; pid: number; startTime: number; logFile: string };
  assert.match(data.token, /^[0-9a-f]{24}$/);
  assert.deepEqual([data.pid, data.startTime], [ref.pid, ref.startTime]);
  const environ = await readFile(`/proc/${ref.pid}/environ`);
  assert.ok(environ.includes(Buffer.from(`\0LAB_PROCESS_TOKEN=${data.token}\0`)) || environ.includes(Buffer.from(`LAB_PROCESS_TOKEN=${data.token}\0`)));
  const stat0 = (await readFile(`/proc/${ref.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  assert.equal(Number(stat0[2]), ref.pid, 'leads its own process group');
  assert.equal(Number(stat0[3]), ref.pid, 'leads its own session (setsid)');
  assert.equal(await l.provider.alive(ref), true);
  await new Promise((r) => setTimeout(r, 200));
  assert.match((await l.provider.readFile('HOST3', ref.logFile)).toString(), /started bar 'baz'/);
  const members = await l.provider.findByToken('HOST3', data.token);
  assert.ok(members.length >= 2, `the group carries the token: ${JSON.stringify(members)}`);

  assert.equal(await l.provider.signal({ ...ref, startTime: ref.startTime + 1 }, 'SIGKILL'), 'reused');
  assert.equal(await l.provider.alive(ref), true, 'a pid with another start time is not signalled');

  assert.equal(await l.provider.stop(ref, 3000), 'gone');
  assert.equal(await l.provider.alive(ref), false);
  assert.deepEqual(await l.provider.findByToken('HOST3', data.token), [], 'the whole group stopped');
  assert.equal(await l.provider.stop(ref), 'gone', 'stopping twice is fine');

  // `lab up` killed between the spawn and the ledger's done: only the token is known
  const token = randomBytes(12).toString('hex');
  const lost = await l.ledger.record('remote-process', 'proc:HOST3:lost', { host: 'HOST3', command: ['sleep', '300'], logFile: '/dev/null', token });
  const started = await l.provider.exec('HOST3', ['sh', '-c', 'setsid env LAB_PROCESS_TOKEN="$1" sleep 300 > /dev/null 2>&1 < /dev/null & echo $!', 'sh', token]);
  const lostPid = Number(started.stdout.trim());
  assert.ok((await processStartTime(lostPid)) !== null);
  assert.deepEqual((await l.provider.findByToken('HOST3', token)).map((p) => p.pid), [lostPid]);
  await l.provider.undo(lost);
  assert.equal(await processStartTime(lostPid), null, 'found by its token and stopped');
  await l.provider.undo(lost); // idempotent

  // as another user (sudo -u, or runuser where a root login has no sudo), its log file made for it in a root folder
  const asNobody = await l.provider.spawn('HOST3', ['sleep', '300'], { key: 'proc:HOST3:nobody', logFile: `${logs}/logs/nobody.log`, user: 'nobody' });
  assert.equal((await stat(`${logs}/logs/nobody.log`)).uid, 65534);
  assert.equal((await stat(`${logs}/logs`)).uid, 0);
  const status = await readFile(`/proc/${asNobody.pid}/status`, 'utf8');
  assert.match(status, /^Uid:\s+65534\s/m);
  assert.equal((await readFile(`/proc/${asNobody.pid}/cmdline`, 'utf8')).split('\0')[0], 'sleep', 'no wrapper process in between');

  const missing = await rejects(l.provider.spawn('HOST3', ['no-such-daemon'], { key: 'proc:HOST3:missing', logFile: `${logs}/logs/missing.log` }));
  assert.equal(missing.code, 'E_COMMAND_NOT_FOUND');
  // a process that dies at once: either caught at spawn (E_PROCESS_EXITED, with its log) or dead right after
  try {
    const quick = await l.provider.spawn('HOST3', ['sh', '-c', 'echo boom; exit 3'], { key: 'proc:HOST3:quick', logFile: `${logs}/logs/quick.log` });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await l.provider.alive(quick), false);
  } catch (err) {
    assert.equal((err as LabError).code, 'E_PROCESS_EXITED');
    assert.match((err as Error).message, /boom/);
  }

  await down(l);
  assert.equal(await processStartTime(asNobody.pid), null);
});

test('writeHosts edits /etc/hosts in place: block written, replaced by a second call, removed exactly by undo', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab);
  const machineHosts = await readFile('/etc/hosts');
  const h1 = lab.hosts[0]!;
  const original = (await l.provider.readFile('HOST1', '/etc/hosts')).toString();
  // Safety first: the remote /etc/hosts must be the namespace's own file, never this machine's.
  assert.ok(original.includes(`# sshd-lab ${h1.ns}\n`), 'HOST1 sees its namespace /etc/hosts');
  const ino = (await stat(h1.hostsFile)).ino;

  const entries = l.topology.hosts.map((h) => ({ address: h.address, names: [h.name] }));
  await l.provider.writeHosts('HOST1', [...entries, { address: '127.0.1.1', names: ['HOST1', 'loopalias'] }]);
  const once = (await l.provider.readFile('HOST1', '/etc/hosts')).toString();
  const block = [`# BEGIN lab ${l.name}`, ...l.topology.hosts.map((h) => `${h.address} ${h.name}`), '127.0.1.1 loopalias', `# END lab ${l.name}`];
  assert.equal(once, `${original}${block.join('\n')}\n`);
  const resolved = await l.provider.exec('HOST1', ['getent', 'hosts', 'HOST3']);
  assert.equal(resolved.stdout.split(/\s+/)[0], lab.hosts[2]!.address);
  const self = await l.provider.exec('HOST1', ['getent', 'ahostsv4', 'HOST1']);
  assert.equal(self.stdout.split(/\s+/)[0], h1.address, "the host's own name is its lab address, not 127.x");

  await l.provider.writeHosts('HOST1', entries.slice(0, 2));
  const twice = (await l.provider.readFile('HOST1', '/etc/hosts')).toString();
  assert.equal(twice, `${original}# BEGIN lab ${l.name}\n${entries.slice(0, 2).map((e) => `${e.address} ${e.names[0]}`).join('\n')}\n# END lab ${l.name}\n`);
  assert.equal(twice.split(`# BEGIN lab ${l.name}`).length, 2, 'one block');
  assert.equal((await stat(h1.hostsFile)).ino, ino, 'edited in place (same inode), not renamed over');

  const entry = l.ledger.get('hosts:HOST1')!;
  assert.equal(entry.kind, 'hosts-block');
  assert.equal(entry.state, 'done');
  await l.provider.undo(entry);
  assert.equal((await l.provider.readFile('HOST1', '/etc/hosts')).toString(), original, 'exactly the original file');
  await l.provider.undo(entry); // idempotent
  assert.equal((await l.provider.readFile('HOST1', '/etc/hosts')).toString(), original);
  assert.equal((await l.provider.readFile('HOST2', '/etc/hosts')).toString().includes('# BEGIN lab'), false, 'other hosts untouched');
  assert.deepEqual(await readFile('/etc/hosts'), machineHosts, "this machine's /etc/hosts is untouched");
  await l.ledger.remove(entry.key);
});

test('up: preflight, work directories, lab shipped to workers/master (runs there); a second up skips; the ledger replayed leaves nothing', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab);
  const ev = events();
  // the hosts are this machine as root: the broker host's warning names the first closed folder above ~/.lab/<lab>
  const closedBefore = await firstClosedFolder('/root/.lab');
  const t0 = performance.now();
  await l.provider.up({ state: newState(l.topology), progress: ev.progress });
  const upMs = performance.now() - t0;
  const timing = (h: string, s: string): string => (l.provider.timings[h]?.[s] ?? NaN).toFixed(0);
  t.diagnostic(`up ${upMs.toFixed(0)} ms; connect ${['HOST1', 'HOST2', 'HOST3', 'HOST4'].map((h) => timing(h, 'connect')).join('/')} ms; ship HOST3 ${timing('HOST3', 'ship lab')} ms, HOST4 ${timing('HOST4', 'ship lab')} ms`);
  for (const e of ev.list.filter((x) => x.step === 'ship lab' && x.status === 'done')) t.diagnostic(`${e.host}: ${e.detail}`);
  assert.deepEqual(ev.list.filter((e) => e.status === 'fail'), []);
  assert.deepEqual(ev.list.filter((e) => e.step === 'ship lab' && e.status === 'done').map((e) => e.host).sort(), ['HOST3', 'HOST4']);

  const info = l.provider.host('HOST3');
  assert.equal(info.workDir, `/root/.lab/${l.name}/HOST3`);
  assert.equal(info.labRoot, `${info.workDir}/lab`);
  assert.equal(info.address, lab.hosts[2]!.address);
  assert.match(info.node, /\/node$/);
  const version = (JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const v = await l.provider.exec('HOST3', [info.node, `${info.labRoot}/bin/lab.js`, '--version']);
  assert.equal(v.exitCode, 0, v.stderr);
  assert.equal(v.stdout.trim(), version);
  assert.equal(existsSync(`${info.labRoot}/node_modules/typescript`), false, 'dev-only packages are not shipped');
  // /root is closed to other users: the broker host works under /var/lib/lab, traversable for the rabbitmq user
  const broker = l.provider.host('HOST1');
  assert.equal(broker.workDir, `/var/lib/lab/${l.name}/HOST1`);
  for (const d of [`/var/lib/lab/${l.name}`, broker.workDir]) assert.equal((await stat(d)).mode & 0o777, 0o711, d);
  assert.equal((await stat('/var/lib/lab')).mode & 0o001, 0o001, '/var/lib/lab is traversable');
  // (the other hosts make ~/.lab during the same up when it is missing: with a closed mode it may be the one HOST1 saw)
  const closed = [closedBefore, await firstClosedFolder('/root/.lab')].filter((d): d is string => d !== null);
  const warning = ev.list.find((e) => e.host === 'HOST1' && e.step === 'work directory' && e.status === 'info' && e.warning);
  assert.ok(closed.length > 0 && warning && closed.some((d) => warning.detail?.startsWith(`warning: ${d} is not traversable`)), `${JSON.stringify(warning)} names one of ${closed.join(', ')}`);
  assert.equal((await stat(info.workDir)).mode & 0o777, 0o700);
  assert.equal(l.provider.host('HOST2').workDir, `/root/.lab/${l.name}/HOST2`, 'only the broker host needs that');
  const kinds = l.ledger.entries().map((e) => `${e.kind} ${e.key}`);
  assert.deepEqual(kinds.sort(), ['directory dir:HOST1', 'directory dir:HOST2', 'directory dir:HOST3', 'directory dir:HOST4']);

  // a second up (new provider, new connections): nothing to create
  const p2 = new SshProvider(l.topology, l.stateDir, l.ledger, { agent: null, defaultKeyDir: null });
  t.after(() => p2.close());
  const ev2 = events();
  const seqBefore = l.ledger.entries().map((e) => e.seq);
  const t1 = performance.now();
  await p2.up({ state: newState(l.topology), progress: ev2.progress });
  t.diagnostic(`second up ${(performance.now() - t1).toFixed(0)} ms`);
  assert.deepEqual(ev2.list.filter((e) => e.status === 'done'), [], 'nothing reported as created');
  assert.equal(ev2.list.filter((e) => e.step === 'work directory' && e.status === 'skip').length, 4);
  assert.deepEqual(ev2.list.filter((e) => e.step === 'ship lab' && e.status === 'skip').map((e) => e.host).sort(), ['HOST3', 'HOST4']);
  assert.deepEqual(l.ledger.entries().map((e) => e.seq), seqBefore, 'the ledger is unchanged');

  // things a lab holds: a service process and a hosts block; then down
  await p2.writeHosts('HOST3', l.topology.hosts.map((h) => ({ address: h.address, names: [h.name] })));
  const ref = await p2.spawn('HOST3', [info.node, '-e', 'setInterval(() => {}, 1000)'], { key: 'proc:HOST3:svc', logFile: `${info.workDir}/logs/svc.log` });
  const token = (l.ledger.get('proc:HOST3:svc')!.data as { token: string }).token;
  await p2.close();
  await down(l);
  assert.equal(await processStartTime(ref.pid), null, 'no remote process');
  assert.deepEqual(await p2.findByToken('HOST3', token), []);
  assert.equal((await p2.readFile('HOST3', '/etc/hosts')).toString().includes(`# BEGIN lab ${l.name}`), false, 'no hosts block');
  assert.equal(existsSync(`/root/.lab/${l.name}`), false, 'no remote directory');
  assert.equal(existsSync(`/var/lib/lab/${l.name}`), false, 'no remote directory');
});

test('preflight: a port without sshd, a wrong key and a too old Node each fail with one clear line', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const all = ['broker', 'backend', 'workers', 'master'];

  const refused = await makeLab(t, lab, [{ i: 0, roles: all, port: 2222 }]);
  let t0 = performance.now();
  let err = await rejects(refused.provider.up({ state: newState(refused.topology), progress: () => undefined }));
  t.diagnostic(`${err.message} (${(performance.now() - t0).toFixed(0)} ms)`);
  assert.equal(err.code, 'E_SSH_REFUSED');
  assert.equal((err as LabError & { host?: string }).host, 'HOST1');
  assert.match(err.message, new RegExp(`^HOST1 \\(root@${lab.hosts[0]!.address.replace(/\./g, '\\.')}:2222\\): connection refused`));
  assert.ok(!err.message.includes('\n'));

  const wrongKey = await makeLab(t, lab, [{ i: 0, roles: all, key: lab.wrongKey }]);
  t0 = performance.now();
  err = await rejects(wrongKey.provider.up({ state: newState(wrongKey.topology), progress: () => undefined }));
  t.diagnostic(`${err.message} (${(performance.now() - t0).toFixed(0)} ms)`);
  assert.equal(err.code, 'E_SSH_AUTH');
  assert.equal(err.message, `HOST1 (root@${lab.hosts[0]!.address}:22): authentication failed (tried: key ${lab.wrongKey})`);

  const oldNode = await makeLab(t, lab, [{ i: 4, roles: ['workers', 'master'] }, { i: 0, roles: ['broker', 'backend'] }]);
  err = await rejects(oldNode.provider.up({ state: newState(oldNode.topology), progress: () => undefined }));
  t.diagnostic(err.message);
  assert.equal(err.code, 'E_NODE_VERSION');
  assert.equal(err.message, 'HOST1: Node v18.19.0 found, lab needs Node ≥ 20 — install Node 20, or let lab bring it for its own processes: lab up --install (or node: ship in the inventory)');

  // nothing was created on a host that failed (the other host went on and is cleaned up by down)
  for (const x of [refused, wrongKey]) assert.deepEqual(x.ledger.entries(), []);
  assert.deepEqual(oldNode.ledger.entries().map((e) => e.key), ['dir:HOST2']);
  await down(oldNode);
});

test('ssh-agent: a key held by the agent logs in when the inventory names none; an unreachable address times out clearly', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const sock = join(lab.dir, `agent-${randomBytes(3).toString('hex')}.sock`);
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  t.after(() => void agent.kill('SIGTERM'));
  for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
  execFileSync('ssh-add', ['-q', lab.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
  const l = await makeLab(t, lab, [{ i: 0, roles: ['broker', 'backend', 'workers', 'master'] }], { defaultKey: false, agent: sock });
  assert.equal((await l.provider.exec('HOST1', ['id', '-un'])).stdout, 'root\n');

  const nobody = await makeLab(t, lab, [{ i: 0, roles: ['broker', 'backend', 'workers', 'master'] }], { defaultKey: false });
  const none = await rejects(nobody.provider.exec('HOST1', ['true']));
  assert.equal(none.code, 'E_SSH_AUTH');
  assert.match(none.message, /^HOST1 \(root@[\d.]+:22\): no way to log in: give a key/);

  const gone = lab.subnet.replace(/\.0\/24$/, '.99');
  const dead = await makeLab(t, lab, [{ i: 0, roles: ['broker', 'backend', 'workers', 'master'], address: gone }], { connectTimeoutMs: 700 });
  const t0 = performance.now();
  const err = await rejects(dead.provider.exec('HOST1', ['true']));
  t.diagnostic(`${err.message} (${(performance.now() - t0).toFixed(0)} ms)`);
  assert.ok(err.code === 'E_SSH_TIMEOUT' || err.code === 'E_SSH_UNREACHABLE', err.code);
  assert.match(err.message, new RegExp(`^HOST1 \\(root@${gone.replace(/\./g, '\\.')}:22\\): (timed out after 700 ms|no route to host)`));
});

/** Two local users for the non-root tests: one with passwordless sudo (like a Pi's `pi`), one without. Removed after. */
async function piUsers(t: TestContext): Promise<{ pi: string; plain: string }> {
  const id = randomBytes(2).toString('hex');
  const pi = `labpi${id}`;
  const plain = `labnp${id}`;
  const sudoers = `/etc/sudoers.d/${pi}`;
  const remove = (): void => {
    for (const u of [pi, plain]) {
      // processes a failed test left running as this user (created by this test): by pid, found by uid
      let uid = -1;
      try {
        uid = Number(execFileSync('id', ['-u', u], { encoding: 'utf8' }).trim());
      } catch {
        // no such user
      }
      if (uid > 0) {
        for (const e of readdirSync('/proc')) {
          if (!/^\d+$/.test(e)) continue;
          try {
            if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(readFileSync(`/proc/${e}/status`, 'utf8'))) process.kill(Number(e), 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      try {
        execFileSync('userdel', ['-r', u], { stdio: 'ignore' });
      } catch {
        // not there
      }
    }
    rmSync(sudoers, { force: true });
  };
  process.once('exit', remove);
  t.after(() => {
    remove();
    process.off('exit', remove);
  });
  for (const u of [pi, plain]) execFileSync('useradd', ['-m', '-s', '/bin/sh', '-p', '*', u]); // '*': no password, yet not locked (sshd refuses locked accounts)
  await chmod(`/home/${pi}`, 0o700); // like a Debian 12 / Raspberry Pi OS home
  await writeFile(sudoers, `${pi} ALL=(ALL:ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
  return { pi, plain };
}

test('a non-root login with passwordless sudo (a Pi): sudo for root steps, spawn as another user, hosts, up and down', async (t) => {
  if (!(await prereqs(t))) return;
  if (!(await needs(t, 'sudo and useradd', async () => (existsSync('/usr/bin/sudo') && existsSync('/usr/sbin/useradd') ? null : 'apt-get install -y sudo passwd')))) return;
  const lab = await sshdLab();
  const { pi, plain } = await piUsers(t);
  const all = ['broker', 'backend', 'workers', 'master'];
  const l = await makeLab(t, lab, [{ i: 1, roles: all, user: pi, sudo: true }]);
  const uid = Number(execFileSync('id', ['-u', pi], { encoding: 'utf8' }).trim());
  assert.equal((await l.provider.exec('HOST1', ['id', '-u'])).stdout, `${uid}\n`);
  assert.equal((await l.provider.exec('HOST1', ['id', '-u'], { sudo: true })).stdout, '0\n');

  const ev = events();
  await l.provider.up({ state: newState(l.topology), progress: ev.progress });
  const info = l.provider.host('HOST1');
  // a broker host whose home (0700) is closed to the rabbitmq user works under /var/lib/lab, owned by the login user
  assert.equal(info.workDir, `/var/lib/lab/${l.name}/HOST1`);
  assert.equal((await stat(info.workDir)).uid, uid);
  assert.equal((await stat(info.workDir)).mode & 0o777, 0o711);
  const blocked = ev.list.find((e) => e.step === 'work directory' && e.status === 'info');
  assert.ok(blocked && blocked.detail?.startsWith(`warning: /home/${pi} is not traversable`), JSON.stringify(blocked));
  assert.equal((await l.provider.exec('HOST1', [info.node, `${info.labRoot}/bin/lab.js`, '--version'])).exitCode, 0);

  await l.provider.writeHosts('HOST1', [{ address: lab.hosts[0]!.address, names: ['HOST9'] }]);
  assert.match((await readFile(lab.hosts[1]!.hostsFile, 'utf8')), new RegExp(`# BEGIN lab ${l.name}\n[\\d.]+ HOST9\n# END lab ${l.name}\n$`));
  const asNobody = await l.provider.spawn('HOST1', ['sleep', '300'], { key: 'proc:HOST1:nobody', logFile: `/tmp/lab-ssh-${l.name}-nobody.log`, user: 'nobody' });
  t.after(() => rm(`/tmp/lab-ssh-${l.name}-nobody.log`, { force: true }));
  assert.match(await readFile(`/proc/${asNobody.pid}/status`, 'utf8'), /^Uid:\s+65534\s/m);
  const asRoot = await l.provider.spawn('HOST1', ['sleep', '300'], { key: 'proc:HOST1:root', logFile: `${info.workDir}/logs/root.log`, sudo: true });
  assert.match(await readFile(`/proc/${asRoot.pid}/status`, 'utf8'), /^Uid:\s+0\s/m);
  assert.equal(await l.provider.stop(asNobody, 2000), 'gone', 'signalled through sudo');
  await down(l);
  assert.equal(await processStartTime(asRoot.pid), null);
  assert.equal((await readFile(lab.hosts[1]!.hostsFile, 'utf8')).includes('# BEGIN lab'), false);
  assert.equal(existsSync(`/var/lib/lab/${l.name}`), false);

  // password login (HOST4's sshd takes passwords): the password is used, and never shown
  const password = `pw ${randomBytes(6).toString('base64url')} 'x'`;
  execFileSync('chpasswd', [], { input: `${plain}:${password}\n` });
  const pwLab = (pw: string): Promise<Lab> => makeLab(t, lab, [{ i: 3, roles: all, user: plain, sudo: false, password: pw }], { defaultKey: false });
  const good = await pwLab(password);
  assert.equal((await good.provider.exec('HOST1', ['id', '-un'])).stdout, `${plain}\n`);
  assert.ok(!JSON.stringify(good.provider.plan()).includes(password), 'plan() does not show the password');
  const bad = await pwLab(`${password}-wrong`);
  const denied = await rejects(bad.provider.exec('HOST1', ['true']));
  assert.equal(denied.code, 'E_SSH_AUTH');
  assert.match(denied.message, /authentication failed \(tried: password\)$/);
  assert.ok(!denied.message.includes(password));

  // sudo that wants a password, and sudo not allowed by the inventory
  const np = await makeLab(t, lab, [{ i: 1, roles: all, user: plain, sudo: true }]);
  const err = await rejects(np.provider.exec('HOST1', ['id'], { sudo: true }));
  assert.equal(err.code, 'E_SUDO_PASSWORD');
  assert.equal(err.message, `sudo on HOST1 needs a password: allow passwordless sudo for ${plain} or connect as root`);
  const noSudo = await makeLab(t, lab, [{ i: 1, roles: all, user: plain, sudo: false }]);
  const err2 = await rejects(noSudo.provider.writeHosts('HOST1', []));
  assert.equal(err2.code, 'E_NEED_ROOT');
  const err3 = await rejects(noSudo.provider.exec('HOST1', ['id'], { sudo: true }));
  assert.equal(err3.code, 'E_NEED_ROOT');
  assert.match(err3.message, /^HOST1: id needs root: set sudo: true for HOST1 in the inventory/);
});

test('install: a missing rabbitmq-server / redis-server is apt-get installed (ledger kind package) and left installed by down', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const probe = await makeLab(t, lab, [{ i: 4, roles: ['broker', 'backend'] }, { i: 0, roles: ['workers', 'master'] }]);
  const hidden = await probe.provider.exec('HOST1', ['sh', '-c', 'command -v redis-server || echo none']);
  assert.equal(hidden.stdout, 'none\n', 'HOST5 does not have redis-server');

  const err = await rejects(probe.provider.up({ state: newState(probe.topology), progress: () => undefined }));
  assert.equal(err.code, 'E_COMMAND_NOT_FOUND');
  assert.match(err.message, /^HOST1: (rabbitmq-server|redis-server) not found — install it \(sudo apt-get install -y \1\) or run lab up with --install$/);
  await down(probe);

  const l = await makeLab(t, lab, [{ i: 4, roles: ['broker', 'backend'] }, { i: 0, roles: ['workers', 'master'] }]);
  const ev = events();
  const p = new SshProvider(l.topology, l.stateDir, l.ledger, { agent: null, defaultKeyDir: null, install: true });
  t.after(() => p.close());
  await p.up({ state: newState(l.topology), progress: ev.progress });
  const apt = (await readFile(join(lab.dir, 'apt.log'), 'utf8')).trim().split('\n');
  assert.deepEqual(apt.sort(), ['noninteractive install -y --no-install-recommends rabbitmq-server', 'noninteractive install -y --no-install-recommends redis-server']);
  const pkgs = l.ledger.entries().filter((e) => e.kind === 'package');
  assert.deepEqual(pkgs.map((e) => `${e.key} ${e.state}`).sort(), ['package:HOST1:rabbitmq-server done', 'package:HOST1:redis-server done']);
  assert.equal(ev.list.filter((e) => e.step === 'install' && e.status === 'done').length, 2);
  assert.equal((await p.exec('HOST1', ['redis-server'])).stdout, 'fake redis-server\n');

  // a second up installs nothing
  await p.up({ state: newState(l.topology), progress: () => undefined });
  assert.equal((await readFile(join(lab.dir, 'apt.log'), 'utf8')).trim().split('\n').length, 2);
  await p.close();
  await down(l);
  assert.equal(existsSync(join(lab.dir, FAKE_BIN, 'redis-server')), true, 'down does not uninstall');
});

test('undo: refuses a directory outside the lab folder, unknown kinds; packages are only reported', async (t) => {
  if (!(await prereqs(t))) return;
  const lab = await sshdLab();
  const l = await makeLab(t, lab);
  const victim = `/tmp/lab-ssh-keep-${randomBytes(4).toString('hex')}`;
  await mkdir(victim);
  t.after(() => rm(victim, { recursive: true, force: true }));
  for (const path of [victim, `/root/.lab/${l.name}`, `/root/.lab/${l.name}/../other`, `/root/.lab/${l.name}/HOST1/../../x`, `/var/lib/lab/${l.name}`, `/var/lib/lab/other/HOST1`, '/var/lib/lab', '/', '']) {
    const err = await rejects(l.provider.undo({ seq: 1, kind: 'directory', key: 'dir:HOST1', data: { host: 'HOST1', path }, state: 'done', at: '' }));
    assert.equal(err.code, 'E_UNDO_REFUSED', path);
  }
  assert.ok(existsSync(victim));
  const unknown = await rejects(l.provider.undo({ seq: 1, kind: 'volume', key: 'v', data: {}, state: 'done', at: '' }));
  assert.equal(unknown.code, 'E_UNDO_UNKNOWN');
  await l.provider.undo({ seq: 1, kind: 'package', key: 'package:HOST1:redis-server', data: { host: 'HOST1', package: 'redis-server' }, state: 'done', at: '' });
  const file = `${victim}/f`;
  await writeFile(file, 'x');
  await l.provider.undo({ seq: 1, kind: 'file', key: 'file:x', data: { host: 'HOST1', path: file }, state: 'done', at: '' });
  assert.equal(existsSync(file), false);
  await l.provider.undo({ seq: 1, kind: 'file', key: 'file:x', data: { host: 'HOST1', path: file }, state: 'done', at: '' });
});

after(async () => {
  for (const l of opened) await rm(l.stateDir, { recursive: true, force: true }).catch(() => undefined);
});
