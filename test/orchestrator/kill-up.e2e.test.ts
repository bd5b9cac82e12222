/**
 * `lab up` killed with -9 at several points, then `lab down`: nothing the lab made is left — no process, no state,
 * no directory. (The netns variant, with namespaces, veths and /etc/netns, is in netns-lab.e2e.test.ts.)
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab, startLab } from '../support/cli.js';
import { serviceBinaries } from '../support/prereq.js';
import { processesWithEnv } from '../support/lab-clean.js';

for (const afterMs of [150, 600, 2500, 5500]) {
  test(`lab up killed -9 after ${afterMs} ms, then lab down, leaves nothing`, { timeout: 120_000 }, async (t) => {
    if (!(await serviceBinaries(t))) return;
    const home = await mkdtemp(join(tmpdir(), 'lab-kill-'));
    const inventory = join(home, 'hosts.yaml');
    await writeFile(inventory, ['lab: killed', 'provider: local', 'ports: { broker: 5693, backend: 6393, quotes: 8013 }', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 1 }', '  HOST4:', ''].join('\n'));
    const env = { LAB_HOME: home };
    t.after(async () => {
      await lab(['down', '--lab', 'killed'], { env });
      await rm(home, { recursive: true, force: true });
    });
    const { child, done } = startLab(['up', '--hosts', inventory], { env });
    await new Promise((r) => setTimeout(r, afterMs));
    child.kill('SIGKILL');
    await done;
    // By then services were starting: the check below can see them (so an empty list after down means something).
    if (afterMs >= 2500) assert.ok(processesWithEnv(`LAB_HOME=${home}`).length > 0, 'services were running when lab up was killed');
    const down = await lab(['down', '--hosts', inventory], { env });
    assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
    // Every process lab up started inherited LAB_HOME=<home>: none may be left.
    assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
    assert.equal(existsSync(join(home, 'killed')), false, 'state dir removed');
  });
}
