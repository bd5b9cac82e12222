import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archRunnable, rootfsKey, usageLines } from '../../lab/images/build.js';
import type { BuildResult } from '../../lab/images/build.js';
import { ROLE_IMAGES, imageKindOf } from '../../lab/images/role-images.js';

test('rootfs cache key: mirror, suite, arch and the package set — not their order, not a trailing slash', () => {
  const base = { mirror: 'http://deb.debian.org/debian', suite: 'bookworm', arch: 'amd64' as const, packages: ['a', 'b'] };
  assert.equal(rootfsKey(base), rootfsKey({ ...base, packages: ['b', 'a'], mirror: 'http://deb.debian.org/debian/' }));
  for (const other of [{ mirror: 'http://mirror.lan/debian' }, { suite: 'trixie' }, { arch: 'arm64' as const }, { packages: ['a', 'b', 'c'] }]) assert.notEqual(rootfsKey(base), rootfsKey({ ...base, ...other }));
});

test('arch: the engine runs its own; another only with a binfmt_misc handler (qemu-user-static)', async (t) => {
  const binfmt = await mkdtemp(join(tmpdir(), 'lab-binfmt-'));
  t.after(() => rm(binfmt, { recursive: true, force: true }));
  assert.deepEqual(archRunnable('amd64', 'amd64', binfmt), { ok: true });
  const no = archRunnable('arm64', 'amd64', binfmt);
  assert.equal(no.ok, false);
  assert.match((no as { why: string }).why, /the engine runs amd64 and this machine has no binfmt_misc handler for arm64 \(.*qemu-aarch64 is missing\): build arm64 images on a arm64 machine, or install qemu-user-static/);
  await writeFile(join(binfmt, 'qemu-aarch64'), 'enabled\n');
  assert.deepEqual(archRunnable('arm64', 'amd64', binfmt), { ok: true });
  assert.equal(archRunnable('armhf', 'amd64', binfmt).ok, false, 'armhf needs qemu-arm');
});

test('roles → images: workers, master and quotes share the node image; each image says what its role needs', () => {
  assert.deepEqual(['broker', 'backend', 'workers', 'master', 'quotes'].map((r) => imageKindOf(r as never)), ['broker', 'backend', 'node', 'node', 'node']);
  assert.ok(ROLE_IMAGES.broker.packages.includes('rabbitmq-server'));
  assert.ok(ROLE_IMAGES.backend.packages.includes('redis-server'));
  assert.ok(ROLE_IMAGES.node.packages.includes('python3-celery'));
  assert.ok(!ROLE_IMAGES.node.packages.includes('nodejs'), "Debian's nodejs is 18 in bookworm: Node comes from the npm registry");
  const r = { images: [{ kind: 'broker', ref: 'localhost/lab-broker:abc' }, { kind: 'node', ref: 'localhost/lab-node:def' }] } as unknown as BuildResult;
  assert.deepEqual(usageLines(r).slice(0, 4), ['docker:', '  images:', '    broker: localhost/lab-broker:abc', '    node: localhost/lab-node:def']);
});
