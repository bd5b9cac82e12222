/**
 * What `-A` names: a built-in scenario's tasks ("mergesort", "currency", "echo", or "scenarios" for all of them),
 * or a JavaScript module of the user's (a path, or a name resolved in the current directory like Celery's -A test).
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import { SCENARIOS, allTaskModules } from '../../scenarios/index.js';

export async function resolveTaskModules(names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const name of names) {
    if (name === 'scenarios' || name === 'lab') {
      out.push(...allTaskModules().map((u) => u.href));
      continue;
    }
    const scenario = SCENARIOS.find((s) => s.name === name);
    if (scenario) {
      out.push(scenario.tasksModule.href);
      continue;
    }
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
      throw new UsageError(`-A ${name}: no such module (tried ${candidates.join(', ')} in ${process.cwd()}; built-in: scenarios, ${SCENARIOS.map((s) => s.name).join(', ')})`);
    }
    out.push(pathToFileURL(found).href);
  }
  return [...new Set(out)];
}
