/** Serialized exceptions as Celery peers write and read them. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { TaskFailedError, excRepr, formatExcMessage, toExceptionInfo } from '../../lab/queue/errors.js';

test("exc_message reads as Python's str(exc): args list, a bare string, a dict", () => {
  assert.equal(formatExcMessage(['division by zero']), 'division by zero');
  assert.equal(formatExcMessage([]), '');
  assert.equal(formatExcMessage([2, 'No such file or directory']), "(2, 'No such file or directory')");
  assert.equal(formatExcMessage([{ field: 'x', n: 1 }]), "{'field': 'x', 'n': 1}");
  assert.equal(formatExcMessage('an old-style string message'), 'an old-style string message');
  assert.equal(formatExcMessage({ detail: 'a dict as the whole message' }), "{'detail': 'a dict as the whole message'}");
  assert.equal(formatExcMessage(null), '');
});

test("excRepr is Python's repr of the exception", () => {
  assert.equal(excRepr({ exc_type: 'TypeError', exc_message: ['bad'] }), "TypeError('bad')");
  assert.equal(excRepr({ exc_type: 'OSError', exc_message: [2, 'gone'] }), "OSError(2, 'gone')");
  assert.equal(excRepr({ exc_type: 'ChordError', exc_message: [] }), 'ChordError()');
  assert.equal(excRepr({ exc_type: 'X', exc_message: 'plain' }), "X('plain')");
});

test('JS errors map to Python builtins where one fits; others keep their name with exc_module null', () => {
  assert.deepEqual(toExceptionInfo(new TypeError('t')), { exc_type: 'TypeError', exc_message: ['t'], exc_module: 'builtins' });
  assert.deepEqual(toExceptionInfo(new Error('e')), { exc_type: 'Exception', exc_message: ['e'], exc_module: 'builtins' });
  assert.deepEqual(toExceptionInfo(new RangeError('r')), { exc_type: 'RangeError', exc_message: ['r'], exc_module: null });
  const failed = new TaskFailedError('id', { exc_type: 'OSError', exc_message: [2, 'gone'], exc_module: 'builtins' }, null);
  assert.equal(failed.message, "OSError: (2, 'gone')");
});
