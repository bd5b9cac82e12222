/** The built-in task modules `lab worker -A <scenario>` resolves without loading the scenarios: the same as theirs. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS } from '../../scenarios/index.js';
import { BUILTIN_TASK_MODULES } from '../../scenarios/task-modules.js';
import { resolveTaskModules } from '../../lab/cli/task-modules.js';

test("the table of built-in task modules names every scenario and its own tasksModule, and nothing else", () => {
  assert.deepEqual(
    [...BUILTIN_TASK_MODULES].map(([name, url]) => [name, url.href]).sort(),
    SCENARIOS.map((s) => [s.name, s.tasksModule.href]).sort(),
  );
});

test('-A <scenario> and -A scenarios resolve through the table', async () => {
  assert.deepEqual(await resolveTaskModules(['echo']), [BUILTIN_TASK_MODULES.get('echo')!.href]);
  assert.deepEqual(await resolveTaskModules(['retry', 'routing']), [BUILTIN_TASK_MODULES.get('retry')!.href]);
  assert.deepEqual((await resolveTaskModules(['scenarios'])).sort(), [...new Set(SCENARIOS.map((s) => s.tasksModule.href))].sort());
});
