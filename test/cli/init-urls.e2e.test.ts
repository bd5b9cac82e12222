/**
 * The CLI without servers: `lab init` and `lab up`'s inventory hint; where `-v` says the broker and backend came
 * from (flags, env, the active lab); a .ts config module refused in one line. Every run has its own LAB_HOME.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab } from '../support/cli.js';
import { fakeLab } from './fake-lab.js';

const dirs: string[] = [];
const scratch = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'lab-cli-e2e-'));
  dirs.push(d);
  return d;
};
test.after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** No URL in the environment unless a test puts one there. */
const clean = (home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ LAB_HOME: home, LAB_BROKER_URL: '', LAB_BACKEND_URL: '', ...extra });

test('lab up with no hosts.yaml here and no lab up: one line naming lab init, exit 2', async () => {
  const [cwd, home] = [await scratch(), await scratch()];
  const r = await lab(['up'], { cwd, env: clean(home) });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, 'lab: no inventory: no hosts.yaml here and no lab is up — write one with lab init (--provider local|netns|docker|ssh), or name one with lab up --hosts FILE\n');
});

test('lab init writes ./hosts.yaml, lab up --dry-run finds it, and a second lab init refuses (exit 2, one line)', async () => {
  const [cwd, home] = [await scratch(), await scratch()];
  const init = await lab(['init', '--provider', 'netns'], { cwd, env: clean(home) });
  assert.equal(init.code, 0, init.stderr);
  assert.equal(init.stdout, `wrote ${join(cwd, 'hosts.yaml')} (provider netns; every field is explained in it)\nnext: sudo lab up  (network namespaces need root)\n`);
  const written = await readFile(join(cwd, 'hosts.yaml'), 'utf8');
  // The design's own command, as written.
  const plan = await lab(['up', '--hosts', 'hosts.yaml', '--dry-run', '--json'], { cwd, env: clean(home) });
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal((JSON.parse(plan.stdout) as { lab: string }).lab, 'book');
  const found = await lab(['up', '--dry-run'], { cwd, env: clean(home) });
  assert.equal(found.code, 0, found.stderr);
  assert.equal(found.stderr, `inventory ${join(cwd, 'hosts.yaml')} (found here; --hosts names another)\n`);
  assert.match(found.stdout, /^lab book \(netns\) — plan, nothing changed:/);
  const again = await lab(['init'], { cwd, env: clean(home) });
  assert.equal(again.code, 2);
  assert.equal(again.stderr, 'lab: hosts.yaml already exists; lab init never overwrites: edit it, or move it away and run lab init again\n');
  assert.equal(await readFile(join(cwd, 'hosts.yaml'), 'utf8'), written, 'untouched');
});

test('-v says where the broker and backend came from: env, the active lab, or flags — never one from each', async () => {
  const cwd = await scratch();
  const fake = await fakeLab('vlab', { broker: 5997, backend: 6997 });
  dirs.push(fake.home);
  // lab purge settles its URLs (and -v prints them) before it asks; stdin is no terminal, so it stops there.
  const purge = async (env: NodeJS.ProcessEnv, ...args: string[]): Promise<string[]> => {
    const r = await lab(['purge', '-v', ...args], { cwd, env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^lab: purge asks for confirmation but stdin is not a terminal/m);
    return r.stderr.split('\n').slice(0, 2);
  };

  const fromLab = await purge(clean(fake.home));
  assert.deepEqual(fromLab, ['broker  amqp://lab:****@127.0.0.1:5997/vlab (from the active lab "vlab")', 'backend redis://:****@127.0.0.1:6997/0 (from the active lab "vlab")']);
  const pw = fake.state.credentials;
  assert.ok(!fromLab.join('\n').includes(pw.rabbitmq.password) && !fromLab.join('\n').includes(pw.redis.password), 'passwords masked');

  const fromEnv = await purge(clean(fake.home, { LAB_BROKER_URL: 'amqp://u:secret@env-host//' }));
  assert.deepEqual(fromEnv, ['broker  amqp://u:****@env-host// (from LAB_BROKER_URL)', "backend none (only a broker was given, by LAB_BROKER_URL; the active lab's backend is never paired with a URL you gave)"]);

  const fromFlags = await purge(clean(fake.home, { LAB_BROKER_URL: 'amqp://u:secret@env-host//' }), '--broker', 'amqp://me:pw@flag-host//', '--backend', 'redis://flag-host:6379/0');
  assert.deepEqual(fromFlags, ['broker  amqp://me:****@flag-host// (from --broker)', 'backend redis://flag-host:6379/0 (from --backend)']);
});

test('--config with a .ts module: refused in one line that says to compile it (exit 2)', async () => {
  const [cwd, home] = [await scratch(), await scratch()];
  await writeFile(join(cwd, 'config.ts'), "export const BROKER_URL = 'amqp://HOST1';\n");
  for (const cmd of [['call', 'test.echo'], ['worker', '-A', 'echo']]) {
    const r = await lab([...cmd, '--config', './config.ts'], { cwd, env: clean(home) });
    assert.equal(r.code, 2, `${cmd[0]}: ${r.stderr}`);
    assert.equal(r.stderr, 'lab: --config ./config.ts: lab loads JavaScript, not TypeScript: compile it (npx tsc) and give lab the .js it emits (e.g. ./config.js)\n');
  }
});

test('--help teaches: call, worker, result, init and up show examples and the rules', async () => {
  const help = async (...args: string[]): Promise<string> => (await lab([...args, '--help'])).stdout;
  const text = async (...args: string[]): Promise<string> => (await help(...args)).replace(/\s+/g, ' ');
  assert.match(await text('call'), /-v prints the worker's traceback .*--config .*compile it first with tsc.*Examples:/);
  assert.match(await text('worker'), /config_from_object\('config'\)/);
  assert.match(await text('result'), /ids are not checked.*Examples:/);
  assert.match(await help('init'), /--provider[\s\S]*local[\s\S]*netns[\s\S]*docker[\s\S]*ssh/);
  assert.match(await text('up'), /else \.\/hosts\.yaml \(`lab init` writes one\)/);
});
