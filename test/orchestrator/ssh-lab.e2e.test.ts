/**
 * A real SSH lab: four namespaces each running its own sshd; `lab up` provisions them over SSH with ssh2 (host keys
 * pinned, an /etc/hosts block, RabbitMQ, Redis, quote server, workers), runs mergesort, and `lab down` tears it all
 * down — no remote process, no hosts block, no remote directory left.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import { lab } from '../support/cli.js';
import { root, serviceBinaries } from '../support/prereq.js';
import { pythonPeers } from '../support/peers.js';
import { startSshdLab } from '../../support/sshd-lab.js';

/** Processes in the same network namespace as `pid`, other than `pid` itself. */
function othersInNetns(pid: number): number[] {
  const ns = readlinkSync(`/proc/${pid}/ns/net`);
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === pid) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (readlinkSync(`/proc/${e}/ns/net`) === ns) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

test('ssh lab: up over SSH, run mergesort, down leaves nothing', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t, ['/usr/sbin/sshd']))) return;
  const sshd = await startSshdLab(4);
  const home = await mkdtemp(join(tmpdir(), 'lab-ssh-'));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 300_000 });
  t.after(async () => {
    await run(['down', '--lab', 'e2essh']);
    await sshd.cleanup();
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'pis.yaml');
  await writeFile(
    inventory,
    [
      'lab: e2essh',
      'provider: ssh',
      `defaults: { user: root, key: ${sshd.clientKey}, concurrency: 2 }`,
      'hosts:',
      ...sshd.hosts.map((h) => `  ${h.name}: { address: ${h.address}, port: ${h.port} }`),
      '',
    ].join('\n'),
  );

  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  const knownHosts = readFileSync(join(home, 'e2essh', 'known_hosts'), 'utf8');
  assert.equal(knownHosts.trim().split('\n').length, 4, 'every host key pinned');
  for (const h of sshd.hosts) assert.match(readFileSync(h.hostsFile, 'utf8'), /# BEGIN lab e2essh/);

  const status = await run(['status', '--json']);
  const s = JSON.parse(status.stdout) as LabStatus;
  assert.equal(s.healthy, true, status.stdout);
  // lab's supervisor where lab is shipped (HOST3, HOST4); the broker and backend hosts have neither lab nor systemd here
  assert.deepEqual(s.services.map((x) => [x.service, x.supervision?.mode]), [
    ['rabbitmq', 'none'],
    ['redis', 'none'],
    ['quotes', 'lab'],
    ['workers', 'lab'],
  ]);
  assert.match((await run(['status'])).stdout, /^unsupervised on HOST1, HOST2: nothing restarts a service that exits there/m);

  const ms = await run(['run', 'mergesort', '--n', '4', '--size', '100000', '--json', '--reports', join(home, 'reports')]);
  assert.equal(ms.code, 0, ms.stderr);
  const rec = JSON.parse(ms.stdout) as RunRecord;
  assert.equal(rec.lab.kind, 'ssh');
  assert.equal(rec.verified, true);

  // The chapter's peers over SSH: peers/ travels in the bundle, the preflight and the workers go through ssh.
  if (await pythonPeers(t)) {
    const impls = await run(['run', 'currency', '--impl', 'lab,celery,rq,pyro', '--latency', '20', '--json', '--reports', join(home, 'reports')]);
    assert.equal(impls.code, 0, impls.stderr);
    const c = JSON.parse(impls.stdout) as RunRecord;
    assert.equal(c.verified, true, c.points[0]?.verify.detail);
    assert.deepEqual(c.modes, ['sequential', 'concurrent', 'distributed', 'celery/sequential', 'celery/concurrent', 'celery/distributed', 'rq/distributed', 'pyro/sync', 'pyro/async']);
    assert.match(c.implementations![1]!.driver!.command, /\/e2essh\/HOST4\/lab\/peers\/celery\/driver\.py --serve$|lab\/peers\/celery\/driver\.py --serve$/);
  }

  const resolve = await run(['exec', 'HOST4', '--', 'getent', 'hosts', 'HOST2']);
  assert.match(resolve.stdout, new RegExp(`^${sshd.hosts[1].address.replace(/\./g, '\\.')}\\s+HOST2`, 'm'));

  // No secret on a command line other users can read (ps): the services get the lab's URLs in their environment.
  const state = JSON.parse(readFileSync(join(home, 'e2essh', 'state.json'), 'utf8')) as { credentials: { rabbitmq: { password: string }; redis: { password: string }; pyro: { hmacSecret: string } } };
  const secrets = [state.credentials.rabbitmq.password, state.credentials.redis.password, state.credentials.pyro.hmacSecret];
  for (const h of sshd.hosts) {
    for (const pid of othersInNetns(h.pid)) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      for (const secret of secrets) assert.ok(!cmdline.includes(secret), `${h.name}: a password is on the command line of pid ${pid}`);
    }
  }

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  for (const h of sshd.hosts) {
    assert.doesNotMatch(readFileSync(h.hostsFile, 'utf8'), /BEGIN lab e2essh/, `${h.name}: hosts block removed`);
    assert.deepEqual(othersInNetns(h.pid), [], `${h.name}: no process left beside sshd`);
  }
  assert.equal(existsSync('/root/.lab/e2essh'), false);
  assert.deepEqual(readdirSync(join(home, 'e2essh')), ['known_hosts'], 'only the pinned host keys stay, for the next up');
  assert.equal(existsSync('/var/lib/lab/e2essh'), false);
});
