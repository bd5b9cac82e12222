/**
 * The inventory sections one by one, on plain data (what the YAML parses to), without a file: each reports its
 * problems at a field path and builds its part of the topology. Whole files are tested in inventory-good/-bad.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineCounter } from 'yaml';
import {
  assignAddresses,
  checkPortClashes,
  checkRoles,
  dockerSpec,
  giveQuotesToMaster,
  hostSpecs,
  servicePorts,
  subnetOf,
  type Obj,
  type SectionContext,
} from '../../lab/topology/inventory-sections.js';
import { formatCidr, parseCidr } from '../../lab/topology/net.js';
import { formatField, Issues } from '../../lab/topology/source.js';
import type { HostSpec, ProviderKind } from '../../lab/topology/topology.js';

function context(provider: ProviderKind | undefined): SectionContext {
  const issues = new Issues('/inv/lab.yaml', new LineCounter());
  issues.locate = (path) => ({ offset: 0, field: formatField(path) }); // no file: fields only
  return { issues, provider, baseDir: '/inv', home: '/home/u' };
}

/** "field: message" for every error reported so far (`warnings`: for every warning). */
const errors = (c: SectionContext): string[] => c.issues.errors.map((e) => `${e.dataPath}: ${e.message}`);
const warnings = (c: SectionContext): string[] => c.issues.warnings.map((w) => `${w.field}: ${w.message}`);

const BOOK: Obj = { hosts: { HOST1: null, HOST2: null, HOST3: null, HOST4: null } };

/** The book's four hosts on provider local, with their addresses assigned. */
function assignedBook(c: SectionContext): HostSpec[] {
  const { hosts, given } = hostSpecs(BOOK, c);
  assignAddresses(hosts, given, null, c);
  return hosts;
}

describe('subnet section', () => {
  it('netns without a subnet: the lab name picks a default /24', () => {
    const c = context('netns');
    const cidr = subnetOf({}, 'book', c);
    assert.ok(cidr);
    assert.match(formatCidr(cidr), /^198\.1[89]\.\d+\.0\/24$/);
    assert.deepEqual(errors(c), []);
  });

  it('host bits set or too small a network: an error at subnet, no subnet', () => {
    const hostBits = context('docker');
    assert.equal(subnetOf({ subnet: '10.0.0.5/24' }, 'book', hostBits), null);
    assert.deepEqual(errors(hostBits), ['subnet: expected a network address (host bits zero) like 10.0.0.0/24, got "10.0.0.5/24"']);
    const tooSmall = context('docker');
    assert.equal(subnetOf({ subnet: '10.0.0.0/30' }, 'book', tooSmall), null);
    assert.deepEqual(errors(tooSmall), ['subnet: expected a prefix of /29 or shorter (room for the gateway and the hosts), got /30']);
  });

  it('a provider without subnets: a warning, no subnet', () => {
    const c = context('ssh');
    assert.equal(subnetOf({ subnet: '10.0.0.0/24' }, 'book', c), null);
    assert.deepEqual(errors(c), []);
    assert.deepEqual(warnings(c), ['subnet: ignored: subnet applies to providers netns and docker, not ssh']);
  });
});

describe('hosts section', () => {
  it('host settings win over defaults, defaults over the built-in ones; the book gives HOST1…HOST4 roles', () => {
    const c = context('ssh');
    const { hosts, given, rolesBroken } = hostSpecs(
      { defaults: { user: 'pi', key: '~/.ssh/k', concurrency: 3 }, hosts: { HOST1: { user: 'root', address: 'pi1.local' }, HOST3: null } },
      c,
    );
    assert.equal(rolesBroken, false);
    assert.deepEqual(errors(c), []);
    const [h1, h3] = hosts;
    assert.deepEqual([h1!.roles, h1!.user, h1!.port, h1!.keyPath, h1!.address], [['broker'], 'root', 22, '/home/u/.ssh/k', 'pi1.local']);
    assert.deepEqual([h3!.roles, h3!.user, h3!.concurrency, h3!.pool, h3!.queues, h3!.address], [['workers'], 'pi', 3, 'prefork', ['celery'], '']);
    assert.deepEqual(
      given.map((g) => [g.host.name, g.path]),
      [['HOST1', ['hosts', 'HOST1', 'address']]],
    );
  });

  it('a host without roles beyond the book: an error, and its roles count as broken', () => {
    const c = context('local');
    const { rolesBroken } = hostSpecs({ hosts: { pi5: { concurrency: 2 } } }, c);
    assert.equal(rolesBroken, true);
    assert.deepEqual(errors(c), ['hosts.pi5: expected a roles list (broker, backend, workers, master, quotes) — only HOST1…HOST4 have default roles, got none']);
  });

  it('names: localhost, address-like or repeated (case-insensitive) are errors; worker settings need a workers host', () => {
    const c = context('local');
    hostSpecs({ hosts: { HOST1: { pool: 'threads' }, host1: null, localhost: { roles: ['workers'] }, '10.0.0.1': { roles: ['master'] } } }, c);
    assert.deepEqual(errors(c), [
      'hosts.HOST1.pool: expected a workers host for pool, got a host with roles broker',
      'hosts.host1: expected unique host names (case-insensitive, as in /etc/hosts), got "host1" and "HOST1"',
      'hosts.localhost: expected a host name other than localhost (it is already in every /etc/hosts), got "localhost"',
      'hosts["10.0.0.1"]: expected a host name (put addresses under address:), got "10.0.0.1"',
    ]);
  });

  it('docker-only settings: kept for docker, a warning elsewhere', () => {
    const docker = context('docker');
    const [h] = hostSpecs({ hosts: { HOST3: { image: 'node:22', mounts: ['data:/data:ro', { source: '~bob/x', target: '/x' }] } } }, docker).hosts;
    assert.equal(h!.image, 'node:22');
    assert.deepEqual(h!.mounts, [{ source: '/inv/data', target: '/data', readOnly: true }]);
    assert.deepEqual(errors(docker), ['hosts.HOST3.mounts[1]: expected a mount source ~/…, absolute or relative, got "~bob/x" (~user is not supported)']);
    const netns = context('netns');
    assert.equal(hostSpecs({ hosts: { HOST3: { image: 'node:22' } } }, netns).hosts[0]!.image, undefined);
    assert.deepEqual(warnings(netns), ['hosts.HOST3.image: ignored: image applies to provider docker, not netns']);
  });
});

describe('addresses section', () => {
  it('local: loopback only, 127.0.0.1 by default', () => {
    const c = context('local');
    const { hosts, given } = hostSpecs({ hosts: { HOST1: { address: '127.0.0.2' }, HOST2: { address: '192.168.1.2' }, HOST3: null } }, c);
    assert.deepEqual(assignAddresses(hosts, given, null, c), []);
    assert.deepEqual(
      hosts.map((h) => h.address),
      ['127.0.0.2', '192.168.1.2', '127.0.0.1'],
    );
    assert.deepEqual(errors(c), [
      'hosts.HOST2.address: expected a loopback address (127.0.0.0/8) for provider local — services must not be exposed to the network, got 192.168.1.2',
    ]);
  });

  it('netns: given addresses checked against the subnet, the others allocated', () => {
    const c = context('netns');
    const cidr = parseCidr('10.1.0.0/24');
    const { hosts, given } = hostSpecs({ hosts: { HOST1: { address: '10.1.0.1' }, HOST2: { address: '10.1.0.50' }, HOST3: { address: '10.1.0.50' }, HOST4: null } }, c);
    assignAddresses(hosts, given, cidr, c);
    assert.equal(hosts[3]!.address, '10.1.0.14');
    assert.deepEqual(errors(c), [
      'hosts.HOST1.address: expected a host address inside 10.1.0.0/24, got 10.1.0.1, the gateway (bridge) address',
      'hosts.HOST3.address: expected a unique address, got 10.1.0.50 again (also HOST2)',
    ]);
  });

  it('ssh: names are returned to resolve, address and port must be unique', () => {
    const c = context('ssh');
    const { hosts, given } = hostSpecs({ hosts: { HOST1: { address: 'pi1.local' }, HOST2: { address: '10.0.0.2' }, HOST3: { address: '10.0.0.2' } } }, c);
    const names = assignAddresses(hosts, given, null, c);
    assert.deepEqual(
      names.map((n) => [n.name, n.path, n.at]),
      [['pi1.local', ['hosts', 'HOST1', 'address'], 'value']],
    );
    assert.equal(hosts[0]!.hostname, 'pi1.local');
    assert.deepEqual(errors(c), ['hosts.HOST3.address: expected a unique address and port, got 10.0.0.2:22 again (also HOST2)']);
  });
});

describe('roles section', () => {
  it('exactly one broker, backend and master; at least one workers host', () => {
    const c = context('local');
    const raw = { hosts: { a: { roles: ['broker'] }, b: { roles: ['broker', 'backend'] }, c: { roles: ['master'] } } };
    checkRoles(hostSpecs(raw, c).hosts, raw.hosts, c.issues);
    assert.deepEqual(errors(c), ['hosts.b.roles: expected exactly one broker host, got 2 (a, b)', 'hosts: expected at least one workers host, got none']);
  });

  it('the master host gets the quotes role when no host has it', () => {
    const c = context('local');
    const { hosts } = hostSpecs(BOOK, c);
    hosts[3]!.roles = ['master'];
    giveQuotesToMaster(hosts);
    assert.deepEqual(hosts[3]!.roles, ['master', 'quotes']);
    hosts[2]!.roles = ['workers', 'quotes'];
    hosts[3]!.roles = ['master'];
    giveQuotesToMaster(hosts);
    assert.deepEqual(hosts[3]!.roles, ['master'], 'a quotes host already exists');
  });
});

describe('service ports section', () => {
  it('the inventory’s ports over the defaults; two services on one address need different ports', () => {
    const c = context('local');
    const d = { ports: { backend: 5672 }, ...BOOK };
    const ports = servicePorts(d);
    assert.deepEqual(ports, { broker: 5672, backend: 5672, quotes: 8000 });
    checkPortClashes(d, ports, assignedBook(c), c.issues);
    assert.deepEqual(errors(c), ['ports.backend: expected a backend port different from the broker port (both on 127.0.0.1), got 5672 for both']);
  });
});

describe('docker section', () => {
  it('defaults from the lab name; a socket path is expanded', () => {
    const c = context('docker');
    assert.deepEqual(dockerSpec({ docker: { socket: '~/podman.sock', images: { node: 'node:22' } } }, 'book', c), {
      network: 'lab-book',
      images: { broker: 'rabbitmq:3', backend: 'redis:7', node: 'node:22' },
      mounts: [],
      socket: '/home/u/podman.sock',
    });
    assert.deepEqual(errors(c), []);
  });

  it('under another provider: none, and a warning when the section is there', () => {
    const c = context('local');
    assert.equal(dockerSpec({ docker: { network: 'x' } }, 'book', c), undefined);
    assert.deepEqual(warnings(c), ['docker: ignored: the docker section applies to provider docker, not local']);
  });
});
