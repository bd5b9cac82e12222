/**
 * The docker provider end to end, through Podman's Docker-compatible API (test/support/podman.ts starts it):
 * the four-host lab as containers of the role images (`lab images build`, support/role-images.ts: nothing of this
 * machine mounted) — up → up again (nothing changes) → status → run mergesort --n 4 → logs → exec → down → no
 * container, network or volume of the lab left —, an image that lacks a role's command refused before any service
 * starts, lab up killed with -9 half-way on the empty image with this machine's programs mounted (the plumbing), an image pulled (with progress) from a local registry when
 * the engine does not have it, and the ways up fails: no engine at the socket, an
 * image that is not there with no registry to pull it from, a container that exits during up; and lab up killed
 * with -9 half-way, after which lab down still finds exactly what it made.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import type { RunRecord } from '../../lab/report/run-record.js';
import { lab, startLab, waitOutput } from '../support/cli.js';
import { dockerInventory, podmanMissing, registryMissing, startPodman } from '../../support/podman.js';
import type { PodmanService } from '../../support/podman.js';
import type { BuildResult } from '../../lab/images/build.js';
import { ROLE_IMAGE_CACHE, roleImages } from '../../support/role-images.js';
import type { RoleImageRefs } from '../../support/role-images.js';
import { needs } from '../support/prereq.js';

const BROKEN_IMAGE = 'localhost/lab-broken:latest';

let podman: PodmanService | null = null;
let podmanError: string | null = null;
let images: RoleImageRefs | null = null;
let imagesError: string | null = null;

test.before(async () => {
  const missing = await podmanMissing();
  if (missing) {
    podmanError = missing;
    return;
  }
  try {
    podman = await startPodman({ registry: (await registryMissing()) === null });
    // an image whose entrypoint fails at once: its container exits during up
    await podman.importImage(BROKEN_IMAGE, ['ENTRYPOINT ["/bin/sh", "-c", "echo lab-test: broker image is misconfigured >&2; exit 3"]']);
  } catch (err) {
    podmanError = (err as Error).message;
    return;
  }
  try {
    images = await roleImages(podman.socket);
  } catch (err) {
    imagesError = `lab images build: ${(err as Error).message}`;
  }
});

test.after(async () => {
  if (!podman) return;
  const left = await podman.removeLabs(['e2edock', 'e2enoimage', 'e2eexits', 'e2ekilled', 'e2epull', 'e2elacks']).catch((err: Error) => [`(cleanup failed: ${err.message})`]);
  if (left.length > 0) process.stderr.write(`docker e2e: removed leftovers ${left.join(', ')}\n`);
  await podman.stop();
});

const engineUp = async (): Promise<string | null> => podmanError;
const imagesBuilt = async (): Promise<string | null> => podmanError ?? imagesError;
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function tmpHome(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lab-docker-'));
}

/** What the engine still holds of a lab: containers and networks carrying its label, and volumes. */
async function leftovers(labName: string): Promise<{ containers: string[]; networks: string[] }> {
  const e = podman!.engine;
  const containers = (await e.containersLabelled(`lab.name=${labName}`)).map((c) => c.name);
  const networks = (await e.networksLabelled(`lab.name=${labName}`)).map((n) => n.name);
  return { containers, networks };
}

test('docker lab on the role images (nothing mounted): up, re-up, status, run mergesort, logs, exec, down — nothing left', { timeout: 300_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API) and the role images', imagesBuilt))) return;
  const home = await tmpHome();
  const reports = join(home, 'reports');
  const inventory = join(home, 'hosts.yaml');
  const name = 'e2edock';
  await writeFile(inventory, dockerInventory({ lab: name, subnet: '198.19.210.0/24', socket: podman!.socket, roleImages: images! }));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 180_000 });
  const volumesBefore = new Set(await podman!.engine.volumes());
  t.after(async () => {
    await run(['down', '--lab', name]);
    await rm(home, { recursive: true, force: true });
  });

  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, up.stderr + up.stdout);
  assert.match(up.stdout, new RegExp(`lab ${name} is up \\(docker`));
  assert.match(up.stdout, /RabbitMQ \d+\.\d+\.\d+/);
  assert.doesNotMatch(up.stdout + up.stderr, /lab:[A-Za-z0-9_-]{20,}@/, 'no password printed');
  const { containers } = await leftovers(name);
  assert.deepEqual(containers.sort(), ['HOST1', 'HOST2', 'HOST3', 'HOST4'].map((h) => `${name}-${h}`));
  for (const c of containers) assert.deepEqual(await podman!.engine.mountsOf(c), [], `${c}: nothing of this machine is mounted`);

  const again = await run(['up', '--hosts', inventory, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { changed: boolean }).changed, false, 'a second up changes nothing');

  const status = await run(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as LabStatus;
  assert.equal(s.provider, 'docker');
  // lab's supervisor in the node containers; the broker's and backend's images have neither Node nor systemd
  assert.deepEqual(s.services.map((x) => [x.service, x.supervision?.mode]), [
    ['rabbitmq', 'none'],
    ['redis', 'none'],
    ['quotes', 'lab'],
    ['workers', 'lab'],
  ]);
  assert.deepEqual(s.hosts.map((h) => [h.name, h.address, h.reachable]), [
    ['HOST1', '198.19.210.11', true],
    ['HOST2', '198.19.210.12', true],
    ['HOST3', '198.19.210.13', true],
    ['HOST4', '198.19.210.14', true],
  ]);
  assert.deepEqual(s.services.map((x) => [x.service, x.healthy]), [
    ['rabbitmq', true],
    ['redis', true],
    ['quotes', true],
    ['workers', true],
  ]);
  assert.equal(s.healthy, true);

  const ms = await run(['run', 'mergesort', '--n', '4', '--json', '--reports', reports]);
  assert.equal(ms.code, 0, ms.stderr);
  const record = JSON.parse(ms.stdout) as RunRecord;
  assert.equal(record.lab.kind, 'docker');
  assert.equal(record.lab.name, name);
  assert.equal(record.verified, true);
  assert.equal((await readdir(reports)).length, 1, 'the record is written here');

  // every host name resolves on every host, to its address (/etc/hosts rewritten in place)
  for (const h of ['HOST1', 'HOST4']) {
    const ex = await run(['exec', h, '--', 'getent', 'ahostsv4', 'HOST3']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /^198\.19\.210\.13\s/);
  }
  const envOut = await run(['exec', 'HOST4', '--', 'sh', '-c', 'echo "$LAB_BROKER_URL" | cut -c1-24']);
  assert.equal(envOut.code, 0, envOut.stderr);
  assert.equal(envOut.stdout.trim(), 'amqp://lab:' + envOut.stdout.trim().slice(11));
  const missing = await run(['exec', 'HOST2', '--', 'no-such-command']);
  assert.equal(missing.code, 127);

  const logs = await run(['logs', 'HOST1', '-n', '200']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /==> HOST1 rabbitmq/);
  assert.match(logs.stdout, /Server startup complete|started TCP listener|Ready to start client connection listeners/);
  const wlogs = await run(['logs', '-s', 'workers', '-n', '400']);
  assert.equal(wlogs.code, 0, wlogs.stderr);
  assert.match(wlogs.stdout, /mergesort\.sort/);

  // the broker runs as the image's rabbitmq user (made by Debian's postinst: found, not assumed), Debian's server script
  const who = await run(['exec', 'HOST1', '--', 'sh', '-c', `stat -c %U /proc/${s.services[0]!.pid}; cat /proc/${s.services[0]!.pid}/cmdline | tr '\\0' ' '`]);
  assert.match(who.stdout, /^rabbitmq\n/, who.stderr);
  // lab and Node are the image's own: /opt/lab from the bundle it was built with, Node 20 from the npm registry
  const nodeV = await run(['exec', 'HOST3', '--', 'sh', '-c', 'command -v node; node --version; grep -c labBundle /etc/lab-image.json']);
  assert.equal(nodeV.stdout.trim().split('\n').slice(0, 2).join(' '), '/usr/local/bin/node v20.20.2');
  assert.equal(nodeV.stdout.trim().split('\n').at(-1), '1');

  const down = await run(['down']);
  assert.equal(down.code, 0, down.stderr + down.stdout);
  assert.match(down.stdout, /removed \d+ things/);
  assert.deepEqual(await leftovers(name), { containers: [], networks: [] });
  assert.deepEqual((await podman!.engine.volumes()).filter((v) => !volumesBefore.has(v)), [], 'no volume left');
  assert.equal(existsSync(join(home, name)), false, 'state dir removed');
  const twice = await run(['down']);
  assert.equal(twice.code, 0);
  assert.match(twice.stdout, /no lab is up/);
});

test('docker lab: no engine at the socket — a clear error naming it', { timeout: 60_000 }, async (t) => {
  // needs nothing but the CLI: there is no engine at these sockets
  const home = await tmpHome();
  t.after(() => rm(home, { recursive: true, force: true }));
  const inventory = join(home, 'hosts.yaml');
  const sock = join(home, 'no-engine.sock');
  await writeFile(inventory, dockerInventory({ lab: 'e2enoengine', subnet: '198.19.211.0/24', socket: sock }));
  const up = await lab(['up', '--hosts', inventory], { env: { LAB_HOME: home }, cwd: home });
  assert.equal(up.code, 1, up.stdout);
  assert.match(up.stderr, new RegExp(`cannot reach the Docker Engine API at unix://${esc(sock)} \\(ENOENT\\)`));
  assert.match(up.stderr, /DOCKER_HOST or docker\.socket/);
  const down = await lab(['down', '--lab', 'e2enoengine'], { env: { LAB_HOME: home }, cwd: home });
  assert.equal(down.code, 0, down.stderr);

  // without docker.socket: DOCKER_HOST names the engine
  await writeFile(inventory, dockerInventory({ lab: 'e2enoengine', subnet: '198.19.211.0/24' }));
  const viaEnv = await lab(['up', '--hosts', inventory], { env: { LAB_HOME: home, DOCKER_HOST: `unix://${sock}` }, cwd: home });
  assert.equal(viaEnv.code, 1);
  assert.match(viaEnv.stderr, new RegExp(`at unix://${esc(sock)} \\(ENOENT\\)`));
  await lab(['down', '--lab', 'e2enoengine'], { env: { LAB_HOME: home }, cwd: home });
});

test('docker lab: an image that is not there, no registry — a clear error, nothing left', { timeout: 120_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API)', engineUp))) return;
  const home = await tmpHome();
  const name = 'e2enoimage';
  t.after(async () => {
    await lab(['down', '--lab', name], { env: { LAB_HOME: home }, cwd: home });
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, dockerInventory({ lab: name, subnet: '198.19.211.0/24', socket: podman!.socket, images: { HOST2: 'localhost/lab-no-such-image:1' } }));
  const up = await lab(['up', '--hosts', inventory], { env: { LAB_HOME: home }, cwd: home, timeoutMs: 90_000 });
  assert.equal(up.code, 1, up.stdout);
  assert.match(up.stderr, /image localhost\/lab-no-such-image:1 \(for HOST2\) is not on the engine at unix:\/\/\S+, and pulling it failed: /);
  assert.match(up.stderr, /make the image locally/);
  const down = await lab(['down', '--lab', name], { env: { LAB_HOME: home }, cwd: home });
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await leftovers(name), { containers: [], networks: [] });
});

test('docker lab: a container that exits during up — its log tail in the error; down cleans up', { timeout: 120_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API)', engineUp))) return;
  const home = await tmpHome();
  const name = 'e2eexits';
  t.after(async () => {
    await lab(['down', '--lab', name], { env: { LAB_HOME: home }, cwd: home });
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, dockerInventory({ lab: name, subnet: '198.19.212.0/24', socket: podman!.socket, images: { HOST1: BROKEN_IMAGE } }));
  const up = await lab(['up', '--hosts', inventory], { env: { LAB_HOME: home }, cwd: home, timeoutMs: 90_000 });
  assert.equal(up.code, 1, up.stdout);
  assert.match(up.stderr, new RegExp(`HOST1: container ${name}-HOST1 exited with code 3; last lines of its log:\\nlab-test: broker image is misconfigured`));
  const down = await lab(['down', '--lab', name], { env: { LAB_HOME: home }, cwd: home });
  assert.equal(down.code, 0, down.stderr + down.stdout);
  assert.deepEqual(await leftovers(name), { containers: [], networks: [] });
  const twice = await lab(['down', '--lab', name], { env: { LAB_HOME: home }, cwd: home });
  assert.equal(twice.code, 0);
});

test('docker lab: lab up killed with -9 half-way — lab down removes exactly what it made', { timeout: 180_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API)', engineUp))) return;
  const home = await tmpHome();
  const name = 'e2ekilled';
  const env = { LAB_HOME: home };
  t.after(async () => {
    await lab(['down', '--lab', name], { env, cwd: home });
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, dockerInventory({ lab: name, subnet: '198.19.211.0/24', socket: podman!.socket }));
  // while the containers are being made, and while the services start
  for (const point of [/HOST\d\s+container …/, /HOST1\s+rabbitmq …/]) {
    const up = startLab(['up', '--verbose', '--hosts', inventory], { env, cwd: home });
    assert.ok(await waitOutput(up, point, 60_000), `lab up never printed ${point}: ${up.output()}`);
    up.child.kill('SIGKILL');
    await up.done;
    const down = await lab(['down', '--lab', name], { env, cwd: home });
    assert.equal(down.code, 0, `after a kill at ${point}: ${down.stderr}${down.stdout}`);
    assert.deepEqual(await leftovers(name), { containers: [], networks: [] }, `after a kill at ${point}`);
    assert.equal(existsSync(join(home, name)), false, 'state dir removed');
  }
});

test('docker lab: an image the engine does not have is pulled, with progress (local registry)', { timeout: 180_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API)', engineUp))) return;
  if (!(await needs(t, 'a local image registry (docker-registry)', registryMissing))) return;
  const home = await tmpHome();
  const name = 'e2epull';
  const env = { LAB_HOME: home };
  t.after(async () => {
    await lab(['down', '--lab', name], { env, cwd: home });
    await rm(home, { recursive: true, force: true });
  });
  const ref = `${podman!.registry}/lab-pulled:1`;
  await podman!.pushToRegistry(ref);
  assert.equal(await podman!.engine.image(ref), null, 'not on the engine before up');
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, dockerInventory({ lab: name, subnet: '198.19.213.0/24', socket: podman!.socket, images: { HOST2: ref } }));
  const up = await lab(['up', '--hosts', inventory], { env, cwd: home, timeoutMs: 150_000 });
  assert.equal(up.code, 0, up.stderr + up.stdout);
  assert.match(up.stderr, new RegExp(`· image ${esc(ref)}: \\S`), `pull progress is shown: ${up.stderr}`);
  assert.match(up.stderr, new RegExp(`✓ image ${esc(ref)}: pulled`));
  assert.notEqual(await podman!.engine.image(ref), null);
  const down = await lab(['down', '--lab', name], { env, cwd: home });
  assert.equal(down.code, 0, down.stderr + down.stdout);
  assert.deepEqual(await leftovers(name), { containers: [], networks: [] });
  assert.notEqual(await podman!.engine.image(ref), null, 'a pulled image stays in the engine (its cache), like docker compose down');
});

test("docker lab: an inventory naming an image that lacks a role's command — the host, the image, the command; no service started", { timeout: 180_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API) and the role images', imagesBuilt))) return;
  const home = await tmpHome();
  const name = 'e2elacks';
  const env = { LAB_HOME: home };
  t.after(async () => {
    await lab(['down', '--lab', name], { env, cwd: home });
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  // the broker host on the Redis image: no rabbitmq-server there
  await writeFile(inventory, dockerInventory({ lab: name, subnet: '198.19.215.0/24', socket: podman!.socket, roleImages: images!, images: { HOST1: images!.backend } }));
  const up = await lab(['up', '--hosts', inventory], { env, cwd: home, timeoutMs: 150_000 });
  assert.equal(up.code, 1, up.stdout + up.stderr);
  assert.match(up.stderr, new RegExp(`HOST1: image ${esc(images!.backend)} lacks rabbitmq-server \\(the broker role\\); no service was started`));
  const ledger = await import('node:fs/promises').then((fs) => fs.readFile(join(home, name, 'ledger.jsonl'), 'utf8'));
  assert.doesNotMatch(ledger, /"kind":"process"/, 'no service was started anywhere');
  const down = await lab(['down', '--lab', name], { env, cwd: home });
  assert.equal(down.code, 0, down.stderr + down.stdout);
  assert.deepEqual(await leftovers(name), { containers: [], networks: [] });
});

test('lab images build: a second build finds every image on the engine; an arch the engine cannot run and an unreachable mirror are refused (exit 2)', { timeout: 180_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API) and the role images', imagesBuilt))) return;
  const home = await tmpHome();
  t.after(() => rm(home, { recursive: true, force: true }));
  const env = { LAB_HOME: home, LAB_CACHE_DIR: ROLE_IMAGE_CACHE };
  const again = await lab(['images', 'build', '--socket', podman!.socket, '--json'], { env, cwd: home, timeoutMs: 150_000 });
  assert.equal(again.code, 0, again.stderr);
  const r = JSON.parse(again.stdout) as BuildResult;
  assert.deepEqual(r.images.map((i) => [i.kind, i.ref, i.cached.image]), [
    ['broker', images!.broker, true],
    ['backend', images!.backend, true],
    ['node', images!.node, true],
  ]);
  for (const i of r.images) assert.match(i.ref, /^localhost\/lab-(broker|backend|node):[0-9a-f]{12}$/);
  const human = await lab(['images', 'build', '--socket', podman!.socket, '--roles', 'broker'], { env, cwd: home, timeoutMs: 150_000 });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^    broker: ${esc(images!.broker)}$`, 'm'), 'prints the inventory lines to use');

  const arm = await lab(['images', 'build', '--socket', podman!.socket, '--arch', 'arm64'], { env, cwd: home });
  assert.equal(arm.code, 2, arm.stderr);
  assert.match(arm.stderr, /cannot build arm64 images here: the engine runs amd64 and this machine has no binfmt_misc handler for arm64/);
  assert.match(arm.stderr.trim().split('\n').at(-1)!, /^lab: cannot build arm64 images here: /, 'one line, the last');

  const off = await lab(['images', 'build', '--socket', podman!.socket, '--mirror', 'http://127.0.0.1:9/debian'], { env, cwd: home });
  assert.equal(off.code, 2, off.stderr);
  assert.match(off.stderr, /cannot reach the Debian mirror: http:\/\/127\.0\.0\.1:9\/debian\/dists\/bookworm\/Release \(ECONNREFUSED\)/);
  assert.equal(off.stderr.trim().split('\n').length, 1, `one line: ${off.stderr}`);
});
