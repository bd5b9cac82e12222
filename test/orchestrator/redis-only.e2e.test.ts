/**
 * The RQ-style lab on network namespaces (root): Redis on HOST2 is the broker and the result backend, no RabbitMQ
 * anywhere. Up, status (the broker kind, persistence), a scenario run on it, a Redis broker URL with a wrong
 * password (masked, exit 2), results stored before Redis is killed with -9 read back after its supervisor started
 * it again (the append-only file), its data files 0600, and down leaving nothing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import { App } from '../../lab/queue/index.js';
import { lab } from '../support/cli.js';
import { netnsNames } from '../../lab/providers/netns.js';
import { etcNetns, linkNames, netnsList, processesWithEnv } from '../support/lab-clean.js';
import { root, serviceBinaries } from '../support/prereq.js';

test('a Redis-only lab: up, status, mergesort, a wrong password, results through a kill -9 of Redis, down', { timeout: 300_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-rq-'));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 180_000 });
  t.after(async () => {
    await run(['down', '--lab', 'e2erq']);
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, ['lab: e2erq', 'provider: netns', 'subnet: 198.19.155.0/24', 'broker: { kind: redis }', 'hosts:', '  HOST2: { roles: [broker, backend] }', '  HOST3: { roles: [workers], concurrency: 2 }', '  HOST4: { roles: [master] }', ''].join('\n'));

  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  assert.match(up.stdout, /^ {2}broker {3}redis:\/\/:\*\*\*\*@HOST2:6379\/1 /m);
  const s = JSON.parse((await run(['status', '--json'])).stdout) as LabStatus;
  assert.equal(s.healthy, true, JSON.stringify(s, null, 2));
  assert.equal(s.brokerKind, 'redis');
  assert.equal(s.persistence, 'aof-everysec');
  assert.deepEqual(s.services.map((x) => `${x.service}@${x.host}`), ['redis@HOST2', 'quotes@HOST4', 'workers@HOST3'], 'no RabbitMQ');
  assert.equal(s.broker, 'redis://:****@198.19.155.12:6379/1');
  assert.equal(s.backend, 'redis://:****@198.19.155.12:6379/0');
  const envOut = JSON.parse((await run(['env', '--json'])).stdout) as Record<string, string>;
  assert.match(envOut.CELERY_BROKER_URL!, /^redis:\/\/:[A-Za-z0-9_-]+@198\.19\.155\.12:6379\/1$/);
  assert.equal(envOut.LAB_REDIS_PERSISTENCE, 'aof-everysec');

  const ms = await run(['run', 'mergesort', '--n', '2', '--size', '20000', '--reports', join(home, 'reports')]);
  assert.equal(ms.code, 0, `${ms.stdout}\n${ms.stderr}`);
  assert.match(ms.stdout, /✓ verified/);

  // a wrong password: said, masked, exit 2
  const wrong = await run(['call', 'test.echo', '["x"]', '--broker', 'redis://:not-the-password@198.19.155.12:6379/1', '--backend', envOut.CELERY_RESULT_BACKEND!]);
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /redis:\/\/:\*\*\*\*@198\.19\.155\.12:6379\/1/);
  assert.doesNotMatch(wrong.stdout + wrong.stderr, /not-the-password/);

  // results stored, then Redis killed with -9: its supervisor starts it again, the results are still there
  const app = new App('rq-e2e', { broker: envOut.CELERY_BROKER_URL, backend: envOut.CELERY_RESULT_BACKEND });
  const ids: string[] = [];
  try {
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => app.sendTask('test.echo', [`before ${i}`])));
    for (const [i, r] of sent.entries()) {
      assert.equal(await r.get({ timeout: 20 }), `before ${i}`);
      ids.push(r.id);
    }
  } finally {
    await app.close();
  }
  await new Promise((r) => setTimeout(r, 1500)); // appendfsync everysec: on disk within a second
  const redis = s.services.find((x) => x.service === 'redis')!;
  process.kill(redis.pid!, 'SIGKILL');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = JSON.parse((await run(['status', '--json'])).stdout) as LabStatus;
    const r = now.services.find((x) => x.service === 'redis')!;
    if (r.healthy && r.supervision?.restarts === 1 && r.supervision.state === 'ready') break;
    assert.ok(Date.now() < deadline, `Redis did not come back: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  const after = new App('rq-e2e-after', { broker: envOut.CELERY_BROKER_URL, backend: envOut.CELERY_RESULT_BACKEND });
  try {
    for (const [i, id] of ids.entries()) assert.equal(await after.asyncResult(id).get({ timeout: 10 }), `before ${i}`, `result ${i} survived the restart`);
    // and the lab works on: the workers reconnected to the broker
    assert.equal(await (await after.sendTask('test.echo', ['after'])).get({ timeout: 30 }), 'after');
  } finally {
    await after.close();
  }
  const data = '/var/lib/lab/e2erq/HOST2/redis';
  assert.equal((await stat(data)).mode & 0o777, 0o700);
  const aof = await readdir(join(data, 'appendonlydir'));
  assert.ok(aof.length > 0, 'an append-only file');
  for (const f of aof) assert.equal((await stat(join(data, 'appendonlydir', f))).mode & 0o077, 0, `${f} is its owner's only`);

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  assert.deepEqual(netnsList().filter((n) => n.includes('e2erq')), []);
  assert.deepEqual(etcNetns().filter((n) => n.includes('e2erq')), []);
  const ours = new Set(['HOST2', 'HOST3', 'HOST4'].flatMap((h) => [netnsNames('e2erq', h).bridge, netnsNames('e2erq', h).veth]));
  assert.deepEqual(linkNames().filter((l) => ours.has(l)), [], 'no veth or bridge of the lab left');
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
  assert.equal(existsSync('/var/lib/lab/e2erq'), false);
});
