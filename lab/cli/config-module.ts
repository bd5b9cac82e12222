/**
 * `--config ./config.js`: the book's `app.config_from_object('config')` — a JavaScript module of Celery settings
 * (BROKER_URL, CELERY_RESULT_BACKEND, CELERY_ROUTES, task_acks_late …, any of Celery's spellings), read with
 * App.configFromModule. The URLs it sets count as given by the user (urls.ts decides between the sources).
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { compileHint, isTypeScriptPath } from '../topology/js-module.js';
import type { App } from '../queue/index.js';
import type { ConfigUrls } from './urls.js';

/** Stands for "not set by the module" while it is read; never a URL anyone connects to. */
const UNSET = 'lab-config-unset://';

/** A TypeScript file is refused with one line: lab loads JavaScript. */
export function refuseTypeScript(flag: string, spec: string): void {
  if (isTypeScriptPath(spec)) throw new UsageError(`${flag} ${spec}: ${compileHint(spec)}`);
}

/** The file a --config value names: a path, or a module name in the current directory like Celery's 'config'. */
export async function findConfigModule(spec: string, cwd = process.cwd()): Promise<string> {
  refuseTypeScript('--config', spec);
  const candidates = /\.(m|c)?js$/i.test(spec) ? [spec] : [`${spec}.js`, `${spec}.mjs`, `${spec}.cjs`, `${spec.replace(/\./g, '/')}.js`];
  for (const c of candidates) {
    const file = resolve(cwd, c);
    try {
      await access(file);
      return file;
    } catch {
      // try the next spelling
    }
  }
  const ts = [`${spec}.ts`, `${spec}.mts`];
  for (const c of ts) {
    try {
      await access(resolve(cwd, c));
      refuseTypeScript('--config', c);
    } catch (err) {
      if (err instanceof UsageError) throw err;
    }
  }
  throw new UsageError(`--config ${spec}: no such module (tried ${candidates.join(', ')} in ${cwd})`);
}

/**
 * Apply the settings of a config module to `app` (before it connects) and say which URLs the module set. The app's
 * own broker and backend stay as they were: the caller sets the ones urls.ts chose.
 */
export async function applyConfigModule(app: App, spec: string): Promise<ConfigUrls> {
  const file = await findConfigModule(spec);
  const before = { brokerUrl: app.config.brokerUrl, resultBackend: app.config.resultBackend };
  app.config = { ...app.config, brokerUrl: UNSET, resultBackend: UNSET };
  try {
    await app.configFromModule(file);
  } catch (err) {
    app.config = { ...app.config, ...before };
    throw err;
  }
  const out: ConfigUrls = { file: spec };
  if (app.config.brokerUrl !== UNSET) out.broker = app.config.brokerUrl;
  if (app.config.resultBackend !== UNSET) out.backend = app.config.resultBackend;
  app.config = { ...app.config, ...before };
  return out;
}
