import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../lab/errors.js';
import { labNameFromFile, loadInventory, parseInventory } from '../../lab/topology/inventory.js';
import { expandPath } from '../../lab/topology/inventory-sections.js';
import { topologyData, topologyFromData, type Topology } from '../../lab/topology/topology.js';
import { FIXTURES, HOSTS, fakeResolver } from './helpers.js';

const GOOD = join(FIXTURES, 'good');
const resolve = fakeResolver({ 'pi1.local': '10.0.0.1', 'pi3.local': '10.0.0.3' });

const summary = (t: Topology): Record<string, string> =>
  Object.fromEntries(t.hosts.map((h) => [h.name, `${h.roles.join('+')}@${h.address}`]));

/** The book's four hosts with their default roles, HOSTn at `address(n)`, as `summary` shows them. */
const bookHosts = (address: (n: number) => string): Record<string, string> => ({
  HOST1: `broker@${address(1)}`,
  HOST2: `backend@${address(2)}`,
  HOST3: `workers@${address(3)}`,
  HOST4: `master+quotes@${address(4)}`,
});

/** The Raspberry Pi examples' login: user pi with sudo, port 22, the default ed25519 key. */
function assertPiLogin(t: Topology): void {
  for (const h of t.hosts) {
    assert.equal(h.user, 'pi');
    assert.equal(h.sudo, true, 'sudo: true (in the Ansible file ansible_become: yes, a YAML 1.1 boolean)');
    assert.equal(h.port, 22);
    assert.equal(h.keyPath, join(homedir(), '.ssh/id_ed25519'));
    assert.equal(h.password, undefined);
  }
}

describe('example inventories in hosts/', () => {
  it('every hosts/*.yaml loads', async () => {
    const files = readdirSync(HOSTS).filter((f) => f.endsWith('.yaml'));
    for (const name of ['local.yaml', 'netns.yaml', 'raspberry-pi.example.yaml', 'ansible-inventory.example.yaml', 'docker.yaml']) {
      assert.ok(files.includes(name), `hosts/${name} is missing`);
    }
    for (const f of files) {
      const t = await loadInventory(join(HOSTS, f), { resolve });
      assert.deepEqual(t.warnings, [], `${f} should load without warnings`);
    }
  });

  it('local.yaml: book roles on loopback, distinct service ports', async () => {
    const t = await loadInventory(join(HOSTS, 'local.yaml'));
    assert.equal(t.provider, 'local');
    assert.equal(t.name, 'local');
    assert.deepEqual(summary(t), bookHosts(() => '127.0.0.1'));
    assert.equal(t.roleHost('workers').concurrency, 4);
    assert.deepEqual(t.ports, { broker: 5673, backend: 6380, quotes: 8001 });
    assert.equal(t.subnet, undefined);
  });

  it('netns.yaml: the book lab on 198.18.0.0/24, addresses given and allocated', async () => {
    const t = await loadInventory(join(HOSTS, 'netns.yaml'));
    assert.equal(t.name, 'book');
    assert.equal(t.provider, 'netns');
    assert.equal(t.subnet, '198.18.0.0/24');
    assert.equal(t.gateway, '198.18.0.1');
    assert.equal(t.format, 'lab');
    assert.equal(t.file, join(HOSTS, 'netns.yaml'));
    assert.deepEqual(summary(t), bookHosts((n) => `198.18.0.${10 + n}`));
    assert.equal(t.roleHost('broker').name, 'HOST1');
    assert.equal(t.roleHost('backend').name, 'HOST2');
    assert.equal(t.roleHost('master').name, 'HOST4');
    assert.equal(t.roleHost('quotes').name, 'HOST4');
    assert.deepEqual(t.roleHosts('workers').map((h) => h.name), ['HOST3']);
    assert.deepEqual(t.ports, { broker: 5672, backend: 6379, quotes: 8000 });
  });

  it('raspberry-pi.example.yaml: four Pis over ssh, defaults inherited', async () => {
    const t = await loadInventory(join(HOSTS, 'raspberry-pi.example.yaml'));
    assert.equal(t.provider, 'ssh');
    assert.deepEqual(summary(t), bookHosts((n) => `192.168.1.${10 + n}`));
    assertPiLogin(t);
    assert.deepEqual(t.roleHost('workers').queues, ['celery', 'mergesort']);
    assert.equal(t.roleHost('workers').concurrency, 4);
  });

  it('ansible-inventory.example.yaml: groups become roles, vars become settings', async () => {
    const t = await loadInventory(join(HOSTS, 'ansible-inventory.example.yaml'));
    assert.equal(t.format, 'ansible');
    assert.equal(t.name, 'pis-ansible');
    assert.equal(t.provider, 'ssh');
    assert.deepEqual(summary(t), bookHosts((n) => `192.168.1.${10 + n}`));
    const w = t.roleHost('workers');
    assert.equal(w.concurrency, 4);
    assert.equal(w.pool, 'prefork');
    assert.deepEqual(w.queues, ['celery', 'mergesort']);
    assertPiLogin(t);
  });

  it('docker.yaml: containers on a chosen subnet, images and mounts', async () => {
    const t = await loadInventory(join(HOSTS, 'docker.yaml'));
    assert.equal(t.provider, 'docker');
    assert.equal(t.subnet, '198.18.1.0/24');
    assert.deepEqual(summary(t), bookHosts((n) => `198.18.1.${10 + n}`));
    assert.deepEqual(t.docker, {
      socket: '/run/podman/podman.sock',
      network: 'lab-dock',
      images: { broker: 'rabbitmq:3', backend: 'redis:7', node: 'node:20' },
      mounts: [],
    });
    assert.deepEqual(t.roleHost('workers').mounts, [{ source: join(HOSTS, '..', 'scenarios'), target: '/lab/scenarios', readOnly: true }]);
  });
});

describe('inventory semantics', () => {
  it('hosts inherit defaults; their own settings win; relative key paths resolve against the file', async () => {
    const t = await loadInventory(join(GOOD, 'defaults-inheritance.yaml'));
    const h1 = t.host('HOST1')!;
    assert.deepEqual(
      { user: h1.user, port: h1.port, sudo: h1.sudo, concurrency: h1.concurrency, pool: h1.pool, queues: h1.queues, keyPath: h1.keyPath },
      { user: 'pi', port: 2222, sudo: true, concurrency: 3, pool: 'threads', queues: ['celery', 'fast'], keyPath: join(homedir(), '.ssh/lab_key') },
    );
    const h2 = t.host('HOST2')!;
    assert.equal(h2.user, 'redis-admin');
    assert.equal(h2.sudo, false);
    assert.equal(h2.port, 2222);
    const h3 = t.host('host3')!; // lookup is case-insensitive
    assert.deepEqual(
      { port: h3.port, concurrency: h3.concurrency, pool: h3.pool, queues: h3.queues, keyPath: h3.keyPath, user: h3.user },
      { port: 22, concurrency: 8, pool: 'async', queues: ['slow'], keyPath: join(GOOD, 'keys/worker_ed25519'), user: 'pi' },
    );
  });

  it('built-in defaults when nothing is said', async () => {
    const t = await parseInventory('provider: local\nhosts: {HOST1: , HOST2: , HOST3: , HOST4: }\n', '/tmp/My Lab.yaml');
    assert.equal(t.name, 'my-lab', 'lab name from the file name');
    const w = t.roleHost('workers');
    assert.deepEqual({ sudo: w.sudo, concurrency: w.concurrency, pool: w.pool, queues: w.queues, port: w.port, user: w.user }, {
      sudo: false,
      concurrency: 2,
      pool: 'prefork',
      queues: ['celery'],
      port: undefined,
      user: undefined,
    });
  });

  it('allocates addresses deterministically: HOSTn → .(10+n), then the next free from .11', async () => {
    const t = await loadInventory(join(GOOD, 'allocation.yaml'));
    assert.deepEqual(summary(t), {
      HOST1: 'broker@10.20.30.11',
      HOST2: 'backend@10.20.30.14',
      HOST3: 'workers@10.20.30.13',
      HOST4: 'master+quotes@10.20.30.12',
      pi5: 'workers@10.20.30.15',
      pi6: 'workers@10.20.30.200',
    });
    assert.deepEqual(t.roleHosts('workers').map((h) => h.name), ['HOST3', 'pi5', 'pi6']);
    const again = await loadInventory(join(GOOD, 'allocation.yaml'));
    assert.deepEqual(summary(again), summary(t));
  });

  it('a default subnet inside 198.18.0.0/15, stable per lab name', async () => {
    const text = (lab: string): string => `lab: ${lab}\nprovider: netns\nhosts: {HOST1: , HOST2: , HOST3: , HOST4: }\n`;
    const a = await parseInventory(text('alpha'), '/tmp/a.yaml');
    const a2 = await parseInventory(text('alpha'), '/tmp/b.yaml');
    assert.equal(a.subnet, a2.subnet);
    assert.match(a.subnet!, /^198\.1[89]\.\d{1,3}\.0\/24$/);
    const prefix = a.subnet!.replace(/0\/24$/, '');
    assert.equal(a.roleHost('broker').address, `${prefix}11`);
    assert.equal(a.gateway, `${prefix}1`);
  });

  it('roles: a host may carry several; quotes defaults to the master host', async () => {
    const t = await parseInventory(
      'provider: local\nhosts:\n  one: {roles: [broker, backend]}\n  two: {roles: [workers]}\n  three: {roles: [master]}\n',
      '/tmp/roles.yaml',
    );
    assert.equal(t.roleHost('broker').name, 'one');
    assert.equal(t.roleHost('backend').name, 'one');
    assert.equal(t.roleHost('quotes').name, 'three');
    assert.deepEqual(t.host('three')!.roles, ['master', 'quotes']);
    // two services on one address need different ports: the defaults already differ
    assert.notEqual(t.ports.broker, t.ports.backend);
  });

  it('ssh hosts by name: resolved at load time, the name kept for connecting', async () => {
    const t = await loadInventory(join(GOOD, 'ssh-names.yaml'), { resolve });
    const h1 = t.host('HOST1')!;
    assert.equal(h1.address, '10.0.0.1');
    assert.equal(h1.hostname, 'pi1.local');
    const h3 = t.host('pi3.local')!;
    assert.equal(h3.address, '10.0.0.3');
    assert.equal(h3.hostname, 'pi3.local');
    assert.equal(t.host('HOST2')!.hostname, undefined);
  });

  it('YAML anchors and merge keys, with x- keys to hold them', async () => {
    const t = await loadInventory(join(GOOD, 'anchors.yaml'));
    for (const h of t.hosts) {
      assert.equal(h.user, 'pi');
      assert.equal(h.sudo, true);
    }
    assert.equal(t.host('HOST3')!.concurrency, 4);
  });

  it('settings that do nothing under the provider, and passwords, are warnings with positions', async () => {
    const t = await loadInventory(join(GOOD, 'warnings.yaml'));
    const file = join(GOOD, 'warnings.yaml');
    assert.equal(t.warnings.length, 4, t.warnings.join('\n'));
    assert.match(t.warnings[0]!, new RegExp(`^${file}:4:1: subnet: ignored`));
    assert.match(t.warnings[1]!, new RegExp(`^${file}:5:1: docker: ignored`));
    assert.match(t.warnings[2]!, new RegExp(`^${file}:7:\\d+: hosts.HOST1.password: a password in the inventory is discouraged`));
    assert.match(t.warnings[3]!, new RegExp(`^${file}:9:\\d+: hosts.HOST3.image: ignored`));
    assert.ok(!t.warnings.join('\n').includes('hunter2'), 'warnings never show the password');
    assert.equal(t.host('HOST1')!.password, 'hunter2');
    assert.equal(t.host('HOST3')!.image, undefined);
  });

  it('a missing file is a ConfigError naming it', async () => {
    const path = join(GOOD, 'no-such-inventory.yaml');
    await assert.rejects(loadInventory(path), (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && e.file === path && /no such file/.test(e.message));
  });

  it('the topology is frozen and survives a JSON round trip', async () => {
    const t = await loadInventory(join(HOSTS, 'netns.yaml'));
    assert.ok(Object.isFrozen(t));
    assert.ok(Object.isFrozen(t.hosts[0]));
    assert.throws(() => {
      (t.hosts[0] as { address: string }).address = '1.2.3.4';
    }, TypeError);
    const json = JSON.parse(JSON.stringify(t));
    assert.equal(json.roleHost, undefined);
    const back = topologyFromData(json);
    assert.deepEqual(topologyData(back), topologyData(t));
    assert.equal(back.roleHost('broker').address, '198.18.0.11');
  });
});

describe('services, broker and backend', () => {
  it('a host\'s own services: ready as a port, a regex or a mapping; defaults; env values as strings', async () => {
    const t = await loadInventory(join(GOOD, 'services.yaml'));
    const [web, logger, pool] = t.host('HOST3')!.services!;
    assert.deepEqual(web, { name: 'web', command: ['python3', '-m', 'http.server', '8080'], count: 1, env: {}, ready: { port: 8080, timeoutMs: 60_000 }, restart: 'always', maxRestarts: 3 });
    assert.deepEqual(logger, { name: 'logger', command: ['sh', '-c', 'echo started; exec sleep 1000'], count: 1, env: {}, ready: { log: '^started$', timeoutMs: 60_000 }, restart: 'on-failure', maxRestarts: 0 });
    assert.deepEqual(pool, { name: 'pool', command: ['/usr/bin/env', 'python3', 'pool.py'], count: 3, cwd: '/srv/pool', env: { WORKERS: '4', DEBUG: 'true', NAME: 'pool' }, ready: { port: 9000, timeoutMs: 2500 }, restart: 'never', maxRestarts: 3 });
    assert.deepEqual(t.host('HOST4')!.services, [{ name: 'once', command: ['/bin/true'], count: 1, env: {}, restart: 'always', maxRestarts: 3 }]);
    assert.equal(t.host('HOST1')!.services, undefined);
    assert.deepEqual(t.broker, { kind: 'rabbitmq' });
    assert.deepEqual(t.backend, { kind: 'redis', persistence: true }, 'Redis keeps an append-only file unless told not to');
  });

  it('a Redis broker on the backend host: no broker port of its own, persistence off', async () => {
    const t = await loadInventory(join(GOOD, 'redis-broker.yaml'));
    assert.deepEqual(t.broker, { kind: 'redis' });
    assert.deepEqual(t.backend, { kind: 'redis', persistence: false });
    assert.deepEqual(summary(t), { HOST2: 'broker+backend@198.19.40.12', HOST3: 'workers@198.19.40.13', HOST4: 'master+quotes@198.19.40.14' });
    assert.deepEqual(t.warnings, []);
    // the broker's port would clash with the backend's on one address if it had one: it has none
    const warned = await parseInventory('provider: local\nbroker: { kind: redis }\nports: { broker: 6379 }\nhosts: {HOST2: {roles: [broker, backend]}, HOST3: , HOST4: }\n', '/tmp/rq.yaml');
    assert.match(warned.warnings.join('\n'), /ports\.broker: ignored: a Redis broker uses the backend's Redis and its port/);
  });

  it('links: direct unless the inventory says proxy (lab_links in Ansible); the state keeps it', async () => {
    const hosts = 'hosts: {HOST1: , HOST2: , HOST3: , HOST4: }\n';
    assert.equal((await parseInventory(`provider: netns\n${hosts}`, '/tmp/l.yaml')).links, 'direct');
    const proxied = await parseInventory(`provider: netns\nlinks: proxy\n${hosts}`, '/tmp/l.yaml');
    assert.equal(proxied.links, 'proxy');
    assert.equal(topologyFromData(topologyData(proxied)).links, 'proxy');
    const ansible = ['all:', '  vars: { lab_provider: netns, lab_links: proxy }', '  children:', '    broker: { hosts: { HOST1: } }', '    backend: { hosts: { HOST2: } }', '    workers: { hosts: { HOST3: } }', '    master: { hosts: { HOST4: } }', ''].join('\n');
    assert.equal((await parseInventory(ansible, '/tmp/a.yaml')).links, 'proxy');
  });

  it('Ansible: lab_services on a host, lab_broker and lab_backend in all.vars', async () => {
    const text = ['all:', '  vars: { lab_provider: local, lab_broker: { kind: redis }, lab_backend: { persistence: false } }', '  children:', '    backend: { hosts: { HOST2: { lab_roles: [broker, backend] } } }', '    workers:', '      hosts:', '        HOST3:', '          lab_services: { web: { command: [python3, -m, http.server], ready: 8000 } }', '    master: { hosts: { HOST4: } }', ''].join('\n');
    const t = await parseInventory(text, '/tmp/ansible-own.yaml');
    assert.equal(t.format, 'ansible');
    assert.deepEqual(t.broker, { kind: 'redis' });
    assert.equal(t.backend?.persistence, false);
    assert.deepEqual(t.host('HOST3')!.services!.map((s) => [s.name, s.ready?.port]), [['web', 8000]]);
  });
});

describe('Ansible inventories', () => {
  it('nested and plain groups, precedence all < parent < child < host, YAML 1.1 booleans, string numbers', async () => {
    const t = await loadInventory(join(GOOD, 'ansible-nested.yaml'));
    assert.equal(t.format, 'ansible');
    assert.equal(t.name, 'ansible-nested', 'lab name from the file name');
    assert.equal(t.provider, 'ssh');
    assert.deepEqual(summary(t), {
      HOST1: 'broker@10.9.0.11',
      HOST2: 'backend@10.9.0.12',
      HOST3: 'workers@10.9.0.13',
      HOST5: 'workers@10.9.0.15',
      HOST4: 'master+quotes@10.9.0.14',
    });
    const h = (n: string) => t.host(n)!;
    // pis group vars override all.vars
    assert.equal(h('HOST1').user, 'pi');
    assert.equal(h('HOST1').sudo, true);
    // HOST4 is not in pis: all.vars, then its own ansible_user
    assert.equal(h('HOST4').user, 'boss');
    assert.equal(h('HOST4').sudo, false);
    // ansible_port "22" → 22; host var 2200 wins
    assert.equal(h('HOST1').port, 22);
    assert.equal(h('HOST5').port, 2200);
    // worker group vars, host overrides
    assert.equal(h('HOST3').concurrency, 4);
    assert.equal(h('HOST3').pool, 'threads');
    assert.equal(h('HOST3').keyPath, '/keys/h3');
    assert.equal(h('HOST5').concurrency, 6);
  });

  it('all.vars: lab_name, lab_provider, lab_subnet', async () => {
    const text = [
      'all:',
      '  vars: { lab_name: ans, lab_provider: netns, lab_subnet: 10.5.0.0/24 }',
      '  children:',
      '    brokers: { hosts: { h1: , } }',
      '    backends: { hosts: { h2: } }',
      '    workers: { hosts: { h3: { ansible_host: 10.5.0.33 } } }',
      '    masters: { hosts: { h4: } }',
      '    quote: { hosts: { h3: } }',
      '',
    ].join('\n');
    const t = await parseInventory(text, '/tmp/inv.yaml');
    assert.equal(t.name, 'ans');
    assert.equal(t.provider, 'netns');
    assert.equal(t.subnet, '10.5.0.0/24');
    assert.deepEqual(summary(t), { h1: 'broker@10.5.0.11', h2: 'backend@10.5.0.12', h3: 'workers+quotes@10.5.0.33', h4: 'master@10.5.0.13' });
  });

  it('hosts directly under all with lab_roles', async () => {
    const text = [
      'all:',
      '  hosts:',
      '    a: { ansible_host: 10.0.0.1, lab_roles: [broker, backend] }',
      '    b: { ansible_host: 10.0.0.2, lab_roles: [workers] }',
      '    c: { ansible_host: 10.0.0.3, lab_roles: [master] }',
      '',
    ].join('\n');
    const t = await parseInventory(text, '/tmp/flat.yaml');
    assert.deepEqual(summary(t), { a: 'broker+backend@10.0.0.1', b: 'workers@10.0.0.2', c: 'master+quotes@10.0.0.3' });
  });
});

describe('helpers', () => {
  it('labNameFromFile', () => {
    assert.equal(labNameFromFile('/x/raspberry-pi.example.yaml'), 'raspberry-pi-example');
    assert.equal(labNameFromFile('/x/42.yml'), 'lab-42');
    assert.equal(labNameFromFile('/x/Ünïcode Lab!!.yaml'), 'unicode-lab');
    assert.match(labNameFromFile(`/x/${'a'.repeat(80)}.yaml`), /^a{31}$/);
  });

  it('expandPath', () => {
    assert.equal(expandPath('~', '/inv', '/home/u'), '/home/u');
    assert.equal(expandPath('~/k', '/inv', '/home/u'), '/home/u/k');
    assert.equal(expandPath('k/id', '/inv', '/home/u'), '/inv/k/id');
    assert.equal(expandPath('/abs/../k', '/inv', '/home/u'), '/k');
    assert.equal(expandPath('~bob/k', '/inv', '/home/u'), null);
  });
});
