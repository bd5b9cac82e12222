/** A user's scenario module completed into the Scenario interface (lab/cli/user-scenario.ts): defaults, one-line errors, packages. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../../lab/errors.js';
import { completeScenario, findUserScenario, looksLikePath, resolvePackage, USER_DEFAULTS } from '../../lab/cli/user-scenario.js';
import { SCENARIOS } from '../../scenarios/index.js';

const MODULE = 'file:///home/me/exp/scenario.js';

function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'mine',
    params: { n: { type: 'int', describe: 'how many', default: 3 } },
    modes: ['local', 'distributed'],
    tasksModule: './tasks.js',
    run: async () => ({ output: null, phases: {} }),
    verify: () => ({ ok: true, detail: '' }),
    ...extra,
  };
}

function refused(raw: Record<string, unknown>, re: RegExp): void {
  assert.throws(
    () => completeScenario(raw, './s.js', MODULE, SCENARIOS),
    (err: unknown) => err instanceof UsageError && err.exitCode === 2 && !err.message.includes('\n') && re.test(err.message),
  );
}

describe('user scenarios', () => {
  it('a minimal one gets the defaults of the rest; its driver runs on the controller', () => {
    const s = completeScenario(minimal(), './s.js', MODULE, SCENARIOS);
    assert.equal(s.baseline, 'local');
    assert.equal(s.candidate, 'distributed');
    assert.deepEqual(s.defaults, USER_DEFAULTS);
    assert.equal(s.driver, 'controller');
    assert.equal(s.tasksModule.href, 'file:///home/me/exp/tasks.js', 'tasksModule relative to the scenario module');
    assert.match(s.summary, /\.\/s\.js/);
    assert.equal(s.description, s.summary);
    assert.deepEqual(s.examples, [['$0 run ./s.js', 'run mine (its modes: local, distributed)']]);
    assert.equal(s.prepare({}), null);
    assert.equal(typeof s.setUp, 'function');
  });

  it('what it gives is kept: baseline, defaults, a URL tasksModule, its own functions', () => {
    const prepare = (): number => 7;
    const s = completeScenario(minimal({ baseline: 'distributed', candidate: 'local', defaults: { repeat: 9, warmup: 0 }, tasksModule: new URL('file:///x/t.js'), prepare, needs: { quotes: true } }), './s.js', MODULE);
    assert.equal(s.baseline, 'distributed');
    assert.equal(s.candidate, 'local');
    assert.deepEqual(s.defaults, { repeat: 9, warmup: 0 });
    assert.equal(s.tasksModule.href, 'file:///x/t.js');
    assert.equal(s.prepare({}), 7);
    assert.deepEqual(s.needs, { quotes: true });
  });

  it('one line for the first thing wrong', () => {
    refused({ name: 'x' }, /^\.\/s\.js: the scenario lacks params, modes, tasksModule, run, verify \(a scenario needs name, params, modes, tasksModule, run, verify/);
    refused(minimal({ name: 'My Scenario' }), /the scenario's name: expected a lowercase name .*, got "My Scenario"/);
    refused(minimal({ name: 'echo' }), /name: expected a name of its own \(echo is a built-in scenario's\)/);
    refused(minimal({ verify: 'yes' }), /the scenario's verify: expected a function, got "yes"/);
    refused(minimal({ params: [] }), /params: expected a mapping/);
    refused(minimal({ params: { n: { type: 'float', default: 1 } } }), /params\.n\.type: expected one of int, number, string, got "float"/);
    refused(minimal({ params: { n: { type: 'int' } } }), /params\.n\.default: expected a default value/);
    refused(minimal({ params: { repeat: { type: 'int', default: 1 } } }), /params key "repeat": expected a flag name .* other than lab run's own/);
    refused(minimal({ modes: [] }), /modes: expected a non-empty list of distinct mode names/);
    refused(minimal({ modes: ['a', 'a'] }), /modes: expected a non-empty list of distinct/);
    refused(minimal({ baseline: 'remote' }), /baseline: expected one of its modes \(local, distributed\), got "remote"/);
    refused(minimal({ tasksModule: 42 }), /tasksModule: expected the module of its tasks/);
    refused(minimal({ tasksModule: './tasks.ts' }), /tasksModule \/home\/me\/exp\/tasks\.ts: lab loads JavaScript, not TypeScript: compile it \(npx tsc\)/);
  });

  it('a word is a path when it looks like one, else a package name', () => {
    for (const w of ['./s.js', '../s.js', '/abs/s.js', '~/s.js', 's.js', 's.mjs', 's.ts', 'dir/s', '.']) assert.equal(looksLikePath(w), true, w);
    for (const w of ['wordcount', 'lab-scenarios', '@me/scenarios', '@me/scenarios/sub']) assert.equal(looksLikePath(w), false, w);
  });

  it('packages: found in node_modules up from the current directory, by exports (import condition) or main', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lab-user-scenario-'));
    try {
      const pkg = async (name: string, json: Record<string, unknown>): Promise<string> => {
        const root = join(dir, 'node_modules', name);
        await mkdir(root, { recursive: true });
        await writeFile(join(root, 'package.json'), JSON.stringify({ name, ...json }));
        return root;
      };
      const a = await pkg('a-scen', { exports: './a.js' });
      const b = await pkg('@me/b-scen', { exports: { '.': { require: './b.cjs', import: './b.mjs' }, './extra': './extra.js' } });
      const c = await pkg('c-scen', { main: 'lib/c.js' });
      const d = await pkg('d-scen', {});
      const e = await pkg('e-scen', { exports: { require: './e.cjs' } });
      const deep = join(dir, 'project', 'sub');
      await mkdir(deep, { recursive: true });
      assert.equal(await resolvePackage('a-scen', deep), join(a, 'a.js'));
      assert.equal(await resolvePackage('@me/b-scen', deep), join(b, 'b.mjs'));
      assert.equal(await resolvePackage('@me/b-scen/extra', deep), join(b, 'extra.js'));
      assert.equal(await resolvePackage('c-scen', deep), join(c, 'lib/c.js'));
      assert.equal(await resolvePackage('d-scen', deep), join(d, 'index.js'));
      await assert.rejects(resolvePackage('e-scen', deep), /exports no main module for import/);
      assert.equal(await resolvePackage('nothing-here', deep), null);
      // an unknown bare word is an unknown scenario (null), not an error
      assert.equal(await findUserScenario('nothing-here', SCENARIOS, deep), null);

      await writeFile(join(a, 'a.js'), "export const x = 1;\n");
      await assert.rejects(findUserScenario('a-scen', SCENARIOS, deep), /^UsageError: a-scen exports no scenario: .* — it exports x$/);
      await writeFile(join(dir, 'tasks.js'), 'export {};\n');
      const f = join(dir, 'f.js');
      await writeFile(f, `export const scenario = ${JSON.stringify({ name: 'f', params: {}, modes: ['m'], tasksModule: './tasks.js' }).slice(0, -1)}, run: async () => ({ output: 1, phases: {} }), verify: () => ({ ok: true, detail: '' }) };\n`);
      const s = await findUserScenario(f, SCENARIOS, deep);
      assert.equal(s?.name, 'f');
      assert.equal(s?.tasksModule.href, pathToFileURL(join(dir, 'tasks.js')).href);
      await assert.rejects(findUserScenario('./my dir/s.js', SCENARIOS, deep), /cannot contain spaces/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
