/**
 * The built-in task `lab.worker_info` (see worker-info.ts): loaded by the workers `lab up` starts (`lab worker -A
 * <lab>/dist/lab/services/worker-info-tasks.js`), run like any task — in a pool child, where the user's modules are
 * loaded too — so its answer says what that pool really has.
 */
import { App, allApps, currentTask } from '../queue/index.js';
import { WORKER_INFO_TASK, WORKER_MODULES_ENV } from './worker-info.js';
import type { LoadedModule, WorkerInfo } from './worker-info.js';

function loadedModules(): LoadedModule[] {
  try {
    const v = JSON.parse(process.env[WORKER_MODULES_ENV] ?? '[]') as unknown;
    return Array.isArray(v) ? (v as LoadedModule[]) : [];
  } catch {
    return [];
  }
}

export const app = new App('lab.worker_info');

export const workerInfo = app.task(
  WORKER_INFO_TASK,
  (): WorkerInfo => ({
    node: currentTask().request.hostname,
    pid: process.pid,
    modules: loadedModules(),
    tasks: [...new Set([...allApps()].flatMap((a) => [...a.tasks.keys()]))].sort(),
  }),
);
