import test from 'node:test';
import assert from 'node:assert/strict';
import { fanoutTopic, subscribeTopic } from '../../../lab/queue/brokers/redis-fanout.js';

test("kombu's fanout channels: /{db}.<exchange>, with /<routing key> when there is one; '#' subscribes as '*'", () => {
  assert.equal(fanoutTopic(0, 'celery.pidbox', ''), '/0.celery.pidbox');
  assert.equal(fanoutTopic(3, 'celeryev', 'task.succeeded'), '/3.celeryev/task.succeeded');
  assert.equal(subscribeTopic(3, 'celeryev', '#'), '/3.celeryev/*');
  assert.equal(subscribeTopic(0, 'celery.pidbox', ''), '/0.celery.pidbox');
});
