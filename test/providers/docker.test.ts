/** The docker provider's pure parts: which engine, names, images per host, mounts, the stream formats it parses. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demux, engineTarget, firstTarFile } from '../../lab/providers/docker-engine.js';
import { DockerLayout, LAB_ROOT_IN_CONTAINER } from '../../lab/providers/docker-layout.js';
import { loadInventory } from '../../lab/topology/inventory.js';
import type { Topology } from '../../lab/topology/topology.js';

async function topology(yaml: string): Promise<Topology> {
  const dir = await mkdtemp(join(tmpdir(), 'lab-docker-unit-'));
  try {
    await writeFile(join(dir, 'hosts.yaml'), yaml);
    return await loadInventory(join(dir, 'hosts.yaml'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const BOOK = ['lab: dk', 'provider: docker', 'subnet: 198.19.220.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3:', '  HOST4:', ''].join('\n');

describe('docker engine target', () => {
  it('the inventory socket wins, then DOCKER_HOST, then the default socket', () => {
    assert.deepEqual(engineTarget('/run/podman/podman.sock', { DOCKER_HOST: 'tcp://x:2375' }), { describe: 'unix:///run/podman/podman.sock', socketPath: '/run/podman/podman.sock', local: true });
    assert.deepEqual(engineTarget(undefined, { DOCKER_HOST: 'unix:///tmp/d.sock' }), { describe: 'unix:///tmp/d.sock', socketPath: '/tmp/d.sock', local: true });
    assert.deepEqual(engineTarget(undefined, { DOCKER_HOST: 'tcp://10.0.0.5:2375' }), { describe: 'DOCKER_HOST=tcp://10.0.0.5:2375', local: false });
    const def = engineTarget(undefined, {});
    assert.equal(def.local, true);
    assert.match(def.describe, /^unix:\/\/.*docker\.sock$/);
  });
});

describe('docker stream formats', () => {
  it('demux splits 8-byte-framed stdout/stderr and passes raw text through', () => {
    const frame = (kind: number, text: string): Buffer => {
      const h = Buffer.alloc(8);
      h[0] = kind;
      h.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([h, Buffer.from(text)]);
    };
    const { stdout, stderr } = demux(Buffer.concat([frame(1, 'out1 '), frame(2, 'err'), frame(1, 'out2')]));
    assert.equal(stdout.toString(), 'out1 out2');
    assert.equal(stderr.toString(), 'err');
    assert.equal(demux(Buffer.from('plain text log\n')).stdout.toString(), 'plain text log\n');
  });

  it('firstTarFile reads the file out of an archive (as GET /archive returns it)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lab-tar-'));
    try {
      const body = 'x'.repeat(1500) + '\nend\n';
      await writeFile(join(dir, 'a-rather-long-file-name-'.repeat(5) + '.log'), body);
      const tar = execFileSync('tar', ['--format=pax', '-C', dir, '-cf', '-', '.']);
      assert.equal(firstTarFile(tar)?.toString(), body);
      assert.equal(firstTarFile(Buffer.alloc(1024)), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('docker provider: hosts as containers', () => {
  it('names containers <lab>-<HOST>; work directory inside the container; lab at /opt/lab; supervised by lab where it runs', async () => {
    const p = new DockerLayout(await topology(BOOK), '/tmp/state');
    assert.equal(p.containerName('host3'), 'dk-HOST3');
    assert.deepEqual(p.host('HOST3'), { name: 'HOST3', address: '198.19.220.13', workDir: '/var/lib/lab/dk/HOST3', labRoot: LAB_ROOT_IN_CONTAINER, node: 'node', supervisor: 'lab' });
    // the broker's image (rabbitmq:3) has no lab and no systemd: its services run unsupervised
    assert.equal(p.host('HOST1').supervisor, 'none');
  });

  it('images by role (the official ones by default), a host image wins; lab mounted on node hosts only', async () => {
    const t = await topology(BOOK.replace('  HOST2:', '  HOST2: { image: "redis:7-alpine" }'));
    const p = new DockerLayout(t, '/tmp/state');
    assert.deepEqual(
      t.hosts.map((h) => p.imageOf(h)),
      ['rabbitmq:3', 'redis:7-alpine', 'node:20', 'node:20'],
    );
    const plan = p.plan();
    const containers = plan.filter((s) => s.step === 'container');
    assert.equal(containers.length, 4);
    assert.ok(containers.find((s) => s.host === 'HOST3')!.detail.includes(`:${LAB_ROOT_IN_CONTAINER}:ro`));
    assert.ok(!containers.find((s) => s.host === 'HOST1')!.detail.includes(LAB_ROOT_IN_CONTAINER));
    assert.ok(plan.some((s) => s.step === 'network' && s.detail.includes('lab-dk bridge 198.19.220.0/24 gateway 198.19.220.1')));
  });

  it('a host whose roles need two different images must name its own', async () => {
    const t = await topology(['lab: dk', 'provider: docker', 'hosts:', '  a: { roles: [broker, workers] }', '  b: { roles: [backend, master] }', ''].join('\n'));
    assert.throws(() => new DockerLayout(t, '/tmp/state'), /roles broker, workers need different images \(rabbitmq:3, node:20\); give this host its own image:/);
    const same = await topology(['lab: dk', 'provider: docker', 'docker: { images: { broker: "x:1", backend: "x:1", node: "x:1" } }', 'hosts:', '  a: { roles: [broker, workers] }', '  b: { roles: [backend, master] }', ''].join('\n'));
    assert.doesNotThrow(() => new DockerLayout(same, '/tmp/state'));
  });
});
