/**
 * `lab run ./path/scenario.js` (or the name of an installed package): a scenario of the user's, loaded from its
 * module and completed into the Scenario interface of scenarios/scenario.ts — its flags then come from its params
 * exactly as a built-in scenario's do (`lab run ./scenario.js --help` lists them).
 *
 * What the module must export (README "Your own code"; scenarios/scenario.ts): `export default {…}` or
 * `export const scenario = {…}` with name, params, modes, tasksModule, run, verify; the rest has defaults. A module
 * that does not say one line naming what is missing (exit 2). A .ts module is refused with the compile hint.
 *
 * Where it runs: on the embedded lab, in this process like any scenario; on a provisioned lab its driver runs
 * here, on the controller (`driver: 'controller'`), against the lab's broker and backend — the module stays where
 * the user wrote it, with whatever it imports, instead of being shipped to the master host. The lab's workers must
 * serve its tasks: the inventory's `tasks:` lists the scenario's task module, and before the first repeat the
 * scenario asks a lab worker (lab.worker_info) whether it has them.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import type { App } from '../queue/index.js';
import { WORKER_INFO_TASK } from '../services/worker-info.js';
import type { WorkerInfo } from '../services/worker-info.js';
import { compileHint, isJavaScriptPath, isTypeScriptPath } from '../topology/js-module.js';
import type { AnyScenario, ParamSpec, ScenarioContext } from '../../scenarios/scenario.js';

/** What a user scenario must have; the rest of the Scenario interface has defaults. */
export const REQUIRED_FIELDS = ['name', 'params', 'modes', 'tasksModule', 'run', 'verify'] as const;
const FUNCTIONS = ['run', 'verify', 'prepare', 'setUp', 'tearDown', 'conclude', 'summarize', 'describe', 'app'] as const;
const NAME_RE = /^[a-z][a-z0-9-]{0,39}$/;
const PARAM_RE = /^[a-z][a-zA-Z0-9-]{0,39}$/;
const PARAM_TYPES = ['int', 'number', 'string'];
/** Run options every scenario has: a param may not take their flag. */
const RESERVED_FLAGS = ['hosts', 'reports', 'embedded', 'in-lab', 'repeat', 'warmup', 'timeout', 'label', 'queue', 'pool', 'concurrency', 'json', 'verbose', 'help', 'version'];

/** Defaults for what a user scenario may leave out. */
export const USER_DEFAULTS = Object.freeze({ repeat: 5, warmup: 1 });

// ---- the word after `run` ------------------------------------------------------------------------------------

interface YargsInternals {
  getInternalMethods(): { runYargsParserAndExecuteCommands(args: null, shortCircuit: boolean): unknown };
}

/**
 * The scenario word of `lab run <word> …` as yargs was given it. A command's builder sees no arguments, so this asks
 * yargs to parse them once without running anything (what its own help does); undefined when it cannot tell.
 */
export function scenarioWord(y: Argv<unknown>): string | undefined {
  try {
    const parsed = (y as unknown as YargsInternals).getInternalMethods().runYargsParserAndExecuteCommands(null, true) as { _?: unknown[] };
    const words = (parsed._ ?? []).map(String);
    const at = words.indexOf('run');
    return at >= 0 ? words[at + 1] : undefined;
  } catch {
    return undefined;
  }
}

/** A file path rather than a package name: ./x, ../x, /x, ~/x, or anything with a module's file ending. */
export function looksLikePath(word: string): boolean {
  if (/^(?:\.{1,2}(?:\/|$)|\/|~\/)/.test(word)) return true;
  if (/\.(?:m|c)?[jt]s$/i.test(word)) return true;
  return word.includes('/') && !/^@[a-z0-9][a-z0-9._~-]*\/[a-z0-9][a-z0-9._~-]*(?:\/.*)?$/i.test(word);
}

const PACKAGE_RE = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*(?:\/[^\s]+)?$/i;

/**
 * The scenario `lab run <word>` names when it is not a built-in: a module path (loaded, or one line saying why not),
 * or an installed package's name (resolved from the current directory, like an import there). Null when the word is
 * neither a path nor an installed package — an unknown scenario.
 */
export async function findUserScenario(word: string, builtIn: readonly AnyScenario[], cwd = process.cwd()): Promise<AnyScenario | null> {
  let file: string;
  if (looksLikePath(word)) {
    file = word.startsWith('~/') ? join(homedir(), word.slice(2)) : resolve(cwd, word);
  } else {
    if (!PACKAGE_RE.test(word)) return null;
    const found = await resolvePackage(word, cwd);
    if (!found) return null;
    file = found;
  }
  if (/[\s[\]<>]/.test(word)) {
    throw new UsageError(`${JSON.stringify(word)}: a scenario's path cannot contain spaces or [ ] < > on lab's command line; copy or link the module to a plain path`);
  }
  return loadUserScenario(word, file, builtIn);
}

/**
 * For the run command's builder: the user scenario `lab run <word>` names, when the word is not a built-in
 * scenario — loaded (a bad module is one line, exit 2) — or null (no word, a built-in, or an unknown name).
 */
export async function userScenarioCommand(y: Argv<unknown>, builtIn: readonly AnyScenario[]): Promise<{ word: string; scenario: AnyScenario } | null> {
  const word = scenarioWord(y);
  if (!word || builtIn.some((s) => s.name === word)) return null;
  const scenario = await findUserScenario(word, builtIn);
  return scenario ? { word, scenario } : null;
}

// ---- packages ------------------------------------------------------------------------------------------------

/** `import` conditions, in the order Node tries them for an ES module import. */
function pickExport(target: unknown): string | null {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const t of target) {
      const p = pickExport(t);
      if (p) return p;
    }
    return null;
  }
  if (target && typeof target === 'object') {
    const o = target as Record<string, unknown>;
    for (const k of ['import', 'node', 'default']) if (k in o) return pickExport(o[k]);
  }
  return null;
}

/** The file an `import '<spec>'` in `cwd` would load: node_modules/<name> found walking up, its exports or main. */
export async function resolvePackage(spec: string, cwd: string): Promise<string | null> {
  const m = /^((?:@[^/]+\/)?[^/]+)(\/.*)?$/.exec(spec);
  if (!m) return null;
  const [, name, sub] = m as unknown as [string, string, string | undefined];
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const root = join(dir, 'node_modules', name);
    const pkgText = await readFile(join(root, 'package.json'), 'utf8').catch(() => null);
    if (pkgText !== null) {
      let pkg: { exports?: unknown; main?: string };
      try {
        pkg = JSON.parse(pkgText) as typeof pkg;
      } catch {
        throw new UsageError(`${spec}: ${join(root, 'package.json')} is not valid JSON`);
      }
      const key = sub ? `.${sub}` : '.';
      let target: string | null = null;
      if (pkg.exports !== undefined) {
        const ex = pkg.exports;
        const map = ex && typeof ex === 'object' && !Array.isArray(ex) && Object.keys(ex).some((k) => k.startsWith('.')) ? (ex as Record<string, unknown>) : { '.': ex };
        target = key in map ? pickExport(map[key]) : null;
        if (!target) throw new UsageError(`${spec}: package ${name} (${root}) exports no ${key === '.' ? 'main module' : key} for import`);
      } else target = sub ? `.${sub}` : (pkg.main ?? 'index.js');
      return resolve(root, target);
    }
    if (dirname(dir) === dir) return null;
  }
}

// ---- loading and completing ----------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function exportsNoScenario(shown: string, why: string): UsageError {
  return new UsageError(`${shown} exports no scenario: expected \`export default { … }\` or \`export const scenario = { … }\` with ${REQUIRED_FIELDS.join(', ')} (README: "Your own code")${why ? ` — ${why}` : ''}`);
}

/** Import a user's scenario module and complete what it exports into a Scenario. `shown` is how the user named it. */
export async function loadUserScenario(shown: string, file: string, builtIn: readonly AnyScenario[] = []): Promise<AnyScenario> {
  if (isTypeScriptPath(file)) throw new UsageError(`${shown}: ${compileHint(shown)}`);
  const st = await stat(file).catch(() => null);
  if (!st) throw new UsageError(`${shown}: no such file (${file})`);
  if (!st.isFile()) throw new UsageError(`${shown}: not a file (${file})`);
  if (!isJavaScriptPath(file)) throw new UsageError(`${shown}: expected a JavaScript module (.js, .mjs or .cjs), got ${file}`);
  const url = pathToFileURL(file).href;
  let mod: Obj;
  try {
    mod = (await import(url)) as Obj;
  } catch (err) {
    throw new UsageError(`${shown} does not load: ${err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err)}`);
  }
  const candidate = isObj(mod.default) ? mod.default : isObj(mod.scenario) ? mod.scenario : null;
  if (!candidate) {
    const has = Object.keys(mod).filter((k) => k !== 'default' || mod.default !== undefined);
    throw exportsNoScenario(shown, has.length ? `it exports ${has.map((k) => (k === 'default' ? 'a default that is not an object' : k)).join(', ')}` : 'it exports nothing');
  }
  return completeScenario(candidate, shown, url, builtIn);
}

/** The user's scenario object, checked (one line for the first thing wrong) and given the defaults of the rest. */
export function completeScenario(raw: Obj, shown: string, moduleUrl: string, builtIn: readonly AnyScenario[] = []): AnyScenario {
  const missing = REQUIRED_FIELDS.filter((k) => raw[k] === undefined || raw[k] === null);
  if (missing.length) throw new UsageError(`${shown}: the scenario lacks ${missing.join(', ')} (a scenario needs ${REQUIRED_FIELDS.join(', ')}; README: "Your own code")`);
  const bad = (field: string, expected: string, got: unknown): UsageError => new UsageError(`${shown}: the scenario's ${field}: expected ${expected}, got ${describe(got)}`);

  if (typeof raw.name !== 'string' || !NAME_RE.test(raw.name)) throw bad('name', 'a lowercase name of letters, digits and - (it names run records), like "wordcount"', raw.name);
  const name = raw.name;
  if (builtIn.some((s) => s.name === name)) throw bad('name', `a name of its own (${name} is a built-in scenario's)`, name);
  for (const f of FUNCTIONS) if (raw[f] !== undefined && typeof raw[f] !== 'function') throw bad(f, 'a function', raw[f]);

  if (!isObj(raw.params)) throw bad('params', 'a mapping of parameter name to { type, describe, default }', raw.params);
  const params = raw.params as Record<string, ParamSpec>;
  let positionals = 0;
  for (const [p, spec] of Object.entries(params)) {
    if (!PARAM_RE.test(p) || RESERVED_FLAGS.includes(p)) throw bad(`params key ${JSON.stringify(p)}`, `a flag name of letters, digits and - other than lab run's own (${RESERVED_FLAGS.join(', ')})`, p);
    if (!isObj(spec)) throw bad(`params.${p}`, '{ type, describe, default }', spec);
    if (!PARAM_TYPES.includes(spec.type as string)) throw bad(`params.${p}.type`, `one of ${PARAM_TYPES.join(', ')}`, spec.type);
    if (spec.default === undefined) throw bad(`params.${p}.default`, 'a default value', undefined);
    if (spec.positional) positionals++;
  }
  if (positionals > 1) throw bad('params', 'at most one positional parameter', `${positionals}`);

  if (!Array.isArray(raw.modes) || raw.modes.length === 0 || !raw.modes.every((m) => typeof m === 'string' && m !== '') || new Set(raw.modes).size !== raw.modes.length) {
    throw bad('modes', 'a non-empty list of distinct mode names, like ["local", "distributed"]', raw.modes);
  }
  const modes = raw.modes as string[];
  for (const k of ['baseline', 'candidate'] as const) if (raw[k] !== undefined && !modes.includes(raw[k] as string)) throw bad(k, `one of its modes (${modes.join(', ')})`, raw[k]);

  const tasksModule = taskModuleUrl(raw.tasksModule, moduleUrl);
  if (!tasksModule) throw bad('tasksModule', "the module of its tasks: new URL('./tasks.js', import.meta.url), or a path relative to the scenario", raw.tasksModule);
  const tasksPath = fileURLToPath(tasksModule);
  if (isTypeScriptPath(tasksPath)) throw new UsageError(`${shown}: the scenario's tasksModule ${tasksPath}: ${compileHint(tasksPath)}`);

  const d = isObj(raw.defaults) ? raw.defaults : {};
  const summary = typeof raw.summary === 'string' ? raw.summary : `a scenario of yours (${shown})`;
  const userApp = raw.app as (() => unknown) | undefined;
  const userSetUp = raw.setUp as AnyScenario['setUp'];
  const checked = new WeakSet<object>();

  const scenario: AnyScenario = {
    ...(raw as unknown as AnyScenario),
    name,
    summary,
    description: typeof raw.description === 'string' ? raw.description : summary,
    examples: Array.isArray(raw.examples) ? (raw.examples as [string, string][]) : [[`$0 run ${shown}`, `run ${name} (its modes: ${modes.join(', ')})`]],
    params,
    modes,
    baseline: (raw.baseline as string | undefined) ?? modes[0]!,
    candidate: (raw.candidate as string | undefined) ?? modes[modes.length - 1]!,
    defaults: { repeat: Number.isInteger(d.repeat) ? (d.repeat as number) : USER_DEFAULTS.repeat, warmup: Number.isInteger(d.warmup) ? (d.warmup as number) : USER_DEFAULTS.warmup },
    tasksModule,
    driver: 'controller',
    app: async () => appOf(userApp ? await userApp() : await tasksApp(tasksModule, shown), shown),
    prepare: (raw.prepare as AnyScenario['prepare'] | undefined) ?? (() => null),
    async setUp(params, fixture, ctx) {
      // Once per run on a provisioned lab: do its workers know this scenario's tasks?
      if (ctx.workers.where === 'hosts' && ctx.lab.kind !== 'embedded' && !checked.has(ctx.lab)) {
        checked.add(ctx.lab);
        await checkLabServes(ctx, tasksPath);
      }
      return userSetUp ? userSetUp.call(scenario, params, fixture, ctx) : undefined;
    },
  };
  return scenario;
}

function describe(v: unknown): string {
  if (v === undefined || v === null) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list ${JSON.stringify(v).slice(0, 60)}`;
  if (typeof v === 'object') return v instanceof URL ? v.href : 'a mapping';
  return String(v);
}

/** tasksModule as a file: URL — a URL, a file: URL string, or a path relative to the scenario's module. */
function taskModuleUrl(v: unknown, moduleUrl: string): URL | null {
  if (v instanceof URL || (isObj(v) && typeof (v as { href?: unknown }).href === 'string')) {
    const u = new URL(String((v as URL).href));
    return u.protocol === 'file:' ? u : null;
  }
  if (typeof v !== 'string' || v === '') return null;
  if (v.startsWith('file:')) return new URL(v);
  return isAbsolute(v) ? pathToFileURL(v) : new URL(v, moduleUrl);
}

/** The tasks module's app: its `app` export (or an App as its default export). */
async function tasksApp(tasksModule: URL, shown: string): Promise<unknown> {
  let mod: Obj;
  try {
    mod = (await import(tasksModule.href)) as Obj;
  } catch (err) {
    throw new UsageError(`${shown}: its tasksModule ${fileURLToPath(tasksModule)} does not load: ${err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err)}`);
  }
  return mod.app ?? mod.default;
}

/** An App of lab's — of this copy or of the user's own node_modules/lab (the same API, so not instanceof). */
function appOf(v: unknown, shown: string): App {
  const a = v as Partial<App> | null;
  if (!a || typeof a.task !== 'function' || typeof a.sendTask !== 'function' || typeof a.configFromObject !== 'function') {
    throw new UsageError(`${shown}: no app for its tasks: export \`const app = new App('…')\` from its tasksModule (import { App } from 'lab/queue'), or give the scenario app() returning it`);
  }
  return a as App;
}

/**
 * On a provisioned lab: ask a lab worker (lab.worker_info on the scenario's queue) which tasks it has, and say
 * which of the scenario's it lacks. Workers that do not answer (none on that queue, or started by an older lab)
 * are left for the run itself to find out.
 */
async function checkLabServes(ctx: ScenarioContext, tasksPath: string): Promise<void> {
  const mine = [...ctx.app.tasks.keys()];
  if (mine.length === 0) return;
  let info: WorkerInfo;
  try {
    const r = await ctx.app.sendTask(WORKER_INFO_TASK, [], {}, { queue: ctx.queue });
    info = (await r.get({ timeout: Math.min(10, ctx.timeoutS), signal: ctx.signal })) as WorkerInfo;
  } catch (err) {
    // By code, not class: the app may be of the user's own copy of lab, whose error classes are not ours.
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'E_TASK_TIMEOUT' || code === 'E_TASK_FAILED') return;
    throw err;
  }
  if (!info || !Array.isArray(info.tasks)) return;
  const lacking = mine.filter((t) => !info.tasks.includes(t));
  if (lacking.length === 0) return;
  throw new UsageError(
    `the lab's workers (${info.node}) do not have ${lacking.join(', ')}: list the scenario's task module (${tasksPath}) in the inventory's tasks: (defaults: { tasks: [...] }) and run lab up again`,
  );
}
