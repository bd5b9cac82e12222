/** Where a workers host's own modules (inventory tasks:, config:) are on the host: by path, or shipped keeping their layout. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { commonFolder, modulesByPath, modulesDigest, modulesInfo, shippedModules, userModules } from '../../lab/providers/user-modules.js';
import type { HostSpec } from '../../lab/topology/topology.js';

const host = (extra: Partial<HostSpec>): HostSpec => ({ name: 'HOST3', roles: ['workers'], address: '127.0.0.1', sudo: false, concurrency: 2, pool: 'prefork', queues: ['celery'], ...extra });

describe('user modules on hosts', () => {
  it('shipped under <workdir>/tasks keeping their layout below the deepest folder holding them all', () => {
    const h = host({ tasks: ['/home/me/proj/src/tasks.js', '/home/me/proj/src/lib/helpers.js'], config: '/home/me/proj/celeryconfig.js' });
    assert.equal(commonFolder(['/home/me/proj/src/tasks.js', '/home/me/proj/celeryconfig.js']), '/home/me/proj');
    assert.deepEqual(userModules(h), [
      { source: '/home/me/proj/src/tasks.js', rel: 'src/tasks.js' },
      { source: '/home/me/proj/src/lib/helpers.js', rel: 'src/lib/helpers.js' },
      { source: '/home/me/proj/celeryconfig.js', rel: 'celeryconfig.js' },
    ]);
    assert.deepEqual(shippedModules(h, '/var/lib/lab/x/HOST3'), {
      tasks: ['/var/lib/lab/x/HOST3/tasks/src/tasks.js', '/var/lib/lab/x/HOST3/tasks/src/lib/helpers.js'],
      config: '/var/lib/lab/x/HOST3/tasks/celeryconfig.js',
    });
    assert.deepEqual(modulesByPath(h), { tasks: h.tasks, config: h.config });
    assert.deepEqual(userModules(host({ tasks: ['/t.js'] })), [{ source: '/t.js', rel: 't.js' }]);
  });

  it('HostInfo gets modules only for hosts that have some', () => {
    assert.deepEqual(modulesInfo(host({}), 'by-path'), {});
    assert.deepEqual(modulesInfo(host({ config: '/c.js' }), { workDir: '/w' }), { modules: { tasks: [], config: '/w/tasks/c.js' } });
  });

  it('the digest changes with a module’s content and place', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lab-user-modules-'));
    try {
      const f = join(dir, 'tasks.js');
      await writeFile(f, 'export {};\n');
      const a = await modulesDigest([{ source: f, rel: 'tasks.js' }]);
      assert.equal(await modulesDigest([{ source: f, rel: 'tasks.js' }]), a);
      assert.notEqual(await modulesDigest([{ source: f, rel: 'x/tasks.js' }]), a);
      await writeFile(f, 'export const x = 1;\n');
      assert.notEqual(await modulesDigest([{ source: f, rel: 'tasks.js' }]), a);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
