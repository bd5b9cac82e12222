import test from 'node:test';
import assert from 'node:assert/strict';
import { CONTROL_COMMANDS, INSPECT_COMMANDS, compileArguments } from '../../lab/cli/remote-commands.js';
import { UsageError } from '../../lab/errors.js';

test('positionals become the keyword arguments Celery’s commands take', () => {
  assert.deepEqual(compileArguments('revoke', CONTROL_COMMANDS.revoke, ['a', 'b']), { task_id: ['a', 'b'] });
  assert.deepEqual(compileArguments('terminate', CONTROL_COMMANDS.terminate, ['KILL', 'a']), { signal: 'KILL', task_id: ['a'] });
  assert.deepEqual(compileArguments('time_limit', CONTROL_COMMANDS.time_limit, ['t', '1.5']), { task_name: 't', soft: 1.5 });
  assert.deepEqual(compileArguments('pool_grow', CONTROL_COMMANDS.pool_grow, []), {});
  assert.deepEqual(compileArguments('active', INSPECT_COMMANDS.active, ['true']), { safe: true });
});

test('bad arguments are usage errors naming the command and the value', () => {
  assert.throws(() => compileArguments('pool_grow', CONTROL_COMMANDS.pool_grow, ['two']), (e: unknown) => e instanceof UsageError && /pool_grow n: expected an integer, got "two"/.test(e.message));
  assert.throws(() => compileArguments('ping', INSPECT_COMMANDS.ping, ['x']), (e: unknown) => e instanceof UsageError && /at most 0 arguments/.test(e.message));
  assert.throws(() => compileArguments('active', INSPECT_COMMANDS.active, ['maybe']), UsageError);
});
