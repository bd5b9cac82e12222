import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeFileAtomic } from '../lab/atomic-write.js';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lab-atomic-write-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run `fn` with this umask, restoring the old one after. */
async function withUmask(mask: number, fn: () => Promise<void>): Promise<void> {
  const old = process.umask(mask);
  try {
    await fn();
  } finally {
    process.umask(old);
  }
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('writeFileAtomic', () => {
  it('writes text or bytes and replaces what was there, leaving no temp file', () =>
    withTempDir(async (dir) => {
      const path = join(dir, 'state.json');
      await writeFileAtomic(path, '{"a":1}\n');
      assert.equal(await readFile(path, 'utf8'), '{"a":1}\n');
      await writeFileAtomic(path, new TextEncoder().encode('ünïcode'));
      assert.equal(await readFile(path, 'utf8'), 'ünïcode');
      await writeFileAtomic(path, '');
      assert.equal(await readFile(path, 'utf8'), '');
      assert.deepEqual(await readdir(dir), ['state.json']);
    }));

  it('gives the file exactly the mode asked for, whatever the umask, also when replacing a wider file', () =>
    withTempDir(async (dir) => {
      const path = join(dir, 'secret');
      await withUmask(0o000, () => writeFileAtomic(path, 'a', { mode: 0o600 }));
      assert.equal(await modeOf(path), 0o600);
      await withUmask(0o077, () => writeFileAtomic(path, 'b', { mode: 0o640 }));
      assert.equal(await modeOf(path), 0o640, 'chmod, not only the umask-reduced create mode');
      await writeFile(join(dir, 'wide'), 'x', { mode: 0o666 });
      await writeFileAtomic(join(dir, 'wide'), 'y', { mode: 0o600 });
      assert.equal(await modeOf(join(dir, 'wide')), 0o600);
    }));

  it('without a mode, follows the umask like any new file', () =>
    withTempDir(async (dir) => {
      await withUmask(0o022, () => writeFileAtomic(join(dir, 'report.html'), '<html>'));
      assert.equal(await modeOf(join(dir, 'report.html')), 0o644);
    }));

  it('creates missing folders only when asked', () =>
    withTempDir(async (dir) => {
      const deep = join(dir, 'a', 'b', 'run.json');
      await assert.rejects(writeFileAtomic(deep, '{}'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
      await writeFileAtomic(deep, '{}', { mkdir: true });
      assert.equal(await readFile(deep, 'utf8'), '{}');
      assert.deepEqual(await readdir(join(dir, 'a', 'b')), ['run.json']);
    }));

  it('a failed write leaves the old content and no temp file', () =>
    withTempDir(async (dir) => {
      const path = join(dir, 'state.json');
      await writeFileAtomic(path, 'old');
      // fails while writing the temp file (not text or bytes)
      await assert.rejects(writeFileAtomic(path, 42 as unknown as string), TypeError);
      assert.equal(await readFile(path, 'utf8'), 'old');
      assert.deepEqual(await readdir(dir), ['state.json']);
    }));

  it('a failed rename (the target is a folder) leaves no temp file', () =>
    withTempDir(async (dir) => {
      const target = join(dir, 'taken');
      await mkdir(target);
      await writeFile(join(target, 'inside'), 'x');
      await assert.rejects(writeFileAtomic(target, 'data'));
      assert.deepEqual(await readdir(dir), ['taken']);
      assert.deepEqual(await readdir(target), ['inside']);
    }));

  it('concurrent writers of one file each replace it whole', () =>
    withTempDir(async (dir) => {
      const path = join(dir, 'active');
      const texts = Array.from({ length: 20 }, (_, i) => `${String(i).repeat(1000)}\n`);
      await Promise.all(texts.map((t) => writeFileAtomic(path, t)));
      assert.ok(texts.includes(await readFile(path, 'utf8')), 'one writer’s content, not a mix');
      assert.deepEqual(await readdir(dir), ['active']);
    }));
});
