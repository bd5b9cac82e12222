/**
 * Each built-in scenario's task module by scenario name — what `lab worker -A echo` (or `-A scenarios`) imports —
 * without loading the scenarios themselves (their drivers, verifiers and lessons): a worker serves tasks, it does
 * not run scenarios. test/scenarios/task-modules.test.ts holds this table equal to SCENARIOS' own tasksModule.
 */
const LESSONS_TASKS = new URL('./lessons/tasks.js', import.meta.url);

export const BUILTIN_TASK_MODULES: ReadonlyMap<string, URL> = new Map([
  ['echo', new URL('./echo/tasks.js', import.meta.url)],
  ['currency', new URL('./currency/tasks.js', import.meta.url)],
  ['mergesort', new URL('./mergesort/tasks.js', import.meta.url)],
  ['ledger', new URL('./ledger/tasks.js', import.meta.url)],
  ...['no-worker', 'purge', 'exception', 'retry', 'expires', 'routing', 'pools', 'ignore-result'].map((lesson) => [lesson, LESSONS_TASKS] as [string, URL]),
]);

/** Every built-in task module, once each (`-A scenarios`). */
export function builtinTaskModules(): URL[] {
  return [...new Map([...BUILTIN_TASK_MODULES.values()].map((u) => [u.href, u])).values()];
}
