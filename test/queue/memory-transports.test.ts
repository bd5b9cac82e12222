/** The embedded lab's memory transports: owned by a hub, shared by the apps bound to it, by no one else. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { App, BackendError, BrokerError, MemoryTransports } from '../../lab/queue/index.js';
import { UrlError } from '../../lab/queue/errors.js';
import { createBackend, createBroker } from '../../lab/queue/transports.js';

const NO_HUB = /^memory:\/\/: memory:\/\/ only exists inside an embedded lab \(an app bound to its MemoryTransports hub\)$/;

test('a hub holds its transports by name: same name, same instance; another hub, another instance', async () => {
  const hub = new MemoryTransports();
  const other = new MemoryTransports();
  const b = await createBroker('memory://', { memory: hub });
  assert.equal(b.kind, 'memory');
  assert.equal(b.displayUrl, 'memory://');
  assert.equal(await createBroker('memory://default', { memory: hub }), b);
  assert.notEqual(await createBroker('memory://x', { memory: hub }), b);
  assert.equal((await createBroker('memory://x/', { memory: hub })).displayUrl, 'memory://x');
  assert.notEqual(await createBroker('memory://', { memory: other }), b);
  const r = await createBackend('memory://', { memory: hub });
  assert.equal(await createBackend('memory://', { memory: hub }), r);
  assert.notEqual(await createBackend('memory://', { memory: other }), r);
  await Promise.all([hub.close(), other.close()]);
});

test('a broker or backend someone closed is made again; a closed hub makes none', async () => {
  const hub = new MemoryTransports();
  const b = hub.broker();
  const r = hub.backend('results');
  await b.close();
  assert.notEqual(hub.broker(), b);
  const waiting = r.wait('some-task', null);
  await hub.close();
  assert.equal(hub.closed, true);
  assert.equal(r.status, 'closed');
  await assert.rejects(waiting, (e: unknown) => e instanceof BackendError && e.code === 'E_BACKEND_CLOSED', 'waiters are told');
  assert.throws(() => hub.broker(), (e: unknown) => e instanceof BrokerError && e.code === 'E_BROKER_CLOSED' && /^memory:\/\/: the embedded lab/.test(e.message));
  assert.throws(() => hub.backend('results'), (e: unknown) => e instanceof BackendError && e.code === 'E_BACKEND_CLOSED' && /^memory:\/\/results:/.test(e.message));
});

test('an app meets its hub through useMemoryTransports (or the memory option); unbound, memory:// fails on first use', async () => {
  const unbound = new App('unbound'); // memory:// is the default URL: constructing still connects nothing
  await assert.rejects(unbound.getBroker(), (e: unknown) => e instanceof UrlError && NO_HUB.test(e.message));
  await assert.rejects(unbound.getBackend(), (e: unknown) => e instanceof UrlError && NO_HUB.test(e.message));

  const hub = new MemoryTransports();
  const a = new App('a').useMemoryTransports(hub);
  const b = new App('b', { memory: hub });
  assert.equal(await a.getBroker(), await b.getBroker());
  assert.equal(await a.getBroker(), hub.broker());
  assert.equal(await a.getBackend(), hub.backend());
  await a.close(); // the hub's transports stay open: they are the hub's to close
  assert.equal(hub.broker().status, 'ready');

  // A new embedded lab in the same process: the app lets go of the old hub's transports.
  const next = new MemoryTransports();
  b.useMemoryTransports(next);
  assert.equal(await b.getBroker(), next.broker());
  assert.equal(await b.getBackend(), next.backend());
  assert.notEqual(await b.getBroker(), hub.broker());
  await Promise.all([hub.close(), next.close()]);
});
