/** Every malformed inventory in the fixtures, given to `lab up` as a user would: exit 2, file:line, the field, nothing started. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, lab } from '../support/cli.js';

const BAD = join(REPO_ROOT, 'test/fixtures/inventories/bad');

test('malformed inventories: lab up exits 2 with file:line: field, one message, no stack, nothing created', { timeout: 300_000 }, async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'lab-badinv-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const files = readdirSync(BAD).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 30, `${files.length} fixtures`);
  for (const f of files) {
    const file = join(BAD, f);
    // The fixture's own expectation: `# expect: <line> | <field> | <message regex>`
    const expect = /^# expect: (\d+) \| (.*?) \| (.*)$/m.exec(readFileSync(file, 'utf8'));
    const r = await lab(['up', '--hosts', file], { env: { LAB_HOME: home } });
    assert.equal(r.code, 2, `${f}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, /^lab: /, f);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${f}: no stack trace`);
    if (!expect) assert.fail(`${f}: no # expect: line`);
    {
      const [, line, field, message] = expect;
      assert.match(r.stderr, new RegExp(message), f);
      assert.ok(r.stderr.includes(`${file}:${line}`), `${f}: names ${file}:${line}\n${r.stderr}`);
      if (field !== '-') assert.ok(r.stderr.includes(field), `${f}: names the field ${field}\n${r.stderr}`);
    }
  }
  assert.deepEqual(await readdir(home), [], 'nothing created');
});
