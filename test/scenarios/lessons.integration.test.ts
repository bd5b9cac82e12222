/**
 * Every lesson on RabbitMQ + Redis that already run (openServicesSession: the broker and backend by URL, the
 * lesson's worker groups in this process), as CI runs them: the verdicts, counts and states of lesson-cases.ts,
 * and no queue of a lesson left on the broker afterwards.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../lab/errors.js';
import { App } from '../../lab/queue/index.js';
import { runHere } from '../../lab/harness/run-here.js';
import { openServicesSession } from '../../lab/harness/services-session.js';
import type { RunRecord } from '../../lab/report/run-record.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';
import { LESSON_CASES } from './lesson-cases.js';

/** The queues a lesson's output names (the lessons that say where they sent their tasks). */
function queuesOf(record: RunRecord): string[] {
  const o = record.points[0]?.output as { queue?: string; tasks?: { queue?: string }[] } | undefined;
  return [o?.queue, ...(o?.tasks ?? []).map((t) => t.queue)].filter((q): q is string => typeof q === 'string');
}

for (const c of LESSON_CASES) {
  test(`lesson ${c.scenario.name} on RabbitMQ + Redis`, { timeout: 90_000 }, async (t) => {
    if (!(await rabbitmq(t)) || !(await redis(t))) return;
    const record = await runHere({
      scenario: c.scenario,
      raw: c.raw,
      repeat: c.repeat,
      timeout: 30,
      signal: new AbortController().signal,
      openLab: (s) => openServicesSession(s, { broker: RABBITMQ_URL, backend: REDIS_URL }),
    });
    assert.equal(record.lab.kind, 'services');
    assert.equal(record.lab.broker.kind, 'amqp');
    c.check(record);
    const app = new App('lesson-check', { broker: RABBITMQ_URL });
    try {
      const broker = await app.getBroker();
      for (const q of queuesOf(record)) {
        await assert.rejects(broker.stats(q), (err: unknown) => hasCode(err, 'E_BROKER_NOT_FOUND'), `queue ${q} was deleted`);
      }
    } finally {
      await app.close();
    }
  });
}
