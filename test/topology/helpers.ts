/** Shared by the topology tests: where the repository (and so the fixtures and hosts/) is, temp dirs. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json (works from dist/ too). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'hosts'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const ROOT = repoRoot();
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'inventories');
export const HOSTS = join(ROOT, 'hosts');

/** Run `fn` in a fresh temp dir, removed afterwards whether it passed or not. */
export async function withTempDir(fn: (dir: string) => Promise<void>, prefix = 'lab-topology-'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A resolver for tests: known names only, never the network. */
export function fakeResolver(table: Record<string, string>): (name: string) => Promise<string | null> {
  return async (name) => table[name.toLowerCase()] ?? null;
}
