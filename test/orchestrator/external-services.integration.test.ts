/** `lab up`'s check of services that already run, against the RabbitMQ and Redis of this machine. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasCode } from '../../lab/errors.js';
import { checkExternal } from '../../lab/orchestrator/external-services.js';
import type { Progress } from '../../lab/providers/provider.js';
import { loadInventory } from '../../lab/topology/inventory.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';

test('external services: a login that works, refused credentials (exit 2, masked), nothing listening (exit 1)', { timeout: 60_000 }, async (t) => {
  if (!(await rabbitmq(t)) || !(await redis(t))) return;
  const dir = await mkdtemp(join(tmpdir(), 'lab-external-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ci.yaml'), 'lab: ci\nprovider: local\nbroker: { external: true, url_env: A }\nbackend: { external: true, url_env: B }\nhosts:\n  ci: { roles: [broker, backend, workers, master] }\n');
  const topology = await loadInventory(join(dir, 'ci.yaml'));
  const steps: string[] = [];
  const progress: Progress = (p) => void steps.push(`${p.step} ${p.status} ${p.detail ?? ''}`);

  await checkExternal(topology, { broker: RABBITMQ_URL, backend: REDIS_URL }, progress);
  assert.ok(steps.some((s) => /^external broker done .*AMQP login ok/.test(s)));
  assert.ok(steps.some((s) => /^external backend done .*AUTH \+ PING ok/.test(s)));

  const badAmqp = RABBITMQ_URL.replace(/\/\/([^:@/]+)(:[^@/]*)?@/, '//$1:not-the-password@');
  await assert.rejects(checkExternal(topology, { broker: badAmqp }, progress), (err: unknown) => {
    assert.ok(hasCode(err, 'E_EXTERNAL_REFUSED'));
    assert.equal((err as { exitCode: number }).exitCode, 2);
    assert.match((err as Error).message, /^broker amqp:\/\/[^:]+:\*\*\*\*@.* \(from \$A\) refused the credentials \(AMQP login\): .*; nothing was started$/);
    assert.ok(!(err as Error).message.includes('not-the-password'));
    return true;
  });
  const u = new URL(REDIS_URL);
  const badRedis = `redis://no-such-user-${process.pid}:wrong@${u.host}/0`;
  await assert.rejects(checkExternal(topology, { backend: badRedis }, progress), (err: unknown) => hasCode(err, 'E_EXTERNAL_REFUSED') && /^backend redis:\/\/no-such-user-\d+:\*\*\*\*@.* \(from \$B\) refused the credentials \(AUTH \+ PING\)/.test((err as Error).message) && !(err as Error).message.includes(':wrong@'));
  // a port nothing listens on (port 1 on loopback): unreachable, a failed run (exit 1), after the wait
  await assert.rejects(checkExternal(topology, { broker: 'amqp://ci:pw@127.0.0.1:1/' }, progress, 300), (err: unknown) => hasCode(err, 'E_EXTERNAL_UNREACHABLE') && (err as { exitCode: number }).exitCode === 1 && /did not accept connections/.test((err as Error).message) && !(err as Error).message.includes(':pw@'));
});
