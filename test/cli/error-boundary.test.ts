/**
 * The CLI's one error boundary: a lab error is one line and its exit code; anything else is an "internal error"
 * (exit 1) with the stack only under --verbose. And every error class lab exports is a LabError, so none that
 * escapes is ever reported as an internal error.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { reportError } from '../../lab/cli/error-boundary.js';
import { ConfigError, InterruptedError, LabError, ProviderError, UsageError, hasCode } from '../../lab/errors.js';

const DIST_LAB = fileURLToPath(new URL('../../lab/', import.meta.url));

/** Error classes that are not lab's own failures but values a task raises for its caller (Celery's names). */
const TASK_SIDE = new Set(['Retry', 'MaxRetriesExceededError']);

/** Modules that run something when imported (the pool child's entry point). */
const ENTRY_POINTS = new Set(['queue/pool/pool-child.js']);

async function modules(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await modules(dir, r)));
    else if (e.name.endsWith('.js') && !ENTRY_POINTS.has(r)) out.push(r);
  }
  return out;
}

function report(err: unknown, verbose = false): { code: number; text: string } {
  let text = '';
  const code = reportError(err, verbose, (s) => (text += s));
  return { code, text };
}

test('a lab error is one line and its exit code; the stack only with --verbose', () => {
  const usage = report(new UsageError('--n: expected an integer ≥ 1, got 0'));
  assert.deepEqual(usage, { code: 2, text: 'lab: --n: expected an integer ≥ 1, got 0\n' });
  const config = report(new ConfigError('unknown key', { file: 'hosts.yaml', line: 3, field: 'hosts.HOST1.rolez' }));
  assert.deepEqual(config, { code: 2, text: 'lab: hosts.yaml:3: hosts.HOST1.rolez: unknown key\n' });
  const provider = report(new ProviderError('no such namespace', { host: 'HOST3' }));
  assert.deepEqual(provider, { code: 1, text: 'lab: HOST3: no such namespace\n' });
  assert.equal(report(new InterruptedError()).code, 130);
  const verbose = report(new ProviderError('boom', { cause: new Error('root cause') }), true);
  assert.match(verbose.text, /^lab: boom\n.*ProviderError: boom/s);
  assert.match(verbose.text, /caused by: Error: root cause/);
});

test('an unexpected error is an internal error, exit 1', () => {
  const r = report(new TypeError('x is undefined'));
  assert.equal(r.code, 1);
  assert.equal(r.text, 'lab: internal error: x is undefined (run with --verbose for the stack trace)\n');
});

test('hasCode tests a lab error for one of several codes, and nothing else', () => {
  const err = new ProviderError('gone', { code: 'E_CONTAINER_GONE' });
  assert.equal(hasCode(err, 'E_CONTAINER_GONE'), true);
  assert.equal(hasCode(err, 'E_CONTAINER_EXITED', 'E_CONTAINER_GONE'), true);
  assert.equal(hasCode(err, 'E_CONTAINER_EXITED'), false);
  assert.equal(hasCode(Object.assign(new Error('x'), { code: 'E_CONTAINER_GONE' }), 'E_CONTAINER_GONE'), false);
});

test('every error class lab exports extends LabError (none escapes as an internal error)', async () => {
  const found: string[] = [];
  for (const rel of await modules(DIST_LAB)) {
    const mod = (await import(pathToFileURL(join(DIST_LAB, rel)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value !== 'function' || !(value.prototype instanceof Error) || TASK_SIDE.has(name)) continue;
      found.push(`${rel}:${name}`);
      assert.ok(value === LabError || value.prototype instanceof LabError, `${rel} exports ${name}, an Error that is not a LabError`);
    }
  }
  // The scan saw the classes it is meant to see (it would pass vacuously on an empty or moved tree).
  for (const expected of ['errors.js:ConfigError', 'queue/errors.js:BrokerError', 'queue/protocol.js:ProtocolError', 'providers/hosts-file.js:HostsFileError', 'providers/shell-quote.js:ShellQuoteError']) {
    assert.ok(found.includes(expected), `the scan did not find ${expected} (found: ${found.join(', ')})`);
  }
});
