import test from 'node:test';
import assert from 'node:assert/strict';
import { lab } from '../support/cli.js';

test('lab images build: an unknown role or arch is one line and exit 2, before anything is contacted', async () => {
  const role = await lab(['images', 'build', '--roles', 'broker,bogus']);
  assert.equal(role.code, 2);
  assert.equal(role.stderr, 'lab: --roles: unknown role "bogus" (roles: broker, backend, workers, master, quotes)\n');
  const arch = await lab(['images', 'build', '--arch', 'sparc']);
  assert.equal(arch.code, 2);
  assert.equal(arch.stderr, 'lab: unknown architecture "sparc": use one of amd64, arm64, armhf (or x86_64, aarch64, armv7l)\n');
  const none = await lab(['images']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^lab: .*lab images --help/);
});
