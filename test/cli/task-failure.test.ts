/** A failed task printed as the book shows it: "Traceback (most recent call last): … Exception: Booo!". */
import test from 'node:test';
import assert from 'node:assert/strict';
import { failureJson, pythonTraceback } from '../../lab/cli/task-failure.js';

const JS_STACK = [
  'Error: Booo!',
  '    at app.task.params [as fn] (file:///opt/lab/tasks.js:27:11)',
  '    at file:///opt/lab/dist/lab/queue/pool/executor.js:67:95',
  '    at AsyncLocalStorage.run (node:async_hooks:346:14)',
  '    at async execute (file:///opt/lab/dist/lab/queue/pool/executor.js:67:29)',
  '    at MessagePort.<anonymous> (node:internal/per_context/messageport:23:28)',
].join('\n');

test("a lab worker's JavaScript stack reads as Python's traceback: most recent call last, then the remote type and message", () => {
  assert.equal(
    pythonTraceback('Exception', 'Booo!', JS_STACK),
    [
      'Traceback (most recent call last):',
      '  File "/opt/lab/dist/lab/queue/pool/executor.js", line 67, in execute',
      '  File "/opt/lab/dist/lab/queue/pool/executor.js", line 67, in <anonymous>',
      '  File "/opt/lab/tasks.js", line 27, in app.task.params [as fn]',
      'Exception: Booo!',
      '',
    ].join('\n'),
  );
});

test("a Python worker's traceback is already in that form and is printed as stored", () => {
  const py = 'Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/celery/app/trace.py", line 451, in trace_task\n    R = retval = fun(*args, **kwargs)\n  File "/srv/currency.py", line 14, in get_rate\n    raise Exception(\'Booo!\')\nException: Booo!\n\n';
  assert.equal(pythonTraceback('Exception', 'Booo!', py), py.trimEnd() + '\n');
});

test('no traceback stored: the header, a note, and the exception line; an empty message prints the type alone', () => {
  assert.equal(pythonTraceback('NotRegistered', "'nope'", null), "Traceback (most recent call last):\n  (the worker stored no traceback)\nNotRegistered: 'nope'\n");
  assert.match(pythonTraceback('ChordError', '', null), /\nChordError\n$/);
});

test('the failure as JSON: id, state, exc_type, exc_message, traceback — one line', () => {
  const text = failureJson({ id: 'x', state: 'FAILURE', exc_type: 'Exception', exc_message: 'Booo!', traceback: JS_STACK });
  assert.ok(text.endsWith('}\n') && text.split('\n').length === 2);
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ['id', 'state', 'exc_type', 'exc_message', 'traceback']);
});
