/** execLocalEach: several commands from one spawn, each with its own output and exit code, in the jobs' order. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { execLocalEach } from '../../lab/providers/local-process.js';

const leftovers = (): string[] => readdirSync(tmpdir()).filter((f) => f.startsWith('lab-exec-'));

test('each command gets its own stdout, stderr and exit code, in order; arguments arrive exactly as given', async () => {
  const before = leftovers();
  const tricky = `it's $HOME; \`x\` "q" *\n2nd line`;
  const r = await execLocalEach([
    { host: 'A', argv: ['printf', '%s', tricky] },
    { host: 'B', argv: ['sh', '-c', 'echo err >&2; exit 3'] },
    { host: 'C', argv: ['sh', '-c', 'read x || echo "stdin is empty"'] },
  ]);
  assert.equal(r.length, 3);
  assert.deepEqual([r[0]!.exitCode, r[0]!.stdout], [0, tricky]);
  assert.deepEqual([r[1]!.exitCode, r[1]!.stdout, r[1]!.stderr], [3, '', 'err\n']);
  assert.deepEqual([r[2]!.exitCode, r[2]!.stdout], [0, 'stdin is empty\n']);
  assert.deepEqual(leftovers(), before, 'its temporary directory is removed');
});

test("a job's input is its stdin, exactly as given; a job without one reads nothing", async () => {
  const before = leftovers();
  const input = "line one\n$(touch /tmp/lab-should-not-exist) 'quoted' `x`\n";
  const r = await execLocalEach([
    { host: 'A', argv: ['cat'], input },
    { host: 'B', argv: ['cat'] },
    { host: 'C', argv: ['wc', '-l'], input: 'a\nb\nc\n' },
  ]);
  assert.deepEqual(
    r.map((x) => [x.exitCode, x.stdout]),
    [
      [0, input],
      [0, ''],
      [0, '3\n'],
    ],
  );
  assert.equal(existsSync('/tmp/lab-should-not-exist'), false, 'input is data, never run');
  assert.deepEqual(leftovers(), before, 'its temporary directory (inputs too) is removed');
});

test('a command over the timeout is killed (exit 137, said in its stderr); the others finish', async () => {
  const t0 = performance.now();
  const r = await execLocalEach(
    [
      { host: 'A', argv: ['sleep', '0.4'] },
      { host: 'B', argv: ['sleep', '0.4'] },
      { host: 'C', argv: ['sleep', '30'] },
    ],
    { timeoutMs: 1500 },
  );
  const ms = performance.now() - t0;
  assert.deepEqual(r.map((x) => x.exitCode), [0, 0, 137]);
  assert.match(r[2]!.stderr, /killed after 1500 ms/);
  assert.ok(ms < 10_000, `took ${ms} ms`);
  assert.deepEqual(await execLocalEach([]), []);
});
