/**
 * What `-A` names: a built-in scenario's tasks ("mergesort", "currency", "echo", or "scenarios" for all of them),
 * or a JavaScript module of the user's (a path, or a name resolved in the current directory like Celery's -A test).
 * A TypeScript module is refused with one line saying how to compile it (lab loads JavaScript only).
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import { compileHint, isTypeScriptPath } from '../topology/js-module.js';
import { BUILTIN_TASK_MODULES, builtinTaskModules } from '../../scenarios/task-modules.js';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** `--config FILE`: a settings module of the user's, as a file: URL. */
export async function resolveConfigModule(path: string): Promise<string> {
  if (isTypeScriptPath(path)) throw new UsageError(`--config ${path}: ${compileHint(path)}`);
  if (!(await exists(resolve(path)))) throw new UsageError(`--config ${path}: no such file (in ${process.cwd()})`);
  return pathToFileURL(resolve(path)).href;
}

export async function resolveTaskModules(names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const name of names) {
    if (name === 'scenarios' || name === 'lab') {
      out.push(...builtinTaskModules().map((u) => u.href));
      continue;
    }
    const builtin = BUILTIN_TASK_MODULES.get(name);
    if (builtin) {
      out.push(builtin.href);
      continue;
    }
    if (isTypeScriptPath(name)) throw new UsageError(`-A ${name}: ${compileHint(name)}`);
    const candidates = /\.(m|c)?js$/.test(name) ? [name] : [name, `${name}.js`, `${name}.mjs`, `${name.replace(/\./g, '/')}.js`];
    let found: string | null = null;
    for (const c of candidates) {
      try {
        await access(resolve(c));
        found = resolve(c);
        break;
      } catch {
        // try the next spelling
      }
    }
    if (!found) {
      // `-A tasks` where only tasks.ts is there: the same advice as for -A tasks.ts
      if (!/\.(m|c)?js$/.test(name)) {
        for (const ts of [`${name}.ts`, `${name}.mts`]) if (await exists(resolve(ts))) throw new UsageError(`-A ${name}: only ${ts} is there; ${compileHint(ts)}`);
      }
      throw new UsageError(`-A ${name}: no such module (tried ${candidates.join(', ')} in ${process.cwd()}; built-in: scenarios, ${[...BUILTIN_TASK_MODULES.keys()].join(', ')})`);
    }
    out.push(pathToFileURL(found).href);
  }
  return [...new Set(out)];
}
