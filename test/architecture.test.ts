/**
 * The layering rules of docs/architecture.md, checked on the TypeScript sources: imports go down, never up into the
 * CLI; outside lab/queue the runtime is reached through its index; each transport library is imported only by its
 * adapter; only the CLI (and a pool child) exits the process; the one cross-copy registry is the only global.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './support/cli.js';

interface Source {
  path: string;
  text: string;
  imports: string[];
}

async function sources(dir: string): Promise<Source[]> {
  const out: Source[] = [];
  for (const e of await readdir(join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...(await sources(rel)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      const text = await readFile(join(REPO_ROOT, rel), 'utf8');
      const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
      out.push({ path: rel, text, imports });
    }
  }
  return out;
}

/** Where an import points, relative to the repository ("lab/cli/progress.js"), or the package name. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(REPO_ROOT, join(REPO_ROOT, from, '..', spec));
}

const product = async (): Promise<Source[]> => [...(await sources('lab')), ...(await sources('scenarios'))];

test('nothing below the CLI imports it', async () => {
  const bad = (await product()).filter((s) => !s.path.startsWith('lab/cli/')).flatMap((s) => s.imports.map((i) => [s.path, target(s.path, i)] as const).filter(([, t]) => t.startsWith('lab/cli/')));
  assert.deepEqual(bad, []);
});

test('the product, benchmarks and support never import the tests', async () => {
  const all = [...(await product()), ...(await sources('bench')), ...(await sources('support'))];
  const bad = all.flatMap((s) => s.imports.map((i) => [s.path, target(s.path, i)] as const).filter(([, t]) => t.startsWith('test/')));
  assert.deepEqual(bad, []);
});

test('outside lab/queue, the runtime is imported through its index only', async () => {
  const all = [...(await product()), ...(await sources('bench')), ...(await sources('support'))];
  const bad = all
    .filter((s) => !s.path.startsWith('lab/queue/'))
    .flatMap((s) => s.imports.map((i) => [s.path, target(s.path, i)] as const).filter(([, t]) => t.startsWith('lab/queue/') && t !== 'lab/queue/index.js'));
  assert.deepEqual(bad, []);
});

test('amqplib, ioredis, ssh2 and dockerode are imported by their adapters only', async () => {
  const adapters: Record<string, RegExp> = {
    amqplib: /^lab\/queue\/brokers\/amqp-[a-z-]+\.ts$/,
    ioredis: /^lab\/queue\/(backends|brokers)\/redis-[a-z-]+\.ts$/,
    ssh2: /^lab\/providers\/ssh-connection\.ts$/,
    dockerode: /^lab\/providers\/docker-engine\.ts$/,
  };
  const bad: string[] = [];
  let seen = 0;
  for (const s of await product()) {
    for (const spec of s.imports) {
      // lab/vendor/<package>.ts re-exports the package (bundled at build time): importing it imports the package
      const vendored = /^lab\/vendor\/([a-z0-9-]+)\.js$/.exec(target(s.path, spec))?.[1];
      const i = vendored ?? spec;
      if (s.path === `lab/vendor/${i}.ts`) continue;
      const rule = adapters[i];
      if (!rule) continue;
      seen++;
      if (!rule.test(s.path)) bad.push(`${s.path} imports ${i}`);
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(seen >= 4, 'the adapters themselves were found');
});

test('only the CLI and a pool child exit the process; only the shared registry touches globalThis', async () => {
  const exits = (await product()).filter((s) => /\bprocess\.exit\(/.test(s.text)).map((s) => s.path);
  assert.deepEqual(
    exits.filter((p) => !p.startsWith('lab/cli/') && p !== 'lab/queue/pool/pool-child.ts'),
    [],
  );
  const globals = (await product()).filter((s) => /\bglobalThis\b/.test(s.text)).map((s) => s.path);
  assert.deepEqual(globals, ['lab/queue/shared-registry.ts']);
});

test('no source file is over 650 lines unless it says at its top why it is one piece', async () => {
  const long = (await product()).filter((s) => s.text.split('\n').length > 650 && !/^\/\*\*[\s\S]{0,2000}?one (cohesive )?(piece|thing)/i.test(s.text));
  assert.deepEqual(
    long.map((s) => `${s.path}: ${s.text.split('\n').length} lines`),
    [],
  );
});
