/**
 * The user's modules in an inventory: `tasks:` (task modules the workers load beside lab's) and `config:` (the
 * workers' settings module). Bad ones are fixtures in bad/ (tasks-*.yaml, config-*.yaml); here, what good ones mean.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InventoryError, loadInventory, parseInventory } from '../../lab/topology/inventory.js';
import { topologyData, topologyFromData } from '../../lab/topology/topology.js';
import { FIXTURES, withTempDir } from './helpers.js';

const MODULES = join(FIXTURES, 'modules');

describe('inventory tasks: and config:', () => {
  it('workers hosts inherit them from defaults; a host’s own list replaces the defaults’; other hosts get none', async () => {
    const t = await loadInventory(join(FIXTURES, 'good', 'modules.yaml'));
    assert.deepEqual(t.host('HOST3')!.tasks, [join(MODULES, 'tasks.js')]);
    assert.equal(t.host('HOST3')!.config, join(MODULES, 'celeryconfig.js'));
    assert.deepEqual(t.host('HOST5')!.tasks, [join(MODULES, 'tasks.js'), join(MODULES, 'celeryconfig.js')]);
    assert.equal(t.host('HOST5')!.config, join(MODULES, 'celeryconfig.js'));
    for (const h of ['HOST1', 'HOST2', 'HOST4']) {
      assert.equal(t.host(h)!.tasks, undefined, h);
      assert.equal(t.host(h)!.config, undefined, h);
    }
    assert.deepEqual(t.warnings, []);
    // state.json keeps them
    assert.deepEqual(topologyFromData(topologyData(t)).host('HOST5')!.tasks, t.host('HOST5')!.tasks);
  });

  it('without tasks: or config:, workers hosts have neither', async () => {
    const t = await parseInventory('provider: local\nhosts: {HOST1: , HOST2: , HOST3: , HOST4: }\n', '/tmp/plain.yaml');
    assert.equal(t.roleHost('workers').tasks, undefined);
    assert.equal(t.roleHost('workers').config, undefined);
  });

  it('.mjs and .cjs are JavaScript too; ~ expands; every problem of a list is reported at once', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'a.mjs'), 'export {};\n');
      await writeFile(join(dir, 'b.cjs'), 'module.exports = {};\n');
      const inv = join(dir, 'hosts.yaml');
      const ok = await parseInventory(`provider: local\ndefaults: { tasks: [./a.mjs, ~/b.cjs] }\nhosts: {HOST1: , HOST2: , HOST3: , HOST4: }\n`, inv, { home: dir });
      assert.deepEqual(ok.roleHost('workers').tasks, [join(dir, 'a.mjs'), join(dir, 'b.cjs')]);
      const err = await parseInventory(`provider: local\ndefaults: { tasks: [./a.ts, ./gone.js, ~root/x.js] }\nhosts: {HOST1: , HOST2: , HOST3: , HOST4: }\n`, inv, { home: dir }).then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof InventoryError);
      assert.deepEqual(
        err.issues.map((i) => i.field),
        ['defaults.tasks[0]', 'defaults.tasks[1]', 'defaults.tasks[2]'],
      );
      assert.match(err.issues[0]!.message, /npx tsc/);
      assert.match(err.issues[1]!.message, /no such file/);
      assert.match(err.issues[2]!.message, /~user is not supported/);
    });
  });
});
