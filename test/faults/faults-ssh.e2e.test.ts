/**
 * Faults on an ssh lab (sshd in network namespaces on this machine, as root): the same fault code through the ssh
 * provider — iptables on the host through sudo, signals through one command on the host — a partition held and
 * healed by `lab fault heal`, Redis (unsupervised there) paused and continued, the workers (lab's supervisor)
 * killed and back with their time to recover; nothing left applied. A Redis-only lab of three hosts (no RabbitMQ:
 * its boot is the slowest part of a lab up, and nothing here needs it).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { lab } from '../support/cli.js';
import { run as sh } from '../support/netns-lab.js';
import { root, serviceBinaries } from '../support/prereq.js';
import { startSshdLab } from '../../support/sshd-lab.js';

test('faults on an ssh lab: partition through sudo iptables, pause, kill; all healed', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t, ['/usr/sbin/sshd']))) return;
  const sshd = await startSshdLab(3);
  const home = await mkdtemp(join(tmpdir(), 'lab-ssh-faults-'));
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env: { LAB_HOME: home }, cwd: home, timeoutMs: 300_000 });
  t.after(async () => {
    await run(['down', '--lab', 'e2esshfault']);
    await sshd.cleanup();
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'pis.yaml');
  const roles = ['[broker, backend]', '[workers]', '[master]'];
  await writeFile(
    inventory,
    ['lab: e2esshfault', 'provider: ssh', 'broker: { kind: redis }', `defaults: { user: root, key: ${sshd.clientKey}, concurrency: 1 }`, 'hosts:', ...sshd.hosts.map((h, i) => `  ${h.name}: { address: ${h.address}, port: ${h.port}, roles: ${roles[i]} }`), ''].join('\n'),
  );
  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  const workers = sshd.hosts[1]!;
  const rules = async (): Promise<string[]> => (await sh(['ip', 'netns', 'exec', workers.ns, 'iptables', '-S'])).stdout.split('\n').filter((l) => l.includes('lab-fault:e2esshfault:'));

  const part = await run(['fault', 'partition', 'HOST2', 'from', 'HOST1']);
  assert.equal(part.code, 0, part.stderr);
  assert.deepEqual((await rules()).map((r) => r.replace(/lab-fault:e2esshfault:\w+/, 'ID')), [`-A INPUT -s ${sshd.hosts[0]!.address}/32 -m comment --comment "ID" -j DROP`, `-A OUTPUT -d ${sshd.hosts[0]!.address}/32 -m comment --comment "ID" -j DROP`]);
  const healed = await run(['fault', 'heal']);
  assert.equal(healed.code, 0, healed.stderr);
  assert.match(healed.stdout, /healed \w+: partition HOST2 from HOST1/);
  assert.deepEqual(await rules(), []);

  const pause = await run(['fault', 'pause', 'redis', '--for', '1s', '--json']);
  assert.equal(pause.code, 0, pause.stderr);
  assert.match(pause.stderr, /SIGSTOP redis redis-server \(pid \d+\)/);
  assert.match(pause.stderr, /SIGCONT redis redis-server \(pid \d+\)/);

  const kill = await run(['fault', 'kill', 'workers@HOST2', '--json']);
  assert.equal(kill.code, 0, kill.stderr);
  const k = JSON.parse(kill.stdout) as { recoveryMs: number | null };
  assert.ok(typeof k.recoveryMs === 'number' && k.recoveryMs > 0, kill.stdout);

  const st = await run(['status', '--json']);
  assert.deepEqual((JSON.parse(st.stdout) as { faults: unknown[] }).faults, []);
});
