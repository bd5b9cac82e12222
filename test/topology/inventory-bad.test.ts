/**
 * Every file in test/fixtures/inventories/bad/ must be rejected with a ConfigError (exit code 2) naming the file,
 * and the problems listed in its trailing comments:
 *   # expect: <line> | <field or -> | <regex on the message>     (one per expected problem; the first is the first reported)
 *   # issues: <n>                                                (optional: exact number of problems)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../lab/errors.js';
import { InventoryError, loadInventory, type InventoryIssue } from '../../lab/topology/inventory.js';
import { FIXTURES, fakeResolver } from './helpers.js';

const BAD = join(FIXTURES, 'bad');
const resolve = fakeResolver({ 'pi1.local': '192.168.1.21' });

interface Expectation {
  line: number;
  field: string | undefined;
  message: RegExp;
}

function expectations(text: string): { expects: Expectation[]; count?: number } {
  const expects: Expectation[] = [];
  let count: number | undefined;
  for (const l of text.split('\n')) {
    const m = /^# expect: (\d+) \| (.*?) \| (.*)$/.exec(l);
    if (m) expects.push({ line: Number(m[1]), field: m[2] === '-' ? undefined : m[2], message: new RegExp(m[3]!) });
    const c = /^# issues: (\d+)$/.exec(l);
    if (c) count = Number(c[1]);
  }
  return { expects, count };
}

const files = readdirSync(BAD)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('malformed inventories', () => {
  it('there are at least 30 of them, each with expectations', () => {
    assert.ok(files.length >= 30, `only ${files.length} bad fixtures`);
    for (const f of files) assert.ok(expectations(readFileSync(join(BAD, f), 'utf8')).expects.length > 0, `${f} has no "# expect:" line`);
  });

  for (const f of files) {
    it(f, async () => {
      const path = join(BAD, f);
      const { expects, count } = expectations(readFileSync(path, 'utf8'));
      const err = await loadInventory(path, { resolve }).then(
        () => assert.fail(`${f} was accepted`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.ok(err instanceof InventoryError);
      assert.equal(err.exitCode, 2);
      assert.equal(err.code, 'E_CONFIG');
      assert.equal(err.file, path);
      const first = expects[0]!;
      assert.equal(err.line, first.line, `first problem line\n${err.message}`);
      assert.equal(err.field, first.field, `first problem field\n${err.message}`);
      for (const x of expects) {
        const hit: InventoryIssue | undefined = err.issues.find((i) => i.line === x.line && i.field === x.field && x.message.test(i.message));
        assert.ok(hit, `no problem at line ${x.line}, field ${x.field}, matching ${x.message}; got:\n${err.message}`);
        assert.equal(hit.file, path);
        assert.ok(hit.column >= 1);
      }
      if (count !== undefined) assert.equal(err.issues.length, count, err.message);
      else assert.equal(err.issues.length, 1, `expected exactly one problem:\n${err.message}`);
      // the message is what the CLI prints: it names file:line:column and the field for every problem
      for (const i of err.issues) assert.ok(err.message.includes(`${path}:${i.line}:${i.column}: ${i.field ? `${i.field}: ` : ''}${i.message}`));
      if (err.issues.length > 1) assert.match(err.message.split('\n')[0]!, new RegExp(`${err.issues.length} problems`));
    });
  }
});
