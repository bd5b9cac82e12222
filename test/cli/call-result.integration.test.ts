/**
 * `lab worker` and `lab call` with the book's config module, a failed `--wait` (one line; the worker's traceback
 * with -v; JSON with --json), `lab result <id>`, and a broker given alone never pairing with the active lab's
 * backend — the CLI as a user runs it, against the real RabbitMQ and Redis.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from '../../lab/queue/index.js';
import { LAB_BIN, lab } from '../support/cli.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';
import { startPeer } from '../support/peers.js';
import type { Peer } from '../support/peers.js';
import { fakeLab } from './fake-lab.js';
import type { FakeLab } from './fake-lab.js';

const QUEUE = `lab-cli-${randomBytes(4).toString('hex')}`;
const TASKS = fileURLToPath(new URL('../fixtures/interop/tasks.js', import.meta.url));
const QUEUE_INDEX = new URL('../../lab/queue/index.js', import.meta.url).href;
const MASKED_BROKER = RABBITMQ_URL.replace(/^(amqp:\/\/[^:@/]*):[^@/]*@/, '$1:****@');

let dir = '';
let home = '';
let other: FakeLab | null = null;
let worker: Peer | null = null;
let env: NodeJS.ProcessEnv = {};

async function ready(t: TestContext): Promise<boolean> {
  if (!(await rabbitmq(t)) || !(await redis(t))) return false;
  if (worker) return true;
  dir = await mkdtemp(join(tmpdir(), 'lab-cli-config-'));
  home = await mkdtemp(join(tmpdir(), 'lab-cli-home-'));
  env = { LAB_HOME: home, LAB_BROKER_URL: '', LAB_BACKEND_URL: '' };
  await writeFile(join(dir, 'package.json'), '{"type": "module"}\n');
  // The book's config.py, in JavaScript: where the broker and backend are, and which queue each task goes to.
  await writeFile(
    join(dir, 'config.js'),
    `export const BROKER_URL = ${JSON.stringify(RABBITMQ_URL)};\nexport const CELERY_RESULT_BACKEND = ${JSON.stringify(REDIS_URL)};\n` +
      `export const CELERY_ROUTES = { 'test.echo': { queue: '${QUEUE}' }, 'interop.*': { queue: '${QUEUE}' } };\n` +
      `export const CELERY_DEFAULT_QUEUE = '${QUEUE}';\nexport const result_expires = 120;\nexport const CELERY_IMPORTS = ['extra_tasks'];\n`,
  );
  // A task module the config names (Celery's imports), served beside the -A module.
  await writeFile(join(dir, 'extra_tasks.js'), `import { App } from ${JSON.stringify(QUEUE_INDEX)};\nexport const app = new App('extra');\napp.task('cli.extra', (x) => x * 2);\n`);
  worker = startPeer('lab worker --config', process.execPath, [LAB_BIN, 'worker', '-A', TASKS, '--config', './config.js', '-c', '2', '-P', 'threads', '-v'], { cwd: dir, env });
  await worker.waitFor(/ ready\. /, 30_000);
  return true;
}

const call = (args: string[], extra: NodeJS.ProcessEnv = {}): ReturnType<typeof lab> => lab(args, { cwd: dir, env: { ...env, ...extra }, timeoutMs: 60_000 });

test.after(async () => {
  await worker?.stop();
  if (worker) {
    const app = new App('cli-cleanup', { broker: RABBITMQ_URL, backend: null });
    const broker = await app.getBroker().catch(() => null);
    await broker?.deleteQueue(QUEUE).catch(() => undefined);
    await app.close();
  }
  await Promise.all([dir, home, other?.home].filter((d): d is string => !!d).map((d) => rm(d, { recursive: true, force: true })));
});

test('lab worker --config: the URLs and the default queue come from the config module, and -v says so', async (t) => {
  if (!(await ready(t))) return;
  const out = worker!.output();
  assert.ok(out.includes(`broker  ${MASKED_BROKER} (from --config ./config.js)\n`), out);
  assert.ok(out.includes(`backend ${REDIS_URL} (from --config ./config.js)\n`), out);
  assert.match(out, new RegExp(`ready\\. \\(threads pool, concurrency 2, queues ${QUEUE}\\)`));
});

test("lab call --config routes by the config's CELERY_ROUTES and waits on its backend", async (t) => {
  if (!(await ready(t))) return;
  const r = await call(['call', 'test.echo', '["Python rocks!"]', '--config', 'config', '--wait']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '"Python rocks!"\n');
  // The worker serves the config's CELERY_IMPORTS too; the task goes to the config's default queue.
  const extra = await call(['call', 'cli.extra', '[21]', '--config', 'config', '--wait']);
  assert.equal(extra.code, 0, extra.stderr);
  assert.equal(extra.stdout, '42\n');
  assert.match(worker!.output(), /\. cli\.extra\n/);
});

test('a failed --wait: one line without -v, exit 1', async (t) => {
  if (!(await ready(t))) return;
  const r = await call(['call', 'interop.boom', '["Exception", "Booo!"]', '--config', './config.js', '--wait']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'lab: Exception: Booo!\n');
  assert.equal(r.stdout, '');
});

test("a failed --wait with -v: the worker's traceback as Python prints it, ending in the remote exception", async (t) => {
  if (!(await ready(t))) return;
  const r = await call(['call', 'interop.boom', '["Exception", "Booo!"]', '--config', './config.js', '--wait', '-v']);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 3), [`broker  ${MASKED_BROKER} (from --config ./config.js)`, `backend ${REDIS_URL} (from --config ./config.js)`, 'Traceback (most recent call last):']);
  assert.equal(lines.at(-1), 'Exception: Booo!');
  // The task's own frame is the most recent call: last before the exception.
  assert.match(lines.at(-2)!, /^ {2}File ".*\/fixtures\/interop\/tasks\.js", line \d+, in /);
  assert.ok(lines.slice(3, -1).every((l) => /^ {2}File "/.test(l)), r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no JavaScript stack');
});

test('a failed --wait with --json: the failure as JSON on stdout, exit 1', async (t) => {
  if (!(await ready(t))) return;
  const r = await call(['call', 'interop.boom', '["TypeError", "bad type"]', '--config', './config.js', '--wait', '--json']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, '');
  const f = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(f), ['id', 'state', 'exc_type', 'exc_message', 'traceback']);
  assert.deepEqual([f.state, f.exc_type, f.exc_message], ['FAILURE', 'TypeError', 'bad type']);
  assert.match(String(f.id), /^[0-9a-f-]{36}$/);
  assert.match(String(f.traceback), /^TypeError: bad type\n\s+at /);
});

test('lab result <id>: a success, a failure with its traceback (exit 1), and --json prints the stored meta', async (t) => {
  if (!(await ready(t))) return;
  const sent = await call(['call', 'interop.add', '[40, 2]', '--config', './config.js']);
  assert.equal(sent.code, 0, sent.stderr);
  const id = sent.stdout.trim();
  const ok = await call(['result', id, '--config', './config.js', '--wait']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`^task {4}${id}\nstate {3}SUCCESS\nresult {2}42\nworker {2}\\S+\ndone {4}\\d{4}-\\d\\d-\\d\\dT[\\d:.]+ UTC\n$`));
  const json = await call(['result', id, '--backend', REDIS_URL, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const meta = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.deepEqual([meta.status, meta.result, meta.task_id], ['SUCCESS', 42, id]);

  const failed = await call(['call', 'interop.boom', '["Exception", "Booo!"]', '--config', './config.js', '--wait', '--json']);
  const fid = (JSON.parse(failed.stdout) as { id: string }).id;
  const r = await call(['result', fid, '--config', './config.js']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, new RegExp(`^task {4}${fid}\nstate {3}FAILURE\n`));
  assert.match(r.stdout, /\nTraceback \(most recent call last\):\n {2}File "[^\n]*\n[\s\S]*\nException: Booo!\n$/);
});

test('lab result with an unknown id: PENDING, as Celery says, and the hint that ids are not checked', async (t) => {
  if (!(await ready(t))) return;
  const id = randomUUID();
  const r = await call(['result', id, '--backend', REDIS_URL]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `task    ${id}\nstate   PENDING\n`);
  assert.match(r.stderr, /^note: PENDING is also what an unknown id gives: ids are not checked — Celery cannot tell an unknown id from a task still waiting/);
  assert.equal(r.stderr.split('\n').length, 2, 'one line');
  const json = await call(['result', id, '--backend', REDIS_URL, '--json']);
  assert.deepEqual(JSON.parse(json.stdout), { status: 'PENDING', result: null, traceback: null, children: [], date_done: null, task_id: id });
});

test("--broker alone with a lab active: the task goes out, and the lab's backend is never used", async (t) => {
  if (!(await ready(t))) return;
  // An active lab whose broker and backend are nowhere: using either would fail.
  other ??= await fakeLab('elsewhere', { broker: 1, backend: 2 });
  const labEnv = { LAB_HOME: other.home };
  const r = await call(['call', 'test.echo', '["mine"]', '--broker', RABBITMQ_URL, '-Q', QUEUE, '-v'], labEnv);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[0-9a-f-]{36}\n$/);
  assert.equal(r.stderr, `broker  ${MASKED_BROKER} (from --broker)\nbackend none (only a broker was given, by --broker; the active lab's backend is never paired with a URL you gave)\n`);
  const wait = await call(['call', 'test.echo', '["mine"]', '--broker', RABBITMQ_URL, '-Q', QUEUE, '--wait'], labEnv);
  assert.equal(wait.code, 2);
  assert.equal(wait.stderr, "lab: --wait needs a result backend, and there is none: only a broker was given, by --broker; the active lab's backend is never paired with a URL you gave; pass --backend redis://HOST2:6379/0 (or set LAB_BACKEND_URL)\n");
  // Both given: the pair is the user's, wherever each came from.
  const both = await call(['call', 'test.echo', '["both"]', '--broker', RABBITMQ_URL, '-Q', QUEUE, '--wait', '-v'], { ...labEnv, LAB_BACKEND_URL: REDIS_URL });
  assert.equal(both.code, 0, both.stderr);
  assert.equal(both.stdout, '"both"\n');
  assert.match(both.stderr, new RegExp(`backend ${REDIS_URL.replace(/[/.]/g, '\\$&')} \\(from LAB_BACKEND_URL\\)`));
});
