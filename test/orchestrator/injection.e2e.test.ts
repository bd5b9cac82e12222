/**
 * Inventory values with shell metacharacters never run as commands: they are refused at the edge (exit 2, naming
 * the field) or, where free text is allowed (key paths), only ever passed as one argument.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab } from '../support/cli.js';

test('shell metacharacters in an inventory cannot inject commands', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'lab-inject-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const canary = join(home, 'pwned');
  const touch = `touch ${canary}`;
  const refused: [string, string, RegExp][] = [
    ['host name', `provider: netns\nhosts:\n  "HOST1;${touch}": { roles: [broker] }\n  HOST2:\n  HOST3:\n  HOST4:\n`, /HOST1;touch/],
    ['queue name', `provider: local\nhosts:\n  HOST1:\n  HOST2:\n  HOST3: { queues: ["celery$(${touch})"] }\n  HOST4:\n`, /queues/],
    ['ssh user', `provider: ssh\ndefaults: { user: "pi\`${touch}\`" }\nhosts:\n  HOST1: { address: 192.0.2.1 }\n  HOST2: { address: 192.0.2.2 }\n  HOST3: { address: 192.0.2.3 }\n  HOST4: { address: 192.0.2.4 }\n`, /user/],
    ['lab name', `lab: "x; ${touch}"\nprovider: local\nhosts:\n  HOST1:\n  HOST2:\n  HOST3:\n  HOST4:\n`, /lab/],
    ['subnet', `provider: netns\nsubnet: "198.18.0.0/24; ${touch}"\nhosts:\n  HOST1:\n  HOST2:\n  HOST3:\n  HOST4:\n`, /subnet/],
    ['address', `provider: ssh\nhosts:\n  HOST1: { address: "$(${touch})" }\n  HOST2: { address: 192.0.2.2 }\n  HOST3: { address: 192.0.2.3 }\n  HOST4: { address: 192.0.2.4 }\n`, /address/],
  ];
  for (const [what, yaml, field] of refused) {
    const file = join(home, `${what.replace(/ /g, '-')}.yaml`);
    await writeFile(file, yaml);
    const r = await lab(['up', '--hosts', file, '--dry-run'], { env: { LAB_HOME: home } });
    assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, field, what);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+`), `${what}: names file:line`);
    assert.equal(existsSync(canary), false, `${what}: a command ran`);
  }
  // A key path is free text (any file name is legal); it is read as a file, never given to a shell.
  const file = join(home, 'key.yaml');
  await writeFile(file, `provider: ssh\ndefaults: { key: "/tmp/$(${touch})" }\nhosts:\n  HOST1: { address: 192.0.2.1 }\n  HOST2: { address: 192.0.2.2 }\n  HOST3: { address: 192.0.2.3 }\n  HOST4: { address: 192.0.2.4 }\n`);
  const r = await lab(['up', '--hosts', file, '--dry-run'], { env: { LAB_HOME: home } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(canary), false, 'key path: a command ran');
});
