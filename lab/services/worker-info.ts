/**
 * What a lab worker says about itself, through a built-in task (`lab.worker_info`, in worker-info-tasks.ts) that
 * the workers `lab up` starts load beside lab's and the user's task modules: which node ran it, the modules its
 * worker loaded — each with the sha256 of the file as the worker read it when it started — and every task name
 * registered where it ran. The workers' readiness check (workers.ts) compares that with the inventory's `tasks:` /
 * `config:`; `lab run ./scenario.js` on a lab asks it whether the lab's workers know the scenario's tasks.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';

export const WORKER_INFO_TASK = 'lab.worker_info';
/** Set by `lab worker` before its pool starts (pool children inherit it): the modules it loaded, as JSON. */
export const WORKER_MODULES_ENV = 'LAB_WORKER_MODULES';
/** `lab worker`'s --worker-direct by environment ("1"): how lab up asks its workers for one (services/workers.ts). */
export const WORKER_DIRECT_ENV = 'LAB_WORKER_DIRECT';

export interface LoadedModule {
  /** file: URL of the module as the worker imported it. */
  url: string;
  /** sha256 (hex) of the file when the worker started; null when it could not be read. */
  sha256: string | null;
  /** A task module (-A) or the settings module (--config). */
  role: 'tasks' | 'config';
}

export interface WorkerInfo {
  /** The worker's node name (celery@HOST3). */
  node: string;
  pid: number;
  modules: LoadedModule[];
  /** Every task name registered where the task ran, sorted. */
  tasks: string[];
}

/** The task module that defines lab.worker_info, relative to lab's root (the same on every host lab is shipped to). */
export const WORKER_INFO_MODULE = relative(PACKAGE_ROOT, fileURLToPath(new URL('./worker-info-tasks.js', import.meta.url)));

/** What `lab worker` puts in WORKER_MODULES_ENV: its modules with their digests as it starts. */
export async function describeWorkerModules(tasks: readonly string[], config?: string): Promise<LoadedModule[]> {
  const one = async (url: string, role: LoadedModule['role']): Promise<LoadedModule> => {
    let sha256: string | null = null;
    if (url.startsWith('file:')) sha256 = await readFile(fileURLToPath(url)).then((b) => createHash('sha256').update(b).digest('hex'), () => null);
    return { url, sha256, role };
  };
  return Promise.all([...tasks.map((u) => one(u, 'tasks')), ...(config ? [one(config, 'config')] : [])]);
}
