import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../lab/errors.js';
import { externalUrls } from '../../lab/orchestrator/external-services.js';
import { SERVICES, placements } from '../../lab/orchestrator/services.js';
import { loadInventory } from '../../lab/topology/inventory.js';
import { backendUrl, brokerUrl, newState, redacted, redisPersistence } from '../../lab/topology/state.js';
import type { Topology } from '../../lab/topology/topology.js';

describe('external services: the inventory, the environment, the state', () => {
  let dir: string;
  let both: Topology;
  let brokerOnly: Topology;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lab-external-'));
    const hosts = 'hosts:\n  ci: { roles: [broker, backend, workers, master] }\n';
    await writeFile(join(dir, 'both.yaml'), `lab: ci\nprovider: local\nbroker: { kind: rabbitmq, external: true, url_env: MY_AMQP }\nbackend: { external: true, url_env: MY_REDIS }\n${hosts}`);
    await writeFile(join(dir, 'broker.yaml'), `lab: ci\nprovider: local\nbroker: { external: true, url_env: MY_AMQP }\n${hosts}`);
    both = await loadInventory(join(dir, 'both.yaml'));
    brokerOnly = await loadInventory(join(dir, 'broker.yaml'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lab starts no RabbitMQ for an external broker and no Redis for an external backend; workers and quotes still', () => {
    assert.deepEqual(placements(both, SERVICES).map((p) => p.service.name), ['quotes', 'workers']);
    assert.deepEqual(placements(brokerOnly, SERVICES).map((p) => p.service.name), ['redis', 'quotes', 'workers']);
  });

  it('the URLs come from the variables the inventory names; a missing one or the wrong kind is exit 2, masked', () => {
    const env = { MY_AMQP: 'amqp://ci:s3cret@mq.example:5673/v', MY_REDIS: 'redis://:r3dis@kv.example:6390/2' };
    assert.deepEqual(externalUrls(both, env), { broker: env.MY_AMQP, backend: env.MY_REDIS });
    const refused = (e: Record<string, string>, re: RegExp) => (err: unknown) => hasCode(err, 'E_CONFIG') && (err as { exitCode: number }).exitCode === 2 && re.test((err as Error).message) && !/s3cret|r3dis/.test((err as Error).message);
    assert.throws(() => externalUrls(both, { MY_AMQP: env.MY_AMQP }), refused({}, /backend\.url_env: expected the environment variable MY_REDIS to hold the backend's URL \(external: true\), got no such variable/));
    assert.throws(() => externalUrls(both, { ...env, MY_AMQP: '  ' }), refused({}, /got an empty value/));
    assert.throws(() => externalUrls(both, { ...env, MY_AMQP: env.MY_REDIS }), refused({}, /expected MY_AMQP to hold a rabbitmq URL like amqp:\/\/user:password@host:5672\/vhost, got redis:\/\/:\*\*\*\*@kv\.example:6390\/2/));
  });

  it('the state: endpoints from the URLs, every URL the external one, kept (0600 file) but printed masked', () => {
    const env = { MY_AMQP: 'amqp://ci:s3cret@mq.example:5673/v', MY_REDIS: 'redis://:r3dis@kv.example:6390/2' };
    const s = newState(both, new Date(0), externalUrls(both, env));
    assert.deepEqual(s.services.broker, { host: 'mq.example', address: 'mq.example', port: 5673 });
    assert.deepEqual(s.services.backend, { host: 'kv.example', address: 'kv.example', port: 6390 });
    for (const byAddress of [true, false]) {
      assert.equal(brokerUrl(s, { byAddress }), env.MY_AMQP);
      assert.equal(backendUrl(s, { byAddress }), env.MY_REDIS);
    }
    assert.equal(redisPersistence(s), 'external');
    assert.ok(!JSON.stringify(redacted(s)).includes('s3cret') && !JSON.stringify(redacted(s)).includes('r3dis'));
    // the lab's own Redis still gets a password of its own when only the broker is external
    const b = newState(brokerOnly, new Date(0), externalUrls(brokerOnly, env));
    assert.equal(brokerUrl(b), env.MY_AMQP);
    assert.match(backendUrl(b, { byAddress: true }), /^redis:\/\/:[\w-]{32}@127\.0\.0\.1:6379\/0$/);
  });
});
