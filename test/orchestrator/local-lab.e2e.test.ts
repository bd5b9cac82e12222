/**
 * The whole lifecycle on the local provider (every host is this machine, no root needed), as a user runs it:
 * up → up again (nothing changes) → status → run mergesort and currency on the lab → env / exec → down → clean.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import { alive, lab } from '../support/cli.js';
import { serviceBinaries } from '../support/prereq.js';

test('local lab: up, re-up, status, run, env, exec, down', { timeout: 240_000 }, async (t) => {
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-home-'));
  const reports = join(home, 'reports');
  const inventory = join(home, 'hosts.yaml');
  // Ports clear of the machine's own RabbitMQ/Redis and of hosts/local.yaml.
  await writeFile(inventory, ['lab: e2elocal', 'provider: local', 'ports: { broker: 5683, backend: 6390, quotes: 8011 }', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2 }', '  HOST4:', ''].join('\n'));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 120_000 });
  t.after(async () => {
    await run(['down', '--lab', 'e2elocal']);
    await rm(home, { recursive: true, force: true });
  });

  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /lab e2elocal is up/);
  assert.doesNotMatch(up.stdout + up.stderr, /lab:[A-Za-z0-9_-]{20,}@/, 'no password printed');
  const state = join(home, 'e2elocal', 'state.json');
  const { mode } = await import('node:fs').then((fs) => fs.statSync(state));
  assert.equal(mode & 0o777, 0o600, 'state file is 0600');

  const again = await run(['up', '--hosts', inventory, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { changed: boolean }).changed, false, 'a second up changes nothing');

  const status = await run(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as LabStatus;
  assert.equal(s.healthy, true);
  assert.deepEqual(s.services.map((x) => [x.service, x.healthy]), [
    ['rabbitmq', true],
    ['redis', true],
    ['quotes', true],
    ['workers', true],
  ]);
  assert.equal(s.queues.find((q) => q.name === 'celery')?.consumers, 1);
  // The lab's worker answers a remote-control ping: lab status lists it with its pool.
  assert.equal(s.workers?.length, 1, JSON.stringify(s.workers));
  assert.deepEqual([s.workers![0].pool, s.workers![0].concurrency], ['prefork', 2]);
  const text = await run(['status']);
  assert.match(text.stdout, /│ worker\s+│ pool\s+│ concurrency │ processed │ active tasks │/);
  const pids = s.services.map((x) => x.pid).filter((p): p is number => p !== null);

  const ms = await run(['run', 'mergesort', '--n', '4', '--size', '100000', '--json', '--reports', reports]);
  assert.equal(ms.code, 0, ms.stderr);
  const record = JSON.parse(ms.stdout) as RunRecord;
  assert.equal(record.lab.kind, 'local');
  assert.equal(record.lab.name, 'e2elocal');
  assert.equal(record.lab.broker.kind, 'rabbitmq');
  assert.match(record.lab.broker.version ?? '', /^\d+\.\d+\.\d+$/);
  assert.equal(record.verified, true);
  assert.equal((await readdir(reports)).length, 1, 'the record is written here');

  const cur = await run(['run', 'currency', 'EURUSD', 'GBPUSD', '--latency', '10', '--reports', reports]);
  assert.equal(cur.code, 0, cur.stderr);
  assert.match(cur.stdout, /^EURUSD \d/m);

  const envOut = await run(['env']);
  assert.match(envOut.stdout, /^export CELERY_BROKER_URL=amqp:\/\/lab:[^@]+@127\.0\.0\.1:5683\/e2elocal$/m);
  const ex = await run(['exec', 'HOST4', '--', 'sh', '-c', 'echo "$LAB_BROKER_URL" | cut -c1-13']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout.trim(), 'amqp://lab:' + ex.stdout.trim().slice(11));

  const down = await run(['down']);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /removed \d+ things/);
  for (const pid of pids) assert.equal(alive(pid), false, `service pid ${pid} still runs`);
  assert.equal(existsSync(join(home, 'e2elocal')), false, 'state dir removed');
  const twice = await run(['down']);
  assert.equal(twice.code, 0);
  assert.match(twice.stdout, /no lab is up/);
});
