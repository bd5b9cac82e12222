import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../lab/errors.js';
import { loadInventory } from '../../lab/topology/inventory.js';
import {
  acquireLock,
  activeLab,
  backendUrl,
  brokerKind,
  brokerUrl,
  clearActiveLab,
  ensureStateDir,
  generateSecret,
  LabLockedError,
  labHome,
  newState,
  readState,
  redacted,
  redisPersistence,
  setActiveLab,
  stateDir,
  stateTopology,
  STATE_FILE,
  writeState,
} from '../../lab/topology/state.js';
import { HOSTS, withTempDir } from './helpers.js';

describe('secrets', () => {
  it('generateSecret: URL-safe, 32 characters, never the same twice, never an option', () => {
    const seen = new Set<string>();
    // 1 in 64 base64url strings begins with '-': 2,000 draws would almost surely (1 − 10⁻¹⁴) show one.
    for (let i = 0; i < 2000; i++) {
      const s = generateSecret();
      assert.match(s, /^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/);
      seen.add(s);
    }
    assert.equal(seen.size, 2000);
    assert.match(generateSecret(48), /^[A-Za-z0-9_-]{64}$/);
  });
});

describe('state dir and active lab', () => {
  it('labHome: $LAB_HOME, else ~/.lab; stateDir validates the lab name', () => {
    assert.equal(labHome({ LAB_HOME: '/srv/labs' }), '/srv/labs');
    assert.match(labHome({}), /\/\.lab$/);
    assert.equal(stateDir('book', '/srv/labs'), '/srv/labs/book');
    assert.throws(() => stateDir('../etc', '/srv/labs'), ConfigError);
    assert.throws(() => stateDir('Book', '/srv/labs'), ConfigError);
  });

  it('the active lab pointer', () =>
    withTempDir(async (dir) => {
      assert.equal(await activeLab(dir), null);
      await setActiveLab('book', dir);
      assert.equal(await activeLab(dir), 'book');
      await clearActiveLab('other', dir);
      assert.equal(await activeLab(dir), 'book', 'only cleared when it names that lab');
      await clearActiveLab('book', dir);
      assert.equal(await activeLab(dir), null);
      await assert.rejects(setActiveLab('no good', dir), ConfigError);
    }));
});

describe('state.json', () => {
  it('is written 0600 atomically (folder 0700) and round-trips', () =>
    withTempDir(async (home) => {
      const oldUmask = process.umask(0o000); // even with a permissive umask
      try {
        const topo = await loadInventory(join(HOSTS, 'netns.yaml'));
        const dir = await ensureStateDir(topo.name, home);
        assert.equal(dir, join(home, 'book'));
        assert.equal((await stat(dir)).mode & 0o777, 0o700);
        const s = newState(topo, new Date('2026-11-27T12:00:00Z'));
        const written = await writeState(dir, s, new Date('2026-11-27T12:00:05Z'));
        const st = await stat(join(dir, STATE_FILE));
        assert.equal(st.mode & 0o777, 0o600);
        assert.deepEqual(await readdir(dir), [STATE_FILE], 'no temp file left behind');
        const back = await readState(dir);
        assert.deepEqual(back, written);
        assert.equal(back!.updatedAt, '2026-11-27T12:00:05.000Z');
        assert.equal(back!.inventoryPath, join(HOSTS, 'netns.yaml'));
        assert.equal(stateTopology(back!).roleHost('broker').address, '198.18.0.11');
        // overwrite keeps 0600
        await writeState(dir, { ...back!, status: 'up' });
        assert.equal((await stat(join(dir, STATE_FILE))).mode & 0o777, 0o600);
        assert.equal((await readState(dir))!.status, 'up');
      } finally {
        process.umask(oldUmask);
      }
    }));

  it('newState: generated credentials and endpoints from the roles', async () => {
    const topo = await loadInventory(join(HOSTS, 'netns.yaml'));
    const s = newState(topo);
    assert.equal(s.lab, 'book');
    assert.equal(s.status, 'creating');
    assert.deepEqual(s.services, {
      broker: { host: 'HOST1', address: '198.18.0.11', port: 5672 },
      backend: { host: 'HOST2', address: '198.18.0.12', port: 6379 },
      quotes: { host: 'HOST4', address: '198.18.0.14', port: 8000 },
    });
    assert.equal(s.credentials.rabbitmq.user, 'lab');
    assert.notEqual(s.credentials.rabbitmq.password, 'guest');
    assert.notEqual(s.credentials.rabbitmq.password, s.credentials.redis.password);
    assert.equal(brokerUrl(s), `amqp://lab:${s.credentials.rabbitmq.password}@HOST1:5672/book`);
    assert.equal(brokerUrl(s, { byAddress: true }), `amqp://lab:${s.credentials.rabbitmq.password}@198.18.0.11:5672/book`);
    assert.equal(backendUrl(s), `redis://:${s.credentials.redis.password}@HOST2:6379/0`);
    assert.notEqual(newState(topo).credentials.redis.password, s.credentials.redis.password);
    assert.equal(brokerKind(s), 'rabbitmq');
    assert.equal(redisPersistence(s), 'aof-everysec', 'results survive a Redis restart unless the inventory says otherwise');
  });

  it('a Redis broker: a database of its own in the backend\'s Redis, by name or address; older states: RabbitMQ, no persistence', async () => {
    const s = newState(await loadInventory(join(HOSTS, 'redis-only.yaml')));
    const pw = s.credentials.redis.password;
    assert.equal(brokerKind(s), 'redis');
    assert.deepEqual(s.services.broker, { host: 'HOST2', address: '198.18.2.12', port: 6379 });
    assert.equal(brokerUrl(s), `redis://:${pw}@HOST2:6379/1`);
    assert.equal(brokerUrl(s, { byAddress: true }), `redis://:${pw}@198.18.2.12:6379/1`);
    assert.equal(backendUrl(s), `redis://:${pw}@HOST2:6379/0`);
    const old = { ...s, topology: { ...s.topology, broker: undefined, backend: undefined } };
    assert.equal(brokerKind(old), 'rabbitmq');
    assert.equal(redisPersistence(old), 'none');
  });

  it('redacted() shows no secret, keeps the rest', async () => {
    const topo = await loadInventory(join(HOSTS, 'netns.yaml'));
    const s = newState(topo);
    const withUrls = { ...s, provider: { brokerUrl: brokerUrl(s), backendUrl: backendUrl(s), token: 'abc' } };
    const r = redacted(withUrls);
    const text = JSON.stringify(r);
    for (const secret of [s.credentials.rabbitmq.password, s.credentials.redis.password, 'abc']) assert.ok(!text.includes(secret), `leaked ${secret}`);
    assert.equal(r.credentials.rabbitmq.user, 'lab');
    assert.equal(r.credentials.rabbitmq.password, '****');
    assert.equal(r.provider!.brokerUrl, 'amqp://lab:****@HOST1:5672/book');
    assert.equal(r.services.broker.address, '198.18.0.11');
    assert.equal(r.topology.hosts.length, 4);
    // the original is untouched
    assert.notEqual(s.credentials.rabbitmq.password, '****');
  });

  it('a host password from the inventory is redacted too', async () => {
    const topo = await loadInventory(join(HOSTS, '..', 'test', 'fixtures', 'inventories', 'good', 'warnings.yaml'));
    const s = newState(topo);
    assert.ok(JSON.stringify(s).includes('hunter2'));
    assert.ok(!JSON.stringify(redacted(s)).includes('hunter2'));
  });

  it('missing → null; corrupt → ConfigError naming the file; loose permissions are tightened', () =>
    withTempDir(async (dir) => {
      assert.equal(await readState(dir), null);
      await writeFile(join(dir, STATE_FILE), '{ not json');
      await assert.rejects(readState(dir), (e: unknown) => e instanceof ConfigError && e.file === join(dir, STATE_FILE));
      await writeFile(join(dir, STATE_FILE), JSON.stringify({ version: 99 }));
      await assert.rejects(readState(dir), ConfigError);
      const topo = await loadInventory(join(HOSTS, 'local.yaml'));
      await writeState(dir, newState(topo));
      await chmod(join(dir, STATE_FILE), 0o644);
      assert.ok(await readState(dir));
      assert.equal((await stat(join(dir, STATE_FILE))).mode & 0o777, 0o600);
      assert.ok((await readFile(join(dir, STATE_FILE), 'utf8')).endsWith('\n'));
    }));
});

describe('lab lock', () => {
  it('one holder at a time; a dead holder is stale and taken over', () =>
    withTempDir(async (dir) => {
      const release = await acquireLock(dir, 'book');
      await assert.rejects(acquireLock(dir, 'book'), LabLockedError);
      await release();
      const again = await acquireLock(dir, 'book');
      await again();
      // a lock left by a process that has exited
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      await writeFile(join(dir, 'lock'), JSON.stringify({ pid: Number(dead.stdout), startTime: 1 }));
      const taken = await acquireLock(dir, 'book');
      await taken();
      // a torn lock file is stale too
      await writeFile(join(dir, 'lock'), '{"pid":');
      await (await acquireLock(dir, 'book'))();
    }));

  it('racing takers of a stale lock: exactly one gets it', () =>
    withTempDir(async (dir) => {
      for (let round = 0; round < 20; round++) {
        // A lock left by a process that is gone (pid 0x7fffffff does not exist).
        await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 2147483646, startTime: 1 }));
        const results = await Promise.allSettled([acquireLock(dir, 'race'), acquireLock(dir, 'race'), acquireLock(dir, 'race')]);
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1, `round ${round}: ${won.length} holders`);
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof LabLockedError, String(r.reason));
        await (won[0] as PromiseFulfilledResult<() => Promise<void>>).value();
      }
    }, 'lab-lockrace-'));
});
