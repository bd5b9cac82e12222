/**
 * Unit (no servers): the pure parts of the ssh provider — the /etc/hosts block, the pinned known_hosts file,
 * and the lab bundle's content hash.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundleContents } from '../../lab/providers/ssh-bundle.js';
import { HostsFileError, hostsBlock, removeHostsBlock, replaceHostsBlock } from '../../lab/providers/hosts-file.js';
import { KnownHosts, fingerprintOf, hostKeyInfo, knownHostsPattern } from '../../lab/providers/ssh-known-hosts.js';
import { packageNotice } from '../../lab/providers/ssh-preflight.js';

const ORIGINAL = '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n::1\tlocalhost ip6-localhost\n\n# a comment\n192.168.1.50 printer\n';

test('hosts block: appended, replaced in place on a second write, removed exactly', () => {
  const b1 = hostsBlock('book', 'HOST1', [
    { address: '198.18.0.11', names: ['HOST1'] },
    { address: '198.18.0.12', names: ['HOST2', 'redis'] },
  ]);
  assert.deepEqual(b1, ['# BEGIN lab book', '198.18.0.11 HOST1', '198.18.0.12 HOST2 redis', '# END lab book']);
  const once = replaceHostsBlock(ORIGINAL, 'book', b1);
  assert.equal(once, `${ORIGINAL}${b1.join('\n')}\n`);
  const b2 = hostsBlock('book', 'HOST1', [{ address: '198.18.0.13', names: ['HOST3'] }]);
  const twice = replaceHostsBlock(once, 'book', b2);
  assert.equal(twice, `${ORIGINAL}${b2.join('\n')}\n`);
  assert.equal(replaceHostsBlock(twice, 'book', b2), twice, 'idempotent');
  assert.equal(removeHostsBlock(twice, 'book'), ORIGINAL);
  assert.equal(removeHostsBlock(ORIGINAL, 'book'), ORIGINAL, 'nothing to remove');
});

test('hosts block: other labs\' blocks and lines after ours are kept; a file without a final newline', () => {
  const other = hostsBlock('other', 'X', [{ address: '10.0.0.1', names: ['X'] }]).join('\n');
  const mine = hostsBlock('book', 'HOST1', [{ address: '10.0.0.2', names: ['HOST2'] }]);
  const text = `a 1\n${other}\n# BEGIN lab book\nold line\n# END lab book\nafter 2\n`;
  assert.equal(replaceHostsBlock(text, 'book', mine), `a 1\n${other}\n${mine.join('\n')}\nafter 2\n`);
  assert.equal(removeHostsBlock(text, 'book'), `a 1\n${other}\nafter 2\n`);
  assert.equal(replaceHostsBlock('no newline', 'book', mine), `no newline\n${mine.join('\n')}\n`);
  assert.equal(replaceHostsBlock('', 'book', mine), `${mine.join('\n')}\n`);
  assert.equal(removeHostsBlock(replaceHostsBlock('', 'book', mine), 'book'), '');
  assert.throws(() => replaceHostsBlock('# BEGIN lab book\nx\n', 'book', mine), HostsFileError, 'BEGIN without END');
});

test("hosts block: a host's own name is never mapped to 127.x; bad addresses and names are refused", () => {
  const b = hostsBlock('book', 'HOST1', [
    { address: '127.0.1.1', names: ['host1', 'other'] },
    { address: '127.0.0.1', names: ['HOST1'] },
    { address: '198.18.0.11', names: ['HOST1'] },
  ]);
  assert.deepEqual(b, ['# BEGIN lab book', '127.0.1.1 other', '198.18.0.11 HOST1', '# END lab book']);
  assert.throws(() => hostsBlock('book', 'H', [{ address: '1.2.3.4\n5.6.7.8 evil', names: ['x'] }]), HostsFileError);
  assert.throws(() => hostsBlock('book', 'H', [{ address: '1.2.3.4', names: ['x\n9.9.9.9 evil'] }]), HostsFileError);
  assert.throws(() => hostsBlock('book', 'H', [{ address: '1.2.3.4', names: ['a b'] }]), HostsFileError);
});

function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const b = Buffer.alloc(4 + type.length + 4 + raw.length);
  b.writeUInt32BE(type.length, 0);
  type.copy(b, 4);
  b.writeUInt32BE(raw.length, 4 + type.length);
  raw.copy(b, 8 + type.length);
  return b;
}

test('known_hosts: first contact is new, pinned (0600, OpenSSH format), then matches; another key is a change', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lab-kh-'));
  try {
    const file = join(dir, 'sub', 'known_hosts');
    const kh = new KnownHosts(file);
    const k1 = ed25519Blob();
    const k2 = ed25519Blob();
    const info = hostKeyInfo(k1);
    assert.equal(info.type, 'ssh-ed25519');
    assert.match(info.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(info.fingerprint, fingerprintOf(k1));

    assert.equal((await kh.check('10.0.0.1', 22, k1)).status, 'new');
    await kh.pin('10.0.0.1', 22, k1);
    await kh.pin('10.0.0.1', 22, k1); // twice: one line
    await kh.pin('pi.local', 2222, k2);
    const text = await readFile(file, 'utf8');
    assert.equal(text, `10.0.0.1 ssh-ed25519 ${k1.toString('base64')}\n[pi.local]:2222 ssh-ed25519 ${k2.toString('base64')}\n`);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    assert.equal((await kh.check('10.0.0.1', 22, k1)).status, 'match');
    assert.equal((await kh.check('10.0.0.1', 2222, k1)).status, 'new', 'another port is another server');
    const changed = await kh.check('10.0.0.1', 22, k2);
    assert.equal(changed.status, 'changed');
    assert.ok(changed.status === 'changed' && changed.expected[0]!.fingerprint === fingerprintOf(k1) && changed.offered.fingerprint === fingerprintOf(k2));
    assert.deepEqual(await kh.pinnedTypes('10.0.0.1', 22), ['ssh-ed25519']);
    assert.equal(knownHostsPattern('h', 22), 'h');
    assert.equal(knownHostsPattern('h', 2200), '[h]:2200');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bundle hash: same files, same hash; any content change, a new one; dev-only packages are left out', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lab-bundle-'));
  try {
    await writeFile(join(dir, 'package.json'), '{"name":"lab","version":"0.1.0"}');
    await mkdir(join(dir, 'dist', 'lab'), { recursive: true });
    await mkdir(join(dir, 'dist', 'test'), { recursive: true });
    await mkdir(join(dir, 'node_modules', 'typescript'), { recursive: true });
    await mkdir(join(dir, 'node_modules', '@esbuild', 'linux-x64', 'bin'), { recursive: true });
    await mkdir(join(dir, 'node_modules', 'yaml'), { recursive: true });
    await writeFile(join(dir, 'dist', 'lab', 'a.js'), 'a');
    await writeFile(join(dir, 'dist', 'test', 't.js'), 't');
    await writeFile(join(dir, 'node_modules', 'typescript', 'tsc.js'), 'x');
    await writeFile(join(dir, 'node_modules', '@esbuild', 'linux-x64', 'bin', 'esbuild'), 'the bundler');
    await writeFile(join(dir, 'node_modules', 'yaml', 'index.js'), 'y');
    await writeFile(join(dir, 'node_modules', 'yaml', 'index.d.ts'), 'types');
    await writeFile(join(dir, 'node_modules', 'yaml', 'index.js.map'), '{}');
    const a = await bundleContents(dir);
    assert.deepEqual(a.items.map((i) => i.rel), ['package.json', 'dist/lab/a.js', 'node_modules/yaml/index.js']);
    assert.equal((await bundleContents(dir)).hash, a.hash);
    await writeFile(join(dir, 'dist', 'test', 't.js'), 'changed test');
    assert.equal((await bundleContents(dir)).hash, a.hash, 'compiled tests are not shipped');
    await writeFile(join(dir, 'dist', 'lab', 'a.js'), 'b');
    assert.notEqual((await bundleContents(dir)).hash, a.hash);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('packageNotice: what lab down says about a package lab up installed', () => {
  const n = packageNotice({ seq: 1, kind: 'package', key: 'package:HOST1:redis-server', data: { host: 'HOST1', package: 'redis-server' }, state: 'done', at: '' });
  assert.match(n ?? '', /^HOST1: redis-server was installed by lab up and is left installed/);
  assert.equal(packageNotice({ seq: 1, kind: 'directory', key: 'd', data: {}, state: 'done', at: '' }), null);
});

test('plan(): what up will do per host, without connecting; never the password', async () => {
  const { parseInventory } = await import('../../lab/topology/inventory.js');
  const { SshProvider, sshPlan } = await import('../../lab/providers/ssh.js');
  const { Ledger } = await import('../../lab/topology/ledger.js');
  const text = [
    'lab: pis',
    'provider: ssh',
    'defaults: { user: pi, key: /keys/id_ed25519, sudo: true }',
    'hosts:',
    '  HOST1: { roles: [broker], address: 192.0.2.11 }',
    '  HOST2: { roles: [backend], address: 192.0.2.12, port: 2222 }',
    '  HOST3: { roles: [workers], address: 192.0.2.13, password: "s3cret pw" }',
    '  HOST4: { roles: [master, quotes], address: 192.0.2.14 }',
    '',
  ].join('\n');
  const topology = await parseInventory(text, '/nonexistent/pis.yaml');
  const steps = sshPlan(topology, '/nonexistent/state', { install: true, agent: null });
  const text2 = JSON.stringify(steps);
  assert.ok(!text2.includes('s3cret'), 'no password in the plan');
  assert.deepEqual(
    steps.filter((s) => s.host === 'HOST3').map((s) => s.step),
    ['connect', 'preflight', 'work directory', 'ship node', 'ship lab'],
    'with --install, Node 20 is shipped where a host that runs lab lacks Node ≥ 20',
  );
  assert.deepEqual(steps.filter((s) => s.host === 'HOST1').map((s) => s.step), ['connect', 'preflight', 'work directory']);
  assert.match(steps.find((s) => s.host === 'HOST2' && s.step === 'connect')!.detail, /^ssh pi@192\.0\.2\.12:2222 \(key \/keys\/id_ed25519\); host key pinned in \/nonexistent\/state\/known_hosts$/);
  assert.match(steps.find((s) => s.host === 'HOST3' && s.step === 'connect')!.detail, /\(key \/keys\/id_ed25519, password\)/);
  assert.match(steps.find((s) => s.host === 'HOST1' && s.step === 'preflight')!.detail, /rabbitmq-server \(apt-get install -y rabbitmq-server if missing\)/);
  assert.match(steps.find((s) => s.host === 'HOST4' && s.step === 'preflight')!.detail, /node --version ≥ 20/);
  const dir = await mkdtemp(join(tmpdir(), 'lab-ssh-plan-'));
  const p = new SshProvider(topology, dir, await Ledger.open(dir), { install: true, agent: null });
  assert.throws(() => p.host('HOST1'), /not up yet/);
  await p.close();
  await rm(dir, { recursive: true, force: true });
});
