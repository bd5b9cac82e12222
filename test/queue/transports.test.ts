/** URL → adapter: schemes, URL mistakes, and memory:// (which exists only in a hub, never process-wide). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTransports } from '../../lab/queue/index.js';
import { UrlError } from '../../lab/queue/errors.js';
import { createBackend, createBroker } from '../../lab/queue/transports.js';

const NO_HUB = /^memory:\/\/: memory:\/\/ only exists inside an embedded lab \(an app bound to its MemoryTransports hub\)$/;

/** A UrlError whose whole message matches. */
const urlError = (pattern: RegExp) => (e: unknown) => e instanceof UrlError && pattern.test(e.message);

test('memory:// without a hub is a one-line UrlError (exit 2)', async () => {
  for (const create of [createBroker, createBackend]) {
    await assert.rejects(create('memory://'), (e: unknown) => e instanceof UrlError && e.exitCode === 2 && NO_HUB.test(e.message));
  }
  await assert.rejects(createBroker('memory://other'), urlError(/^memory:\/\/other: memory:\/\/ only exists inside an embedded lab/));
});

test('unknown schemes and unparsable URLs are UrlErrors naming the masked URL', async () => {
  await assert.rejects(createBroker('sqs://h/0'), urlError(/^unsupported broker URL scheme "sqs:" in sqs:\/\/h\/0 \(supported: amqp:\/\/, amqps:\/\/, redis:\/\/, rediss:\/\/, memory:\/\/\)/));
  await assert.rejects(createBroker('redis://h/x'), urlError(/^bad Redis database number "x" in redis:\/\/h\/x/));
  await assert.rejects(createBackend('amqp://u:secret@h//'), (e: unknown) => e instanceof UrlError && /unsupported result backend URL scheme "amqp:"/.test(e.message) && !e.message.includes('secret'));
  await assert.rejects(createBroker('rabbitmq at host1'), urlError(/^not a URL: rabbitmq at host1 /));
  await assert.rejects(createBroker('amqp://h:99999//'), urlError(/^not a valid URL: amqp:\/\/h:99999\/\//));
});

test('memory:// with a hub names one of its transports (memory:// is "default", a trailing slash is ignored)', async () => {
  const hub = new MemoryTransports();
  const b = await createBroker('memory://', { memory: hub });
  assert.equal(b.kind, 'memory');
  assert.equal(b.displayUrl, 'memory://');
  assert.equal(await createBroker('memory://default', { memory: hub }), b);
  assert.equal(await createBroker('memory://x/', { memory: hub }), hub.broker('x'));
  assert.equal((await createBackend('memory://r', { memory: hub })).displayUrl, 'memory://r');
  await hub.close();
});
