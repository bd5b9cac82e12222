/**
 * Unit: POSIX sh quoting. Every hostile string must come back from a real shell as exactly one, unchanged
 * argument — checked by running the quoted line through /bin/sh (dash on Debian) and bash when present.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ShellQuoteError, envArgv, quote, quoteArgv } from '../../lab/providers/shell-quote.js';

const HOSTILE = [
  '',
  ' ',
  'plain',
  'two words',
  '  leading and trailing  ',
  "it's",
  "'",
  "''",
  "'\\''",
  '"double"',
  '\\',
  'back\\slash\\',
  '$HOME',
  '${HOME}',
  '$(id)',
  '`id`',
  '; touch /tmp/PWNED',
  '&& touch /tmp/PWNED',
  '| touch /tmp/PWNED',
  '> /tmp/PWNED',
  '< /etc/passwd',
  'a\nb',
  '\n',
  'tab\there',
  'cr\rhere',
  '*',
  '?',
  '[a-z]*',
  '~',
  '~root',
  '-n',
  '--',
  '-e',
  '#comment',
  'a#b',
  '!',
  '!!',
  '{a,b}',
  'FOO=bar',
  'x=$(touch /tmp/PWNED)',
  '%s',
  'üñíçødé ✓',
  '\u00a0nbsp',
  '\x01\x7f',
  "mixed 'single' and \"double\" and `back` and $(sub) and ${var} and \\",
];

function shells(): string[] {
  return ['/bin/sh', '/bin/bash', '/bin/dash'].filter((s) => existsSync(s));
}

/** What a shell makes of `printf '%s\0' <line>`: the argv it passed, NUL-separated. */
function throughShell(shell: string, line: string, cwd: string): string[] {
  const out = execFileSync(shell, ['-c', `printf '%s\\0' ${line}`], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent-home' } });
  const parts = out.split('\0');
  parts.pop();
  return parts;
}

test('every hostile string round-trips through a real shell as one unchanged argument', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'lab-quote-'));
  try {
    for (const shell of shells()) {
      for (const s of HOSTILE) {
        assert.deepEqual(throughShell(shell, quote(s), cwd), [s], `${shell}: ${JSON.stringify(s)}`);
      }
      assert.deepEqual(throughShell(shell, quoteArgv(HOSTILE), cwd), HOSTILE, `${shell}: all at once`);
      assert.deepEqual(readdirSync(cwd), [], `${shell}: nothing was created by expansion or redirection`);
    }
    assert.equal(existsSync('/tmp/PWNED'), false);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('plain words stay readable; everything else is single-quoted', () => {
  assert.equal(quote('abc-1.2_x/y:z,w@h%+'), 'abc-1.2_x/y:z,w@h%+');
  assert.equal(quote(''), "''");
  assert.equal(quote('a b'), "'a b'");
  assert.equal(quote("it's"), "'it'\\''s'");
  assert.equal(quote('FOO=bar'), "'FOO=bar'", 'a bare first word with = would be an assignment');
  assert.equal(quote('~'), "'~'");
  assert.equal(quoteArgv(['echo', 'a b', "c'd"]), "echo 'a b' 'c'\\''d'");
});

test('a NUL byte cannot be carried by a shell word: refused, never truncated', () => {
  assert.throws(() => quote('a\0b'), ShellQuoteError);
  assert.throws(() => quoteArgv(['ok', '\0']), ShellQuoteError);
  assert.throws(() => quote(42 as unknown as string), ShellQuoteError);
});

test('envArgv: env K=V … argv, values free (quoted later), names checked', () => {
  assert.deepEqual(envArgv(undefined, ['ls']), ['ls']);
  assert.deepEqual(envArgv({}, ['ls', '-l']), ['ls', '-l']);
  assert.deepEqual(envArgv({ A: '1', B: "$(id) 'x'" }, ['cmd']), ['env', 'A=1', "B=$(id) 'x'", 'cmd']);
  assert.throws(() => envArgv({ 'A B': '1' }, ['cmd']), ShellQuoteError);
  assert.throws(() => envArgv({ 'A=B': '1' }, ['cmd']), ShellQuoteError);
  assert.throws(() => envArgv({ '1A': '1' }, ['cmd']), ShellQuoteError);
  assert.throws(() => envArgv({ A: '1' }, ['X=1']), ShellQuoteError, 'env would take a command with = for another assignment');
  for (const shell of shells()) {
    const line = quoteArgv([...envArgv({ V: HOSTILE.join('|') }, ['sh', '-c', 'printf "%s\\0" "$V"'])]);
    const out = execFileSync(shell, ['-c', line], { encoding: 'utf8' });
    assert.equal(out, `${HOSTILE.join('|')}\0`, shell);
  }
});
