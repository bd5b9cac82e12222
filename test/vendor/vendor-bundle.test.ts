import test from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { builtinModules } from 'node:module';

const DIR = new URL('../../lab/vendor/', import.meta.url);
/** debug (in ioredis) tries require('supports-color') inside a try: optional, absent here, never bundled. */
const OPTIONAL = new Set(['supports-color']);

test('the build bundled each vendored package into one file that loads nothing but Node built-ins', async () => {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.js') && f !== 'vendor-bundle.js').sort();
  assert.deepEqual(files, ['cli-table3.js', 'ioredis.js', 'yaml.js', 'yargs.js']);
  for (const f of files) {
    const text = await readFile(new URL(f, DIR), 'utf8');
    const specs = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']/gm), ...text.matchAll(/\b(?:require|import)\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
    const outside = [...new Set(specs)].filter((s) => !s.startsWith('node:') && !builtinModules.includes(s) && !OPTIONAL.has(s));
    assert.deepEqual(outside, [], `${f} still loads packages from node_modules (was npm run build's vendor step run?)`);
    assert.ok(text.length > 50_000, `${f} is ${text.length} bytes: a re-export, not a bundle`);
    assert.equal((await readdir(DIR)).includes(`${f}.map`), false, `${f}.map: a source map of the re-export, not of this file`);
  }
});

test('the bundles export what lab imports from them', async () => {
  const { Redis } = await import('../../lab/vendor/ioredis.js');
  assert.equal(typeof Redis, 'function');
  const client = new Redis({ lazyConnect: true });
  assert.equal(client.status, 'wait');
  client.disconnect();
  const yaml = await import('../../lab/vendor/yaml.js');
  assert.deepEqual(yaml.parseDocument('a: [1, 2]').toJS(), { a: [1, 2] });
  assert.equal(yaml.stringify({ ok: true }), 'ok: true\n');
  const { default: yargs, hideBin } = await import('../../lab/vendor/yargs.js');
  assert.deepEqual(hideBin(['node', 'lab', 'up']), ['up']);
  assert.equal((await yargs(['--n', '4']).parseAsync()).n, 4);
  const { default: Table } = await import('../../lab/vendor/cli-table3.js');
  const t = new Table({ head: ['a'], style: { head: [], border: [] } });
  t.push(['1']);
  assert.match(t.toString(), /│ 1 │/);
});
